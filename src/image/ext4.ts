// ext2 / ext3 / ext4, read-only, in user space.
//
// Follows the kernel's on-disk format (Documentation/filesystems/ext4/, https://docs.kernel.org/
// filesystems/ext4/) as written by e2fsprogs 1.47. Supported: revision 0 and 1 superblocks, 32- and
// 64-bit group descriptors, flex_bg, extents (depth ≤ 5) and legacy block maps (direct, indirect,
// double, triple), unwritten extents and holes (read as zeros), linear directory scans (which also
// read hash-indexed "htree" directories: index blocks look like empty entries), inline_data (small
// files and directories kept in the inode and its system.data xattr), fast and slow symlinks.
// Checksums are not verified (a reader that only discovers units gains nothing from them), and a
// journal that needs recovery is not replayed (like a read-only mount with noload).
// meta_bg (group descriptors spread over the groups, as on file systems grown past 16 TiB or made
// without resize_inode) is followed like the kernel's descriptor_loc().
// Refused (UNSUPPORTED): compression, journal devices, dirdata, encryption, and any incompat
// feature this file does not know.
import type { ByteSource } from "./byte-source.ts";
import { bytesAt, text, u16le, u32le, u8 } from "./bytes.ts";
import { MAX_DIR_ENTRIES, MAX_DIRECTORY_BYTES, MAX_SYMLINK_BYTES, MAX_WALK_STEPS } from "./limits.ts";
import { ImageError, type DirEntry, type EntryKind, type FileSystem, type Stat } from "./types.ts";

const FORMAT = "ext4";

// s_feature_incompat bits we can read, and the ones we know but refuse.
const INCOMPAT_OK: Record<number, string> = {
  0x2: "filetype",
  0x4: "needs_recovery",
  0x10: "meta_bg",
  0x40: "extent",
  0x80: "64bit",
  0x100: "mmp",
  0x200: "flex_bg",
  0x400: "ea_inode",
  0x2000: "csum_seed",
  0x4000: "large_dir",
  0x8000: "inline_data",
  // Lookups here are by exact name only, so a casefolded directory still lists correctly.
  0x20000: "casefold",
};
const INCOMPAT_REFUSED: Record<number, string> = {
  0x1: "compression",
  0x8: "journal_dev",
  0x1000: "dirdata",
  0x10000: "encrypt",
};
const INCOMPAT_FILETYPE = 0x2;
const INCOMPAT_META_BG = 0x10;
const INCOMPAT_EXTENTS = 0x40;
const INCOMPAT_64BIT = 0x80;
const INCOMPAT_FLEX_BG = 0x200;
const COMPAT_HAS_JOURNAL = 0x4;
const COMPAT_SPARSE_SUPER2 = 0x200;
const RO_COMPAT_SPARSE_SUPER = 0x1;

const EXTENTS_FL = 0x80000;
const INLINE_DATA_FL = 0x10000000;
const ENCRYPT_FL = 0x800;

const S_IFMT = 0xf000;
const ROOT_INO = 2;
/** i_block: 15 × 4 bytes for block pointers, an extent tree root, a fast symlink or inline data. */
const I_BLOCK = 0x28;
const I_BLOCK_SIZE = 60;
const EXTENT_MAGIC = 0xf30a;
const MAX_EXTENT_DEPTH = 5;
/** Directories whose entries are kept parsed (each lookup walks every component's directory). */
const DIR_CACHE_SIZE = 64;
/** Physical paths remembered (found or not): every lstat() of a path follows the lstat() of its parent. */
const PATH_CACHE_SIZE = 4096;

interface Inode {
  ino: number;
  mode: number;
  size: number;
  flags: number;
  raw: Uint8Array;
}

interface DirRecord {
  ino: number;
  kind: EntryKind | undefined;
}

function corrupt(source: ByteSource, message: string, offset?: number): ImageError {
  return new ImageError("CORRUPT", `${source.name}: ${message}`, FORMAT, offset);
}

function kindOfMode(mode: number): EntryKind {
  switch (mode & S_IFMT) {
    case 0x8000:
      return "file";
    case 0x4000:
      return "dir";
    case 0xa000:
      return "symlink";
    default:
      return "other";
  }
}

/** Directory entry file_type (with the filetype feature): 0 means "look at the inode". */
function kindOfDirentType(t: number): EntryKind | undefined {
  if (t === 0) return undefined;
  return t === 1 ? "file" : t === 2 ? "dir" : t === 7 ? "symlink" : "other";
}

class ExtFileSystem implements FileSystem {
  readonly fsType: string;
  private readonly blockSize: number;
  private readonly blocksCount: number;
  private readonly inodesCount: number;
  private readonly inodesPerGroup: number;
  private readonly inodeSize: number;
  private readonly descSize: number;
  private readonly groupCount: number;
  private readonly firstDataBlock: number;
  private readonly incompat: number;
  private readonly blocksPerGroup: number;
  private readonly firstMetaBg: number;
  /** Groups holding a superblock backup: see hasSuper(). */
  private readonly sparseSuper: boolean;
  private readonly sparseSuper2Groups: number[] | undefined;
  private readonly dirCache = new Map<number, Map<string, DirRecord>>();
  private readonly paths = new Map<string, Inode | null>();

  constructor(private readonly source: ByteSource) {
    if (source.size < 2048)
      throw new ImageError("TRUNCATED", `${source.name}: too small for an ext2/3/4 superblock`, FORMAT);
    const sb = source.read(1024, 1024);
    if (u16le(sb, 0x38, "ext4 s_magic") !== 0xef53)
      throw new ImageError("BAD_MAGIC", `${source.name}: no ext2/3/4 superblock magic`, FORMAT, 1080);
    const logBlock = u32le(sb, 0x18, "ext4 s_log_block_size");
    if (logBlock > 6) throw corrupt(source, `block size 1024 << ${logBlock} is not valid`, 1024 + 0x18);
    this.blockSize = 1024 << logBlock;
    const revLevel = u32le(sb, 0x4c, "ext4 s_rev_level");
    this.incompat = revLevel === 0 ? 0 : u32le(sb, 0x60, "ext4 s_feature_incompat");
    const compat = revLevel === 0 ? 0 : u32le(sb, 0x5c, "ext4 s_feature_compat");
    const unknown: string[] = [];
    for (let bit = 1; bit !== 0 && bit <= 0x80000000; bit = (bit << 1) >>> 0) {
      if ((this.incompat & bit) === 0 || INCOMPAT_OK[bit] !== undefined) continue;
      unknown.push(INCOMPAT_REFUSED[bit] ?? `0x${bit.toString(16)}`);
    }
    if (unknown.length > 0)
      throw new ImageError("UNSUPPORTED", `${source.name}: ext4 features not supported: ${unknown.join(", ")}`, FORMAT);
    const is64 = (this.incompat & INCOMPAT_64BIT) !== 0;

    this.inodesCount = u32le(sb, 0x0, "ext4 s_inodes_count");
    this.blocksCount =
      u32le(sb, 0x4, "ext4 s_blocks_count_lo") + (is64 ? u32le(sb, 0x150, "ext4 s_blocks_count_hi") * 2 ** 32 : 0);
    this.firstDataBlock = u32le(sb, 0x14, "ext4 s_first_data_block");
    const blocksPerGroup = u32le(sb, 0x20, "ext4 s_blocks_per_group");
    this.blocksPerGroup = blocksPerGroup;
    this.firstMetaBg = u32le(sb, 0x104, "ext4 s_first_meta_bg");
    this.sparseSuper = revLevel !== 0 && (u32le(sb, 0x64, "ext4 s_feature_ro_compat") & RO_COMPAT_SPARSE_SUPER) !== 0;
    this.sparseSuper2Groups =
      (compat & COMPAT_SPARSE_SUPER2) !== 0
        ? [u32le(sb, 0x24c, "ext4 s_backup_bgs[0]"), u32le(sb, 0x250, "ext4 s_backup_bgs[1]")]
        : undefined;
    this.inodesPerGroup = u32le(sb, 0x28, "ext4 s_inodes_per_group");
    this.inodeSize = revLevel === 0 ? 128 : u16le(sb, 0x58, "ext4 s_inode_size");
    this.descSize = is64 ? u16le(sb, 0xfe, "ext4 s_desc_size") : 32;

    const bs = this.blockSize;
    const check = (ok: boolean, what: string): void => {
      if (!ok) throw corrupt(source, `bad superblock: ${what}`, 1024);
    };
    check(
      this.inodeSize >= 128 && this.inodeSize <= bs && (this.inodeSize & (this.inodeSize - 1)) === 0,
      `inode size ${this.inodeSize}`,
    );
    check(
      this.descSize >= 32 &&
        this.descSize <= 1024 &&
        (this.descSize & (this.descSize - 1)) === 0 &&
        (!is64 || this.descSize >= 64),
      `group descriptor size ${this.descSize}`,
    );
    check(blocksPerGroup > 0 && blocksPerGroup <= 8 * bs, `${blocksPerGroup} blocks per group`);
    check(this.inodesPerGroup > 0 && this.inodesPerGroup <= 8 * bs, `${this.inodesPerGroup} inodes per group`);
    check(this.firstDataBlock < this.blocksCount, `first data block ${this.firstDataBlock} of ${this.blocksCount}`);
    // The kernel refuses a file system larger than its device; so do we (a truncated image).
    check(
      this.blocksCount * bs <= source.size,
      `${this.blocksCount} blocks of ${bs} bytes do not fit in ${source.size} bytes`,
    );
    this.groupCount = Math.ceil((this.blocksCount - this.firstDataBlock) / blocksPerGroup);
    check(
      this.inodesCount <= this.groupCount * this.inodesPerGroup && this.inodesCount >= ROOT_INO,
      `${this.inodesCount} inodes in ${this.groupCount} groups`,
    );

    const extentish = (this.incompat & (INCOMPAT_EXTENTS | INCOMPAT_64BIT | INCOMPAT_FLEX_BG)) !== 0;
    this.fsType = extentish ? "ext4" : (compat & COMPAT_HAS_JOURNAL) !== 0 ? "ext3" : "ext2";
    if (this.inode(ROOT_INO).mode === 0 || kindOfMode(this.inode(ROOT_INO).mode) !== "dir")
      throw corrupt(source, "the root inode is not a directory");
  }

  // ------------------------------------------------------------------------- blocks and inodes

  /** Reads `count` whole blocks from `block`, refusing block numbers outside the file system. */
  private readBlocks(block: number, count: number, what: string): Uint8Array {
    if (!Number.isSafeInteger(block) || block < this.firstDataBlock || block + count > this.blocksCount) {
      throw corrupt(
        this.source,
        `${what} points to block ${block} (+${count}), outside the file system (${this.blocksCount} blocks)`,
      );
    }
    return this.source.read(block * this.blockSize, count * this.blockSize);
  }

  /** ext4_bg_has_super(): whether a group starts with a superblock backup (and so a GDT copy). */
  private hasSuper(group: number): boolean {
    if (group === 0) return true;
    if (this.sparseSuper2Groups) return this.sparseSuper2Groups.includes(group);
    if (group <= 1 || !this.sparseSuper) return true;
    if ((group & 1) === 0) return false;
    const powerOf = (n: number): boolean => {
      let x = n;
      while (x < group) x *= n;
      return x === group;
    };
    return powerOf(3) || powerOf(5) || powerOf(7);
  }

  /** Byte offset of a group's descriptor: the table after the superblock, or meta_bg's spread. */
  private descriptorOffset(group: number): number {
    const perBlock = this.blockSize / this.descSize;
    const nr = Math.floor(group / perBlock);
    const inBlock = (group % perBlock) * this.descSize;
    if ((this.incompat & INCOMPAT_META_BG) === 0 || nr < this.firstMetaBg)
      return (this.firstDataBlock + nr + 1) * this.blockSize + inBlock;
    // meta_bg: each block of descriptors sits at the start of the first group it describes.
    const first = nr * perBlock;
    let block = this.firstDataBlock + first * this.blocksPerGroup + (this.hasSuper(first) ? 1 : 0);
    if (this.blockSize === 1024 && nr === 0 && this.firstDataBlock === 0) block++;
    return block * this.blockSize + inBlock;
  }

  private inodeTableBlock(group: number): number {
    const off = this.descriptorOffset(group);
    if (off + this.descSize > this.blocksCount * this.blockSize)
      throw corrupt(this.source, `group descriptor ${group} is outside the file system`);
    const d = this.source.read(off, this.descSize);
    const lo = u32le(d, 0x8, "ext4 bg_inode_table_lo");
    const hi = this.descSize >= 64 ? u32le(d, 0x28, "ext4 bg_inode_table_hi") : 0;
    return lo + hi * 2 ** 32;
  }

  private inode(ino: number): Inode {
    if (!Number.isInteger(ino) || ino < 1 || ino > this.inodesCount)
      throw corrupt(this.source, `inode number ${ino} is out of range (1..${this.inodesCount})`);
    const group = Math.floor((ino - 1) / this.inodesPerGroup);
    const index = (ino - 1) % this.inodesPerGroup;
    const table = this.inodeTableBlock(group);
    const off = table * this.blockSize + index * this.inodeSize;
    if (
      table < this.firstDataBlock ||
      !Number.isSafeInteger(off) ||
      off + this.inodeSize > this.blocksCount * this.blockSize
    ) {
      throw corrupt(this.source, `inode ${ino} lies outside the file system (inode table at block ${table})`);
    }
    const raw = this.source.read(off, this.inodeSize);
    const sizeHi = u32le(raw, 0x6c, "ext4 i_size_high");
    if (sizeHi >= 2 ** 21)
      throw new ImageError("LIMIT", `${this.source.name}: inode ${ino} claims a size beyond 2^53 bytes`, FORMAT, off);
    return {
      ino,
      mode: u16le(raw, 0x0, "ext4 i_mode"),
      size: u32le(raw, 0x4, "ext4 i_size_lo") + sizeHi * 2 ** 32,
      flags: u32le(raw, 0x20, "ext4 i_flags"),
      raw,
    };
  }

  /**
   * Physical block numbers (0 = hole) of logical blocks 0 … count-1 of an inode. Only the index
   * blocks covering that range are read.
   */
  private blockMap(inode: Inode, count: number): number[] {
    const map = new Array<number>(count).fill(0);
    if (count === 0) return map;
    const iblock = bytesAt(inode.raw, I_BLOCK, I_BLOCK_SIZE, "ext4 i_block");
    if (inode.flags & EXTENTS_FL) {
      const budget = { steps: 0 };
      this.walkExtents(inode, iblock, MAX_EXTENT_DEPTH + 1, 0, count, map, budget);
    } else {
      this.walkIndirect(inode, iblock, map);
    }
    return map;
  }

  private walkExtents(
    inode: Inode,
    node: Uint8Array,
    parentDepth: number,
    from: number,
    to: number,
    map: number[],
    budget: { steps: number },
  ): void {
    if (++budget.steps > MAX_WALK_STEPS)
      throw new ImageError("LIMIT", `${this.source.name}: extent tree of inode ${inode.ino} is too large`, FORMAT);
    const where = `extent tree of inode ${inode.ino}`;
    if (u16le(node, 0, "ext4 eh_magic") !== EXTENT_MAGIC)
      throw corrupt(this.source, `${where}: bad extent header magic`);
    const entries = u16le(node, 2, "ext4 eh_entries");
    const depth = u16le(node, 6, "ext4 eh_depth");
    // Depth must fall by one at every level: that alone rules out cycles.
    if (depth >= parentDepth || depth > MAX_EXTENT_DEPTH)
      throw corrupt(this.source, `${where}: depth ${depth} below a node of depth ${parentDepth}`);
    if (12 + entries * 12 > node.length)
      throw corrupt(this.source, `${where}: ${entries} entries do not fit in the node`);
    let previous = -1;
    for (let k = 0; k < entries; k++) {
      const e = 12 + k * 12;
      const logical = u32le(node, e, "ext4 extent logical block");
      // Sorted, strictly ascending starts: every block is reached through at most one child.
      if (logical <= previous) throw corrupt(this.source, `${where}: entries out of order`);
      previous = logical;
      if (depth === 0) {
        let len = u16le(node, e + 4, "ext4 ee_len");
        const unwritten = len > 32768;
        if (unwritten) len -= 32768;
        const start = u16le(node, e + 6, "ext4 ee_start_hi") * 2 ** 32 + u32le(node, e + 8, "ext4 ee_start_lo");
        if (unwritten || logical >= to || logical + len <= from) continue; // unwritten extents read as zeros
        if (start < this.firstDataBlock || start + len > this.blocksCount)
          throw corrupt(this.source, `${where}: extent at block ${start} (+${len}) is outside the file system`);
        for (let b = Math.max(logical, from); b < Math.min(logical + len, to); b++) map[b] = start + (b - logical);
      } else {
        const next =
          k + 1 < entries ? u32le(node, e + 12, "ext4 extent index logical block") : Number.POSITIVE_INFINITY;
        if (next <= from || logical >= to) continue;
        const child = u16le(node, e + 8, "ext4 ei_leaf_hi") * 2 ** 32 + u32le(node, e + 4, "ext4 ei_leaf_lo");
        this.walkExtents(inode, this.readBlocks(child, 1, where), depth, from, to, map, budget);
      }
    }
  }

  /** ext2/3 block map: 12 direct pointers, then single, double and triple indirect blocks. */
  private walkIndirect(inode: Inode, iblock: Uint8Array, map: number[]): void {
    const perBlock = this.blockSize / 4;
    let next = 0;
    const where = `block map of inode ${inode.ino}`;
    // Fills map[next …] from the subtree under `ptr` of the given level (0 = data block).
    const fill = (ptr: number, level: number): void => {
      const span = perBlock ** level;
      if (ptr === 0) {
        next += span; // a hole: the map already says 0
        return;
      }
      if (level === 0) {
        if (ptr < this.firstDataBlock || ptr >= this.blocksCount)
          throw corrupt(this.source, `${where}: block ${ptr} is outside the file system`);
        map[next++] = ptr;
        return;
      }
      const block = this.readBlocks(ptr, 1, where);
      for (let k = 0; k < perBlock && next < map.length; k++)
        fill(u32le(block, k * 4, "ext4 indirect block pointer"), level - 1);
    };
    for (let k = 0; k < 15 && next < map.length; k++)
      fill(u32le(iblock, k * 4, "ext4 i_block pointer"), k < 12 ? 0 : k - 11);
  }

  /** Bytes 0 … length-1 of an inode's data. */
  private readData(inode: Inode, length: number): Uint8Array {
    if (inode.flags & ENCRYPT_FL)
      throw new ImageError("UNSUPPORTED", `${this.source.name}: inode ${inode.ino} is encrypted`, FORMAT);
    if (inode.flags & INLINE_DATA_FL) return this.inlineData(inode, length);
    const bs = this.blockSize;
    const count = Math.ceil(length / bs);
    const map = this.blockMap(inode, count);
    const out = new Uint8Array(count * bs);
    // Read runs of consecutive blocks with one call each.
    for (let k = 0; k < count; ) {
      const start = map[k] as number;
      let n = 1;
      if (start !== 0) while (k + n < count && map[k + n] === start + n) n++;
      else while (k + n < count && map[k + n] === 0) n++;
      if (start !== 0) out.set(this.readBlocks(start, n, `data of inode ${inode.ino}`), k * bs);
      k += n;
    }
    return out.subarray(0, length);
  }

  /**
   * inline_data: the first 60 bytes live in i_block, the rest in the value of the in-inode xattr
   * "system.data" (name index 7, name "data").
   */
  private inlineData(inode: Inode, length: number): Uint8Array {
    const head = bytesAt(inode.raw, I_BLOCK, I_BLOCK_SIZE, "ext4 inline data");
    if (length <= I_BLOCK_SIZE) return head.slice(0, length);
    const tail = this.inlineXattr(inode);
    if (I_BLOCK_SIZE + tail.length < length)
      throw corrupt(this.source, `inode ${inode.ino}: inline data shorter than its size ${length}`);
    const out = new Uint8Array(length);
    out.set(head, 0);
    out.set(tail.subarray(0, length - I_BLOCK_SIZE), I_BLOCK_SIZE);
    return out;
  }

  /** The system.data xattr value (possibly empty) from the inode's extra space. */
  private inlineXattr(inode: Inode): Uint8Array {
    const raw = inode.raw;
    if (raw.length <= 128) return new Uint8Array(0);
    const extra = u16le(raw, 0x80, "ext4 i_extra_isize");
    const start = 128 + extra;
    if (extra % 4 !== 0 || start + 4 > raw.length) return new Uint8Array(0);
    if (u32le(raw, start, "ext4 in-inode xattr magic") !== 0xea020000) return new Uint8Array(0);
    const base = start + 4; // value offsets count from the first entry
    for (let e = base; e + 16 <= raw.length; ) {
      if (u32le(raw, e, "ext4 xattr entry") === 0) break;
      const nameLen = u8(raw, e, "ext4 xattr name length");
      const index = u8(raw, e + 1, "ext4 xattr name index");
      const valueOff = u16le(raw, e + 2, "ext4 xattr value offset");
      const valueInum = u32le(raw, e + 4, "ext4 xattr value inode");
      const valueSize = u32le(raw, e + 8, "ext4 xattr value size");
      const name = text(bytesAt(raw, e + 16, nameLen, "ext4 xattr name"));
      if (index === 7 && name === "data") {
        if (valueInum !== 0)
          throw new ImageError(
            "UNSUPPORTED",
            `${this.source.name}: inode ${inode.ino} keeps inline data in an xattr inode`,
            FORMAT,
          );
        return bytesAt(raw, base + valueOff, valueSize, "ext4 system.data value");
      }
      e += (16 + nameLen + 3) & ~3;
    }
    return new Uint8Array(0);
  }

  // ------------------------------------------------------------------------- directories

  private parseEntries(buf: Uint8Array, dir: Inode, out: Map<string, DirRecord>): void {
    const filetype = (this.incompat & INCOMPAT_FILETYPE) !== 0;
    for (let pos = 0; pos + 8 <= buf.length; ) {
      const ino = u32le(buf, pos, "ext4 dirent inode");
      let recLen = u16le(buf, pos + 4, "ext4 dirent rec_len");
      // 64 KiB blocks cannot store their own size in 16 bits (ext4_rec_len_from_disk).
      if (this.blockSize >= 65536 && (recLen === 65535 || recLen === 0)) recLen = this.blockSize;
      else recLen = (recLen & 65532) | ((recLen & 3) << 16);
      const nameLen = filetype
        ? u8(buf, pos + 6, "ext4 dirent name_len")
        : u16le(buf, pos + 6, "ext4 dirent name_len") & 0xff;
      if (recLen < 12 || pos + recLen > buf.length || 8 + nameLen > recLen) {
        throw corrupt(
          this.source,
          `directory inode ${dir.ino}: bad entry at byte ${pos} (rec_len ${recLen}, name_len ${nameLen})`,
        );
      }
      // Inode 0: unused space, htree index blocks, the metadata_csum tail; all skipped.
      if (ino !== 0 && nameLen > 0) {
        const name = text(bytesAt(buf, pos + 8, nameLen, "ext4 dirent name"));
        if (name !== "." && name !== "..") {
          if (ino > this.inodesCount)
            throw corrupt(
              this.source,
              `directory inode ${dir.ino}: entry '${name}' points to inode ${ino}, out of range`,
            );
          if (out.size >= MAX_DIR_ENTRIES)
            throw new ImageError(
              "LIMIT",
              `${this.source.name}: directory inode ${dir.ino} has more than ${MAX_DIR_ENTRIES} entries`,
              FORMAT,
            );
          out.set(name, {
            ino,
            kind: filetype ? kindOfDirentType(u8(buf, pos + 7, "ext4 dirent file_type")) : undefined,
          });
        }
      }
      pos += recLen;
    }
  }

  private entries(dir: Inode): Map<string, DirRecord> {
    const cached = this.dirCache.get(dir.ino);
    if (cached) return cached;
    if (dir.size > MAX_DIRECTORY_BYTES)
      throw new ImageError("LIMIT", `${this.source.name}: directory inode ${dir.ino} is ${dir.size} bytes`, FORMAT);
    const out = new Map<string, DirRecord>();
    if (dir.flags & INLINE_DATA_FL) {
      // Inline directories: a 4-byte parent inode number, entries in the rest of i_block, and more
      // entries in the system.data xattr; no "." or ".." entries.
      this.parseEntries(bytesAt(dir.raw, I_BLOCK + 4, I_BLOCK_SIZE - 4, "ext4 inline directory"), dir, out);
      const tail = this.inlineXattr(dir);
      if (tail.length > 0) this.parseEntries(tail, dir, out);
    } else {
      if (dir.size % this.blockSize !== 0)
        throw corrupt(this.source, `directory inode ${dir.ino} has size ${dir.size}, not a multiple of the block size`);
      const data = this.readData(dir, dir.size);
      for (let off = 0; off < data.length; off += this.blockSize)
        this.parseEntries(data.subarray(off, off + this.blockSize), dir, out);
    }
    if (this.dirCache.size >= DIR_CACHE_SIZE) this.dirCache.delete(this.dirCache.keys().next().value as number);
    this.dirCache.set(dir.ino, out);
    return out;
  }

  /** The inode at a physical path (no symlinks except possibly the last component), or undefined. */
  private lookup(path: string): Inode | undefined {
    const known = this.paths.get(path);
    if (known !== undefined) return known ?? undefined;
    // The resolver lstat()s every prefix of a path in turn: with the parent known, one step, so a
    // path of depth d costs d lookups, not d²/2.
    const cut = path.lastIndexOf("/");
    const parent = cut > 0 ? this.paths.get(path.slice(0, cut)) : undefined;
    let inode: Inode | undefined = parent === undefined ? this.inode(ROOT_INO) : (parent ?? undefined);
    for (const name of parent === undefined ? path.split("/") : [path.slice(cut + 1)]) {
      if (!inode) break;
      if (name === "" || name === ".") continue;
      if (kindOfMode(inode.mode) !== "dir") inode = undefined;
      else {
        const rec = this.entries(inode).get(name);
        inode = rec ? this.inode(rec.ino) : undefined;
      }
    }
    if (this.paths.size >= PATH_CACHE_SIZE) this.paths.clear();
    this.paths.set(path, inode ?? null);
    return inode;
  }

  private need(path: string): Inode {
    const inode = this.lookup(path);
    if (!inode) throw new ImageError("NOT_FOUND", `${this.source.name}: '${path}' does not exist`, FORMAT);
    return inode;
  }

  // ------------------------------------------------------------------------- FileSystem

  lstat(path: string): Stat | undefined {
    const inode = this.lookup(path);
    if (!inode) return undefined;
    const kind = kindOfMode(inode.mode);
    return { kind, size: kind === "file" || kind === "symlink" ? inode.size : 0, mode: inode.mode & 0o7777 };
  }

  readdir(path: string): DirEntry[] {
    const inode = this.need(path);
    if (kindOfMode(inode.mode) !== "dir")
      throw new ImageError("CORRUPT", `${this.source.name}: '${path}' is not a directory`, FORMAT);
    const result: DirEntry[] = [];
    for (const [name, rec] of this.entries(inode))
      result.push({ name, kind: rec.kind ?? kindOfMode(this.inode(rec.ino).mode) });
    return result;
  }

  readlink(path: string): string {
    const inode = this.need(path);
    if (kindOfMode(inode.mode) !== "symlink")
      throw new ImageError("CORRUPT", `${this.source.name}: '${path}' is not a symlink`, FORMAT);
    if (inode.size > MAX_SYMLINK_BYTES)
      throw new ImageError("LIMIT", `${this.source.name}: symlink '${path}' is ${inode.size} bytes long`, FORMAT);
    // A fast symlink keeps its target in i_block: no extents, no inline data, and no data blocks
    // (i_blocks counts only an xattr block, if any) — the kernel's ext4_inode_is_fast_symlink().
    const iBlocks = u32le(inode.raw, 0x1c, "ext4 i_blocks_lo");
    const aclBlocks = u32le(inode.raw, 0x68, "ext4 i_file_acl_lo") !== 0 ? this.blockSize / 512 : 0;
    const fast =
      (inode.flags & (EXTENTS_FL | INLINE_DATA_FL)) === 0 && inode.size < I_BLOCK_SIZE && iBlocks - aclBlocks === 0;
    const target = fast
      ? bytesAt(inode.raw, I_BLOCK, inode.size, "ext4 fast symlink")
      : this.readData(inode, inode.size);
    return text(target);
  }

  readFile(path: string, maxBytes: number): Uint8Array {
    const inode = this.need(path);
    if (kindOfMode(inode.mode) !== "file")
      throw new ImageError("CORRUPT", `${this.source.name}: '${path}' is not a regular file`, FORMAT);
    if (inode.size > maxBytes)
      throw new ImageError("LIMIT", `${this.source.name}: '${path}' is larger than ${maxBytes} bytes`, FORMAT);
    return this.readData(inode, inode.size);
  }
}

/** Opens an ext2/3/4 file system; reads the superblock, one group descriptor and the root inode. */
export function openExt(source: ByteSource): FileSystem {
  return new ExtFileSystem(source);
}
