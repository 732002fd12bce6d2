// Talks to PID 1 through systemctl (no D-Bus library: systemctl brings polkit, the reload timeout
// and its own chroot logic). When there is no systemd to talk to (not booted with it, a chroot,
// SYSTEMD_OFFLINE=1, --root) the caller gets a reason instead of a failure, so image builders and
// containers can edit lists and be told what did not happen.
import { strerror } from "./strerror.ts";
import { spawnSync } from "node:child_process";
import { readlinkSync, statSync } from "node:fs";

/** Why PID 1 cannot be asked right now, or undefined if it can. */
export function offlineReason(env: NodeJS.ProcessEnv): string | undefined {
  if (env.SYSTEMD_OFFLINE === "1") return "SYSTEMD_OFFLINE=1 is set";
  try {
    if (!statSync("/run/systemd/system").isDirectory()) return "system has not been booted with systemd";
  } catch {
    return "system has not been booted with systemd";
  }
  if (inChroot()) return "running in chroot";
  return undefined;
}

/** systemd's running_in_chroot(): our / is not PID 1's /. Unknowable as non-root: assume not. */
export function inChroot(): boolean {
  try {
    const ours = statSync("/");
    const pid1 = statSync("/proc/1/root");
    return ours.dev !== pid1.dev || ours.ino !== pid1.ino;
  } catch {
    return false;
  }
}

export interface SystemctlResult {
  ok: boolean;
  stdout: string;
  /** systemctl's own message on failure. */
  error: string;
}

export function systemctl(args: string[], env: NodeJS.ProcessEnv = process.env): SystemctlResult {
  const r = spawnSync("systemctl", args, { encoding: "utf8", env, stdio: ["ignore", "pipe", "pipe"] });
  if (r.error) return { ok: false, stdout: "", error: `systemctl: ${strerror(r.error)}` };
  const error =
    (r.stderr || "").trim() ||
    (r.status !== 0 ? `systemctl ${args[0]} exited with status ${r.status ?? r.signal}` : "");
  return { ok: r.status === 0, stdout: r.stdout ?? "", error };
}

/** ActiveState of each unit ("active", "inactive", "failed", …; "unknown" if PID 1 cannot say). */
export function activeStates(units: readonly string[], env: NodeJS.ProcessEnv = process.env): Map<string, string> {
  const states = new Map<string, string>();
  if (units.length === 0) return states;
  // is-active prints one state per unit and exits non-zero if any is inactive: only stdout matters.
  const r = systemctl(["is-active", "--", ...units], env);
  const lines = r.stdout.split("\n");
  units.forEach((u, i) => {
    states.set(u, lines[i]?.trim() || "unknown");
  });
  return states;
}

export function isRunning(state: string | undefined): boolean {
  return state === "active" || state === "activating" || state === "reloading" || state === "deactivating";
}

export interface UnitFailure {
  unit: string;
  /** "Result=exit-code, status=226/NAMESPACE" and the like. */
  why: string;
}

// systemd's own exit statuses a service gets when its setup fails before the program runs
// (systemd.exec(5), "Process Exit Codes"); the rest are shown as numbers.
const EXIT_NAMES: Record<string, string> = {
  "200": "CHDIR",
  "203": "EXEC",
  "209": "STDOUT",
  "210": "CHROOT",
  "217": "USER",
  "218": "CAPABILITIES",
  "226": "NAMESPACE",
  "227": "NO_NEW_PRIVILEGES",
  "228": "SECCOMP",
  "231": "SYSTEMD_RUNTIME_DIRECTORY",
};

const SHOWN = "Id,ActiveState,SubState,Result,MainPID,ExecMainCode,ExecMainStatus";

function showUnits(units: readonly string[], env: NodeJS.ProcessEnv): Map<string, string>[] {
  const r = systemctl(["show", `--property=${SHOWN}`, "--", ...units], env);
  return r.stdout
    .split(/\n\n/)
    .filter((b) => b.trim() !== "")
    .map(
      (b) =>
        new Map(
          b.split("\n").map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)] as [string, string]),
        ),
    );
}

/** True while a unit's main process is still PID 1's own (forked, not yet the service's program). */
function stillSettingUp(mainPid: string | undefined): boolean {
  if (mainPid === undefined || mainPid === "0") return false;
  try {
    const exe = readlinkSync(`/proc/${mainPid}/exe`).replace(/ \(deleted\)$/, "");
    // Before 255 the child is a fork of PID 1 (…/systemd); since 255 it is …/systemd-executor.
    return /\/systemd(-executor)?$/.test(exe);
  } catch (e) {
    // Exited but not reaped yet (a zombie, or gone before PID 1 noticed): its end shows next time.
    // Not ours to read (not root): nothing to wait for.
    return (e as NodeJS.ErrnoException).code !== "EACCES" && (e as NodeJS.ErrnoException).code !== "EPERM";
  }
}

function failure(p: Map<string, string>): string | undefined {
  const result = p.get("Result");
  const failed =
    p.get("ActiveState") === "failed" ||
    p.get("SubState") === "auto-restart" ||
    (result !== undefined && result !== "" && result !== "success");
  if (!failed) return undefined;
  const status = p.get("ExecMainStatus");
  const code =
    status && status !== "0" ? `, status=${status}${EXIT_NAMES[status] ? `/${EXIT_NAMES[status]}` : ""}` : "";
  return `${p.get("ActiveState")} (Result=${result ?? "?"}${code})`;
}

/**
 * Units that failed right after a start or restart job succeeded. A Type=simple service's job
 * ends at fork, before its sandbox is set up (a 226/NAMESPACE comes later), so this waits, up to
 * `timeoutMs`, until each main process is the service's own program or has exited.
 */
export function failedAfterStart(
  units: readonly string[],
  env: NodeJS.ProcessEnv = process.env,
  timeoutMs = 2000,
): UnitFailure[] {
  const deadline = Date.now() + timeoutMs;
  const pause = new Int32Array(new SharedArrayBuffer(4));
  for (;;) {
    const shown = showUnits(units, env);
    const failures: UnitFailure[] = [];
    let settling = false;
    units.forEach((unit, i) => {
      const p = shown[i];
      if (!p) return;
      const why = failure(p);
      if (why) failures.push({ unit, why });
      else if (stillSettingUp(p.get("MainPID"))) settling = true;
    });
    if (!settling || Date.now() >= deadline) return failures;
    Atomics.wait(pause, 0, 0, 20);
  }
}
