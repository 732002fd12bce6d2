// zlib stream (RFC 1950) of deflate data (RFC 1951): squashfs's "gzip" compressor.
//
// In JS rather than node:zlib: loading node:zlib loads node:stream with it, which cost a
// generator run over five gzip squashfs images more instructions than everything it reads from
// them (BENCHMARKS.md), for the few kilobytes of metadata a run decodes. Huffman codes are decoded
// canonically, a bit at a time (as zlib's puff.c does): slower per byte than table lookups, but
// no tables to build per block, which is what dominates at these sizes. Never reads past src,
// writes at most `max` bytes, checks the Adler-32 trailer; anything malformed is ImageError CORRUPT.
import { ImageError } from "../types.ts";

const LEN_BASE = [
  3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258,
];
const LEN_EXTRA = [0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0];
const DIST_BASE = [
  1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537, 2049, 3073, 4097, 6145,
  8193, 12289, 16385, 24577,
];
const DIST_EXTRA = [0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13];
const CODE_LENGTH_ORDER = [16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15];

function corrupt(message: string, offset: number): ImageError {
  return new ImageError("CORRUPT", `Invalid zlib stream: ${message}`, "gzip", offset);
}

/** A canonical Huffman code: how many codes of each length (1–15), and the symbols in code order. */
interface Huffman {
  count: Uint16Array;
  symbol: Uint16Array;
}

/** Builds a code from symbol lengths; an over-subscribed set is corrupt, an incomplete one allowed. */
function huffman(lengths: Uint8Array, n: number, at: number): Huffman {
  const count = new Uint16Array(16);
  for (let s = 0; s < n; s++) {
    const len = lengths[s] as number;
    count[len] = (count[len] as number) + 1;
  }
  let left = 1;
  for (let len = 1; len < 16; len++) {
    left = (left << 1) - (count[len] as number);
    if (left < 0) throw corrupt("over-subscribed Huffman code", at);
  }
  const offs = new Uint16Array(16);
  for (let len = 1; len < 15; len++) offs[len + 1] = (offs[len] as number) + (count[len] as number);
  const symbol = new Uint16Array(n);
  for (let s = 0; s < n; s++) {
    const len = lengths[s] as number;
    if (len !== 0) symbol[(offs[len] = (offs[len] as number) + 1) - 1] = s;
  }
  return { count, symbol };
}

let fixed: { lit: Huffman; dist: Huffman } | undefined;

function fixedCodes(): { lit: Huffman; dist: Huffman } {
  if (fixed) return fixed;
  const l = new Uint8Array(288);
  l.fill(8, 0, 144).fill(9, 144, 256).fill(7, 256, 280).fill(8, 280, 288);
  return (fixed = { lit: huffman(l, 288, 0), dist: huffman(new Uint8Array(30).fill(5), 30, 0) });
}

/** Decodes the zlib stream `src` into at most `max` bytes. */
export function zlibInflate(src: Uint8Array, max: number): Uint8Array {
  const end = src.length;
  if (end < 6) throw corrupt("shorter than its header and trailer", 0);
  const cmf = src[0] as number;
  const flg = src[1] as number;
  if ((cmf & 15) !== 8 || cmf >> 4 > 7) throw corrupt("not deflate data", 0);
  if (((cmf << 8) | flg) % 31 !== 0) throw corrupt("header check fails", 0);
  if (flg & 32) throw corrupt("a preset dictionary is required", 1);

  const out = new Uint8Array(max);
  let op = 0;
  let ip = 2;
  let bitBuf = 0;
  let bitCnt = 0;

  const bits = (need: number): number => {
    while (bitCnt < need) {
      if (ip >= end) throw corrupt("data ends in the middle of a block", ip);
      bitBuf |= (src[ip++] as number) << bitCnt;
      bitCnt += 8;
    }
    const v = bitBuf & ((1 << need) - 1);
    bitBuf >>>= need;
    bitCnt -= need;
    return v;
  };

  const decode = (h: Huffman): number => {
    let code = 0;
    let first = 0;
    let index = 0;
    for (let len = 1; len < 16; len++) {
      // bits(1), inlined: this loop is most of the decoder's time.
      if (bitCnt === 0) {
        if (ip >= end) throw corrupt("data ends in the middle of a block", ip);
        bitBuf = src[ip++] as number;
        bitCnt = 8;
      }
      code |= bitBuf & 1;
      bitBuf >>>= 1;
      bitCnt--;
      const count = h.count[len] as number;
      if (code - first < count) return h.symbol[index + code - first] as number;
      index += count;
      first = (first + count) << 1;
      code <<= 1;
    }
    throw corrupt("invalid Huffman code", ip);
  };

  for (let last = 0; !last; ) {
    last = bits(1);
    const type = bits(2);
    if (type === 0) {
      // Stored: byte-aligned LEN, NLEN, then LEN bytes.
      bitBuf = 0;
      bitCnt = 0;
      if (ip + 4 > end) throw corrupt("stored block header runs past the end", ip);
      const len = (src[ip] as number) | ((src[ip + 1] as number) << 8);
      if ((len ^ ((src[ip + 2] as number) | ((src[ip + 3] as number) << 8))) !== 0xffff)
        throw corrupt("stored block length check fails", ip);
      ip += 4;
      if (ip + len > end) throw corrupt("stored block runs past the end", ip);
      if (op + len > max) throw new ImageError("LIMIT", `decodes to more than ${max} bytes`, "gzip");
      out.set(src.subarray(ip, ip + len), op);
      ip += len;
      op += len;
      continue;
    }
    let lit: Huffman;
    let dist: Huffman;
    if (type === 1) ({ lit, dist } = fixedCodes());
    else if (type === 2) ({ lit, dist } = dynamicCodes());
    else throw corrupt("reserved block type", ip);
    for (;;) {
      let sym = decode(lit);
      if (sym < 256) {
        if (op >= max) throw new ImageError("LIMIT", `decodes to more than ${max} bytes`, "gzip");
        out[op++] = sym;
        continue;
      }
      if (sym === 256) break;
      sym -= 257;
      if (sym >= 29) throw corrupt("invalid length symbol", ip);
      const len = (LEN_BASE[sym] as number) + bits(LEN_EXTRA[sym] as number);
      const ds = decode(dist);
      if (ds >= 30) throw corrupt("invalid distance symbol", ip);
      const d = (DIST_BASE[ds] as number) + bits(DIST_EXTRA[ds] as number);
      if (d > op) throw corrupt("distance reaches before the start of the output", ip);
      if (op + len > max) throw new ImageError("LIMIT", `decodes to more than ${max} bytes`, "gzip");
      for (let i = 0; i < len; i++, op++) out[op] = out[op - d] as number;
    }
  }

  function dynamicCodes(): { lit: Huffman; dist: Huffman } {
    const nlen = bits(5) + 257;
    const ndist = bits(5) + 1;
    const ncode = bits(4) + 4;
    if (nlen > 286 || ndist > 30) throw corrupt("too many length or distance codes", ip);
    const lengths = new Uint8Array(320);
    for (let i = 0; i < ncode; i++) lengths[CODE_LENGTH_ORDER[i] as number] = bits(3);
    const lencode = huffman(lengths, 19, ip);
    lengths.fill(0, 0, 19);
    for (let i = 0; i < nlen + ndist; ) {
      const sym = decode(lencode);
      if (sym < 16) {
        lengths[i++] = sym;
        continue;
      }
      let repeat: number;
      let value = 0;
      if (sym === 16) {
        if (i === 0) throw corrupt("repeat with no first length", ip);
        value = lengths[i - 1] as number;
        repeat = 3 + bits(2);
      } else if (sym === 17) repeat = 3 + bits(3);
      else repeat = 11 + bits(7);
      if (i + repeat > nlen + ndist) throw corrupt("too many lengths", ip);
      lengths.fill(value, i, i + repeat);
      i += repeat;
    }
    if (lengths[256] === 0) throw corrupt("no end-of-block code", ip);
    return { lit: huffman(lengths, nlen, ip), dist: huffman(lengths.subarray(nlen, nlen + ndist), ndist, ip) };
  }

  // The Adler-32 of the output follows, byte-aligned, big-endian.
  if (ip + 4 > end) throw corrupt("no Adler-32 trailer", ip);
  let a = 1;
  let b = 0;
  for (let i = 0; i < op; ) {
    const stop = Math.min(op, i + 5552); // zlib's NMAX: reduced this often, the sums stay small
    for (; i < stop; i++) {
      a += out[i] as number;
      b += a;
    }
    a %= 65521;
    b %= 65521;
  }
  const want =
    (((src[ip] as number) << 24) |
      ((src[ip + 1] as number) << 16) |
      ((src[ip + 2] as number) << 8) |
      (src[ip + 3] as number)) >>>
    0;
  if (((b << 16) | a) >>> 0 !== want) throw corrupt("Adler-32 mismatch", ip);
  return out.subarray(0, op);
}
