// Finds and reads the attach-list files under a root, in precedence order (design §2): the main
// file of a level before its .d directory; a .d file name in a higher level replaces the same
// name in every lower level; a .d file that is empty or a symlink to /dev/null masks that name.
// Within one .d directory a later file name takes precedence, as with systemd drop-ins.
import { lstatSync, readdirSync, readFileSync, readlinkSync } from "node:fs";
import type { Diagnostic } from "../config/diagnostic.ts";
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
    st = lstatSync(host);
  } catch (e) {
    if (errno(e) !== "ENOENT") diagnostics.push({ severity: "error", file: path, message: `Failed to access list file: ${(e as Error).message}, ignoring` });
    return undefined;
  }
  if (st.isSymbolicLink()) {
    try {
      if (readlinkSync(host) === "/dev/null") return undefined;
    } catch {
      /* reported by the read below */
    }
  }
  try {
    const s = lstatSync(host).isSymbolicLink() ? undefined : st;
    if (s?.isDirectory()) {
      diagnostics.push({ severity: "error", file: path, message: "List file is a directory, ignoring" });
      return undefined;
    }
    const text = readFileSync(host);
    if (text.length > MAX_LIST_BYTES) {
      diagnostics.push({ severity: "error", file: path, message: `List file is larger than ${MAX_LIST_BYTES} bytes, ignoring` });
      return undefined;
    }
    if (text.includes(0)) {
      diagnostics.push({ severity: "error", file: path, message: "List file contains NUL bytes (binary data?), ignoring" });
      return undefined;
    }
    return text.toString("utf8");
  } catch (e) {
    const why = errno(e) === "ENOENT" ? "dangling symlink" : errno(e) === "EISDIR" ? "is a directory" : (e as Error).message;
    diagnostics.push({ severity: "error", file: path, message: `Failed to read list file: ${why}, ignoring` });
    return undefined;
  }
}

function listDropins(root: string, dir: string, diagnostics: Diagnostic[]): string[] {
  try {
    return readdirSync(root + dir).filter((n) => n.endsWith(".conf") && !n.startsWith("."));
  } catch (e) {
    if (errno(e) !== "ENOENT" && errno(e) !== "ENOTDIR") diagnostics.push({ severity: "error", file: dir, message: `Failed to list directory: ${(e as Error).message}, ignoring` });
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
