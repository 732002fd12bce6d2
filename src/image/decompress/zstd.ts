// zstd (RFC 8878) through the bundled fzstd (0.1.1, pure TypeScript): Node 20's zlib has no zstd.
// fzstd trusts its input: it allocates the declared window (up to 2 GiB), has no output cap and
// bounds none of its loops. So frame and block headers are checked here against the caller's
// limits, each compressed block is first walked as fzstd will walk it (below), and the output is
// counted and cut at maxOutput; anything fzstd throws is ImageError CORRUPT. Frames that declare
// their size (mksquashfs's always do) take fzstd's one-shot path into one buffer of that size;
// others stream. Checksums are not verified (fzstd skips them); dictionaries are UNSUPPORTED.
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

// --- fzstd's unbounded loops ------------------------------------------------------------------
//
// Damaged data makes fzstd spin: a Huffman weight stream whose states stop consuming bits, a
// sequence section asking for billions of byte copies, a match length code past the last one
// (NaN to fzstd: it copies as many bytes as the offset says). So each block is walked with
// fzstd 0.1.1's own tables and bit reads (rfse, rhu, rzb; MIT, (c) 2020 Arjun Barrett), copying
// nothing: the weight loop stops at fzstd's 255 weights, codes past the last are refused, and the
// sequences' copies are summed and refused past maxOutput, which valid data never exceeds. Reads
// past either end are 0, as fzstd's are. The damaged frames are in test/image/decompress.test.ts.

interface Fse {
  /** Accuracy log; symbols, bits and next-state base by state; the largest symbol. */
  b: number;
  m: number;
  s: Uint8Array;
  n: Uint8Array;
  t: Uint16Array;
}

/** A byte as fzstd sees it alone; inside bit operations `dat[i]` is used directly (undefined acts as 0 there too). */
const at = (d: Uint8Array, i: number): number => d[i] ?? 0;

function msb(v: number): number {
  let bits = 0;
  for (; bits < 31 && 1 << bits <= v; ++bits);
  return bits - 1;
}

/**
 * Room for one FSE table: fzstd allocates a fresh one per table; the walk reuses four (three
 * sequence tables, Huffman weights), with views laid out as fzstd's for each accuracy log.
 */
class Slot {
  private readonly buf = new ArrayBuffer(512 + (512 << 2));
  readonly freq = new Int16Array(this.buf, 0, 256);
  readonly dstate = new Uint16Array(this.buf, 0, 256);
  // One per accuracy log (5-9), filled with undefined so that storing one never changes its shape.
  private readonly tables: Array<Fse | undefined> = new Array<Fse | undefined>(10).fill(undefined);
  table(al: number): Fse {
    let t = this.tables[al];
    if (t === undefined) {
      const sz = 1 << al;
      const bb1 = 512 + (sz << 1);
      t = this.tables[al] = {
        b: al,
        m: 0,
        s: new Uint8Array(this.buf, bb1, sz),
        n: new Uint8Array(this.buf, bb1 + sz, sz),
        t: new Uint16Array(this.buf, 512, sz),
      };
    }
    return t;
  }
}

/**
 * fzstd's rfse(): the FSE table described at byte `bt`, built in `slot`, and the byte after it;
 * undefined where fzstd throws. With `lazy`, null instead of a table in which every state reads at
 * least one bit (no count above half the table).
 */
function readFse(dat: Uint8Array, bt: number, mal: number, slot: Slot, lazy = false): [number, Fse] | undefined | null {
  let tpos = (bt << 3) + 4;
  const al = (at(dat, bt) & 15) + 5;
  if (al > mal) return undefined;
  const sz = 1 << al;
  let probs = sz;
  let sym = -1;
  let re = -1;
  let ht = sz;
  let most = 0;
  const { freq, dstate } = slot;
  const table = slot.table(al);
  const { t: nstate, s: syms, n: nbits } = table;
  // fzstd's buffer is new, and symbols skipped by a repeat flag keep a count of 0.
  freq.fill(0);
  while (sym < 255 && probs > 0) {
    const bits = msb(probs + 1);
    const cbt = tpos >> 3;
    const msk = (1 << (bits + 1)) - 1;
    let val =
      (((dat[cbt] as number) | ((dat[cbt + 1] as number) << 8) | ((dat[cbt + 2] as number) << 16)) >> (tpos & 7)) & msk;
    const msk1fb = (1 << bits) - 1;
    const msv = msk - probs - 1;
    const sval = val & msk1fb;
    if (sval < msv) {
      tpos += bits;
      val = sval;
    } else {
      tpos += bits + 1;
      if (val > msk1fb) val -= msv;
    }
    freq[++sym] = --val;
    if (val > most) most = val;
    if (val === -1) {
      probs += val;
      syms[--ht] = sym;
    } else probs -= val;
    if (!val) {
      do {
        const rbt = tpos >> 3;
        re = (((dat[rbt] as number) | ((dat[rbt + 1] as number) << 8)) >> (tpos & 7)) & 3;
        tpos += 2;
        sym += re;
      } while (re === 3);
    }
  }
  if (sym > 255 || probs) return undefined;
  // A state reads al - msb(ns) bits, ns < 2 × its symbol's count: 0 bits only past half the table.
  if (lazy && 2 * most <= sz) return null;
  let sympos = 0;
  const sstep = (sz >> 1) + (sz >> 3) + 3;
  const smask = sz - 1;
  for (let s = 0; s <= sym; ++s) {
    const sf = freq[s] as number;
    if (sf < 1) {
      dstate[s] = -sf;
      continue;
    }
    // Ends: sstep is odd, so the walk visits every position, and the positive counts fill exactly
    // the ht positions below the "less than 1" symbols.
    for (let i = 0; i < sf; ++i) {
      syms[sympos] = s;
      do sympos = (sympos + sstep) & smask;
      while (sympos >= ht);
    }
  }
  if (sympos) return undefined;
  // The counts end with the last symbol that has one.
  table.m = sym;
  for (let i = 0; i < sz; ++i) {
    const ns = (dstate[syms[i] as number] as number)++;
    const nb = (nbits[i] = al - msb(ns));
    nstate[i] = (ns << nb) - sz;
  }
  return [(tpos + 7) >> 3, table];
}

const predefined = (bytes: number[], mal: number): Fse =>
  (readFse(Uint8Array.from(bytes), 0, mal, new Slot()) as [number, Fse])[1];

function baselines(bits: Uint8Array, start: number): Int32Array {
  const out = new Int32Array(bits.length);
  for (let i = 0, s = start; i < bits.length; i++) {
    out[i] = s;
    s += 1 << (bits[i] as number);
  }
  return out;
}

/** fzstd's fixed tables, and room for the walk's own; built on first use, not at every start. */
interface Shared {
  /** Default match length, offset and literal length tables (the order of fzstd's). */
  defaults: [Fse, Fse, Fse];
  /** Extra bits and baselines of literal length and match length codes. */
  llb: Uint8Array;
  llbl: Int32Array;
  mlb: Uint8Array;
  mlbl: Int32Array;
  slots: [Slot, Slot, Slot];
  weights: Slot;
  rle: [Fse, Fse, Fse];
}
let shared: Shared | undefined;
function tables(): Shared {
  if (shared === undefined) {
    const llb = new Uint8Array(
      new Int32Array([0, 0, 0, 0, 16843009, 50528770, 134678020, 202050057, 269422093]).buffer,
      0,
      36,
    );
    const mlb = new Uint8Array(
      new Int32Array([0, 0, 0, 0, 0, 0, 0, 0, 16843009, 50528770, 117769220, 185207048, 252579084, 16]).buffer,
      0,
      53,
    );
    const rle = (): Fse => ({ b: 0, m: 0, s: new Uint8Array(1), n: new Uint8Array(1), t: new Uint16Array(1) });
    shared = {
      defaults: [
        predefined(
          [33, 20, 196, 24, 99, 140, 33, 132, 16, 66, 8, 33, 132, 16, 66, 8, 33, 68, 68, 68, 68, 68, 68, 68, 68, 36, 9],
          6,
        ),
        predefined([32, 132, 16, 66, 102, 70, 68, 68, 68, 68, 36, 73, 2], 5),
        predefined([81, 16, 99, 140, 49, 198, 24, 99, 12, 33, 196, 24, 99, 102, 102, 134, 70, 146, 4], 6),
      ],
      llb,
      llbl: baselines(llb, 0),
      mlb,
      mlbl: baselines(mlb, 3),
      slots: [new Slot(), new Slot(), new Slot()],
      weights: new Slot(),
      rle: [rle(), rle(), rle()],
    };
  }
  return shared;
}

/** The largest match length, offset and literal length codes (RFC 8878 3.1.1.3.2.1). */
const MAX_CODE = [52, 31, 35];

/** What a frame carries from block to block: the last sequence tables. */
interface Walk {
  /** Match length, offset and literal length tables of the last block with sequences. */
  tables: Fse[];
  hasTables: boolean;
  /** Copies and sequences so far, over all frames. */
  copies: number;
  sequences: number;
}

/** fzstd's rhu() up to the end of its weight loop: false if that loop would pass 255 weights (or never end). */
function weightsEnd(dat: Uint8Array, bt: number): boolean {
  const hb = dat[bt] as number;
  if (!(hb < 128)) return true;
  // Where every state reads a bit, the loop ends within the stream's bits.
  const r = readFse(dat, bt + 1, 6, tables().weights, true);
  if (!r) return true;
  const [ebt, fdt] = r;
  bt += hb;
  const lb = at(dat, bt);
  if (!lb) return true;
  const epos = ebt << 3;
  let st1 = 0;
  let st2 = 0;
  let btr1 = fdt.b;
  let btr2 = btr1;
  let fpos = (++bt << 3) - 8 + msb(lb);
  for (let wc = -1; ; ) {
    fpos -= btr1;
    if (fpos < epos) return true;
    let cbt = fpos >> 3;
    st1 += (((dat[cbt] as number) | ((dat[cbt + 1] as number) << 8)) >> (fpos & 7)) & ((1 << btr1) - 1);
    fpos -= btr2;
    if (fpos < epos) return true;
    cbt = fpos >> 3;
    st2 += (((dat[cbt] as number) | ((dat[cbt + 1] as number) << 8)) >> (fpos & 7)) & ((1 << btr2) - 1);
    wc += 2;
    if (wc > 255) return false;
    btr1 = fdt.n[st1] as number;
    st1 = fdt.t[st1] as number;
    btr2 = fdt.n[st2] as number;
    st2 = fdt.t[st2] as number;
  }
}

/**
 * Walks the compressed block whose content is dat[bt, ebt) as fzstd's rzb() will, adding its
 * copies to `w`. Returns false where fzstd throws (nothing after it runs). Throws LIMIT past
 * maxOutput, CORRUPT for a Huffman weight stream that does not end or a code past the last.
 */
function walkBlock(dat: Uint8Array, bt: number, ebt: number, w: Walk, maxOutput: number, where: number): boolean {
  const b3 = at(dat, bt);
  const lbt = b3 & 3;
  const sf = (b3 >> 2) & 3;
  let lss = b3 >> 4;
  let lcs = 0;
  if (lbt < 2) {
    if (sf & 1) lss |= ((dat[++bt] as number) << 4) | (sf & 2 ? (dat[++bt] as number) << 12 : 0);
    else lss = b3 >> 3;
  } else if (sf < 2) {
    lss |= ((dat[++bt] as number) & 63) << 4;
    lcs = ((dat[bt] as number) >> 6) | ((dat[++bt] as number) << 2);
  } else if (sf === 2) {
    lss |= ((dat[++bt] as number) << 4) | (((dat[++bt] as number) & 3) << 12);
    lcs = ((dat[bt] as number) >> 2) | ((dat[++bt] as number) << 6);
  } else {
    lss |= ((dat[++bt] as number) << 4) | (((dat[++bt] as number) & 63) << 12);
    lcs = ((dat[bt] as number) >> 6) | ((dat[++bt] as number) << 2) | ((dat[++bt] as number) << 10);
  }
  ++bt;
  if (lbt === 0) bt += lss;
  else if (lbt === 1) bt++;
  else {
    if (lbt === 2 && !weightsEnd(dat, bt)) throw corrupt("Huffman weights that do not end", where);
    bt += lcs;
  }
  let ns = at(dat, bt++);
  if (!ns) return true;
  if (ns === 255) ns = ((dat[bt++] as number) | ((dat[bt++] as number) << 8)) + 0x7f00;
  else if (ns > 127) ns = ((ns - 128) << 8) | (dat[bt++] as number);
  // Every match is at least 3 bytes long: more sequences than maxOutput / 3 cannot be valid.
  w.sequences += ns;
  if (w.sequences * 3 > maxOutput) throw limitError(maxOutput);
  const scm = at(dat, bt++);
  if (scm & 3) return false;
  // In place: "repeat" keeps the previous block's table.
  const T = tables();
  const { tables: use } = w;
  for (let i = 2; i > -1; --i) {
    const md = (scm >> ((i << 1) + 2)) & 3;
    if (md === 0) use[i] = T.defaults[i] as Fse;
    else if (md === 1) {
      const rle = T.rle[i] as Fse;
      rle.m = rle.s[0] = at(dat, bt++);
      use[i] = rle;
    } else if (md === 2) {
      const r = readFse(dat, bt, 9 - (i & 1), T.slots[i] as Slot) as [number, Fse] | undefined;
      if (!r) return false;
      bt = r[0];
      use[i] = r[1];
    } else if (!w.hasTables) return false;
  }
  w.hasTables = true;
  // fzstd takes a code past the last one as a length of NaN, and a match of NaN bytes from far back
  // copies as many bytes as the offset says: such tables are refused here.
  for (let i = 0; i < 3; i++)
    if ((use[i] as Fse).m > (MAX_CODE[i] as number))
      throw corrupt(`sequence code ${(use[i] as Fse).m} beyond the last one`, where);
  const mlt = use[0] as Fse;
  const oct = use[1] as Fse;
  const llt = use[2] as Fse;
  const { llb: LLB, llbl: LLBL, mlb: MLB, mlbl: MLBL } = T;
  const lb = at(dat, ebt - 1);
  if (!lb) return false;
  // As fzstd reads them. With every code valid, a sequence copies exactly ll + ml bytes (its match
  // from the window and from the output together), whatever its offset: only the offset's bits count.
  let spos = (ebt << 3) - 8 + msb(lb) - llt.b;
  let cbt = spos >> 3;
  let lst = (((dat[cbt] as number) | ((dat[cbt + 1] as number) << 8)) >> (spos & 7)) & ((1 << llt.b) - 1);
  cbt = (spos -= oct.b) >> 3;
  let ost = (((dat[cbt] as number) | ((dat[cbt + 1] as number) << 8)) >> (spos & 7)) & ((1 << oct.b) - 1);
  cbt = (spos -= mlt.b) >> 3;
  let mst = (((dat[cbt] as number) | ((dat[cbt + 1] as number) << 8)) >> (spos & 7)) & ((1 << mlt.b) - 1);
  for (++ns; --ns; ) {
    const llc = llt.s[lst] as number;
    const lbtr = llt.n[lst] as number;
    const mlc = mlt.s[mst] as number;
    const mbtr = mlt.n[mst] as number;
    spos -= oct.s[ost] as number;
    const obtr = oct.n[ost] as number;
    const mlb = MLB[mlc] as number;
    cbt = (spos -= mlb) >> 3;
    const ml =
      (MLBL[mlc] as number) +
      ((((dat[cbt] as number) | ((dat[cbt + 1] as number) << 8) | ((dat[cbt + 2] as number) << 16)) >> (spos & 7)) &
        ((1 << mlb) - 1));
    const llb = LLB[llc] as number;
    cbt = (spos -= llb) >> 3;
    const ll =
      (LLBL[llc] as number) +
      ((((dat[cbt] as number) | ((dat[cbt + 1] as number) << 8) | ((dat[cbt + 2] as number) << 16)) >> (spos & 7)) &
        ((1 << llb) - 1));
    cbt = (spos -= lbtr) >> 3;
    lst =
      (llt.t[lst] as number) +
      ((((dat[cbt] as number) | ((dat[cbt + 1] as number) << 8)) >> (spos & 7)) & ((1 << lbtr) - 1));
    cbt = (spos -= mbtr) >> 3;
    mst =
      (mlt.t[mst] as number) +
      ((((dat[cbt] as number) | ((dat[cbt + 1] as number) << 8)) >> (spos & 7)) & ((1 << mbtr) - 1));
    cbt = (spos -= obtr) >> 3;
    ost =
      (oct.t[ost] as number) +
      ((((dat[cbt] as number) | ((dat[cbt + 1] as number) << 8)) >> (spos & 7)) & ((1 << obtr) - 1));
    w.copies += ll + ml;
    if (w.copies > maxOutput) throw limitError(maxOutput);
  }
  return true;
}

function limitError(maxOutput: number): ImageError {
  return new ImageError("LIMIT", `zstd data decompresses to more than ${maxOutput} bytes`, FORMAT);
}

/**
 * Checks every frame header and block header in `src` against the limits, and walks every
 * compressed block as fzstd will (above); throws on anything fzstd would otherwise allocate or
 * decode without bound. Returns the declared total content size if
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
  const w: Walk = { tables: [], hasTables: false, copies: 0, sequences: 0 };
  // Once fzstd will have thrown, nothing after that point runs and needs walking.
  let walking = true;
  while (p < src.length) {
    const magic = le(src, p, 4);
    if ((magic & 0xfffffff0) >>> 0 === 0x184d2a50) {
      // Skippable frame.
      const size = le(src, p + 4, 4);
      if (size > src.length - p - 8) throw corrupt("skippable frame runs past the end", p);
      p += 8 + size;
      continue;
    }
    if (magic !== MAGIC)
      throw new ImageError(p === 0 ? "BAD_MAGIC" : "CORRUPT", `not a zstd frame at offset ${p}`, FORMAT, p);
    const fhd = le(src, p + 4, 1);
    const singleSegment = (fhd >>> 5) & 1;
    const hasChecksum = (fhd >>> 2) & 1;
    const dictIdSize = [0, 1, 2, 4][fhd & 3] as number;
    const fcsCode = fhd >>> 6;
    const fcsSize = fcsCode === 0 ? singleSegment : ([0, 2, 4, 8][fcsCode] as number);
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
    if (dictId !== 0)
      throw new ImageError("UNSUPPORTED", "zstd frames that need a dictionary are not supported", FORMAT, p);
    let contentSize = fcsSize ? le(src, q, fcsSize) : undefined;
    if (contentSize !== undefined && fcsSize === 2) contentSize += 256;
    q += fcsSize;
    if (singleSegment) window = contentSize ?? 0;
    if (window > maxWindow)
      throw new ImageError("LIMIT", `zstd window of ${window} bytes exceeds the ${maxWindow} allowed`, FORMAT, p);
    if (contentSize !== undefined && total + contentSize > maxOutput)
      throw new ImageError("LIMIT", `zstd data declares more than ${maxOutput} bytes`, FORMAT, p);
    // Blocks: 3-byte little-endian header, bit 0 = last, bits 1-2 = type, rest = size. fzstd
    // sees each frame from its first byte on (reads before it are 0), with a fresh state.
    const dat = src.subarray(p);
    w.hasTables = false;
    for (;;) {
      const h = le(src, q, 3);
      const type = (h >>> 1) & 3;
      const size = h >>> 3;
      if (type === 3) throw corrupt("reserved block type", q);
      if (size > BLOCK_MAX) throw corrupt(`block of ${size} bytes exceeds 128 KiB`, q);
      const stored = type === 1 ? 1 : size;
      if (stored > src.length - q - 3) throw corrupt("block runs past the end of the data", q);
      if (type === 2 && walking) walking = walkBlock(dat, q + 3 - p, q + 3 + size - p, w, maxOutput, q);
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
    if (total > maxOutput)
      throw (limit = new ImageError("LIMIT", `zstd data decompresses to more than ${maxOutput} bytes`, FORMAT));
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
