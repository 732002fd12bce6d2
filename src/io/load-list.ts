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
}

export function loadList(root: string): LoadedList {
  const { files, diagnostics } = readListFiles(root);
  const parsed = files.map((f) => parseAttachList(f.text, f.path, f.unreadable));
  return {
    merged: mergeLists(parsed.map((p) => p.entries)),
    diagnostics: [...diagnostics, ...parsed.flatMap((p) => p.diagnostics)],
    files: files.map((f) => f.path),
  };
}
