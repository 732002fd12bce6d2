// Reads what plan() needs to know about one entry's images. Every failure becomes data
// ({kind: "failed"} or "unreachable"), so one bad image never stops the others.
import type { Entry } from "../config/attach-list.ts";
import { openImage, rememberingTree } from "../image/open.ts";
import { ImageError, type ImageTree } from "../image/types.ts";
import { discoverUnits } from "../portable/discover.ts";
import { findExtensionRelease, findOsRelease, parseEnvFile, ReleaseError } from "../portable/release.ts";
import { lastComponent } from "../portable/unit-name.ts";
import { matchesFor, Refusal } from "../plan/plan.ts";
import type { EntryFacts, ImageFacts } from "../plan/types.ts";
import { lookupImage } from "./image-lookup.ts";

export interface FactsOptions {
  /** Prefix for every host path read (PORTABLE_ATTACH_ROOT / --root); "" for the real root. */
  root: string;
  architecture: string;
  /** false until the late pass ran in this boot: a missing image may be on a file system not mounted yet. */
  latePassDone: boolean;
  /** The host tree under `root`, shared by every entry of one run (see lookupImage). */
  hostTree?: ImageTree;
}

/** Messages name paths as the booted system sees them, not with the test/build root in front. */
function unroot(message: string, root: string): string {
  return root === "" ? message : message.split(root).join("");
}

function readImage(options: FactsOptions, path: string, matches: readonly string[], role: "root" | "extension", relaxed: boolean): ImageFacts {
  let tree: ImageTree | undefined;
  try {
    tree = rememberingTree(openImage(options.root + path, { architecture: options.architecture }));
    const name = lastComponent(path).name.replace(/\.raw$/, "");
    const release = role === "root" ? findOsRelease(tree) : findExtensionRelease(tree, name, relaxed);
    const { units, warnings } = discoverUnits(tree, matches);
    return {
      path,
      type: tree.type,
      release: release && parseEnvFile(release.text),
      units,
      warnings: warnings.map((w) => unroot(w, options.root)),
    };
  } finally {
    tree?.close();
  }
}

export function readEntryFacts(entry: Entry, options: FactsOptions): EntryFacts {
  const located: string[] = [];
  const missing: string[] = [];
  for (const image of [entry.image, ...entry.extensions]) {
    let lookup;
    try {
      lookup = lookupImage(options.root, image, options.hostTree);
    } catch (e) {
      // A symlink loop or an absurdly deep path on the way to the image fails this entry only.
      if (e instanceof ImageError) return { kind: "failed", reason: unroot(e.message, options.root) };
      throw e;
    }
    if ("found" in lookup) located.push(lookup.found);
    else missing.push(lookup.missing);
  }
  if (missing.length > 0) {
    if (!options.latePassDone) {
      const paths = [entry.image, ...entry.extensions].filter((p) => p.startsWith("/"));
      return { kind: "unreachable", paths, reason: `${missing.join("; ")}; deferred until local file systems are mounted` };
    }
    return { kind: "failed", reason: missing.join("; ") };
  }
  try {
    const matches = matchesFor(entry);
    const relaxed = entry.force;
    const [rootPath, ...extPaths] = located as [string, ...string[]];
    return {
      kind: "read",
      root: readImage(options, rootPath, matches, "root", false),
      extensions: extPaths.map((p) => readImage(options, p, matches, "extension", relaxed)),
    };
  } catch (e) {
    if (e instanceof ImageError || e instanceof ReleaseError || e instanceof Refusal) return { kind: "failed", reason: unroot(e.message, options.root) };
    throw e;
  }
}
