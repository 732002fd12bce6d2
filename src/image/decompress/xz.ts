// xz decoder: the .xz container (https://tukaani.org/xz/xz-file-format.txt, version 1.2.1), LZMA2
// and the LZMA core beneath it, written after xz-embedded and liblzma's decoders.
//
// Why our own: Node has no xz, and squashfs -comp xz stores every block as a complete .xz stream
// (stream header, one block, index, footer). Supported subset: any number of concatenated streams
// and blocks; filter chains of LZMA2 optionally preceded by BCJ x86 (mksquashfs -Xbcj x86); check
// types none, CRC32 (verified, as are the headers' and the index's CRC32), and CRC64/SHA-256
// (skipped, not verified). Refused as UNSUPPORTED: other filters (delta, BCJ for other
// architectures), legacy .lzma files. Decoding is one-shot into one buffer, so the output itself
// is the LZMA dictionary and no window copy is kept.
//
// Every length comes from untrusted input: the output is capped by maxOutput (ImageError LIMIT),
// every input read is bounds-checked (CORRUPT), match distances are checked against the bytes
// decoded since the last dictionary reset and against the declared dictionary size.
import { crc32 } from "../crc32.ts";
import { ImageError } from "../types.ts";

const FORMAT = "xz";
const STREAM_MAGIC = [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00];
const FOOTER_MAGIC = [0x59, 0x5a]; // "YZ"
const FILTER_X86 = 0x04;
const FILTER_LZMA2 = 0x21;
const FILTER_NAMES: Record<number, string> = {
  3: "delta",
  5: "BCJ PowerPC",
  6: "BCJ IA-64",
  7: "BCJ ARM",
  8: "BCJ ARM-Thumb",
  9: "BCJ SPARC",
  10: "BCJ ARM64",
  11: "BCJ RISC-V",
};

function corrupt(message: string, offset?: number): ImageError {
  return new ImageError("CORRUPT", `Invalid xz data: ${message}`, FORMAT, offset);
}

function checkCrc32(data: Uint8Array, stored: number, what: string, offset: number): void {
  if (crc32(data) !== stored >>> 0) throw corrupt(`${what} CRC32 mismatch`, offset);
}

function le32(buf: Uint8Array, off: number): number {
  if (off < 0 || off + 4 > buf.length) throw corrupt("unexpected end of input", off);
  return (
    ((buf[off] as number) |
      ((buf[off + 1] as number) << 8) |
      ((buf[off + 2] as number) << 16) |
      ((buf[off + 3] as number) << 24)) >>>
    0
  );
}

/** Size in bytes of the check field for each check type (xz-file-format 2.1.1.2). */
function checkSize(type: number): number {
  return type === 0 ? 0 : 4 << Math.floor((type - 1) / 3);
}

/** A growable output buffer with a hard cap; the LZMA dictionary lives inside it. */
class Output {
  buf: Uint8Array;
  pos = 0;
  constructor(
    readonly max: number,
    sizeHint: number,
  ) {
    this.buf = new Uint8Array(Math.min(max, Math.max(sizeHint, 4096)));
  }
  /** Makes room for n more bytes or throws LIMIT. */
  reserve(n: number): void {
    const need = this.pos + n;
    if (need <= this.buf.length) return;
    if (need > this.max) throw new ImageError("LIMIT", `xz data decompresses to more than ${this.max} bytes`, FORMAT);
    const next = new Uint8Array(Math.min(this.max, Math.max(need, this.buf.length * 2)));
    next.set(this.buf.subarray(0, this.pos));
    this.buf = next;
  }
}

// ---------------------------------------------------------------------------------------------
// LZMA core. Constants and structure follow xz-embedded's xz_dec_lzma2.c.

const STATES = 12;
const POS_STATES_MAX = 1 << 4;
const LEN_LOW_BITS = 3;
const LEN_MID_BITS = 3;
const LEN_HIGH_BITS = 8;
const DIST_STATES = 4;
const DIST_SLOT_BITS = 6;
const DIST_MODEL_START = 4;
const DIST_MODEL_END = 14;
const FULL_DISTANCES = 1 << (DIST_MODEL_END >> 1);
const ALIGN_BITS = 4;
const MATCH_LEN_MIN = 2;
const PROB_INIT = 1024;

// Offsets into one Uint16Array holding every probability.
const P_IS_MATCH = 0;
const P_IS_REP = P_IS_MATCH + STATES * POS_STATES_MAX;
const P_IS_REP0 = P_IS_REP + STATES;
const P_IS_REP1 = P_IS_REP0 + STATES;
const P_IS_REP2 = P_IS_REP1 + STATES;
const P_IS_REP0_LONG = P_IS_REP2 + STATES;
const P_DIST_SLOT = P_IS_REP0_LONG + STATES * POS_STATES_MAX;
const P_DIST_SPECIAL = P_DIST_SLOT + DIST_STATES * (1 << DIST_SLOT_BITS);
const P_DIST_ALIGN = P_DIST_SPECIAL + FULL_DISTANCES - DIST_MODEL_END;
// A length coder: choice, choice2, low[16][8], mid[16][8], high[256].
const LEN_CHOICE = 0;
const LEN_CHOICE2 = 1;
const LEN_LOW = 2;
const LEN_MID = LEN_LOW + POS_STATES_MAX * (1 << LEN_LOW_BITS);
const LEN_HIGH = LEN_MID + POS_STATES_MAX * (1 << LEN_MID_BITS);
const LEN_SIZE = LEN_HIGH + (1 << LEN_HIGH_BITS);
const P_MATCH_LEN = P_DIST_ALIGN + (1 << ALIGN_BITS);
const P_REP_LEN = P_MATCH_LEN + LEN_SIZE;
const P_LITERAL = P_REP_LEN + LEN_SIZE;
const LITERAL_CODER_SIZE = 0x300;
/** lc + lp ≤ 4 in LZMA2, so at most 16 literal coders. */
const PROBS_SIZE = P_LITERAL + LITERAL_CODER_SIZE * (1 << 4);

class Lzma {
  readonly probs = new Uint16Array(PROBS_SIZE);
  lc = 0;
  lp = 0;
  pb = 0;
  state = 0;
  rep0 = 0;
  rep1 = 0;
  rep2 = 0;
  rep3 = 0;
  // Range decoder over input[inPos, inEnd).
  input: Uint8Array = new Uint8Array(0);
  inPos = 0;
  inEnd = 0;
  range = 0;
  code = 0;

  constructor(
    readonly out: Output,
    readonly dictSize: number,
  ) {}

  setProps(byte: number, at: number): void {
    if (byte >= 9 * 5 * 5) throw corrupt(`LZMA properties byte ${byte} out of range`, at);
    this.lc = byte % 9;
    const rest = Math.floor(byte / 9);
    this.lp = rest % 5;
    this.pb = Math.floor(rest / 5);
    if (this.lc + this.lp > 4) throw corrupt("LZMA2 requires lc + lp <= 4", at);
  }

  resetState(): void {
    this.probs.fill(PROB_INIT);
    this.state = 0;
    this.rep0 = this.rep1 = this.rep2 = this.rep3 = 0;
  }

  /** Starts the range decoder on one LZMA2 chunk's compressed bytes. */
  rcInit(input: Uint8Array, start: number, end: number): void {
    if (end - start < 5) throw corrupt("LZMA chunk shorter than the range coder header", start);
    if (input[start] !== 0) throw corrupt("range coder does not start with 0", start);
    this.input = input;
    this.inEnd = end;
    this.code =
      (((input[start + 1] as number) << 24) |
        ((input[start + 2] as number) << 16) |
        ((input[start + 3] as number) << 8) |
        (input[start + 4] as number)) >>>
      0;
    this.inPos = start + 5;
    this.range = 0xffffffff;
  }

  private normalize(): void {
    if (this.range < 0x1000000) {
      if (this.inPos >= this.inEnd) throw corrupt("LZMA chunk ends early", this.inPos);
      this.range = (this.range << 8) >>> 0;
      this.code = ((this.code << 8) | (this.input[this.inPos++] as number)) >>> 0;
    }
  }

  private bit(i: number): number {
    this.normalize();
    const p = this.probs[i] as number;
    const bound = (this.range >>> 11) * p;
    if (this.code < bound) {
      this.range = bound;
      this.probs[i] = p + ((2048 - p) >>> 5);
      return 0;
    }
    this.range -= bound;
    this.code -= bound;
    this.probs[i] = p - (p >>> 5);
    return 1;
  }

  private tree(base: number, bits: number): number {
    let m = 1;
    for (let i = 0; i < bits; i++) m = (m << 1) | this.bit(base + m);
    return m - (1 << bits);
  }

  private reverseTree(base: number, bits: number): number {
    let m = 1;
    let v = 0;
    for (let i = 0; i < bits; i++) {
      const b = this.bit(base + m);
      m = (m << 1) | b;
      v |= b << i;
    }
    return v;
  }

  private direct(bits: number): number {
    let v = 0;
    for (let i = 0; i < bits; i++) {
      this.normalize();
      this.range >>>= 1;
      let b = 0;
      if (this.code >= this.range) {
        this.code -= this.range;
        b = 1;
      }
      v = v * 2 + b;
    }
    return v;
  }

  private length(base: number, posState: number): number {
    if (this.bit(base + LEN_CHOICE) === 0)
      return MATCH_LEN_MIN + this.tree(base + LEN_LOW + (posState << LEN_LOW_BITS), LEN_LOW_BITS);
    if (this.bit(base + LEN_CHOICE2) === 0)
      return MATCH_LEN_MIN + 8 + this.tree(base + LEN_MID + (posState << LEN_MID_BITS), LEN_MID_BITS);
    return MATCH_LEN_MIN + 16 + this.tree(base + LEN_HIGH, LEN_HIGH_BITS);
  }

  /** Distance - 1, as LZMA stores rep0. */
  private distance(len: number): number {
    const lenState = Math.min(len - MATCH_LEN_MIN, DIST_STATES - 1);
    const slot = this.tree(P_DIST_SLOT + (lenState << DIST_SLOT_BITS), DIST_SLOT_BITS);
    if (slot < DIST_MODEL_START) return slot;
    const bits = (slot >>> 1) - 1;
    let dist = (2 | (slot & 1)) * 2 ** bits;
    if (slot < DIST_MODEL_END) return dist + this.reverseTree(P_DIST_SPECIAL + dist - slot - 1, bits);
    dist += this.direct(bits - ALIGN_BITS) * (1 << ALIGN_BITS);
    return dist + this.reverseTree(P_DIST_ALIGN, ALIGN_BITS);
  }

  /**
   * Decodes exactly `size` bytes of one LZMA2 chunk into the output. `dictStart` is where the
   * dictionary was last reset: positions and distances count from there.
   */
  decodeChunk(size: number, dictStart: number): void {
    const out = this.out;
    out.reserve(size);
    const buf = out.buf;
    let pos = out.pos;
    const end = pos + size;
    const pbMask = (1 << this.pb) - 1;
    const lpMask = (1 << this.lp) - 1;
    while (pos < end) {
      const total = pos - dictStart;
      const posState = total & pbMask;
      let state = this.state;
      if (this.bit(P_IS_MATCH + (state << 4) + posState) === 0) {
        const prev = total > 0 ? (buf[pos - 1] as number) : 0;
        const base = P_LITERAL + LITERAL_CODER_SIZE * (((total & lpMask) << this.lc) + (prev >>> (8 - this.lc)));
        let sym = 1;
        if (state < 7) {
          while (sym < 0x100) sym = (sym << 1) | this.bit(base + sym);
        } else {
          let matchByte = buf[pos - this.rep0 - 1] as number;
          while (sym < 0x100) {
            const matchBit = (matchByte >>> 7) & 1;
            matchByte <<= 1;
            const b = this.bit(base + 0x100 + (matchBit << 8) + sym);
            sym = (sym << 1) | b;
            if (b !== matchBit) break;
          }
          while (sym < 0x100) sym = (sym << 1) | this.bit(base + sym);
        }
        buf[pos++] = sym & 0xff;
        this.state = state < 4 ? 0 : state < 10 ? state - 3 : state - 6;
        continue;
      }
      let len: number;
      if (this.bit(P_IS_REP + state) === 0) {
        this.rep3 = this.rep2;
        this.rep2 = this.rep1;
        this.rep1 = this.rep0;
        len = this.length(P_MATCH_LEN, posState);
        state = state < 7 ? 7 : 10;
        this.rep0 = this.distance(len);
        // 0xFFFFFFFF would be LZMA's end marker, which LZMA2 does not allow; the check below rejects it.
      } else {
        if (this.bit(P_IS_REP0 + state) === 0) {
          if (this.bit(P_IS_REP0_LONG + (state << 4) + posState) === 0) {
            // Short rep: one byte from rep0.
            if (this.rep0 >= total) throw corrupt("match distance reaches before the dictionary start");
            buf[pos] = buf[pos - this.rep0 - 1] as number;
            pos++;
            this.state = state < 7 ? 9 : 11;
            continue;
          }
        } else {
          let dist: number;
          if (this.bit(P_IS_REP1 + state) === 0) {
            dist = this.rep1;
          } else {
            if (this.bit(P_IS_REP2 + state) === 0) {
              dist = this.rep2;
            } else {
              dist = this.rep3;
              this.rep3 = this.rep2;
            }
            this.rep2 = this.rep1;
          }
          this.rep1 = this.rep0;
          this.rep0 = dist;
        }
        len = this.length(P_REP_LEN, posState);
        state = state < 7 ? 8 : 11;
      }
      this.state = state;
      const rep0 = this.rep0;
      if (rep0 >= total || rep0 >= this.dictSize)
        throw corrupt(`match distance ${rep0 + 1} reaches before the dictionary start`);
      // LZMA2 chunks end on symbol boundaries, so a match never continues into the next chunk.
      if (len > end - pos) throw corrupt("match runs past the end of its LZMA2 chunk");
      let from = pos - rep0 - 1;
      if (rep0 + 1 >= len) {
        buf.copyWithin(pos, from, from + len);
        pos += len;
      } else {
        for (let i = 0; i < len; i++) buf[pos++] = buf[from++] as number;
      }
    }
    out.pos = pos;
  }

  /** An LZMA2 chunk must use up its compressed bytes exactly and leave the range coder at 0. */
  rcFinish(): void {
    // The encoder's flush leaves the decoder one normalization short (xz-embedded normalizes here too).
    this.normalize();
    if (this.inPos !== this.inEnd || this.code !== 0) throw corrupt("LZMA chunk does not end cleanly", this.inPos);
  }
}

/** LZMA2 dictionary size from its one-byte property (xz-file-format 5.3.1). */
function lzma2DictSize(byte: number, at: number): number {
  if (byte > 40) throw corrupt(`LZMA2 dictionary size property ${byte} out of range`, at);
  if (byte === 40) return 0xffffffff;
  return (2 | (byte & 1)) * 2 ** ((byte >>> 1) + 11);
}

/** Decodes the LZMA2 data in input[start, end) into out; returns where the LZMA2 data ended. */
function decodeLzma2(input: Uint8Array, start: number, end: number, out: Output, dictSize: number): number {
  const lzma = new Lzma(out, dictSize);
  let p = start;
  let dictStart = out.pos;
  let needDictReset = true;
  let needProps = true;
  for (;;) {
    if (p >= end) throw corrupt("LZMA2 data ends without an end marker", p);
    const control = input[p++] as number;
    if (control === 0x00) return p;
    if (control >= 0xe0 || control === 0x01) {
      needProps = true;
      needDictReset = false;
      dictStart = out.pos;
    } else if (needDictReset) {
      throw corrupt("LZMA2 data does not start with a dictionary reset", p - 1);
    }
    if (control >= 0x80) {
      if (end - p < 4) throw corrupt("LZMA2 chunk header truncated", p);
      const unpacked = (control & 0x1f) * 0x10000 + (input[p] as number) * 256 + (input[p + 1] as number) + 1;
      const packed = (input[p + 2] as number) * 256 + (input[p + 3] as number) + 1;
      p += 4;
      const reset = (control >>> 5) & 3;
      if (reset >= 2) {
        if (p >= end) throw corrupt("LZMA2 chunk header truncated", p);
        lzma.setProps(input[p++] as number, p - 1);
        needProps = false;
      } else if (needProps) {
        throw corrupt("LZMA2 chunk without the properties it needs", p);
      }
      if (reset >= 1) lzma.resetState();
      if (packed > end - p) throw corrupt("LZMA2 chunk runs past the end of its block", p);
      lzma.rcInit(input, p, p + packed);
      lzma.decodeChunk(unpacked, dictStart);
      lzma.rcFinish();
      p += packed;
    } else {
      if (control > 0x02) throw corrupt(`invalid LZMA2 control byte 0x${control.toString(16)}`, p - 1);
      if (end - p < 2) throw corrupt("LZMA2 chunk header truncated", p);
      const size = (input[p] as number) * 256 + (input[p + 1] as number) + 1;
      p += 2;
      if (size > end - p) throw corrupt("uncompressed LZMA2 chunk runs past the end of its block", p);
      out.reserve(size);
      out.buf.set(input.subarray(p, p + size), out.pos);
      out.pos += size;
      p += size;
    }
  }
}

/** BCJ x86 decoding in place (liblzma simple/x86.c), one call over a whole block's output. */
function bcjX86Decode(buf: Uint8Array, startOffset: number): void {
  const allowed = [true, true, true, false, true, false, false, false];
  const bitNumber = [0, 1, 2, 2, 3, 3, 3, 3];
  const isMsByte = (b: number): boolean => b === 0 || b === 0xff;
  if (buf.length < 5) return;
  let prevMask = 0;
  let prevPos = (startOffset - 5) >>> 0;
  const limit = buf.length - 5;
  let i = 0;
  while (i <= limit) {
    let b = buf[i] as number;
    if (b !== 0xe8 && b !== 0xe9) {
      i++;
      continue;
    }
    const nowPos = (startOffset + i) >>> 0;
    const offset = (nowPos - prevPos) >>> 0;
    prevPos = nowPos;
    if (offset > 5) {
      prevMask = 0;
    } else {
      for (let k = 0; k < offset; k++) prevMask = ((prevMask & 0x77) << 1) & 0xff;
    }
    b = buf[i + 4] as number;
    if (isMsByte(b) && allowed[(prevMask >>> 1) & 7] && prevMask >>> 1 < 0x10) {
      let src =
        ((b << 24) | ((buf[i + 3] as number) << 16) | ((buf[i + 2] as number) << 8) | (buf[i + 1] as number)) >>> 0;
      let dest: number;
      for (;;) {
        dest = (src - ((nowPos + 5) >>> 0)) >>> 0;
        if (prevMask === 0) break;
        const bn = bitNumber[prevMask >>> 1] as number;
        b = (dest >>> (24 - bn * 8)) & 0xff;
        if (!isMsByte(b)) break;
        src = (dest ^ (2 ** (32 - bn * 8) - 1)) >>> 0;
      }
      buf[i + 4] = ~(((dest >>> 24) & 1) - 1) & 0xff;
      buf[i + 3] = (dest >>> 16) & 0xff;
      buf[i + 2] = (dest >>> 8) & 0xff;
      buf[i + 1] = dest & 0xff;
      i += 5;
      prevMask = 0;
    } else {
      i++;
      prevMask |= 1;
      if (isMsByte(b)) prevMask |= 0x10;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// The .xz container.

/** Reads a multibyte integer (xz-file-format 1.2): 7 bits per byte, at most 9 bytes. */
function varint(buf: Uint8Array, p: { at: number }, end: number): number {
  let v = 0;
  for (let i = 0; i < 9; i++) {
    if (p.at >= end) throw corrupt("truncated integer", p.at);
    const b = buf[p.at++] as number;
    v += (b & 0x7f) * 2 ** (7 * i);
    if ((b & 0x80) === 0) {
      if (b === 0 && i > 0) throw corrupt("non-minimal integer encoding", p.at - 1);
      if (!Number.isSafeInteger(v)) throw new ImageError("LIMIT", "xz integer too large", FORMAT, p.at);
      return v;
    }
  }
  throw corrupt("integer longer than 9 bytes", p.at);
}

interface Filter {
  id: number;
  props: Uint8Array;
}

/** Decodes one block starting at its header; returns the offset after its check field. */
function decodeBlock(
  input: Uint8Array,
  start: number,
  checkType: number,
  out: Output,
): { end: number; unpadded: number; uncompressed: number } {
  const headerSize = ((input[start] as number) + 1) * 4;
  if (start + headerSize > input.length) throw corrupt("block header truncated", start);
  const header = input.subarray(start, start + headerSize);
  checkCrc32(header.subarray(0, headerSize - 4), le32(header, headerSize - 4), "block header", start);
  const flags = header[1] as number;
  if (flags & 0x3c) throw corrupt("reserved block flags set", start + 1);
  const p = { at: 2 };
  const hEnd = headerSize - 4;
  const compressedSize = flags & 0x40 ? varint(header, p, hEnd) : undefined;
  const uncompressedSize = flags & 0x80 ? varint(header, p, hEnd) : undefined;
  const filters: Filter[] = [];
  for (let i = 0; i <= (flags & 3); i++) {
    const id = varint(header, p, hEnd);
    const propsSize = varint(header, p, hEnd);
    if (propsSize > hEnd - p.at) throw corrupt("filter properties run past the block header", start + p.at);
    filters.push({ id, props: header.subarray(p.at, p.at + propsSize) });
    p.at += propsSize;
  }
  for (let i = p.at; i < hEnd; i++) if (header[i] !== 0) throw corrupt("non-zero block header padding", start + i);

  const last = filters[filters.length - 1] as Filter;
  if (last.id !== FILTER_LZMA2)
    throw new ImageError(
      "UNSUPPORTED",
      `xz filter chain ends in filter 0x${last.id.toString(16)}, not LZMA2`,
      FORMAT,
      start,
    );
  if (last.props.length !== 1) throw corrupt("LZMA2 filter properties must be one byte", start);
  let bcjStart: number | undefined;
  for (const f of filters.slice(0, -1)) {
    if (f.id !== FILTER_X86) {
      const name = FILTER_NAMES[f.id] ?? `0x${f.id.toString(16)}`;
      throw new ImageError("UNSUPPORTED", `xz filter ${name} is not supported (only BCJ x86 and LZMA2)`, FORMAT, start);
    }
    if (bcjStart !== undefined)
      throw new ImageError("UNSUPPORTED", "xz filter chain with two BCJ filters", FORMAT, start);
    if (f.props.length === 0) bcjStart = 0;
    else if (f.props.length === 4) bcjStart = le32(f.props, 0);
    else throw corrupt("BCJ filter properties must be 0 or 4 bytes", start);
  }

  const dataStart = start + headerSize;
  const dataEnd = compressedSize !== undefined ? dataStart + compressedSize : input.length;
  if (dataEnd > input.length) throw corrupt("block compressed size runs past the end of the input", start);
  const outStart = out.pos;
  const lzmaEnd = decodeLzma2(input, dataStart, dataEnd, out, lzma2DictSize(last.props[0] as number, start));
  if (compressedSize !== undefined && lzmaEnd !== dataEnd)
    throw corrupt("block compressed size does not match its data", lzmaEnd);
  const produced = out.pos - outStart;
  if (uncompressedSize !== undefined && produced !== uncompressedSize)
    throw corrupt(`block declares ${uncompressedSize} bytes but holds ${produced}`, start);
  const decoded = out.buf.subarray(outStart, out.pos);
  if (bcjStart !== undefined) bcjX86Decode(decoded, bcjStart);

  let q = lzmaEnd;
  const unpadded = headerSize + (lzmaEnd - dataStart) + checkSize(checkType);
  while ((q - start) % 4 !== 0) {
    if (q >= input.length) throw corrupt("block padding truncated", q);
    if (input[q] !== 0) throw corrupt("non-zero block padding", q);
    q++;
  }
  const size = checkSize(checkType);
  if (q + size > input.length) throw corrupt("block check truncated", q);
  if (checkType === 1) checkCrc32(decoded, le32(input, q), "block data", q);
  return { end: q + size, unpadded, uncompressed: produced };
}

/** Decodes one stream at `start`; returns the offset after its footer. */
function decodeStream(input: Uint8Array, start: number, out: Output): number {
  if (start + 12 > input.length) throw corrupt("stream header truncated", start);
  for (let i = 0; i < 6; i++)
    if (input[start + i] !== STREAM_MAGIC[i]) throw new ImageError("BAD_MAGIC", "not an xz stream", FORMAT, start);
  const flags = input.subarray(start + 6, start + 8);
  checkCrc32(flags, le32(input, start + 8), "stream header", start + 8);
  if (flags[0] !== 0 || ((flags[1] as number) & 0xf0) !== 0)
    throw new ImageError("UNSUPPORTED", "xz stream flags not understood", FORMAT, start + 6);
  const checkType = (flags[1] as number) & 0x0f;

  const records: Array<{ unpadded: number; uncompressed: number }> = [];
  let p = start + 12;
  for (;;) {
    if (p >= input.length) throw corrupt("stream ends before its index", p);
    if (input[p] === 0x00) break; // index indicator
    const block = decodeBlock(input, p, checkType, out);
    records.push({ unpadded: block.unpadded, uncompressed: block.uncompressed });
    p = block.end;
  }

  // Index: must describe exactly the blocks we decoded.
  const indexStart = p;
  const cur = { at: p + 1 };
  const count = varint(input, cur, input.length);
  if (count !== records.length) throw corrupt(`index lists ${count} blocks, stream has ${records.length}`, indexStart);
  for (const r of records) {
    if (varint(input, cur, input.length) !== r.unpadded || varint(input, cur, input.length) !== r.uncompressed)
      throw corrupt("index does not match the blocks", indexStart);
  }
  while ((cur.at - indexStart) % 4 !== 0) {
    if (cur.at >= input.length || input[cur.at] !== 0) throw corrupt("bad index padding", cur.at);
    cur.at++;
  }
  checkCrc32(input.subarray(indexStart, cur.at), le32(input, cur.at), "index", cur.at);
  const indexSize = cur.at + 4 - indexStart;

  // Footer: backward size and flags must agree with what we saw.
  const f = cur.at + 4;
  if (f + 12 > input.length) throw corrupt("stream footer truncated", f);
  checkCrc32(input.subarray(f + 4, f + 10), le32(input, f), "stream footer", f);
  if ((le32(input, f + 4) + 1) * 4 !== indexSize) throw corrupt("footer backward size does not match the index", f + 4);
  if (input[f + 8] !== flags[0] || input[f + 9] !== flags[1])
    throw corrupt("footer flags differ from header flags", f + 8);
  if (input[f + 10] !== FOOTER_MAGIC[0] || input[f + 11] !== FOOTER_MAGIC[1])
    throw corrupt("bad stream footer magic", f + 10);
  return f + 12;
}

/**
 * Decompresses a complete .xz file (one or more streams, optional stream padding). Throws
 * ImageError: BAD_MAGIC if it is not xz, CORRUPT for malformed data, UNSUPPORTED for filters we
 * lack, LIMIT if the output would exceed maxOutput bytes.
 */
export function xzDecompress(input: Uint8Array, maxOutput: number): Uint8Array {
  const out = new Output(maxOutput, input.length * 4);
  let p = decodeStream(input, 0, out);
  while (p < input.length) {
    // Stream padding: zero bytes in multiples of four, then possibly another stream.
    const padStart = p;
    while (p < input.length && input[p] === 0) p++;
    if ((p - padStart) % 4 !== 0) throw corrupt("stream padding is not a multiple of four bytes", padStart);
    if (p < input.length) p = decodeStream(input, p, out);
  }
  return out.buf.subarray(0, out.pos);
}
