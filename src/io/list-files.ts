// Finds and reads the attach-list files under a root, in precedence order (design §2): the main
// file of a level before its .d directory; a .d file name in a higher level replaces the same
// name in every lower level; a .d file that is empty or a symlink to /dev/null masks that name.
// Within one .d directory a later file name takes precedence, as with systemd drop-ins.
import { closeSync, constants, fstatSync, lstatSync, openSync, readdirSync, readlinkSync, statSync } from "node:fs";
import type { Diagnostic } from "../config/diagnostic.ts";
import { readAtMost } from "../image/read-at-most.ts";
import { LIST_LEVELS } from "../config/paths.ts";

/** A list file larger than this is refused: it is not something a person wrote. */
export const MAX_LIST_BYTES = 4 * 1024 * 1024;

export interface ListFile {
  /** As the booted system sees it. */
  path: string;
  text: string;
}

function errno(e: unknown): string | undefined {
  return (e as NodeJS.ErrnoException).code;
}

/** Reads one list file; undefined if it does not exist (or is a mask). */
function readListFile(root: string, path: string, diagnostics: Diagnostic[]): string | undefined {
  const host = root + path;
  let st;
  try {
    // A missing file is the common case (/run's list): no exception for it, they are costly at boot.
    st = lstatSync(host, { throwIfNoEntry: false });
  } catch (e) {
    if (errno(e) !== "ENOENT") diagnostics.push({ severity: "error", file: path, message: `Failed to access list file: ${(e as Error).message}` });
    return undefined;
  }
  if (st === undefined) return undefined;
  if (st.isSymbolicLink()) {
    try {
      if (readlinkSync(host) === "/dev/null") return undefined;
    } catch {
      /* reported by the read below */
    }
  }
  // Opened without blocking and checked before reading: a FIFO, /dev/zero or a 100 MB file in the
  // list's place must cost an error message, not a hung or out-of-memory boot.
  let fd: number;
  try {
    fd = openSync(host, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY);
  } catch (e) {
    const why = errno(e) === "ENOENT" ? "dangling symlink" : errno(e) === "EISDIR" ? "is a directory" : (e as Error).message;
    diagnostics.push({ severity: "error", file: path, message: `Failed to read list file: ${why}` });
    return undefined;
  }
  try {
    const fst = fstatSync(fd);
    if (fst.isDirectory()) {
      diagnostics.push({ severity: "error", file: path, message: "List file is a directory" });
      return undefined;
    }
    if (!fst.isFile()) {
      diagnostics.push({ severity: "error", file: path, message: "List file is not a regular file (a device, FIFO or socket)" });
      return undefined;
    }
    const bytes = fst.size > MAX_LIST_BYTES ? undefined : readAtMost(fd, fst.size, MAX_LIST_BYTES);
    if (!bytes) {
      diagnostics.push({ severity: "error", file: path, message: `List file is larger than ${MAX_LIST_BYTES} bytes` });
      return undefined;
    }
    const text = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
    // Decoded first: a NUL byte, and only a NUL byte, decodes to U+0000.
    const decoded = text.toString("utf8");
    if (decoded.includes("\0")) {
      diagnostics.push({ severity: "error", file: path, message: "List file contains NUL bytes (binary data?)" });
      return undefined;
    }
    // Invalid bytes always decode to U+FFFD: only a text holding one needs the strict check.
    if (decoded.includes("\uFFFD")) warnInvalidUtf8(text, path, diagnostics);
    return decoded;
  } catch (e) {
    diagnostics.push({ severity: "error", file: path, message: `Failed to read list file: ${(e as Error).message}` });
    return undefined;
  } finally {
    closeSync(fd);
  }
}

/** Bytes that are not UTF-8 become U+FFFD, which no image path contains: say which lines have them. */
function warnInvalidUtf8(text: Buffer, path: string, diagnostics: Diagnostic[]): void {
  const strictUtf8 = new TextDecoder("utf-8", { fatal: true });
  try {
    strictUtf8.decode(text);
    return;
  } catch {
    /* find the lines */
  }
  let start = 0;
  let said = 0;
  for (let line = 1; start <= text.length && said < 5; line++) {
    const end = text.indexOf(10, start) === -1 ? text.length : text.indexOf(10, start);
    try {
      strictUtf8.decode(text.subarray(start, end));
    } catch {
      diagnostics.push({ severity: "warning", file: path, line, message: "Line is not valid UTF-8; invalid bytes are read as U+FFFD" });
      said++;
    }
    start = end + 1;
  }
}

function listDropins(root: string, dir: string, diagnostics: Diagnostic[]): string[] {
  // Most of these directories do not exist: find that out without an exception (costly at boot);
  // any other problem is left for readdir to report in its own words.
  let absent = false;
  try {
    absent = statSync(root + dir, { throwIfNoEntry: false }) === undefined;
  } catch {
    /* said below */
  }
  if (absent) return [];
  try {
    const names: string[] = [];
    for (const n of readdirSync(root + dir)) if (n.endsWith(".conf") && !n.startsWith(".")) names.push(n);
    return names;
  } catch (e) {
    if (errno(e) !== "ENOENT" && errno(e) !== "ENOTDIR") diagnostics.push({ severity: "error", file: dir, message: `Failed to list directory: ${(e as Error).message}` });
    return [];
  }
}

/** The list files that apply, highest precedence first, with diagnostics for unreadable ones. */
export function readListFiles(root: string): { files: ListFile[]; diagnostics: Diagnostic[] } {
  const diagnostics: Diagnostic[] = [];
  const files: ListFile[] = [];
  const claimed = new Set<string>();
  for (const level of LIST_LEVELS) {
    if (level.main) {
      const text = readListFile(root, level.main, diagnostics);
      if (text !== undefined) files.push({ path: level.main, text });
    }
    const names = listDropins(root, level.dropins, diagnostics).sort().reverse();
    for (const name of names) {
      if (claimed.has(name)) continue;
      claimed.add(name);
      const path = `${level.dropins}/${name}`;
      const text = readListFile(root, path, diagnostics);
      if (text !== undefined && text !== "") files.push({ path, text });
    }
  }
  return { files, diagnostics };
}
