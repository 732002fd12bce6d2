// What every verb shares: the options, where output goes, and the failure type that carries an
// exit status. Verbs print through here so -q and --json behave the same everywhere.
import { writeStderr, writeStdout } from "../io/stdio.ts";
import type { Options } from "./options.ts";

/** A failure the user should read: printed as is, exit status 1 (2 for usage). */
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
  /** Warnings and errors; never silenced. */
  warn(text: string): void;
}

export function createContext(opts: Options, env: NodeJS.ProcessEnv): Context {
  return {
    opts,
    env,
    out: (t) => writeStdout(t.endsWith("\n") ? t : t + "\n"),
    note: (t) => {
      if (!opts.quiet) writeStderr(t + "\n");
    },
    warn: (t) => writeStderr(t + "\n"),
  };
}

export function printJson(ctx: Context, value: unknown): void {
  ctx.out(ctx.opts.json === "pretty" ? JSON.stringify(value, null, 2) : JSON.stringify(value));
}
