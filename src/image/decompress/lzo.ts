// LZO1X decompressor, following the Linux kernel's lib/lzo/lzo1x_decompress_safe.c (the decoder
// the squashfs driver uses) and its documentation Documentation/staging/lzo.rst.
//
// Supported: the LZO1X bitstream every lzo1x_* compressor emits (mksquashfs -comp lzo uses
// lzo1x_999 by default, or lzo1x_1*). Not supported: the kernel-only LZO-RLE variant (zram), which
// squashfs never writes. The output is written into a caller-sized buffer: running past it is
// CORRUPT (squashfs knows the block size), as is any read past the input or match before the
// start of the output.
import { ImageError } from "../types.ts";

function corrupt(message: string, offset: number): ImageError {
  return new ImageError("CORRUPT", `Invalid LZO data: ${message}`, "lzo", offset);
}

/**
 * Decompresses one LZO1X block from `src` into `dst`; returns the number of bytes written. The
 * block must end with the end-of-stream marker exactly at the end of `src`.
 */
export function lzo1xDecompress(src: Uint8Array, dst: Uint8Array): number {
  const inEnd = src.length;
  const outEnd = dst.length;
  let ip = 0;
  let op = 0;

  const needIn = (n: number): void => {
    if (n > inEnd - ip) throw corrupt("input ends too early", ip);
  };
  const needOut = (n: number): void => {
    if (n > outEnd - op) throw corrupt(`output larger than ${outEnd} bytes`, ip);
  };
  const copyLiterals = (n: number): void => {
    needIn(n);
    needOut(n);
    dst.set(src.subarray(ip, ip + n), op);
    ip += n;
    op += n;
  };
  // A run of zero bytes extends a length by 255 each; every zero is consumed input, so the loop is bounded.
  const zeroRun = (): number => {
    let n = 0;
    for (;;) {
      needIn(1);
      if (src[ip] !== 0) return n;
      n += 255;
      ip++;
    }
  };

  needIn(3);
  // `state` is the number of literals that followed the last match (0-3), or 4 after a long literal run.
  let state = 0;
  const first = src[0] as number;
  if (first > 17) {
    // A stream may open with a literal run coded as first - 17 bytes.
    ip++;
    const t = first - 17;
    copyLiterals(t);
    state = Math.min(t, 4);
  }

  for (;;) {
    needIn(1);
    let t = src[ip++] as number;
    let distance: number; // back from op
    let length: number;
    let next: number; // literals after the match
    if (t < 16) {
      if (state === 0) {
        // Literal run of 3+ bytes.
        if (t === 0) {
          t = zeroRun() + 15;
          needIn(1);
          t += src[ip++] as number;
        }
        copyLiterals(t + 3);
        state = 4;
        continue;
      }
      needIn(1);
      if (state !== 4) {
        // 2-byte match within 1 KiB, right after a short literal run.
        next = t & 3;
        distance = 1 + (t >>> 2) + ((src[ip++] as number) << 2);
        length = 2;
      } else {
        // 3-byte match at 2 KiB + up to 1 KiB, right after a long literal run.
        next = t & 3;
        distance = 1 + 0x800 + (t >>> 2) + ((src[ip++] as number) << 2);
        length = 3;
      }
    } else if (t >= 64) {
      // M2: 3-8 bytes within 2 KiB.
      needIn(1);
      next = t & 3;
      distance = 1 + ((t >>> 2) & 7) + ((src[ip++] as number) << 3);
      length = (t >>> 5) + 1;
    } else if (t >= 32) {
      // M3: within 16 KiB.
      length = (t & 31) + 2;
      if (length === 2) {
        length += zeroRun() + 31;
        needIn(1);
        length += src[ip++] as number;
      }
      needIn(2);
      const v = (src[ip] as number) | ((src[ip + 1] as number) << 8);
      ip += 2;
      distance = 1 + (v >>> 2);
      next = v & 3;
    } else {
      // M4: 16-48 KiB back, or the end-of-stream marker.
      length = (t & 7) + 2;
      if (length === 2) {
        length += zeroRun() + 7;
        needIn(1);
        length += src[ip++] as number;
      }
      needIn(2);
      const v = (src[ip] as number) | ((src[ip + 1] as number) << 8);
      ip += 2;
      distance = ((t & 8) << 11) + (v >>> 2);
      next = v & 3;
      if (distance === 0) {
        // End of stream: the kernel accepts only the canonical marker 0x11 0x00 0x00 at the very end.
        if (length !== 3) throw corrupt("malformed end-of-stream marker", ip);
        if (ip !== inEnd) throw corrupt(`${inEnd - ip} bytes after the end-of-stream marker`, ip);
        return op;
      }
      distance += 0x4000;
    }

    if (distance > op)
      throw corrupt(`match distance ${distance} reaches before the start of the output (at ${op})`, ip);
    needOut(length);
    let from = op - distance;
    if (distance >= length) {
      dst.copyWithin(op, from, from + length);
      op += length;
    } else {
      for (let i = 0; i < length; i++) dst[op++] = dst[from++] as number;
    }
    copyLiterals(next);
    state = next;
  }
}
