// Finds and reads the attach-list files under a root, in precedence order: the main
// file of a level before its .d directory; a .d file name in a higher level replaces the same
// name in every lower level; a .d file that is empty or a symlink to /dev/null masks that name.
// Within one .d directory a later file name takes precedence, as with systemd drop-ins.
import { strerror } from "./strerror.ts";
import { closeSync, constants, lstatSync, openSync, readdirSync, readlinkSync, statSync, type Stats } from "node:fs";
import type { Diagnostic } from "../config/diagnostic.ts";
import { readRegularFile } from "../image/read-at-most.ts";
import { LIST_LEVELS } from "../config/paths.ts";
import { checkInRoot, hostPath, inRoot } from "./root-path.ts";

/** A list file larger than this is refused: it is not something a person wrote. */
export const MAX_LIST_BYTES = 4 * 1024 * 1024;

export interface ListFile {
  /** As the booted system sees it. */
  path: string;
  text: string;
  /** 1-based numbers of lines that cannot be read (NUL bytes or invalid UTF-8), ascending. */
  unreadable: number[];
}

function errno(e: unknown): string | undefined {
  return (e as NodeJS.ErrnoException).code;
}

const strictUtf8 = new TextDecoder("utf-8", { fatal: true });

/**
 * Lines that are not text: holding a NUL byte or bytes that are not UTF-8. Such a line is what a
 * crash leaves (a block of zeros at the end) or binary junk; its neighbours may still be good.
 */
export function unreadableLines(bytes: Uint8Array): number[] {
  // Most files are clean: one pass finds out, the line by line check is only for the others.
  if (!bytes.includes(0)) {
    try {
      strictUtf8.decode(bytes);
      return [];
    } catch {
      /* find the lines */
    }
  }
  const out: number[] = [];
  let start = 0;
  for (let line = 1; start <= bytes.length; line++) {
    let end = bytes.indexOf(10, start);
    if (end === -1) end = bytes.length;
    const text = bytes.subarray(start, end);
    if (text.includes(0)) out.push(line);
    else {
      try {
        strictUtf8.decode(text);
      } catch {
        out.push(line);
      }
    }
    start = end + 1;
  }
  return out;
}
/** The owner of the root directory: a tree an image builder owns is theirs (root's for "/"). */
function rootOwner(root: string): number {
  try {
    return lstatSync(root === "" ? "/" : root).uid;
  } catch {
    return 0;
  }
}

/**
 * Warns about a list file that someone other than the system's owner may change (it decides what
 * runs as root at boot). The file is still used, as systemd uses a world-writable unit file: see
 * the FILES section of portable-attach.conf(5) for why.
 */
function warnAboutAccess(fst: Stats, path: string, owner: number, diagnostics: Diagnostic[]): void {
  if ((fst.mode & 0o002) !== 0)
    diagnostics.push({
      severity: "warning",
      file: path,
      message: "List file is world-writable: anyone may change what is attached; using it anyway (chmod o-w to fix)",
    });
  if (fst.uid !== 0 && fst.uid !== owner)
    diagnostics.push({
      severity: "warning",
      file: path,
      message: `List file is owned by uid ${fst.uid}, not root: that user may change what is attached; using it anyway`,
    });
}

interface Read {
  text: string;
  unreadable: number[];
}

export type ListBytes =
  | { kind: "read"; text: string; unreadable: number[]; stats: Stats }
  | { kind: "directory" | "special" | "too-large" };

/**
 * Reads the list file at `host` (`path` as the booted system sees it), opened without blocking and
 * checked before reading: a FIFO, /dev/zero or a 100 MB file in the list's place must cost an error
 * message, not a hung or out-of-memory boot. Under a root the final symlink must be chased already:
 * one appearing now is a race, and refused. Throws what the system says (ENOENT: nothing there).
 */
export function readListBytes(root: string, host: string, path: string): ListBytes {
  const fd = openSync(
    host,
    constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY | (root === "" ? 0 : constants.O_NOFOLLOW),
  );
  try {
    checkInRoot(root, fd, path);
    const file = readRegularFile(fd, MAX_LIST_BYTES);
    if (file.kind !== "read") return { kind: file.kind };
    const text = Buffer.from(file.bytes.buffer, file.bytes.byteOffset, file.bytes.length);
    return { kind: "read", text: text.toString("utf8"), unreadable: unreadableLines(text), stats: file.stats };
  } finally {
    closeSync(fd);
  }
}

/** Reads one list file; undefined if it does not exist (or is a mask). */
function readListFile(root: string, path: string, owner: number, diagnostics: Diagnostic[]): Read | undefined {
  let host: string;
  let st;
  try {
    // Under a root, symlinks are chased inside it: a link out of the tree must not be read.
    host = hostPath(root, path, false);
    // A missing file is the common case (/run's list): no exception for it, they are costly at boot.
    st = lstatSync(host, { throwIfNoEntry: false });
  } catch (e) {
    if (errno(e) !== "ENOENT" && errno(e) !== "ENOTDIR")
      diagnostics.push({ severity: "error", file: path, message: `Failed to access list file: ${strerror(e)}` });
    return undefined;
  }
  if (st === undefined) return undefined;
  if (st.isSymbolicLink()) {
    try {
      if (readlinkSync(host) === "/dev/null") return undefined;
      if (root !== "") host = inRoot(root, path);
    } catch (e) {
      diagnostics.push({ severity: "error", file: path, message: `Failed to read list file: ${strerror(e)}` });
      return undefined;
    }
  }
  let read: ListBytes;
  try {
    read = readListBytes(root, host, path);
  } catch (e) {
    const why = errno(e) === "ENOENT" ? "dangling symlink" : errno(e) === "EISDIR" ? "is a directory" : strerror(e);
    diagnostics.push({ severity: "error", file: path, message: `Failed to read list file: ${why}` });
    return undefined;
  }
  if (read.kind !== "read") {
    const why = {
      directory: "List file is a directory",
      special: "List file is not a regular file (a device, FIFO or socket)",
      "too-large": `List file is larger than ${MAX_LIST_BYTES} bytes`,
    }[read.kind];
    diagnostics.push({ severity: "error", file: path, message: why });
    return undefined;
  }
  warnAboutAccess(read.stats, path, owner, diagnostics);
  return { text: read.text, unreadable: read.unreadable };
}

function listDropins(root: string, dir: string, diagnostics: Diagnostic[]): string[] {
  // Most of these directories do not exist: find that out without an exception (costly at boot);
  // any other problem is left for readdir to report in its own words.
  let host: string;
  let absent = false;
  try {
    host = hostPath(root, dir);
    absent = statSync(host, { throwIfNoEntry: false }) === undefined;
  } catch (e) {
    diagnostics.push({ severity: "error", file: dir, message: `Failed to list directory: ${strerror(e)}` });
    return [];
  }
  if (absent) return [];
  try {
    const names: string[] = [];
    for (const n of readdirSync(host)) if (n.endsWith(".conf") && !n.startsWith(".")) names.push(n);
    return names;
  } catch (e) {
    if (errno(e) !== "ENOENT" && errno(e) !== "ENOTDIR")
      diagnostics.push({ severity: "error", file: dir, message: `Failed to list directory: ${strerror(e)}` });
    return [];
  }
}

/** The list files that apply, highest precedence first, with diagnostics for unreadable ones. */
export function readListFiles(root: string): { files: ListFile[]; diagnostics: Diagnostic[] } {
  const diagnostics: Diagnostic[] = [];
  const files: ListFile[] = [];
  const claimed = new Set<string>();
  const owner = rootOwner(root);
  for (const level of LIST_LEVELS) {
    if (level.main) {
      const read = readListFile(root, level.main, owner, diagnostics);
      if (read !== undefined) files.push({ path: level.main, ...read });
    }
    const names = listDropins(root, level.dropins, diagnostics).sort().reverse();
    for (const name of names) {
      if (claimed.has(name)) continue;
      claimed.add(name);
      const path = `${level.dropins}/${name}`;
      const read = readListFile(root, path, owner, diagnostics);
      if (read !== undefined && read.text !== "") files.push({ path, ...read });
    }
  }
  return { files, diagnostics };
}
