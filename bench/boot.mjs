// Part 5 of `npm run bench`: what the generator costs the boot a user waits for. Boots of the e2e
// suite's guest (systemd 252 as PID 1 in systemd-nspawn, test/e2e/lib) without the generator, and
// with it over 10 and 100 entries (squashfs images read from the images: no facts cache), in turns.
// Each boot reports its userspace time as `systemd-analyze time` computes it (FinishTimestamp −
// UserspaceTimestamp, read once the system is running), the generators' phase (PID 1 runs every
// generator at once and waits for the last) and the wall time of `systemctl daemon-reload`, repeated.
// Ours is installed as scripts/install.mjs installs it (#!/usr/bin/node --no-opt, code cache beside).
// Boots break each other: run the bench under `flock /tmp/pa-e2e.lock`.
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { entryRoot, pad } from "./inputs.mjs";

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

export async function bootBench({ boots, reloads, log, repo }) {
  if (process.getuid?.() !== 0) return { note: "not measured: needs root (systemd-nspawn)", rows: [] };
  if (spawnSync("sh", ["-c", "command -v systemd-nspawn"]).status !== 0)
    return { note: "not measured: systemd-nspawn missing", rows: [] };
  const { ensureRootfs } = await import(join(repo, "test/e2e/lib/rootfs.mjs"));
  const { boot, readOut } = await import(join(repo, "test/e2e/lib/boot.mjs"));
  const { makePayload } = await import(join(repo, "test/e2e/lib/guest.mjs"));
  const { installPlan } = await import(join(repo, "scripts/install.mjs"));
  const { dir: rootfs } = await ensureRootfs(log);
  const { root, image } = await entryRoot("squashfs", 100, log);

  const check = String.raw`
systemctl is-system-running --wait >/dev/null 2>&1
echo "props $(systemctl show -p UserspaceTimestampMonotonic -p FinishTimestampMonotonic -p GeneratorsStartTimestampMonotonic -p GeneratorsFinishTimestampMonotonic | tr '\n' ' ')" >>/run/out/boot.txt
systemd-analyze time >>/run/out/analyze.txt 2>&1
for i in $(seq 1 ${reloads}); do a=$(date +%s%N); systemctl daemon-reload; b=$(date +%s%N); echo "reload $(( (b - a) / 1000 ))" >>/run/out/boot.txt; done
check "bench ran" test -s /run/out/boot.txt
`;
  const tmp = mkdtempSync(join(tmpdir(), "pa-bench-boot-"));
  try {
    const payloads = {};
    for (const n of [0, 10, 100]) {
      const files = {};
      if (n > 0) {
        // Installed as a user installs it: #! line with the flag, code cache (made by this Node,
        // which the guest runs: the e2e rootfs carries a copy of it) outside the generator directory.
        for (const f of installPlan({ node: "/usr/bin/node", repo }).files)
          files[f.path.slice(1)] = { content: f.content, mode: f.mode };
        for (const p of ["portable-attach-generator", "portable-attach"])
          files[`usr/lib/portable-attach/${p}.v8cache`] = { copyFile: join(repo, "dist", `${p}.v8cache`) };
        let list = "";
        for (let i = 0; i < n; i++) {
          files[image(i).slice(1)] = { copyFile: join(root, image(i)) };
          list += `[svc${pad(i)}]\nImage=${image(i)}\nEnable=yes\n\n`;
        }
        files["etc/portable-attach.conf"] = list;
      }
      payloads[n] = makePayload(join(tmp, `payload-${n}`), { check, ours: false, files });
    }
    const samples = {
      0: { boot: [], gen: [], reload: [] },
      10: { boot: [], gen: [], reload: [] },
      100: { boot: [], gen: [], reload: [] },
    };
    let analyze = "";
    for (let b = 0; b < boots; b++) {
      for (const n of [0, 10, 100]) {
        log(`boot: round ${b + 1}/${boots}, ${n} entries`);
        const res = await boot({ rootfs, payload: payloads[n], timeoutMs: 180_000, name: `bench-boot-${n}` });
        try {
          const text = readOut(res, "boot.txt") ?? "";
          if (!text)
            return {
              note: `not measured: a boot with ${n} entries produced no timings (timed out: ${res.timedOut})`,
              rows: [],
            };
          for (const line of text.split("\n")) {
            const [k, v] = line.split(" ");
            if (k === "reload") samples[n].reload.push(Number(v) / 1000);
            if (k !== "props") continue;
            // Manager properties, in µs since boot (CLOCK_MONOTONIC).
            const p = Object.fromEntries(
              line
                .slice(6)
                .trim()
                .split(/\s+/)
                .map((kv) => [kv.slice(0, kv.indexOf("=")), Number(kv.slice(kv.indexOf("=") + 1))]),
            );
            samples[n].boot.push((p.FinishTimestampMonotonic - p.UserspaceTimestampMonotonic) / 1000);
            samples[n].gen.push((p.GeneratorsFinishTimestampMonotonic - p.GeneratorsStartTimestampMonotonic) / 1000);
          }
          if (b === 0) analyze += `${n} entries: ${(readOut(res, "analyze.txt") ?? "").trim().split("\n")[0]}\n`;
        } finally {
          await res.cleanup?.();
        }
      }
    }
    const stat = (xs) => ({ median: median(xs), min: Math.min(...xs), max: Math.max(...xs), runs: xs.length });
    const out = { analyze, rows: [] };
    for (const n of [0, 10, 100]) {
      const what = n === 0 ? "no generator" : `${n} squashfs entries`;
      out[n] = { boot: stat(samples[n].boot), generators: stat(samples[n].gen), reload: stat(samples[n].reload) };
      out.rows.push({ part: "boot (nspawn)", label: `boot, userspace (${what})`, ...out[n].boot });
      out.rows.push({ part: "boot (nspawn)", label: `boot, generators phase (${what})`, ...out[n].generators });
      out.rows.push({ part: "boot (nspawn)", label: `daemon-reload (${what})`, ...out[n].reload });
    }
    return out;
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}
