// Path resolution confined to an image root, for every image format (systemd's chase() with a root
// prefix): absolute symlink targets restart at the image root, ".." at the root stays at the root,
// every hop counts against MAX_SYMLINK_HOPS. The host file system is never consulted, so a unit
// symlink to /etc/shadow resolves to the image's own /etc/shadow (or to nothing).
import { chargeHop, chargeStep } from "./budget.ts";
import { MAX_PATH_DEPTH, MAX_SYMLINK_BYTES, MAX_SYMLINK_HOPS } from "./limits.ts";
import { ImageError, type ImageTree, type Stat } from "./types.ts";

function split(path: string): string[] {
  return path.split("/").filter((c) => c !== "" && c !== ".");
}

/**
 * Resolves `path` inside the image to a physical path. Returns undefined if a component does not
 * exist. With followLast=false a final symlink is returned as is (lstat semantics).
 *
 * Linear in what it walks: the components still to do are a stack (a symlink's target is pushed,
 * not spliced in front of a copied array) and the physical path so far is extended and cut back
 * in place, so a 40-hop chain through 200-deep paths costs 8,000 steps, not 8,000 rebuilt paths.
 * Every step and hop is charged to the image's budget (budget.ts).
 */
export function resolveInImage(tree: ImageTree, path: string, followLast = true): string | undefined {
  const todo = split(path).reverse();
  /** The physical path so far ("" for the root), and where each of its components starts. */
  let done = "";
  const starts: number[] = [];
  let hops = 0;
  while (todo.length > 0) {
    if (todo.length + starts.length > MAX_PATH_DEPTH)
      throw new ImageError("LIMIT", `Path '${path}' is too deep in ${tree.source}`);
    chargeStep();
    const name = todo.pop() as string;
    if (name === "..") {
      if (starts.length > 0) done = done.slice(0, starts.pop());
      continue;
    }
    const candidate = `${done}/${name}`;
    if (candidate.length > MAX_SYMLINK_BYTES)
      throw new ImageError(
        "LIMIT",
        `Path '${path}' resolves to more than ${MAX_SYMLINK_BYTES} characters in ${tree.source}`,
      );
    const st = tree.lstat(candidate);
    if (!st) return undefined;
    if (st.kind === "symlink" && (todo.length > 0 || followLast)) {
      if (++hops > MAX_SYMLINK_HOPS)
        throw new ImageError("LOOP", `Too many levels of symbolic links resolving '${path}' in ${tree.source}`);
      chargeHop();
      const target = tree.readlink(candidate);
      if (target.startsWith("/")) {
        done = "";
        starts.length = 0;
      }
      const parts = split(target);
      for (let i = parts.length - 1; i >= 0; i--) todo.push(parts[i] as string);
      continue;
    }
    if (todo.length > 0 && st.kind !== "dir") return undefined;
    starts.push(done.length);
    done = candidate;
  }
  return done === "" ? "/" : done;
}

/** stat() that follows symlinks inside the image. */
export function statInImage(tree: ImageTree, path: string): { path: string; stat: Stat } | undefined {
  const physical = resolveInImage(tree, path, true);
  if (physical === undefined) return undefined;
  const stat = tree.lstat(physical);
  return stat && { path: physical, stat };
}

/** Reads a regular file, following symlinks inside the image; undefined if absent or not a file. */
export function readFileInImage(tree: ImageTree, path: string, maxBytes: number): Uint8Array | undefined {
  const found = statInImage(tree, path);
  if (found?.stat.kind !== "file") return undefined;
  return tree.readFile(found.path, maxBytes);
}
