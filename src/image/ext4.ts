// Placeholder until the ext4 reader lands (issue 3).
import type { ByteSource } from "./byte-source.ts";
import { ImageError, type FileSystem } from "./types.ts";

export function openExt(source: ByteSource): FileSystem {
  throw new ImageError("UNSUPPORTED", `${source.name}: ext4 is not supported yet`, "ext4");
}
