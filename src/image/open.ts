// Opens an image by host path: a directory, or a raw disk image (`*.raw`, as portablectl requires).
import { statSync } from "node:fs";
import { DirectoryImage } from "./directory.ts";
import { openRawImage } from "./raw.ts";
import { ImageError, type ImageTree } from "./types.ts";

export interface OpenOptions {
  /** systemd architecture name (x86-64, arm64, …) used to pick GPT partitions. */
  architecture: string;
}

export function openImage(path: string, options: OpenOptions): ImageTree {
  let st;
  try {
    st = statSync(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new ImageError(code === "ENOENT" ? "NOT_FOUND" : "IO", `Failed to open image '${path}': ${(e as Error).message}`);
  }
  if (st.isDirectory()) return new DirectoryImage(path);
  if ((st.isFile() && path.endsWith(".raw")) || st.isBlockDevice()) return openRawImage(path, options);
  throw new ImageError(
    "UNSUPPORTED",
    `Type of image '${path}' not recognized; supported image types are directories and raw disk image files with suffix '.raw'`,
  );
}
