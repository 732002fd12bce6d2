// Opens an image by host path: a directory, or a raw disk image (`*.raw`, as portablectl requires).
import { statSync } from "node:fs";
import { DirectoryImage } from "./directory.ts";
import { type OpenOptions, openRawImage } from "./raw.ts";
import { ImageError, type ImageTree } from "./types.ts";

export type { OpenOptions };

export function openImage(path: string, options: OpenOptions): ImageTree {
  let st;
  try {
    st = statSync(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new ImageError(
      code === "ENOENT" ? "NOT_FOUND" : "IO",
      `Failed to open image '${path}': ${(e as Error).message}`,
    );
  }
  if (st.isDirectory()) return new DirectoryImage(path);
  if ((st.isFile() && path.endsWith(".raw")) || st.isBlockDevice()) return openRawImage(path, options);
  throw new ImageError(
    "UNSUPPORTED",
    `Type of image '${path}' not recognized; supported image types are directories and raw disk image files with suffix '.raw'`,
  );
}

type Answer<T> = { value: T } | { error: unknown };

function remember<T>(cache: Map<string, Answer<T>>, key: string, compute: () => T): T {
  let a = cache.get(key);
  if (a === undefined) {
    try {
      a = { value: compute() };
    } catch (error) {
      a = { error };
    }
    cache.set(key, a);
  }
  if ("error" in a) throw a.error;
  return a.value;
}

/**
 * The same tree, with lstat/readlink/readdir answers (and failures) remembered. Resolution inside
 * an image restarts at the root for every path, so reading one entry asks for the same prefixes
 * (/run, /usr, /usr/lib/systemd…) a dozen times; an image does not change while it is read. File
 * contents are not kept: each is read once.
 */
export function rememberingTree(tree: ImageTree): ImageTree {
  const stats = new Map<string, Answer<ReturnType<ImageTree["lstat"]>>>();
  const links = new Map<string, Answer<string>>();
  const dirs = new Map<string, Answer<ReturnType<ImageTree["readdir"]>>>();
  return {
    source: tree.source,
    type: tree.type,
    description: tree.description,
    ...(tree.protection && { protection: tree.protection }),
    lstat: (path) => remember(stats, path, () => tree.lstat(path)),
    readlink: (path) => remember(links, path, () => tree.readlink(path)),
    readdir: (path) => remember(dirs, path, () => tree.readdir(path)).slice(),
    readFile: (path, maxBytes) => tree.readFile(path, maxBytes),
    close: () => tree.close(),
  };
}
