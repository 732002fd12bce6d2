// Talks to PID 1 through systemctl (no D-Bus library: systemctl brings polkit, the reload timeout
// and its own chroot logic). When there is no systemd to talk to (not booted with it, a chroot,
// SYSTEMD_OFFLINE=1, --root) the caller gets a reason instead of a failure, so image builders and
// containers can edit lists and be told what did not happen.
import { spawnSync } from "node:child_process";
import { statSync } from "node:fs";

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
  if (r.error) return { ok: false, stdout: "", error: r.error.message };
  const error = (r.stderr || "").trim() || (r.status !== 0 ? `systemctl ${args[0]} exited with status ${r.status ?? r.signal}` : "");
  return { ok: r.status === 0, stdout: r.stdout ?? "", error };
}

/** ActiveState of each unit ("active", "inactive", "failed", …; "unknown" if PID 1 cannot say). */
export function activeStates(units: readonly string[], env: NodeJS.ProcessEnv = process.env): Map<string, string> {
  const states = new Map<string, string>();
  if (units.length === 0) return states;
  // is-active prints one state per unit and exits non-zero if any is inactive: only stdout matters.
  const r = systemctl(["is-active", "--", ...units], env);
  const lines = r.stdout.split("\n");
  units.forEach((u, i) => states.set(u, lines[i]?.trim() || "unknown"));
  return states;
}

export function isRunning(state: string | undefined): boolean {
  return state === "active" || state === "activating" || state === "reloading" || state === "deactivating";
}
