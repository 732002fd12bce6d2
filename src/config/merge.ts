// Precedence between list files: the first file (highest precedence) that defines a
// name owns it, whole; a lower file's section of the same name is ignored, not merged key by key.
// `Attach=no` in a higher file masks the name.
import type { Entry } from "./attach-list.ts";

export interface MergedList {
  /** Entries to attach (or that failed to parse), in a deterministic order: by name. */
  entries: Entry[];
  /** Names masked by `Attach=no`, with the masking entry. */
  masked: Entry[];
  /** Lower-precedence entries that a higher one replaced. */
  shadowed: { entry: Entry; by: Entry }[];
}

/** `files` are the parsed list files, highest precedence first. */
export function mergeLists(files: Entry[][]): MergedList {
  const owner = new Map<string, Entry>();
  const shadowed: MergedList["shadowed"] = [];
  for (const entries of files) {
    for (const entry of entries) {
      const by = owner.get(entry.name);
      if (by) shadowed.push({ entry, by });
      else owner.set(entry.name, entry);
    }
  }
  const all = [...owner.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return {
    entries: all.filter((e) => e.attach),
    masked: all.filter((e) => !e.attach),
    shadowed,
  };
}
