// Finds the unit files an image offers, as portablectl does: the image's
// own unit search path, in precedence order, first occurrence of a name wins; regular files and
// symlinks with a valid portable unit name that matches the prefixes. Symlinks are resolved inside
// the image (unlike portabled, which follows absolute ones on the host: upstream #43049).
import { IMAGE_UNIT_DIRS } from "../config/paths.ts";
import { BudgetError, chargeUnitBytes, chargeUnitNames } from "../image/budget.ts";
import { MAX_FILE_BYTES } from "../image/limits.ts";
import { readFileInImage, resolveInImage } from "../image/resolve.ts";
import { ImageError, type ImageTree } from "../image/types.ts";
import { isHiddenOrBackup, isPortableUnitType, isValidUnitName, matchesPrefixes } from "./unit-name.ts";

export interface UnitFile {
  name: string;
  /** Byte for byte what the image holds. */
  content: Uint8Array;
}

export interface Discovery {
  units: UnitFile[];
  /** Units that were seen but not taken, with why (dangling symlink, empty mask, …). */
  warnings: string[];
}

export function discoverUnits(tree: ImageTree, matches: readonly string[]): Discovery {
  const units: UnitFile[] = [];
  const warnings: string[] = [];
  const seen = new Set<string>();
  for (const dir of IMAGE_UNIT_DIRS) {
    const physical = resolveInImage(tree, dir);
    if (physical === undefined || tree.lstat(physical)?.kind !== "dir") continue;
    const names = tree
      .readdir(physical)
      .filter((e) => (e.kind === "file" || e.kind === "symlink") && !isHiddenOrBackup(e.name))
      .map((e) => e.name)
      .filter((n) => isValidUnitName(n) && isPortableUnitType(n) && matchesPrefixes(n, matches))
      .sort();
    // Counted before any is read: 45,000 unit files are refused in one step, not read first.
    chargeUnitNames(names.filter((n) => !seen.has(n)).length);
    for (const name of names) {
      if (seen.has(name)) continue;
      seen.add(name);
      let content: Uint8Array | undefined;
      try {
        content = readFileInImage(tree, `${physical}/${name}`, MAX_FILE_BYTES);
      } catch (e) {
        // A symlink loop or an oversized unit costs that unit, not the image; damage to the
        // image itself (CORRUPT, TRUNCATED, IO) still fails the whole entry.
        if (!(e instanceof ImageError) || e instanceof BudgetError || (e.code !== "LOOP" && e.code !== "LIMIT"))
          throw e;
        warnings.push(`Unit file '${dir}/${name}' in ${tree.source} cannot be read: ${e.message}, ignoring`);
        continue;
      }
      if (content === undefined) {
        warnings.push(
          `Unit file '${dir}/${name}' in ${tree.source} is a symlink that leads nowhere inside the image, ignoring`,
        );
      } else if (content.length === 0) {
        warnings.push(`Unit file '${dir}/${name}' in ${tree.source} is empty (masked), ignoring`);
      } else {
        chargeUnitBytes(content.length);
        units.push({ name, content });
      }
    }
  }
  return { units, warnings };
}
