// Path resolution confined to an image root, for every image format (systemd's chase() with a root
// prefix): absolute symlink targets restart at the image root, ".." at the root stays at the root,
// every hop counts against MAX_SYMLINK_HOPS. The host file system is never consulted, so a unit
// symlink to /etc/shadow resolves to the image's own /etc/shadow (or to nothing).
import { MAX_PATH_DEPTH, MAX_SYMLINK_HOPS } from "./limits.ts";
import { ImageError, type ImageTree, type Stat } from "./types.ts";

function split(path: string): string[] {
  return path.split("/").filter((c) => c !== "" && c !== ".");
}

/**
 * Resolves `path` inside the image to a physical path. Returns undefined if a component does not
 * exist. With followLast=false a final symlink is returned as is (lstat semantics).
 */
export function resolveInImage(tree: ImageTree, path: string, followLast = true): string | undefined {
  let todo = split(path);
  const done: string[] = [];
  let hops = 0;
  while (todo.length > 0) {
    if (todo.length + done.length > MAX_PATH_DEPTH) throw new ImageError("LIMIT", `Path '${path}' is too deep in ${tree.source}`);
    const name = todo.shift() as string;
    if (name === "..") {
      done.pop();
      continue;
    }
    const candidate = "/" + [...done, name].join("/");
    const st = tree.lstat(candidate);
    if (!st) return undefined;
    if (st.kind === "symlink" && (todo.length > 0 || followLast)) {
      if (++hops > MAX_SYMLINK_HOPS) throw new ImageError("LOOP", `Too many levels of symbolic links resolving '${path}' in ${tree.source}`);
      const target = tree.readlink(candidate);
      if (target.startsWith("/")) done.length = 0;
      todo = [...split(target), ...todo];
      continue;
    }
    if (todo.length > 0 && st.kind !== "dir") return undefined;
    done.push(name);
  }
  return "/" + done.join("/");
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
  if (!found || found.stat.kind !== "file") return undefined;
  return tree.readFile(found.path, maxBytes);
}
