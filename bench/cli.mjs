// Part 3 of `npm run bench`: inside one boot of the end-to-end suite (systemd 252 as PID 1 in
// systemd-nspawn, test/e2e/lib), the time of `portable-attach attach IMAGE` (list edit +
// daemon-reload, which runs the generator) and `portable-attach detach NAME` against
// `portablectl attach IMAGE` / `portablectl detach IMAGE` (portabled copies the units, then
// reloads) on the same image, interleaved, plus `node -e 0` in the guest. Needs root, nspawn and the
// cached e2e rootfs; without them it says why and measures nothing.
//
// Ours is installed in the guest as a user would install it: scripts/install.mjs run by the guest's
// Node (bookworm's nodejs), which also makes the code caches that Node accepts. The programs
// installed are the builds given (BENCH_GENERATOR/BENCH_CLI), or dist/.
import { spawnSync } from "node:child_process";
import { copyFileSync, cpSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { makeTree } from "./inputs.mjs";

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

export async function cliBench({ runs, warmup, log, repo, generator, cli }) {
  if (process.getuid?.() !== 0) return { note: "not measured: needs root (systemd-nspawn)", rows: [] };
  if (spawnSync("sh", ["-c", "command -v systemd-nspawn && command -v mksquashfs"]).status !== 0)
    return { note: "not measured: systemd-nspawn or mksquashfs missing", rows: [] };
  // The e2e harness installs the builds it is pointed at (read when guest.mjs is first imported).
  const { ensureRootfs } = await import(join(repo, "test/e2e/lib/rootfs.mjs"));
  const { boot, readOut } = await import(join(repo, "test/e2e/lib/boot.mjs"));
  const { makePayload } = await import(join(repo, "test/e2e/lib/guest.mjs"));
  log("cli: e2e rootfs (cached in /var/cache/portable-attach-e2e; built on first use, several minutes)");
  const { dir: rootfs } = await ensureRootfs(log);

  const tmp = mkdtempSync(join(tmpdir(), "pa-bench-cli-"));
  try {
    const tree = join(tmp, "tree");
    makeTree(tree, "bench");
    const raw = join(tmp, "bench_1.raw");
    spawnSync("mksquashfs", [tree, raw, "-noappend", "-quiet", "-no-progress", "-all-root", "-comp", "zstd"], {
      stdio: "ignore",
    });
    const source = installSource(join(tmp, "source"), { repo, generator, cli });
    const total = warmup + runs;
    // One round: ours attach, ours detach, portablectl attach, portablectl detach (each with its
    // reload), for a directory image and a raw one. Times in ns from date +%s%N around each command.
    const check = String.raw`
node /usr/src/portable-attach/scripts/install.mjs install -q 2>>/run/out/bench.err || echo "FAILED: install" >>/run/out/bench.err
PORTABLE_ATTACH_DEBUG_CODE_CACHE=1 portable-attach --version 2>&1 >/dev/null | sed 's/^/code cache: /' >>/run/out/bench.err
t() { local a b; a=$(date +%s%N); "$@" >/dev/null 2>>/run/out/bench.err || echo "FAILED: $*" >>/run/out/bench.err; b=$(date +%s%N); echo $(( (b - a) / 1000 )); }
for i in $(seq 1 ${total}); do
  echo "node0 $(t node -e 0)" >>/run/out/bench.txt
  # What a reload costs us before PID 1 does anything: systemctl's own start, and Node loading
  # node:child_process to start it (no other way to reach PID 1 from Node loads less: D-Bus needs node:net).
  echo "systemctl-start $(t systemctl --version)" >>/run/out/bench.txt
  echo "node-spawn-systemctl $(t node --no-opt -e 'require("node:child_process").spawnSync("systemctl", ["--version"])')" >>/run/out/bench.txt
  echo "node-noopt $(t node --no-opt -e 0)" >>/run/out/bench.txt
  for img in /var/lib/portables/bench_1 /var/lib/portables/bench_1.raw; do
    kind=dir; case $img in *.raw) kind=raw;; esac
    echo "ours-attach-$kind $(t portable-attach attach $img)" >>/run/out/bench.txt
    # Where our time goes: PID 1's reload (every generator, ours included) and ours alone.
    echo "reload-$kind $(t systemctl daemon-reload)" >>/run/out/bench.txt
    g=$(mktemp -d); echo "generator-$kind $(t /usr/lib/systemd/system-generators/portable-attach-generator $g)" >>/run/out/bench.txt; rm -rf "$g"
    echo "ours-detach-$kind $(t portable-attach detach bench)" >>/run/out/bench.txt
    echo "ours-attach-noreload-$kind $(t portable-attach attach --no-reload $img)" >>/run/out/bench.txt
    echo "ours-detach-noreload-$kind $(t portable-attach detach --no-reload bench)" >>/run/out/bench.txt
    systemctl daemon-reload
    echo "portablectl-attach-$kind $(t portablectl attach $img)" >>/run/out/bench.txt
    echo "portablectl-detach-$kind $(t portablectl detach $img)" >>/run/out/bench.txt
  done
done
check "bench ran" test -s /run/out/bench.txt
`;
    const payload = makePayload(join(tmp, "payload"), {
      check,
      ours: false,
      files: {
        "usr/src/portable-attach": { copyTree: source },
        "var/lib/portables/bench_1": { copyTree: tree },
        "var/lib/portables/bench_1.raw": { copyFile: raw },
      },
    });
    log(`cli: booting (${total} rounds of attach/detach, ours and portablectl's, directory and raw image)`);
    const res = await boot({ rootfs, payload, timeoutMs: 600_000, name: "bench-cli" });
    try {
      const text = readOut(res, "bench.txt") ?? "";
      const errors = readOut(res, "bench.err") ?? "";
      const samples = {};
      for (const line of text.split("\n")) {
        const [k, v] = line.split(" ");
        if (k && v) (samples[k] ??= []).push(Number(v) / 1000);
      }
      if (!samples.node0)
        return {
          note: `not measured: the boot produced no timings (timed out: ${res.timedOut}); ${errors.slice(0, 500)}`,
          rows: [],
        };
      const stat = (k) => {
        const xs = (samples[k] ?? []).slice(warmup);
        return xs.length
          ? { median: median(xs), min: Math.min(...xs), max: Math.max(...xs), runs: xs.length }
          : undefined;
      };
      const codeCache = /^code cache: .*: (.+)$/m.exec(errors)?.[1] ?? "unknown";
      const out = {
        node0: stat("node0"),
        codeCache,
        errors: errors
          .split("\n")
          .filter((l) => l.startsWith("FAILED"))
          .slice(0, 20),
        rows: [],
      };
      const floor = out.node0;
      for (const kind of ["dir", "raw"]) {
        for (const verb of ["attach", "detach"]) {
          const ours = stat(`ours-${verb}-${kind}`);
          const theirs = stat(`portablectl-${verb}-${kind}`);
          out[`${verb}-${kind}`] = {
            ours,
            portablectl: theirs,
            oursOverPortablectl: ours && theirs ? ours.median / theirs.median : undefined,
          };
          for (const [who, s] of [
            ["portable-attach", ours],
            ["portablectl", theirs],
          ]) {
            if (s)
              out.rows.push({
                part: "cli (nspawn)",
                label: `${who} ${verb} + reload (${kind})`,
                ...s,
                floor: floor.median,
                ratio: s.median / floor.median,
              });
          }
        }
      }
      for (const [k, label] of [
        ["node-noopt", "node --no-opt -e 0"],
        ["systemctl-start", "systemctl --version"],
        ["node-spawn-systemctl", "node --no-opt: spawnSync('systemctl --version')"],
      ]) {
        const s = stat(k);
        out[k] = s;
        if (s)
          out.rows.push({ part: "cli (nspawn)", label, ...s, floor: floor.median, ratio: s.median / floor.median });
      }
      for (const kind of ["dir", "raw"]) {
        for (const [k, label] of [
          [`reload-${kind}`, "systemctl daemon-reload alone, entry attached"],
          [`generator-${kind}`, "portable-attach-generator alone, 1 entry"],
          [`ours-attach-noreload-${kind}`, "portable-attach attach --no-reload"],
          [`ours-detach-noreload-${kind}`, "portable-attach detach --no-reload"],
        ]) {
          const s = stat(k);
          out[k] = s;
          if (s)
            out.rows.push({
              part: "cli (nspawn)",
              label: `${label} (${kind})`,
              ...s,
              floor: floor.median,
              ratio: s.median / floor.median,
            });
        }
      }
      if (out.errors.length) out.note = `some commands failed: ${out.errors.join("; ")}`;
      return out;
    } finally {
      await res.cleanup?.();
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

/** What scripts/install.mjs needs of a source tree, with the given builds as its dist/. */
function installSource(dir, { repo, generator, cli }) {
  for (const d of ["scripts", "units", "profiles", "man", "completion"])
    cpSync(join(repo, d), join(dir, d), { recursive: true });
  mkdirSync(join(dir, "dist"));
  copyFileSync(generator, join(dir, "dist/portable-attach-generator"));
  copyFileSync(cli, join(dir, "dist/portable-attach"));
  // The images code-cache.mjs's representative run reads.
  mkdirSync(join(dir, "test/fixtures/images"), { recursive: true });
  for (const f of ["erofs-lz4.raw", "squashfs-zstd.raw", "ext4.raw", "gpt-dps-root-erofs.raw"])
    copyFileSync(join(repo, "test/fixtures/images", f), join(dir, "test/fixtures/images", f));
  return dir;
}
