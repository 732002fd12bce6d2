// What every verb shares: the options, where output goes, and the failure type that carries an
// exit status. Verbs print through here so -q, --json and SYSTEMD_LOG_LEVEL behave the same
// everywhere. Messages on stderr have systemd's levels: notes are info (6), warnings warning (4),
// failures err (3); SYSTEMD_LOG_LEVEL (a name or 0–7, default info) drops those above it, as
// systemctl does. Results on stdout are never dropped.
import { parseLevel } from "../io/log.ts";
import { writeStderr, writeStdout } from "../io/stdio.ts";
import type { Options } from "./options.ts";

export const LOG_ERR = 3;
export const LOG_WARNING = 4;
export const LOG_INFO = 6;
export const LOG_DEBUG = 7;

/** The level SYSTEMD_LOG_LEVEL asks for; info when unset or invalid. */
export function logLevel(env: NodeJS.ProcessEnv): number {
  return parseLevel(env.SYSTEMD_LOG_LEVEL) ?? LOG_INFO;
}

/**
 * A failure the user should read: printed as is at level err, exit status 1. Status 2 marks bad
 * usage: main() adds the pointer to --help and still exits 1, as systemd's tools do.
 */
export class CliError extends Error {
  constructor(
    message: string,
    readonly status = 1,
  ) {
    super(message);
  }
}

export interface Context {
  opts: Options;
  env: NodeJS.ProcessEnv;
  /** Results (tables, JSON, state words). */
  out(text: string): void;
  /** What was done or not done ("Written …", "Not reloading: …"); silenced by -q. */
  note(text: string): void;
  /** Warnings and errors; not silenced by -q (only by SYSTEMD_LOG_LEVEL below warning). */
  warn(text: string): void;
}

export function createContext(opts: Options, env: NodeJS.ProcessEnv): Context {
  const level = logLevel(env);
  return {
    opts,
    env,
    out: (t) => writeStdout(t.endsWith("\n") ? t : t + "\n"),
    note: (t) => {
      if (!opts.quiet && level >= LOG_INFO) writeStderr(t + "\n");
    },
    warn: (t) => {
      if (level >= LOG_WARNING) writeStderr(t + "\n");
    },
  };
}

export function printJson(ctx: Context, value: unknown): void {
  ctx.out(ctx.opts.json === "pretty" ? JSON.stringify(value, null, 2) : JSON.stringify(value));
}
