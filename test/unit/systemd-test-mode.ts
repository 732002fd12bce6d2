// systemd's own unit-file parser as a test oracle, offline: `systemd --test --system --unit=X`
// loads X (and what it pulls in) from SYSTEMD_UNIT_PATH and dumps every loaded unit with its
// parsed settings, without a running manager. `systemd-analyze dump` needs PID 1 and
// `systemd-analyze verify` shows no values, so this is the only way found on systemd 252 to see
// what a written value *means*. systemd refuses test mode as root ("Don't run test mode as
// root."), so as root we drop to nobody with setpriv.
import { execFileSync, spawnSync } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";

const SYSTEMD = ["/lib/systemd/systemd", "/usr/lib/systemd/systemd"].find((p) => existsSync(p));

function hasSetpriv(): boolean {
  try {
    execFileSync("setpriv", ["--version"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

/** True when the oracle can run here. */
export const haveSystemdTestMode = SYSTEMD !== undefined && (process.getuid?.() !== 0 || hasSetpriv());

export interface Dump {
  /** unit name → setting name → values in dump order (e.g. "Environment" → ["A=1", "B=2"]). */
  units: Map<string, Map<string, string[]>>;
  /** systemd's messages (parse warnings such as "Invalid syntax, ignoring"). */
  log: string;
}

/**
 * Writes `files` (relative path → content) into a fresh unit directory, loads `main` in test mode
 * and returns the dump of every unit defined in `files`.
 */
export function loadUnits(files: Record<string, string>, main: string): Dump {
  if (SYSTEMD === undefined) throw new Error("systemd binary not found");
  const dir = mkdtempSync(join(tmpdir(), "pa-oracle-"));
  try {
    chmodSync(dir, 0o755);
    for (const [path, content] of Object.entries(files)) {
      mkdirSync(dirname(join(dir, path)), { recursive: true, mode: 0o755 });
      writeFileSync(join(dir, path), content, { mode: 0o644 });
    }
    const argv = [SYSTEMD, "--system", "--test", `--unit=${main}`, "--log-target=console", "--log-color=no"];
    const asRoot = process.getuid?.() === 0;
    // systemd 257's test mode fails as nobody unless /run/systemd exists (it does wherever systemd
    // has booted; not in a container that runs only these tests). An empty root-owned directory.
    if (asRoot && !existsSync("/run/systemd")) mkdirSync("/run/systemd", { mode: 0o755 });
    const cmd = asRoot ? "setpriv" : argv[0]!;
    const args = asRoot ? ["--reuid=65534", "--regid=65534", "--clear-groups", ...argv] : argv.slice(1);
    const result = spawnSync(cmd, args, {
      cwd: "/",
      encoding: "utf8",
      env: { PATH: process.env.PATH ?? "/usr/bin:/bin", SYSTEMD_UNIT_PATH: `${dir}:`, SYSTEMD_LOG_LEVEL: "notice" },
      maxBuffer: 64 * 1024 * 1024,
    });
    if (result.status !== 0) throw new Error(`systemd --test failed (${result.status}): ${result.stderr}`);
    const units = parseDump(result.stdout, new Set(Object.keys(files).filter((p) => !p.includes("/"))));
    return { units, log: result.stderr };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function parseDump(text: string, wanted: Set<string>): Map<string, Map<string, string[]>> {
  const units = new Map<string, Map<string, string[]>>();
  let current: Map<string, string[]> | undefined;
  for (const line of text.split("\n")) {
    // Any "\t-> " line opens a new block: a unit, or a job, whose fields (State, Irreversible, ...)
    // must not be appended to the unit dumped before it. Blocks come in hash order, random per run.
    // systemd 257 writes "\t→ " where 252 writes "\t-> ".
    if (line.startsWith("\t-> ") || line.startsWith("\t\u2192 ")) {
      const head = /^\t(?:->|\u2192) Unit (.+):$/.exec(line);
      current = head && wanted.has(head[1]!) ? new Map() : undefined;
      if (head && current) units.set(head[1]!, current);
      continue;
    }
    const setting = /^\t\t([A-Za-z]+): (.*)$/.exec(line);
    if (current && setting) {
      const list = current.get(setting[1]!) ?? [];
      list.push(setting[2]!);
      current.set(setting[1]!, list);
    }
  }
  return units;
}
