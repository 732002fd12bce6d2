// erofs compressed files: logical-cluster indexes → physical clusters → LZ4. Follows the kernel's
// fs/erofs/zmap.c (z_erofs_do_map_blocks and helpers, Linux 6.6) and erofs_fs.h; the kernel is the
// oracle for every check below. https://docs.kernel.org/filesystems/erofs.html
//
// Supported: COMPRESSED_FULL (8-byte indexes, mkfs.erofs -Elegacy-compress) and COMPRESSED_COMPACT
// (packed 4-byte and 2-byte index groups); lcluster types PLAIN, HEAD1, HEAD2, NONHEAD; big
// pclusters (block count in the first NONHEAD, CBLKCNT); 0padding; ztailpacking (the last pcluster
// inline after the indexes); partially referenced pclusters (dedupe) through partial decoding.
// Algorithm: LZ4 (mkfs's lz4 and lz4hc write the same format).
// Refused as UNSUPPORTED: LZMA, DEFLATE and Zstandard pclusters, fragments (tails kept in the
// packed inode) and interlaced plain pclusters — erofs-utils 1.5 cannot make them, so we could not
// test them. Everything else an index claims is checked: a hostile index gives CORRUPT or LIMIT,
// never a loop (every walk moves strictly forward or backward, and all walks share a step budget).
import { chargeDecompressed } from "./budget.ts";
import { u16le, u32le, u8 } from "./bytes.ts";
import { lz4DecompressBlock } from "./decompress/lz4.ts";
import { MAX_DECOMPRESSED_BYTES, MAX_WALK_STEPS } from "./limits.ts";
import { ImageError } from "./types.ts";

/** What the compressed-file reader needs from the file system (see erofs.ts). */
export interface ZContext {
  readonly name: string;
  readonly blkszbits: number;
  /** feature_incompat ZERO_PADDING: compressed bytes sit at the end of the pcluster. */
  readonly zeroPadding: boolean;
  /** feature_incompat BIG_PCLUSTER (shares its bit with COMPR_CFGS). */
  readonly bigPcluster: boolean;
  /** Bit n set: algorithm n may appear (superblock available_compr_algs, or LZ4 only). */
  readonly algorithms: number;
  /** Bounds-checked bytes of the image. */
  read(offset: number, length: number): Uint8Array;
}

export interface ZInode {
  readonly nid: number;
  readonly size: number;
  readonly layout: number;
  /** Image offset right after the inode and its inline xattrs. */
  readonly dataStart: number;
}

export const LAYOUT_COMPRESSED_FULL = 1;
export const LAYOUT_COMPRESSED_COMPACT = 3;

export const ALGORITHM_NAMES = ["lz4", "lzma", "deflate", "zstd"] as const;
const ALG_LZ4 = 0;

// z_erofs_map_header.h_advise
const ADVISE_COMPACTED_2B = 0x0001;
const ADVISE_BIG_PCLUSTER_1 = 0x0002;
const ADVISE_BIG_PCLUSTER_2 = 0x0004;
const ADVISE_INLINE_PCLUSTER = 0x0008;
const ADVISE_INTERLACED_PCLUSTER = 0x0010;
const ADVISE_FRAGMENT_PCLUSTER = 0x0020;
const ADVISE_KNOWN = 0x003f;

// Logical cluster types (di_advise bits 0-1).
const TYPE_PLAIN = 0;
// 1 is HEAD1: a head like HEAD2, which needs no name of its own here.
const TYPE_NONHEAD = 2;
const TYPE_HEAD2 = 3;
/** Bytes decoded beyond a read's end when the extent goes on. */
const READ_AHEAD = 128 * 1024;
/** In a NONHEAD's delta[0]: the rest is the compressed block count of a big pcluster. */
const D0_CBLKCNT = 1 << 11;

/** One logical cluster index, decoded from either on-disk form. */
interface Lcluster {
  type: number;
  /** HEAD/PLAIN: where the new extent starts inside this lcluster. NONHEAD: the lcluster size. */
  clusterofs: number;
  /** NONHEAD: distance back to the head lcluster (1 when CBLKCNT was given). */
  delta0: number;
  /** NONHEAD with CBLKCNT: the pcluster's block count; 0 otherwise. */
  compressedBlocks: number;
  /** HEAD/PLAIN: first block of the pcluster. */
  pblk: number;
  /** Image offset just past this index's pack (where ztailpacking's inline pcluster starts). */
  nextPackOff: number;
}

/** Per-inode facts from the map header, computed on first use. */
interface ZInfo {
  advise: number;
  algorithms: [number, number];
  lclusterbits: number;
  /** Number of lcluster indexes on disk. */
  totalIdx: number;
  /** Image offset of the map header. */
  header: number;
  /** ztailpacking: the inline pcluster and the head lcluster of the extent that uses it. */
  tail?: { offset: number; size: number; headLcn: number };
}

/** One decoded extent: the file bytes [start, start + data.length). */
interface Extent {
  nid: number;
  start: number;
  data: Uint8Array;
}

class Budget {
  private left = MAX_WALK_STEPS;
  constructor(private readonly what: () => string) {}
  step(): void {
    if (--this.left < 0)
      throw new ImageError("LIMIT", `${this.what()}: more than ${MAX_WALK_STEPS} index steps`, "erofs");
  }
}

export class CompressedReader {
  private readonly infos = new Map<number, ZInfo>();
  /** The last extent decoded: reading a compressed directory block by block decodes it once. */
  private last: Extent | undefined;

  constructor(private readonly ctx: ZContext) {}

  private fail(code: "CORRUPT" | "UNSUPPORTED" | "LIMIT", inode: ZInode, message: string, offset?: number): ImageError {
    return new ImageError(code, `${this.ctx.name}: erofs inode ${inode.nid}: ${message}`, "erofs", offset);
  }

  /** File bytes [offset, offset + length) of a compressed inode; the range must lie within the file. */
  read(inode: ZInode, offset: number, length: number): Uint8Array {
    const out = new Uint8Array(length);
    if (length === 0) return out;
    const info = this.info(inode);
    const budget = new Budget(() => `${this.ctx.name}: erofs inode ${inode.nid}`);
    const end = offset + length;
    let pos = offset;
    while (pos < end) {
      let ext = this.last;
      if (!ext || ext.nid !== inode.nid || pos < ext.start || pos >= ext.start + ext.data.length) {
        ext = this.decodeExtent(inode, info, pos, end, budget);
        this.last = ext;
      }
      const upto = Math.min(end, ext.start + ext.data.length);
      out.set(ext.data.subarray(pos - ext.start, upto - ext.start), pos - offset);
      pos = upto;
    }
    return out;
  }

  private info(inode: ZInode): ZInfo {
    const cached = this.infos.get(inode.nid);
    if (cached) return cached;
    const header = align(inode.dataStart, 8);
    const h = this.ctx.read(header, 8);
    const clusterbits = u8(h, 7, "erofs h_clusterbits");
    // Bit 7 of h_clusterbits: the whole file lives in the packed inode (a fragment).
    if (clusterbits & 0x80)
      throw this.fail(
        "UNSUPPORTED",
        inode,
        "file stored as a fragment in the packed inode (mkfs.erofs -Efragments) is not supported",
        header,
      );
    const advise = u16le(h, 4, "erofs h_advise");
    const algtype = u8(h, 6, "erofs h_algorithmtype");
    const algorithms: [number, number] = [algtype & 15, algtype >> 4];
    for (const a of algorithms) {
      if (a >= ALGORITHM_NAMES.length)
        throw this.fail("UNSUPPORTED", inode, `unknown compression algorithm ${a}`, header);
    }
    if (advise & ~ADVISE_KNOWN)
      throw this.fail("UNSUPPORTED", inode, `unknown compression flags 0x${advise.toString(16)}`, header);
    if (advise & ADVISE_FRAGMENT_PCLUSTER)
      throw this.fail(
        "UNSUPPORTED",
        inode,
        "fragments (tails in the packed inode, mkfs.erofs -Efragments) are not supported",
        header,
      );
    if (advise & ADVISE_INTERLACED_PCLUSTER)
      throw this.fail(
        "UNSUPPORTED",
        inode,
        "interlaced uncompressed pclusters (mkfs.erofs -Ededupe) are not supported",
        header,
      );
    const big = advise & (ADVISE_BIG_PCLUSTER_1 | ADVISE_BIG_PCLUSTER_2);
    if (big && !this.ctx.bigPcluster)
      throw this.fail("CORRUPT", inode, "big pcluster used without the superblock feature", header);
    if (
      inode.layout === LAYOUT_COMPRESSED_COMPACT &&
      big !== 0 &&
      big !== (ADVISE_BIG_PCLUSTER_1 | ADVISE_BIG_PCLUSTER_2)
    ) {
      throw this.fail("CORRUPT", inode, "big pcluster flags of compact indexes differ for HEAD1 and HEAD2", header);
    }
    const lclusterbits = this.ctx.blkszbits + (clusterbits & 15);
    // Compact indexes only encode lclusters up to 16 KiB; full ones could say more, but mkfs never
    // writes more than 1 MiB and the kernel caps pclusters there.
    if (lclusterbits > 20) throw this.fail("UNSUPPORTED", inode, `logical clusters of 2^${lclusterbits} bytes`, header);
    const totalIdx =
      inode.layout === LAYOUT_COMPRESSED_COMPACT
        ? Math.ceil(inode.size / 2 ** this.ctx.blkszbits) // the kernel counts compact indexes in blocks
        : Math.ceil(inode.size / 2 ** lclusterbits);
    const info: ZInfo = { advise, algorithms, lclusterbits, totalIdx, header };
    if (advise & ADVISE_INLINE_PCLUSTER && inode.size > 0)
      info.tail = this.findTail(inode, info, u16le(h, 2, "erofs h_idata_size"));
    if (this.infos.size >= 256) this.infos.clear();
    this.infos.set(inode.nid, info);
    return info;
  }

  /** ztailpacking: the inline pcluster follows the index pack of the file's last lcluster. */
  private findTail(inode: ZInode, info: ZInfo, size: number): NonNullable<ZInfo["tail"]> {
    const budget = new Budget(() => `${this.ctx.name}: erofs inode ${inode.nid}`);
    const lastLcn = Math.floor((inode.size - 1) / 2 ** info.lclusterbits);
    const last = this.load(inode, info, lastLcn);
    const head = this.findHead(inode, info, inode.size - 1, budget);
    const blockSize = 2 ** this.ctx.blkszbits;
    if (size === 0 || (last.nextPackOff % blockSize) + size > blockSize) {
      throw this.fail(
        "CORRUPT",
        inode,
        `inline tail pcluster of ${size} bytes at ${last.nextPackOff} crosses a block boundary`,
        last.nextPackOff,
      );
    }
    return { offset: last.nextPackOff, size, headLcn: head.lcn };
  }

  private load(inode: ZInode, info: ZInfo, lcn: number): Lcluster {
    if (lcn >= info.totalIdx)
      throw this.fail("CORRUPT", inode, `logical cluster ${lcn} is past the last index (${info.totalIdx})`);
    return inode.layout === LAYOUT_COMPRESSED_FULL
      ? this.loadFull(inode, info, lcn)
      : this.loadCompact(inode, info, lcn);
  }

  /** z_erofs_load_full_lcluster: 8-byte z_erofs_lcluster_index records after a 16-byte header area. */
  private loadFull(inode: ZInode, info: ZInfo, lcn: number): Lcluster {
    const pos = info.header + 16 + lcn * 8;
    const di = this.ctx.read(pos, 8);
    const advise = u16le(di, 0, "erofs di_advise");
    const type = advise & 3;
    const lclusterSize = 2 ** info.lclusterbits;
    const lc: Lcluster = {
      type,
      clusterofs: lclusterSize,
      delta0: 0,
      compressedBlocks: 0,
      pblk: 0,
      nextPackOff: pos + 8,
    };
    if (type === TYPE_NONHEAD) {
      lc.delta0 = u16le(di, 4, "erofs di_u.delta[0]");
      if (lc.delta0 & D0_CBLKCNT) {
        if (!(info.advise & (ADVISE_BIG_PCLUSTER_1 | ADVISE_BIG_PCLUSTER_2)))
          throw this.fail("CORRUPT", inode, `CBLKCNT at lcluster ${lcn} without big pclusters`, pos);
        lc.compressedBlocks = lc.delta0 & ~D0_CBLKCNT;
        lc.delta0 = 1;
      }
      return lc;
    }
    lc.clusterofs = u16le(di, 2, "erofs di_clusterofs");
    if (lc.clusterofs >= lclusterSize)
      throw this.fail("CORRUPT", inode, `cluster offset ${lc.clusterofs} at lcluster ${lcn} is past the lcluster`, pos);
    lc.pblk = u32le(di, 4, "erofs di_u.blkaddr");
    return lc;
  }

  /**
   * z_erofs_load_compact_lcluster + unpack_compacted_index: up to 32 bytes of 4-byte indexes to
   * reach 32-byte alignment, then (with COMPACTED_2B) groups of 16 indexes in 32 bytes, then 4-byte
   * ones again. A pack of n indexes is n bit-fields {lo, type} followed by one 32-bit block address;
   * a HEAD's block is that address plus the pclusters of the HEADs before it in the pack.
   */
  private loadCompact(inode: ZInode, info: ZInfo, lcn: number): Lcluster {
    const ebase = info.header + 8;
    let initial4b = (32 - (ebase % 32)) / 4;
    if (initial4b === 8) initial4b = 0;
    const compacted2b =
      info.advise & ADVISE_COMPACTED_2B && initial4b < info.totalIdx
        ? Math.floor((info.totalIdx - initial4b) / 16) * 16
        : 0;
    let pos = ebase;
    let n = lcn;
    let shift = 2;
    if (n >= initial4b) {
      pos += initial4b * 4;
      n -= initial4b;
      if (n < compacted2b) shift = 1;
      else {
        pos += compacted2b * 2;
        n -= compacted2b;
      }
    }
    pos += n << shift;

    const bits = info.lclusterbits;
    let vcnt: number;
    if (shift === 2 && bits <= 14) vcnt = 2;
    else if (shift === 1 && bits === 12) vcnt = 16;
    else throw this.fail("UNSUPPORTED", inode, `compact indexes with 2^${bits}-byte logical clusters`);
    const packSize = vcnt << shift;
    const packStart = pos - (pos % packSize);
    const pack = this.ctx.read(packStart, packSize);
    const lobits = Math.max(bits, 12);
    const encodebits = ((packSize - 4) * 8) / vcnt;
    const decode = (idx: number): { lo: number; type: number } => {
      const bit = encodebits * idx;
      const v = u32le(pack, bit >>> 3, "erofs compact index") >>> (bit & 7);
      return { lo: v & ((1 << lobits) - 1), type: (v >>> lobits) & 3 };
    };
    const big = (info.advise & ADVISE_BIG_PCLUSTER_1) !== 0;
    let i = (pos - packStart) >> shift;
    const { lo, type } = decode(i);
    const lc: Lcluster = {
      type,
      clusterofs: 2 ** bits,
      delta0: 0,
      compressedBlocks: 0,
      pblk: 0,
      nextPackOff: packStart + packSize,
    };

    if (type === TYPE_NONHEAD) {
      if (lo & D0_CBLKCNT) {
        if (!big) throw this.fail("CORRUPT", inode, `CBLKCNT at lcluster ${lcn} without big pclusters`, pos);
        lc.compressedBlocks = lo & ~D0_CBLKCNT;
        lc.delta0 = 1;
      } else if (i + 1 !== vcnt) {
        lc.delta0 = lo;
      } else {
        // The last index of a pack stores delta[1]; delta[0] follows from the one before it.
        const prev = decode(i - 1);
        const d = prev.type !== TYPE_NONHEAD ? 0 : prev.lo & D0_CBLKCNT ? 1 : prev.lo;
        lc.delta0 = d + 1;
      }
      return lc;
    }

    lc.clusterofs = lo;
    let nblk = 0;
    if (!big) {
      nblk = 1;
      while (i > 0) {
        --i;
        const d = decode(i);
        if (d.type === TYPE_NONHEAD) i -= d.lo;
        if (i >= 0) ++nblk;
      }
    } else {
      while (i > 0) {
        --i;
        const d = decode(i);
        if (d.type === TYPE_NONHEAD) {
          if (d.lo & D0_CBLKCNT) {
            --i;
            nblk += d.lo & ~D0_CBLKCNT;
            continue;
          }
          if (d.lo <= 1)
            throw this.fail(
              "CORRUPT",
              inode,
              `bad lookback distance ${d.lo} in a big-pcluster pack at lcluster ${lcn}`,
              pos,
            );
          i -= d.lo - 2;
          continue;
        }
        ++nblk;
      }
    }
    lc.pblk = u32le(pack, packSize - 4, "erofs compact block address") + nblk;
    return lc;
  }

  /**
   * The head lcluster of the extent holding file offset `pos` (z_erofs_do_map_blocks and
   * z_erofs_extent_lookback): an index is either a HEAD whose extent starts at or before `pos`
   * inside this lcluster, or a NONHEAD pointing back some lclusters.
   */
  private findHead(
    inode: ZInode,
    info: ZInfo,
    pos: number,
    budget: Budget,
  ): { lcn: number; lc: Lcluster; start: number } {
    let lcn = Math.floor(pos / 2 ** info.lclusterbits);
    const endoff = pos - lcn * 2 ** info.lclusterbits;
    let lc = this.load(inode, info, lcn);
    let distance: number;
    if (lc.type === TYPE_NONHEAD) distance = lc.delta0;
    else if (endoff >= lc.clusterofs) return { lcn, lc, start: lcn * 2 ** info.lclusterbits + lc.clusterofs };
    else distance = 1; // `pos` precedes the extent starting here: it belongs to the previous one.
    for (;;) {
      budget.step();
      if (distance < 1 || distance > lcn)
        throw this.fail("CORRUPT", inode, `bogus lookback distance ${distance} at lcluster ${lcn}`);
      lcn -= distance;
      lc = this.load(inode, info, lcn);
      if (lc.type !== TYPE_NONHEAD) return { lcn, lc, start: lcn * 2 ** info.lclusterbits + lc.clusterofs };
      distance = lc.delta0;
    }
  }

  /** Physical extent of the pcluster that starts at head lcluster `lcn` (z_erofs_get_extent_compressedlen). */
  private pcluster(
    inode: ZInode,
    info: ZInfo,
    lcn: number,
    head: Lcluster,
  ): { offset: number; size: number; inline: boolean } {
    if (info.tail && lcn === info.tail.headLcn) return { offset: info.tail.offset, size: info.tail.size, inline: true };
    const offset = head.pblk * 2 ** this.ctx.blkszbits;
    const bigFlag = head.type === TYPE_HEAD2 ? ADVISE_BIG_PCLUSTER_2 : ADVISE_BIG_PCLUSTER_1;
    if (head.type === TYPE_PLAIN || !(info.advise & bigFlag))
      return { offset, size: 2 ** info.lclusterbits, inline: false };
    // The kernel insists on an index after a big-pcluster head; a single-lcluster pcluster at the
    // very end has none, and one lcluster is then the only sensible size.
    if (lcn + 1 >= info.totalIdx) return { offset, size: 2 ** info.lclusterbits, inline: false };
    const next = this.load(inode, info, lcn + 1);
    let blocks: number;
    if (next.type !== TYPE_NONHEAD) blocks = 2 ** (info.lclusterbits - this.ctx.blkszbits);
    else if (next.delta0 === 1 && next.compressedBlocks > 0) blocks = next.compressedBlocks;
    else
      throw this.fail(
        "CORRUPT",
        inode,
        `no compressed block count (CBLKCNT) after the big pcluster head at lcluster ${lcn}`,
      );
    const size = blocks * 2 ** this.ctx.blkszbits;
    if (size > MAX_DECOMPRESSED_BYTES) throw this.fail("LIMIT", inode, `pcluster of ${size} bytes at lcluster ${lcn}`);
    return { offset, size, inline: false };
  }

  /**
   * Decodes the extent holding file offset `pos`, but only as far as `want` (the end of the read):
   * LZ4 decodes a prefix of a pcluster as cheaply as a prefix costs.
   */
  private decodeExtent(inode: ZInode, info: ZInfo, pos: number, want: number, budget: Budget): Extent {
    const { lcn, lc: head, start } = this.findHead(inode, info, pos, budget);
    // The extent ends where the next HEAD/PLAIN lcluster's extent starts, or at end of file.
    const lsize = 2 ** info.lclusterbits;
    // Decode a little past the read, so that block-by-block reads (a compressed directory) find
    // the next block in the cached extent instead of decoding the pcluster's prefix again.
    const limit = Math.min(inode.size, Math.max(want, pos + READ_AHEAD));
    let end = limit;
    for (let n = lcn + 1; n * lsize < limit; n++) {
      budget.step();
      const lc = this.load(inode, info, n);
      if (lc.type !== TYPE_NONHEAD) {
        end = Math.min(limit, n * lsize + lc.clusterofs);
        break;
      }
    }
    if (end <= pos) throw this.fail("CORRUPT", inode, `extent of lcluster ${lcn} ends at ${end}, before offset ${pos}`);
    const length = end - start;
    if (length > MAX_DECOMPRESSED_BYTES)
      throw this.fail("LIMIT", inode, `extent of ${length} bytes at lcluster ${lcn}`);

    const pc = this.pcluster(inode, info, lcn, head);
    const raw = this.ctx.read(pc.offset, pc.size);
    const data = new Uint8Array(length);
    if (head.type === TYPE_PLAIN) {
      // Stored uncompressed ("shifted"): the extent's first byte is the pcluster's first byte.
      if (length > pc.size)
        throw this.fail(
          "CORRUPT",
          inode,
          `uncompressed extent of ${length} bytes in a ${pc.size}-byte pcluster`,
          pc.offset,
        );
      data.set(raw.subarray(0, length));
      return { nid: inode.nid, start, data };
    }
    const alg = info.algorithms[head.type === TYPE_HEAD2 ? 1 : 0] as number;
    if (!(this.ctx.algorithms & (1 << alg)))
      throw this.fail(
        "CORRUPT",
        inode,
        `pcluster uses ${ALGORITHM_NAMES[alg]}, which the superblock does not declare`,
        pc.offset,
      );
    if (alg !== ALG_LZ4)
      throw this.fail(
        "UNSUPPORTED",
        inode,
        `${ALGORITHM_NAMES[alg]} compression is not supported (only lz4)`,
        pc.offset,
      );
    let margin = 0;
    // 0padding: the compressed stream is right-aligned in the pcluster behind zero bytes (an LZ4
    // block never starts with a zero byte unless it is empty, which a pcluster never is).
    if (this.ctx.zeroPadding) while (margin < raw.length && raw[margin] === 0) margin++;
    if (margin === raw.length) throw this.fail("CORRUPT", inode, "pcluster holds only zero bytes", pc.offset);
    let n: number;
    try {
      n = lz4DecompressBlock(raw.subarray(margin), data);
    } catch (e) {
      if (e instanceof ImageError)
        throw this.fail(
          e.code === "CORRUPT" ? "CORRUPT" : "LIMIT",
          inode,
          `pcluster at ${pc.offset}: ${e.message}`,
          pc.offset,
        );
      throw e;
    }
    if (n !== length)
      throw this.fail(
        "CORRUPT",
        inode,
        `pcluster at ${pc.offset} decoded to ${n} bytes, expected ${length}`,
        pc.offset,
      );
    chargeDecompressed(n);
    return { nid: inode.nid, start, data };
  }
}

function align(n: number, to: number): number {
  return Math.ceil(n / to) * to;
}
