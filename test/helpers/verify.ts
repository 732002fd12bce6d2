// Runs systemd 252's own unit loader over a generated tree: `systemd-analyze verify --root`, with
// the output placed in the root's /run/systemd/system (252 does not search generator dirs under
// --root). Every line it prints is a problem, except the known false positive for services with
// RootDirectory=/RootImage=: verify checks ExecStart= on the host, not in the image (systemd#20402).
import { spawnSync } from "node:child_process";
import { cpSync, existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { walk } from "./tree.ts";

const HOST_UNITS = existsSync("/usr/lib/systemd/system/sysinit.target")
  ? "/usr/lib/systemd/system"
  : "/lib/systemd/system";
const IGNORED = [/Command .* is not executable: No such file or directory/, /^$/];

export function hasSystemdAnalyze(): boolean {
  return spawnSync("systemd-analyze", ["--version"]).status === 0;
}

/** The version of this machine's systemd-analyze (the systemd that judges), or undefined without one. */
export function hostSystemdVersion(): number | undefined {
  const out = spawnSync("systemd-analyze", ["--version"], { encoding: "utf8" }).stdout ?? "";
  const m = /^systemd (\d+)/.exec(out);
  return m ? Number(m[1]) : undefined;
}

export function verifyTree(root: string, out: string): string[] {
  const units = walk(out)
    .filter((e) => e.type === "f" && !e.path.includes("/") && /\.(service|socket|timer|path|target)$/.test(e.path))
    .map((e) => e.path);
  if (units.length === 0 || !hasSystemdAnalyze()) return [];
  const r = mkdtempSync(join(tmpdir(), "pa-verify-"));
  try {
    // systemd's own units first (verify needs sysinit.target and friends), the case's root over them.
    cpSync(HOST_UNITS, join(r, "usr/lib/systemd/system"), { recursive: true, verbatimSymlinks: true });
    cpSync(root, r, { recursive: true, verbatimSymlinks: true });
    cpSync(out, join(r, "run/systemd/system"), { recursive: true, verbatimSymlinks: true });
    // Instances are verified through a concrete name; templates alone cannot be loaded.
    const names = units.map((u) => u.replace(/@\.(\w+)$/, "@verify.$1"));
    const res = spawnSync("systemd-analyze", ["verify", "--man=no", `--root=${r}`, ...names], { encoding: "utf8" });
    const all = `${res.stdout}\n${res.stderr}`.split("\n");
    const lines = all.filter((l) => !IGNORED.some((re) => re.test(l)));
    // The ignored false positive alone makes verify exit 1; any other failure prints a line.
    const onlyIgnored = all.some((l) => IGNORED[0]?.test(l));
    if (res.status !== 0 && lines.length === 0 && !onlyIgnored)
      lines.push(`systemd-analyze verify exited ${res.status}`);
    return lines;
  } finally {
    rmSync(r, { recursive: true, force: true });
  }
}
