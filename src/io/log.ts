// Logging for the shells, systemd style. When systemd runs the generator (SYSTEMD_EXEC_PID is our
// pid) nothing reads our stderr at boot, so records go to /dev/kmsg as "<prio>ident[pid]: text",
// one write per line, where journald picks them up; otherwise to stderr. SYSTEMD_LOG_LEVEL and
// SYSTEMD_LOG_TARGET are honoured, and systemd.log_level= on the kernel command line when invoked
// by systemd, like systemd's own generators.
import { closeSync, openSync, readFileSync, writeSync } from "node:fs";

export const LEVELS = ["emerg", "alert", "crit", "err", "warning", "notice", "info", "debug"] as const;
export type Level = (typeof LEVELS)[number];

export interface Logger {
  log(level: Level, message: string): void;
  /** True if messages at this level are written (to skip building expensive debug text). */
  enabled(level: Level): boolean;
  close(): void;
}

function parseLevel(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (Number.isInteger(n) && n >= 0 && n <= 7) return n;
  const i = LEVELS.indexOf(value as Level);
  return i >= 0 ? i : undefined;
}

function kernelCommandLineLevel(env: NodeJS.ProcessEnv): number | undefined {
  let cmdline = env.SYSTEMD_PROC_CMDLINE;
  if (cmdline === undefined) {
    try {
      cmdline = readFileSync("/proc/cmdline", "utf8");
    } catch {
      return undefined;
    }
  }
  let level: number | undefined;
  for (const word of cmdline.split(/\s+/)) {
    if (word === "debug") level = 7;
    else if (word.startsWith("systemd.log_level=")) level = parseLevel(word.slice("systemd.log_level=".length)) ?? level;
  }
  return level;
}

export function createLogger(ident: string, env: NodeJS.ProcessEnv): Logger {
  const bySystemd = env.SYSTEMD_EXEC_PID === String(process.pid);
  const max = parseLevel(env.SYSTEMD_LOG_LEVEL) ?? (bySystemd ? kernelCommandLineLevel(env) : undefined) ?? 6;
  const target = env.SYSTEMD_LOG_TARGET;
  let kmsg: number | undefined;
  if ((bySystemd && target !== "console" && target !== "stderr") || target === "kmsg") {
    try {
      kmsg = openSync("/dev/kmsg", "w");
    } catch {
      kmsg = undefined; // no /dev/kmsg (some containers): fall back to stderr
    }
  }
  return {
    enabled: (level) => LEVELS.indexOf(level) <= max,
    log(level, message) {
      const prio = LEVELS.indexOf(level);
      if (prio > max) return;
      for (const line of message.split("\n")) {
        if (kmsg !== undefined) {
          try {
            // The kernel keeps records of about 1 KiB; keep ours well below.
            writeSync(kmsg, `<${prio}>${ident}[${process.pid}]: ${line.slice(0, 900)}\n`);
            continue;
          } catch {
            kmsg = undefined;
          }
        }
        process.stderr.write(`${line}\n`);
      }
    },
    close() {
      if (kmsg !== undefined) closeSync(kmsg);
      kmsg = undefined;
    },
  };
}
