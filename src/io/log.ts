// Logging for the shells, systemd style. When systemd runs the generator (SYSTEMD_EXEC_PID is our
// pid) nothing reads our stderr at boot, so records go to /dev/kmsg as "<prio>ident[pid]: text",
// one write per line, where journald picks them up. Containers have no /dev/kmsg: there we hand
// the lines to journald's stdout stream socket when journald is already listening (every
// daemon-reload), and to stderr (the console, as systemd's own generators do) when it is not.
// Run by hand, everything goes to stderr. SYSTEMD_LOG_LEVEL and SYSTEMD_LOG_TARGET are honoured,
// and systemd.log_level= on the kernel command line when invoked by systemd.
import { closeSync, constants, existsSync, openSync, readFileSync, writeSync } from "node:fs";
import { createConnection } from "node:net";
import { writeStderr } from "./stdio.ts";

export const LEVELS = ["emerg", "alert", "crit", "err", "warning", "notice", "info", "debug"] as const;
export type Level = (typeof LEVELS)[number];

const JOURNAL_STREAM = "/run/systemd/journal/stdout";

export interface Logger {
  log(level: Level, message: string): void;
  /** True if messages at this level are written (to skip building expensive debug text). */
  enabled(level: Level): boolean;
  /** Flushes what is buffered for journald; call once, at the end. */
  close(): void;
}

/** SYSTEMD_LOG_LEVEL's value as a number (0 emerg … 7 debug), by name or number; undefined if invalid. */
export function parseLevel(value: string | undefined): number | undefined {
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
    else if (word.startsWith("systemd.log_level="))
      level = parseLevel(word.slice("systemd.log_level=".length)) ?? level;
  }
  return level;
}

/** /dev/kmsg for writing, never created: without O_CREAT a missing node cannot become a regular file. */
function openKmsg(): number | undefined {
  try {
    return openSync("/dev/kmsg", constants.O_WRONLY | constants.O_NOCTTY);
  } catch {
    return undefined;
  }
}

export function createLogger(ident: string, env: NodeJS.ProcessEnv): Logger {
  const bySystemd = env.SYSTEMD_EXEC_PID === String(process.pid);
  const max = parseLevel(env.SYSTEMD_LOG_LEVEL) ?? (bySystemd ? kernelCommandLineLevel(env) : undefined) ?? 6;
  const target = env.SYSTEMD_LOG_TARGET;
  const auto = bySystemd && target !== "console" && target !== "stderr";
  let kmsg = auto || target === "kmsg" ? openKmsg() : undefined;
  // journald's stream protocol: a header (identifier, unit, priority, level prefix, forward to
  // syslog, kmsg, console), then one "<prio>text" line per record.
  const journal: string[] | undefined =
    kmsg === undefined && (auto || target === "journal") && existsSync(JOURNAL_STREAM) ? [] : undefined;

  const toStderr = (line: string): void => {
    writeStderr(`${line}\n`);
  };
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
        if (journal) journal.push(`<${prio}>${line}`);
        else toStderr(line);
      }
    },
    close() {
      if (kmsg !== undefined) closeSync(kmsg);
      kmsg = undefined;
      if (!journal || journal.length === 0) return;
      const lines = journal.splice(0);
      const socket = createConnection(JOURNAL_STREAM);
      // journald not listening yet (early boot in a container): the console is all there is.
      socket.on("error", () => {
        for (const l of lines) toStderr(l.replace(/^<\d>/, ""));
      });
      socket.end(`${ident}\n\n6\n1\n0\n0\n0\n${lines.join("\n")}\n`);
    },
  };
}
