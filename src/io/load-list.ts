// Reads, parses and merges every attach-list file under a root: the one entry point the generator
// and the CLI share for "what does the list say".
import { parseAttachList } from "../config/attach-list.ts";
import type { Diagnostic } from "../config/diagnostic.ts";
import { mergeLists, type MergedList } from "../config/merge.ts";
import { readListFiles } from "./list-files.ts";

export interface LoadedList {
  merged: MergedList;
  diagnostics: Diagnostic[];
  /** The files read, highest precedence first. */
  files: string[];
  /**
   * A hash of every list file's path and text: the generator records the one it read, so that a
   * later pass can tell whether the lists changed since (a confext merged over /etc, an edit).
   */
  fingerprint: string;
}

export function loadList(root: string): LoadedList {
  const { files, diagnostics } = readListFiles(root);
  const parsed = files.map((f) => parseAttachList(f.text, f.path, f.unreadable));
  return {
    merged: mergeLists(parsed.map((p) => p.entries)),
    diagnostics: [...diagnostics, ...parsed.flatMap((p) => p.diagnostics)],
    files: files.map((f) => f.path),
    fingerprint: fingerprint(files),
  };
}

/**
 * Two 32-bit hashes (FNV-1a and djb2) and the length over every path and text, in a few lines:
 * node:crypto would load Node's stream modules into every boot-time run. It tells an edit from
 * none; it is no protection against a list crafted to collide, which whoever can write it needs not.
 */
function fingerprint(files: readonly { path: string; text: string }[]): string {
  let fnv = 0x811c9dc5;
  let djb = 5381;
  let length = 0;
  for (const f of files) {
    const s = `${f.path}\0${f.text}\0`;
    length += s.length;
    for (let i = 0; i < s.length; i++) {
      const c = s.charCodeAt(i);
      fnv = Math.imul(fnv ^ c, 0x01000193);
      djb = (Math.imul(djb, 33) ^ c) | 0;
    }
  }
  return `${(fnv >>> 0).toString(16)}-${(djb >>> 0).toString(16)}-${length}`;
}
