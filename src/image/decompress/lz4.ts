// LZ4 block format decoder (no frame): https://github.com/lz4/lz4/blob/dev/doc/lz4_Block_format.md
//
// Used by squashfs (lz4, whole blocks) and erofs (lz4/lz4hc pclusters, which may be decoded only
// partially: a pcluster can hold more output than the logical extent we want). So the decoder
// writes at most dst.length bytes and stops cleanly when dst is full, like the kernel's
// LZ4_decompress_safe_partial(). It never reads past src or writes past dst; any malformed
// sequence is ImageError CORRUPT. Leading zero padding (erofs 0padding) is the caller's business.
import { ImageError } from "../types.ts";

const MIN_MATCH = 4;

function corrupt(message: string, offset: number): ImageError {
  return new ImageError("CORRUPT", `Invalid LZ4 block: ${message}`, "lz4", offset);
}

/**
 * Decodes one LZ4 block from `src` into `dst` and returns the number of bytes written. Stops early,
 * without error, once `dst` is full; otherwise `src` must end exactly after a literal run.
 */
export function lz4DecompressBlock(src: Uint8Array, dst: Uint8Array): number {
  const srcEnd = src.length;
  const dstEnd = dst.length;
  let ip = 0;
  let op = 0;

  // Each turn consumes at least one src byte (the token), so the loop is bounded by src.length.
  for (;;) {
    if (ip >= srcEnd) throw corrupt("block ends where a token is expected", ip);
    const token = src[ip++] as number;

    // Literal run: 4-bit length, extended by 255-bytes while they last.
    let litLen = token >>> 4;
    if (litLen === 15) {
      let b: number;
      do {
        if (ip >= srcEnd) throw corrupt("literal length runs past the end of the block", ip);
        b = src[ip++] as number;
        litLen += b;
      } while (b === 255);
    }
    if (litLen > srcEnd - ip) throw corrupt(`literal run of ${litLen} bytes runs past the end of the block`, ip);
    if (litLen > dstEnd - op) {
      // Output full inside the literals: the partial decode erofs asks for.
      dst.set(src.subarray(ip, ip + (dstEnd - op)), op);
      return dstEnd;
    }
    dst.set(src.subarray(ip, ip + litLen), op);
    ip += litLen;
    op += litLen;

    // The last sequence is literals only: the block ends right after them.
    if (ip === srcEnd) return op;
    if (op === dstEnd) return op;

    if (srcEnd - ip < 2) throw corrupt("block ends inside a match offset", ip);
    const offset = (src[ip] as number) | ((src[ip + 1] as number) << 8);
    if (offset === 0) throw corrupt("match offset 0", ip);
    if (offset > op) throw corrupt(`match offset ${offset} points before the start of the output (at ${op})`, ip);
    ip += 2;

    let matchLen = token & 15;
    if (matchLen === 15) {
      let b: number;
      do {
        if (ip >= srcEnd) throw corrupt("match length runs past the end of the block", ip);
        b = src[ip++] as number;
        matchLen += b;
      } while (b === 255);
    }
    matchLen += MIN_MATCH;
    // A block must end with literals, so a match can never be the last thing in src.
    if (ip >= srcEnd) throw corrupt("block ends with a match instead of literals", ip);

    const n = Math.min(matchLen, dstEnd - op);
    let from = op - offset;
    if (offset >= n) {
      // Source and destination do not overlap: one native copy.
      dst.copyWithin(op, from, from + n);
      op += n;
    } else {
      // Overlapping match repeats the last `offset` bytes; must go byte by byte.
      const end = op + n;
      while (op < end) dst[op++] = dst[from++] as number;
    }
    if (op === dstEnd) return op;
  }
}
