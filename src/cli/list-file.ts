// Read-modify-write of one attach-list file under the lock: the edit function sees the text as it
// is now (not as it was when the command started), so concurrent runs never lose each other's
// entries; the result is checked to parse before it replaces the file.
import { mkdirSync, readFileSync } from "node:fs";
import { dirname } from "node:path";
import { parseAttachList } from "../config/attach-list.ts";
import { LIST_LEVELS } from "../config/paths.ts";
import { removeStaleTemporaries, replaceFileAtomic } from "../io/atomic-file.ts";
import { acquireLock } from "../io/lock.ts";
import { CliError, type Context } from "./context.ts";

/** The file the CLI writes new entries to: /etc/portable-attach.conf, or /run/… with --runtime. */
export function targetFile(ctx: Context): string {
  return (LIST_LEVELS[ctx.opts.runtime ? 1 : 0].main as string);
}

/** Hand-edited lists live in /etc and /run; /usr is the vendor's and is overridden, not edited. */
export function isEditable(path: string): boolean {
  return path.startsWith("/etc/") || path.startsWith("/run/");
}

function readText(hostPath: string): string {
  try {
    return readFileSync(hostPath, "utf8");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return "";
    throw new CliError(`Failed to read '${hostPath}': ${(e as Error).message}`);
  }
}

/** Applies `edit` to the file at `path` (booted-system path) under the lock; true if it changed. */
export function editListFile(ctx: Context, path: string, edit: (text: string) => string): boolean {
  const host = ctx.opts.root + path;
  const dir = dirname(host);
  try {
    mkdirSync(dir, { recursive: true, mode: 0o755 });
  } catch (e) {
    throw new CliError(`Failed to create directory '${dir}': ${(e as Error).message}`);
  }
  let lock;
  try {
    lock = acquireLock(`${dir}/.portable-attach.lock`);
  } catch (e) {
    throw new CliError((e as Error).message.startsWith("Failed") ? (e as Error).message : `Failed to lock '${host}': ${(e as Error).message}${readOnlyHint(ctx, e)}`);
  }
  try {
    removeStaleTemporaries(host);
    const before = readText(host);
    const after = edit(before);
    if (after === before) return false;
    // Never write a file the parser would reject outright (a bug in the editor, not the user's fault).
    const check = parseAttachList(after, path);
    if (check.diagnostics.some((d) => d.severity === "error") && !parseAttachList(before, path).diagnostics.some((d) => d.severity === "error")) {
      throw new CliError(`Refusing to write '${path}': the edit would make it unparsable (${check.diagnostics[0]?.message})`);
    }
    try {
      replaceFileAtomic(host, after);
    } catch (e) {
      throw new CliError(`Failed to write '${host}': ${(e as Error).message}${readOnlyHint(ctx, e)}`);
    }
    ctx.note(`Written ${host}.`);
    return true;
  } finally {
    lock.release();
  }
}

function readOnlyHint(ctx: Context, e: unknown): string {
  const code = (e as NodeJS.ErrnoException).code;
  return (code === "EROFS" || code === "EACCES" || code === "EPERM") && !ctx.opts.runtime && ctx.opts.root === "" ? " (use --runtime to write the list under /run)" : "";
}
