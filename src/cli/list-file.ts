// Read-modify-write of one attach-list file under the lock: the edit function sees the text as it
// is now (not as it was when the command started), so concurrent runs never lose each other's
// entries; the result is checked to parse before it replaces the file.
import { strerror } from "../io/strerror.ts";
import { accessSync, constants, mkdirSync } from "node:fs";
import { dirname } from "node:path";
import { parseAttachList } from "../config/attach-list.ts";
import { LIST_LEVELS } from "../config/paths.ts";
import { removeStaleTemporaries, replaceFileAtomic } from "../io/atomic-file.ts";
import { type ListBytes, MAX_LIST_BYTES, readListBytes } from "../io/list-files.ts";
import { acquireLock, LockError } from "../io/lock.ts";
import { inRoot, shownInRoot } from "../io/root-path.ts";
import { CliError, type Context } from "./context.ts";

/**
 * The file the CLI writes new entries (and override copies of vendor entries) to:
 * /etc/portable-attach.conf, or /run/… with --runtime or when /etc is read-only (a confext merged
 * over it, a read-only root): said, since a /run list is gone at reboot.
 */
export function targetFile(ctx: Context): string {
  const etc = LIST_LEVELS[0].main as string;
  const run = LIST_LEVELS[1].main as string;
  if (ctx.opts.runtime) return run;
  if (ctx.opts.root !== "" || !readOnly(dirname(etc))) return etc;
  ctx.note(
    `${dirname(etc)} is read-only: writing ${run} instead, which is gone at reboot (ship the entry where /etc comes from, e.g. the confext image, to keep it).`,
  );
  return run;
}

function readOnly(dir: string): boolean {
  try {
    accessSync(dir, constants.W_OK);
    return false;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EROFS";
  }
}

/** Hand-edited lists live in /etc and /run; /usr is the vendor's and is overridden, not edited. */
export function isEditable(path: string): boolean {
  return path.startsWith("/etc/") || path.startsWith("/run/");
}

/**
 * The file's text. `host` is already resolved inside the root, so a symlink met now is a race and
 * refused. A file with lines that are not text is refused too: the editor works on text, and
 * writing it back would turn those bytes into U+FFFD, losing what they were.
 */
function readText(root: string, host: string, path: string): string {
  const { text, unreadable } = readBytes(root, host, path);
  if (unreadable.length > 0)
    throw new CliError(
      `Refusing to edit '${host}': line ${unreadable.join(", ")} cannot be read (NUL bytes or invalid UTF-8) and would be lost; fix or remove ${unreadable.length > 1 ? "them" : "it"} by hand first`,
    );
  return text;
}

function readBytes(root: string, host: string, path: string): { text: string; unreadable: number[] } {
  let read: ListBytes;
  try {
    read = readListBytes(root, host, path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return { text: "", unreadable: [] };
    throw new CliError(`Failed to read '${host}': ${strerror(e)}`);
  }
  if (read.kind === "read") return { text: read.text, unreadable: read.unreadable };
  const why = {
    directory: "is a directory",
    special: "not a regular file",
    "too-large": `larger than ${MAX_LIST_BYTES} bytes`,
  }[read.kind];
  throw new CliError(`Refusing to edit '${host}': ${why}`);
}

/** A list file's text and its unreadable lines, read as the editor reads it (inside the root). */
export function readListText(ctx: Context, path: string): { text: string; unreadable: number[] } {
  let host: string;
  try {
    host = inRoot(ctx.opts.root, path);
  } catch (e) {
    throw new CliError(`Failed to resolve '${shownInRoot(ctx.opts.root, path)}': ${strerror(e)}`);
  }
  return readBytes(ctx.opts.root, host, path);
}

/** Applies `edit` to the file at `path` (booted-system path) under the lock; true if it changed. */
export function editListFile(ctx: Context, path: string, edit: (text: string) => string): boolean {
  const root = ctx.opts.root;
  let host: string;
  try {
    // Symlinks are chased inside --root's tree: a link out of it must not lead the write out.
    host = inRoot(root, path);
  } catch (e) {
    throw new CliError(`Failed to resolve '${shownInRoot(root, path)}': ${strerror(e)}`);
  }
  const dir = dirname(host);
  try {
    mkdirSync(dir, { recursive: true, mode: 0o755 });
  } catch (e) {
    throw new CliError(`Failed to create directory '${dir}': ${strerror(e)}`);
  }
  let lock;
  try {
    lock = acquireLock(`${dir}/.portable-attach.lock`);
  } catch (e) {
    // A LockError says what failed in its own words; anything else is the system's error.
    throw new CliError(
      e instanceof LockError ? e.message : `Failed to lock '${host}': ${strerror(e)}${readOnlyHint(ctx, e)}`,
    );
  }
  try {
    removeStaleTemporaries("", host);
    const before = readText(root, host, path);
    const after = edit(before);
    if (after === before) return false;
    // Never write a file the parser would reject outright (a bug in the editor, not the user's fault).
    const check = parseAttachList(after, path);
    if (
      check.diagnostics.some((d) => d.severity === "error") &&
      !parseAttachList(before, path).diagnostics.some((d) => d.severity === "error")
    ) {
      throw new CliError(
        `Refusing to write '${path}': the edit would make it unparsable (${check.diagnostics[0]?.message})`,
      );
    }
    try {
      replaceFileAtomic(root, path, after);
    } catch (e) {
      throw new CliError(`Failed to write '${host}': ${strerror(e)}${readOnlyHint(ctx, e)}`);
    }
    ctx.note(`Written ${host}.`);
    return true;
  } finally {
    lock.release();
  }
}

function readOnlyHint(ctx: Context, e: unknown): string {
  const code = (e as NodeJS.ErrnoException).code;
  // An entry in a read-only /etc list: a /run list has lower precedence and cannot override it.
  if (code === "EROFS" && ctx.opts.root === "" && !ctx.opts.runtime)
    return " (the file system is read-only: change the entry where this list comes from, e.g. its confext image)";
  return (code === "EROFS" || code === "EACCES" || code === "EPERM") && !ctx.opts.runtime && ctx.opts.root === ""
    ? " (use --runtime to write the list under /run)"
    : "";
}
