// Placeholder until the squashfs reader lands (issue 3).
import type { ByteSource } from "./byte-source.ts";
import { ImageError, type FileSystem } from "./types.ts";

export function openSquashfs(source: ByteSource): FileSystem {
  throw new ImageError("UNSUPPORTED", `${source.name}: squashfs is not supported yet`, "squashfs");
}
