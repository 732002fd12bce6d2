// Finding the entry a command means: by attachment name first, then by image (a path, or a name
// that is the image's base name, so "foo" finds Image=/var/lib/portables/foo_1.raw). Several
// matches are refused rather than guessed: acting on the wrong attachment is worse than asking.
import type { Entry } from "../config/attach-list.ts";
import type { LoadedList } from "../io/load-list.ts";
import { imageBaseName } from "../portable/unit-name.ts";
import { CliError } from "./context.ts";

export function findEntry(list: LoadedList, arg: string): Entry | undefined {
  const all = [...list.merged.entries, ...list.merged.masked];
  const byName = all.find((e) => e.name === arg);
  if (byName) return byName;
  const trimmed = arg.length > 1 ? arg.replace(/\/+$/, "") : arg;
  const base = imageBaseName(trimmed);
  const byImage = list.merged.entries.filter(
    (e) => e.image === trimmed || (base !== "" && imageBaseName(e.image) === base),
  );
  if (byImage.length > 1)
    throw new CliError(
      `Image '${arg}' is used by several entries (${byImage.map((e) => `[${e.name}]`).join(", ")}); name one of them`,
    );
  return byImage[0];
}

export function requireEntry(list: LoadedList, arg: string): Entry {
  const e = findEntry(list, arg);
  if (!e) throw new CliError(`No entry '${arg}' in any attach list.`);
  return e;
}
