// zstd (RFC 8878) through the bundled fzstd package (0.1.1, MIT, pure TypeScript): Node 20 has no
// zstd in node:zlib, and a decoder of our own would be ~1,300 lines.
//
// fzstd trusts its input in two ways we cannot: it allocates the frame's declared window (up to
// 2 GiB) before decoding, and it has no output cap. So before handing it anything we walk the
// frame and block headers ourselves (cheap: a few bytes per 128 KiB block) and refuse windows and
// declared sizes beyond what the caller allows; during decoding we count the output and stop at
// maxOutput. Anything fzstd throws becomes ImageError CORRUPT. Checksums are not verified
// (fzstd skips them). Dictionaries are refused as UNSUPPORTED (squashfs never uses them).
//
// Two ways through fzstd. When every frame declares its content size (mksquashfs's always do), the
// one-shot decompress(src) decodes straight into one buffer of the declared total, checked against
// maxOutput beforehand: no window copy, no per-block chunks (about 20 % fewer instructions per
// 8 KiB squashfs metadata block once warm). A frame without a declared size goes through the
// streaming Decompress, which counts its output and stops at maxOutput. (Not decompress(src, out):
// fzstd 0.1.1 compares `out` with a number, which turns the whole buffer into a string, twice per
// frame.) With a declared size the output is that size: data that decodes to fewer bytes leaves
// zeros at the end, data that decodes to more is cut there or refused as CORRUPT; either way never
// more than the declared bytes.
import { Decompress, decompress } from "fzstd";
import { ImageError } from "../types.ts";

const FORMAT = "zstd";
const MAGIC = 0xfd2fb528;
/** RFC 8878 3.1.1.2: a block never holds more than 128 KiB of content. */
const BLOCK_MAX = 128 * 1024;

function corrupt(message: string, offset: number): ImageError {
  return new ImageError("CORRUPT", `Invalid zstd data: ${message}`, FORMAT, offset);
}

function le(buf: Uint8Array, off: number, n: number): number {
  if (off + n > buf.length) throw corrupt("frame header truncated", off);
  let v = 0;
  for (let i = n - 1; i >= 0; i--) v = v * 256 + (buf[off + i] as number);
  return v;
}

/**
 * Checks every frame header and block header in `src` against the limits; throws on anything fzstd
 * would otherwise allocate or decode without bound. Returns the declared total content size if
 * every frame declares a non-zero one, else -1.
 */
function checkFrames(src: Uint8Array, maxOutput: number): number {
  // The window must hold the largest back-reference; a window far beyond the output we accept
  // can only be a hostile header (a real encoder sizes it to the content, at most 2x).
  const maxWindow = Math.max(2 * maxOutput, 1 << 20);
  if (src.length === 0) throw corrupt("no frame at all", 0);
  let p = 0;
  let total = 0;
  let declared = true;
  while (p < src.length) {
    const magic = le(src, p, 4);
    if ((magic & 0xfffffff0) >>> 0 === 0x184d2a50) {
      // Skippable frame.
      const size = le(src, p + 4, 4);
      if (size > src.length - p - 8) throw corrupt("skippable frame runs past the end", p);
      p += 8 + size;
      continue;
    }
    if (magic !== MAGIC) throw new ImageError(p === 0 ? "BAD_MAGIC" : "CORRUPT", `not a zstd frame at offset ${p}`, FORMAT, p);
    const fhd = le(src, p + 4, 1);
    const singleSegment = (fhd >>> 5) & 1;
    const hasChecksum = (fhd >>> 2) & 1;
    const dictIdSize = [0, 1, 2, 4][fhd & 3] as number;
    const fcsCode = fhd >>> 6;
    const fcsSize = fcsCode === 0 ? singleSegment : [0, 2, 4, 8][fcsCode] as number;
    if (fhd & 0x08) throw corrupt("reserved frame header bit set", p + 4);
    let q = p + 5;
    let window = 0;
    if (!singleSegment) {
      const wd = le(src, q++, 1);
      const base = 2 ** (10 + (wd >>> 3));
      window = base + (base / 8) * (wd & 7);
    }
    const dictId = le(src, q, dictIdSize);
    q += dictIdSize;
    if (dictId !== 0) throw new ImageError("UNSUPPORTED", "zstd frames that need a dictionary are not supported", FORMAT, p);
    let contentSize = fcsSize ? le(src, q, fcsSize) : undefined;
    if (contentSize !== undefined && fcsSize === 2) contentSize += 256;
    q += fcsSize;
    if (singleSegment) window = contentSize ?? 0;
    if (window > maxWindow) throw new ImageError("LIMIT", `zstd window of ${window} bytes exceeds the ${maxWindow} allowed`, FORMAT, p);
    if (contentSize !== undefined && total + contentSize > maxOutput) throw new ImageError("LIMIT", `zstd data declares more than ${maxOutput} bytes`, FORMAT, p);
    // Blocks: 3-byte little-endian header, bit 0 = last, bits 1-2 = type, rest = size.
    for (;;) {
      const h = le(src, q, 3);
      const type = (h >>> 1) & 3;
      const size = h >>> 3;
      if (type === 3) throw corrupt("reserved block type", q);
      if (size > BLOCK_MAX) throw corrupt(`block of ${size} bytes exceeds 128 KiB`, q);
      const stored = type === 1 ? 1 : size;
      if (stored > src.length - q - 3) throw corrupt("block runs past the end of the data", q);
      q += 3 + stored;
      if (h & 1) break;
    }
    if (hasChecksum) q += 4;
    if (q > src.length) throw corrupt("frame checksum truncated", q);
    if (!contentSize) declared = false;
    total += contentSize ?? 0;
    p = q;
  }
  return declared && total > 0 ? total : -1;
}

/**
 * Decompresses zstd data (one or more frames) into a new buffer of at most maxOutput bytes.
 * Throws ImageError LIMIT past that, CORRUPT for malformed data.
 */
export function zstdDecompress(src: Uint8Array, maxOutput: number): Uint8Array {
  const declared = checkFrames(src, maxOutput);
  if (declared > 0) {
    let out: Uint8Array;
    try {
      out = decompress(src);
    } catch (e) {
      throw corrupt((e as Error).message, 0);
    }
    // fzstd allocates the declared sizes and returns their concatenation; anything else is its bug.
    if (out.length !== declared) throw corrupt(`decoded ${out.length} bytes, frames declare ${declared}`, 0);
    return out;
  }
  const chunks: Uint8Array[] = [];
  let total = 0;
  // Built only when thrown: an Error captures a stack trace, which showed in squashfs profiles.
  let limit: ImageError | undefined;
  const stream = new Decompress((chunk) => {
    total += chunk.length;
    if (total > maxOutput) throw (limit = new ImageError("LIMIT", `zstd data decompresses to more than ${maxOutput} bytes`, FORMAT));
    // fzstd reuses nothing it hands out, but copying keeps us independent of that detail.
    chunks.push(chunk.slice());
  });
  try {
    stream.push(src, true);
  } catch (e) {
    if (limit !== undefined && e === limit) throw limit;
    throw corrupt((e as Error).message, 0);
  }
  if (chunks.length === 1) return chunks[0] as Uint8Array;
  const out = new Uint8Array(total);
  let o = 0;
  for (const c of chunks) {
    out.set(c, o);
    o += c.length;
  }
  return out;
}
