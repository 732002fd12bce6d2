// Which units an entry attaches (the prefixes they must match), and how an entry is refused: the
// portable-service rules both the facts reader and plan() apply, so neither imports the other's.
import type { Entry } from "../config/attach-list.ts";
import { prefixFromImage } from "./unit-name.ts";

/** An entry portablectl would refuse to attach; the message says why, in portablectl's words. */
export class Refusal extends Error {}

/** The prefixes units must match: explicit ones, or the one derived from the image as written. */
export function matchesFor(entry: Pick<Entry, "prefixes" | "image">): string[] {
  if (entry.prefixes) return entry.prefixes;
  const prefix = prefixFromImage(entry.image);
  if (prefix === undefined) throw new Refusal(`Failed to extract prefix of image name '${entry.image}'; set Prefixes=`);
  return [prefix];
}
