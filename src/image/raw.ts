// Placeholder until the raw-image readers land (issue 3): refuses raw images clearly.
import type { OpenOptions } from "./open.ts";
import { ImageError, type ImageTree } from "./types.ts";

export function openRawImage(path: string, _options: OpenOptions): ImageTree {
  throw new ImageError("UNSUPPORTED", `Raw image '${path}' cannot be read yet`);
}
