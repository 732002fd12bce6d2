// Tests that patch an erofs image to reach a later check re-sign its superblock, as a hostile
// image maker would: the checksum covers the superblock's whole block (often the inodes too).
import { crc32c } from "../../src/image/crc32.ts";

/** Recomputes the superblock crc32c in place if the image declares one; returns the buffer. */
export function resignErofs(b: Buffer, at = 0): Buffer {
  const sb = at + 1024;
  if ((b.readUInt32LE(sb + 8) & 1) === 0) return b;
  const blockSize = 2 ** (b[sb + 12] as number);
  const length = blockSize > 1024 ? blockSize - 1024 : blockSize;
  b.writeUInt32LE(0, sb + 4);
  b.writeUInt32LE(crc32c(b.subarray(sb, sb + length)), sb + 4);
  return b;
}
