// Turns an Image= or Extensions= value into the image path the booted system sees: a bare name
// is looked up in portablectl's search directories (newest version wins, so dropping in
// foo_2.raw beside foo_1.raw upgrades at the next boot or reload); a `.v/` directory picks its
// newest version; symlinks are resolved, inside `root` when one is given.
import { PORTABLE_DIRS } from "../config/paths.ts";
import { DirectoryImage } from "../image/directory.ts";
import { rememberingTree } from "../image/open.ts";
import { resolveInImage } from "../image/resolve.ts";
import { ImageError, type ImageTree } from "../image/types.ts";
import { hostPath } from "./root-path.ts";
import { strerror } from "./strerror.ts";
import { compareVersions } from "../common/version-order.ts";
import { parseVersionedName } from "../portable/version.ts";

export type Lookup = { found: string } | { missing: string };

interface Candidate {
  path: string;
  version: string | undefined;
  order: number;
}

function kindAt(rootTree: ImageTree, path: string): "file" | "dir" | undefined {
  const physical = resolveInImage(rootTree, path);
  const kind = physical === undefined ? undefined : rootTree.lstat(physical)?.kind;
  return kind === "file" || kind === "dir" ? kind : undefined;
}

/** The newest `NAME_VERSION.raw` or `NAME_VERSION/` in dir (portablectl's vpick, minus arch and tries). */
function newestIn(rootTree: ImageTree, dir: string, name: string, order: number): Candidate[] {
  const physical = resolveInImage(rootTree, dir);
  if (physical === undefined || rootTree.lstat(physical)?.kind !== "dir") return [];
  const out: Candidate[] = [];
  for (const e of rootTree.readdir(physical)) {
    const raw = parseVersionedName(e.name, name, ".raw");
    const version = raw ?? parseVersionedName(e.name, name, "");
    if (version === undefined) continue;
    const path = `${dir}/${e.name}`;
    const kind = kindAt(rootTree, path);
    if ((raw !== undefined && kind === "file") || (raw === undefined && kind === "dir"))
      out.push({ path, version, order });
  }
  return out;
}

function best(candidates: Candidate[]): Candidate | undefined {
  return [...candidates].sort((a, b) => compareVersions(b.version ?? "", a.version ?? "") || a.order - b.order)[0];
}

/** Resolves symlinks (inside root) so the unit names the real image. */
function canonical(rootTree: ImageTree, path: string): string {
  return resolveInImage(rootTree, path) ?? path;
}

/** The host file system under `root` as a tree whose answers are remembered (for one lookup, or one generator run). */
export function hostTree(root: string): ImageTree {
  return rememberingTree(new DirectoryImage(root === "" ? "/" : root));
}

/**
 * The host path to open an image at that a lookup found under `root`. The found path has its
 * symlinks resolved already; the walk again keeps one swapped in since inside the root.
 */
export function imageHostPath(root: string, path: string): string {
  try {
    return hostPath(root, path);
  } catch (e) {
    throw new ImageError("IO", `Failed to open image '${path}': ${strerror(e)}`);
  }
}

/** `shared`: a hostTree(root) reused across lookups when the host does not change meanwhile (one generator run). */
export function lookupImage(root: string, image: string, shared?: ImageTree): Lookup {
  const rootTree = shared ?? hostTree(root);
  if (image.startsWith("/")) {
    if (image.endsWith(".v")) {
      const name = image.slice(image.lastIndexOf("/") + 1).replace(/(\.raw)?\.v$/, "");
      const pick = best(newestIn(rootTree, image, name, 0));
      return pick
        ? { found: canonical(rootTree, pick.path) }
        : { missing: `No versions of '${name}' found in '${image}'` };
    }
    return kindAt(rootTree, image)
      ? { found: canonical(rootTree, image) }
      : { missing: `Image '${image}' does not exist` };
  }
  let versioned: Candidate[] = [];
  let exact: string | undefined;
  PORTABLE_DIRS.forEach((dir, order) => {
    // Concatenated, not push(...): a directory may hold 100,000 candidates, more than a call takes arguments.
    versioned = versioned.concat(
      newestIn(rootTree, dir, image, order),
      newestIn(rootTree, `${dir}/${image}.v`, image, order),
    );
    if (exact === undefined) {
      if (kindAt(rootTree, `${dir}/${image}.raw`) === "file") exact = `${dir}/${image}.raw`;
      else if (kindAt(rootTree, `${dir}/${image}`) === "dir") exact = `${dir}/${image}`;
    }
  });
  const pick = best(versioned)?.path ?? exact;
  return pick
    ? { found: canonical(rootTree, pick) }
    : { missing: `No image '${image}' found in ${PORTABLE_DIRS.join(", ")}` };
}
