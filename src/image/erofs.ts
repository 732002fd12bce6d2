// Placeholder until the erofs reader lands (issue 3).
import type { ByteSource } from "./byte-source.ts";
import { ImageError, type FileSystem } from "./types.ts";

export function openErofs(source: ByteSource): FileSystem {
  throw new ImageError("UNSUPPORTED", `${source.name}: erofs is not supported yet`, "erofs");
}
