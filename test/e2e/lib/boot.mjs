// One boot of a guest's systemd as PID 1 in systemd-nspawn, over an overlay of the cached rootfs.
//
//   lowerdir = PAYLOAD (the scenario's files) : ROOTFS (cached, never written)
//   upperdir/workdir in a private temp dir, removed afterwards.
//
// The payload carries a check unit (see guest.mjs) that runs after multi-user.target, writes its
// results to /run/out (a bind of a host temp dir) and powers the container off. Every boot is bounded
// by a timeout; on the way out every mount and temp dir is removed, whatever happened.
import {
  mkdtempSync,
  mkdirSync,
  rmSync,
  readdirSync,
  readlinkSync,
  existsSync,
  readFileSync,
  cpSync,
  writeFileSync,
} from "node:fs";
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { run, runSync, sleep } from "./util.mjs";

const LOOP_NODES = 16;

/**
 * Boot once. Returns { ok, timedOut, code, out (dir with results, valid until cleanup()), console, ms }.
 * The caller must call result.cleanup() once it has read what it needs from `out`.
 */
export async function boot({
  rootfs,
  payload,
  timeoutMs = 60_000,
  name = "boot",
  network = "veth",
  initArgs = [],
  unifiedCgroup = false,
}) {
  const tmp = mkdtempSync("/tmp/pa-e2e-");
  const merged = join(tmp, "root"),
    upper = join(tmp, "upper"),
    work = join(tmp, "work"),
    out = join(tmp, "out"),
    dev = join(tmp, "dev");
  for (const d of [merged, upper, work, out, dev]) mkdirSync(d);
  let mounted = false;
  const cleanup = async () => {
    if (mounted) {
      await killStragglers(merged);
      const r = runSync("umount", [merged], { check: false });
      if (r.status !== 0) runSync("umount", ["-l", merged], { check: false });
      mounted = false;
    }
    rmSync(tmp, { recursive: true, force: true });
  };
  try {
    await run("mount", [
      "-t",
      "overlay",
      "overlay",
      "-o",
      `lowerdir=${payload}:${rootfs},upperdir=${upper},workdir=${work}`,
      merged,
    ]);
    mounted = true;
    const loopBinds = [];
    for (let i = 0; i < LOOP_NODES; i++) {
      runSync("mknod", [join(dev, `loop${i}`), "b", "7", String(i)]);
      loopBinds.push(`--bind=${join(dev, `loop${i}`)}:/dev/loop${i}`);
    }
    const machine = "pa" + randomBytes(4).toString("hex");
    const args = [
      "-q",
      "-b",
      "-D",
      merged,
      "--register=no",
      "--keep-unit",
      `--machine=${machine}`,
      "--console=pipe",
      `--bind=${out}:/run/out`,
      "--bind=/dev/loop-control",
      ...loopBinds,
      // Partitions of a loop device (RootImage= of a GPT image) appear as nodes only in the host's
      // devtmpfs: the container sees it read-only here, and e2e-partition-nodes.service links
      // /dev/loopNpM to it (there is no udev and no devtmpfs in the container).
      "--bind-ro=/dev:/run/e2e-hostdev",
      ...(network === "veth" ? ["--network-veth"] : network === "private" ? ["--private-network"] : []),
      // Arguments for the container's PID 1: its kernel command line (systemd reads /proc/1/cmdline in a container).
      ...initArgs,
    ];
    const t0 = Date.now();
    // systemd >= 258 refuses the legacy hierarchy that nspawn gives on this cgroup-v1-hybrid host unless
    // told; otherwise nspawn decides as it always did (unset, not "0", which would force pure v1).
    const env = { ...process.env };
    delete env.SYSTEMD_NSPAWN_UNIFIED_HIERARCHY;
    if (unifiedCgroup) env.SYSTEMD_NSPAWN_UNIFIED_HIERARCHY = "1";
    const res = await runNspawn(args, timeoutMs, merged, env);
    const ms = Date.now() - t0;
    writeFileSync(join(out, "console.log"), res.stdout + res.stderr);
    // When the check did not get to dump the journal itself (timeout, crash), read the persistent one.
    if (!existsSync(join(out, "journal.txt"))) {
      const jdir = join(upper, "var/log/journal");
      if (existsSync(jdir)) {
        const j = runSync("journalctl", ["-D", jdir, "--no-pager", "-o", "short-monotonic"], {
          check: false,
          maxBuffer: 64 << 20,
        });
        writeFileSync(join(out, "journal.txt"), (j.stdout ?? "") + (j.stderr ?? ""));
      }
    }
    return {
      ok: res.code === 0 && !res.timedOut,
      timedOut: res.timedOut,
      code: res.code,
      out,
      upper,
      ms,
      cleanup,
      name,
    };
  } catch (e) {
    await cleanup();
    throw e;
  }
}

async function runNspawn(args, timeoutMs, merged, env) {
  // SIGTERM to nspawn asks the container to power off; if that does not work either, kill whatever
  // still runs inside the container (found by its root directory) and nspawn itself.
  const { spawn } = await import("node:child_process");
  return new Promise((resolve, reject) => {
    const child = spawn("systemd-nspawn", args, { env, stdio: ["ignore", "pipe", "pipe"], detached: true });
    let stdout = "",
      stderr = "",
      timedOut = false;
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    const t1 = setTimeout(() => {
      timedOut = true;
      try {
        child.kill("SIGTERM");
      } catch {
        /* gone */
      }
    }, timeoutMs);
    const t2 = setTimeout(async () => {
      await killStragglers(merged);
      try {
        child.kill("SIGKILL");
      } catch {
        /* gone */
      }
    }, timeoutMs + 5000);
    child.on("error", (e) => {
      clearTimeout(t1);
      clearTimeout(t2);
      reject(e);
    });
    child.on("close", (code) => {
      clearTimeout(t1);
      clearTimeout(t2);
      resolve({ code, stdout, stderr, timedOut });
    });
  });
}

/** Kill, by pid, every process whose root directory is (under) the container's root. */
async function killStragglers(merged) {
  for (let round = 0; round < 3; round++) {
    const pids = [];
    for (const p of readdirSync("/proc")) {
      if (!/^\d+$/.test(p)) continue;
      try {
        const r = readlinkSync(`/proc/${p}/root`);
        if (r === merged || r.startsWith(merged + "/")) pids.push(Number(p));
      } catch {
        /* gone or not ours to read */
      }
    }
    if (pids.length === 0) return;
    for (const pid of pids) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        /* gone */
      }
    }
    await sleep(200);
  }
}

/** Keep a failed boot's results for a human: copy them into test/e2e/.work/<name>/. */
export function keepForInspection(res, workDir) {
  const dest = join(workDir, res.name);
  rmSync(dest, { recursive: true, force: true });
  mkdirSync(dest, { recursive: true });
  cpSync(res.out, dest, { recursive: true });
  return dest;
}

export function readOut(res, file) {
  const p = join(res.out, file);
  return existsSync(p) ? readFileSync(p, "utf8") : null;
}
