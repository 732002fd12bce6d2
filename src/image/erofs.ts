// erofs, read in user space. Follows the on-disk format of the kernel's fs/erofs/erofs_fs.h (Linux
// 6.6; https://docs.kernel.org/filesystems/erofs.html) and the checks of fs/erofs/{super,inode,
// data,namei,dir}.c. Compressed files are in erofs-compressed.ts.
//
// Supported: block sizes from 512 B to 64 KiB (only 4 KiB is tested: mkfs.erofs 1.5 makes no
// other); compact (32-byte) and extended (64-byte) inodes; data layouts FLAT_PLAIN, FLAT_INLINE
// (tail packed after the inode), CHUNK_BASED (block maps and chunk indexes on a single device),
// COMPRESSED_FULL and COMPRESSED_COMPACT with LZ4; directories (binary search over the sorted
// dirent blocks, like the kernel's namei), symlinks, and device/fifo/socket inodes as "other".
// Xattrs are skipped, never read.
// Refused as UNSUPPORTED: unknown feature_incompat bits (48-bit layout, metabox, ... from newer
// kernels), extra devices (mkfs.erofs --blobdev), LZMA/DEFLATE/Zstandard, fragments, interlaced
// pclusters. The superblock crc32c is checked where the superblock declares one; no other checksum is.
//
// Cost: opening reads the superblock; a lookup reads the inodes on the path and about log2(n)
// directory blocks per component, through a small block cache. Nothing depends on image size.
import type { ByteSource } from "./byte-source.ts";
import { bytesAt, text, u16le, u32le, u64le, u8 } from "./bytes.ts";
import { crc32c } from "./crc32.ts";
import {
  ALGORITHM_NAMES,
  CompressedReader,
  LAYOUT_COMPRESSED_COMPACT,
  LAYOUT_COMPRESSED_FULL,
  type ZContext,
} from "./erofs-compressed.ts";
import { MAX_DIR_ENTRIES, MAX_PATH_DEPTH, MAX_SYMLINK_BYTES } from "./limits.ts";
import { ImageError, type DirEntry, type EntryKind, type FileSystem, type Stat } from "./types.ts";

export const EROFS_MAGIC = 0xe0f5e1e2;
export const EROFS_SUPER_OFFSET = 1024;
/** feature_compat: the superblock carries a crc32c. */
const COMPAT_SB_CHKSUM = 0x01;

// feature_incompat. Some bits have two names: the kernel reused them for related features.
const INCOMPAT_ZERO_PADDING = 0x01;
const INCOMPAT_COMPR_CFGS = 0x02; // also BIG_PCLUSTER
const INCOMPAT_CHUNKED_FILE = 0x04;
const INCOMPAT_DEVICE_TABLE = 0x08; // also COMPR_HEAD2
const INCOMPAT_ZTAILPACKING = 0x10;
const INCOMPAT_FRAGMENTS = 0x20; // also DEDUPE
const INCOMPAT_XATTR_PREFIXES = 0x40;
const INCOMPAT_KNOWN =
  INCOMPAT_ZERO_PADDING |
  INCOMPAT_COMPR_CFGS |
  INCOMPAT_CHUNKED_FILE |
  INCOMPAT_DEVICE_TABLE |
  INCOMPAT_ZTAILPACKING |
  INCOMPAT_FRAGMENTS |
  INCOMPAT_XATTR_PREFIXES;
const INCOMPAT_NEWER: Record<number, string> = { 0x80: "48-bit layout", 0x100: "metabox" };

const LAYOUT_FLAT_PLAIN = 0;
const LAYOUT_FLAT_INLINE = 2;
const LAYOUT_CHUNK_BASED = 4;
const LAYOUT_NAMES = [
  "flat plain",
  "compressed (full indexes)",
  "flat inline",
  "compressed (compact indexes)",
  "chunk based",
];

const CHUNK_FORMAT_BLKBITS_MASK = 0x1f;
const CHUNK_FORMAT_INDEXES = 0x20;
const NULL_ADDR = 0xffffffff;

const S_IFMT = 0o170000;
const DIRENT_SIZE = 12;
const NAME_LEN = 255;
/** Bytes a directory may have: MAX_DIR_ENTRIES entries with the longest names. */
const MAX_DIR_BYTES = MAX_DIR_ENTRIES * (DIRENT_SIZE + NAME_LEN);

interface Inode {
  nid: number;
  /** Image offset of the inode. */
  addr: number;
  layout: number;
  mode: number;
  kind: EntryKind;
  size: number;
  /** i_u: raw_blkaddr (flat), chunk format (chunk based); unused otherwise. */
  iu: number;
  /** Image offset right after the inode and its inline xattrs: inline data, chunk or z indexes. */
  dataStart: number;
}

interface Dirent {
  nid: number;
  type: number;
  name: Uint8Array;
}

function kindOfMode(mode: number): EntryKind | undefined {
  switch (mode & S_IFMT) {
    case 0o100000:
      return "file";
    case 0o040000:
      return "dir";
    case 0o120000:
      return "symlink";
    case 0o020000:
    case 0o060000:
    case 0o010000:
    case 0o140000:
      return "other";
    default:
      return undefined;
  }
}

// Dirent file_type (EROFS_FT_*): 1 regular, 2 dir, 3-6 devices/fifo/socket, 7 symlink.
function kindOfDirentType(t: number): EntryKind | undefined {
  if (t === 1) return "file";
  if (t === 2) return "dir";
  if (t === 7) return "symlink";
  if (t >= 3 && t <= 6) return "other";
  return undefined;
}

/** strcmp order over bytes: how mkfs.erofs sorts names, and how the kernel searches them. */
function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const d = (a[i] as number) - (b[i] as number);
    if (d !== 0) return d;
  }
  return a.length - b.length;
}

/** A few recently read blocks: a path walk touches the same inode and dirent blocks repeatedly. */
class BlockCache {
  private readonly blocks = new Map<number, Uint8Array>();
  constructor(
    private readonly source: ByteSource,
    private readonly blockSize: number,
  ) {}

  read(offset: number, length: number): Uint8Array {
    const b = Math.floor(offset / this.blockSize);
    const start = b * this.blockSize;
    if (length > this.blockSize || offset + length > start + this.blockSize || start >= this.source.size)
      return this.source.read(offset, length);
    let block = this.blocks.get(b);
    if (block) {
      this.blocks.delete(b); // re-insert: Map order is our LRU order
    } else {
      block = this.source.read(start, Math.min(this.blockSize, this.source.size - start));
      if (this.blocks.size >= 64) this.blocks.delete(this.blocks.keys().next().value as number);
    }
    this.blocks.set(b, block);
    if (offset + length > start + block.length) return this.source.read(offset, length); // throws TRUNCATED
    return block.subarray(offset - start, offset - start + length);
  }
}

class Erofs implements FileSystem {
  readonly fsType: string;
  private readonly blkszbits: number;
  private readonly blockSize: number;
  private readonly metaBase: number;
  private readonly rootNid: number;
  private readonly cache: BlockCache;
  private readonly compressed: CompressedReader;
  private readonly inodes = new Map<number, Inode>();
  private readonly lookups = new Map<string, number | null>();
  /** Physical paths walked (null: absent), so a path whose parent was just walked costs one lookup. */
  private readonly paths = new Map<string, Inode | null>();
  /** Parsed dirent blocks: listing a directory and then stat()ing each entry parses each block once. */
  private readonly dirBlocks = new Map<string, Dirent[]>();

  /**
   * The superblock checksum, where feature_compat says there is one (mkfs.erofs sets it by
   * default), as the kernel and fsck.erofs check it: crc32c(~0) over the superblock's block from
   * offset 1024 on (the whole block if it is not larger than 1024), the checksum field as zero.
   */
  private checkSuperblock(): void {
    const length = this.blockSize > EROFS_SUPER_OFFSET ? this.blockSize - EROFS_SUPER_OFFSET : this.blockSize;
    const block = Uint8Array.from(this.source.read(EROFS_SUPER_OFFSET, length));
    const expected = u32le(block, 4, "erofs checksum");
    block.fill(0, 4, 8);
    const found = crc32c(block);
    if (found !== expected)
      throw this.error(
        "CORRUPT",
        `superblock checksum 0x${found.toString(16)} does not match 0x${expected.toString(16)}`,
        EROFS_SUPER_OFFSET + 4,
      );
  }

  constructor(private readonly source: ByteSource) {
    const sb = source.read(EROFS_SUPER_OFFSET, 128);
    const magic = u32le(sb, 0, "erofs magic");
    if (magic !== EROFS_MAGIC)
      throw this.error(
        "BAD_MAGIC",
        `no erofs magic at offset ${EROFS_SUPER_OFFSET} (found 0x${magic.toString(16)})`,
        EROFS_SUPER_OFFSET,
      );
    this.blkszbits = u8(sb, 12, "erofs blkszbits");
    // The kernel takes 512 B up to the page size; 64 KiB pages exist (arm64, ppc64).
    if (this.blkszbits < 9 || this.blkszbits > 16)
      throw this.error("UNSUPPORTED", `block size 2^${this.blkszbits}`, EROFS_SUPER_OFFSET + 12);
    this.blockSize = 2 ** this.blkszbits;
    if (u32le(sb, 8, "erofs feature_compat") & COMPAT_SB_CHKSUM) this.checkSuperblock();
    this.rootNid = u16le(sb, 14, "erofs root_nid");
    this.metaBase = u32le(sb, 40, "erofs meta_blkaddr") * this.blockSize;
    const incompat = u32le(sb, 80, "erofs feature_incompat");
    const unknown = incompat & ~INCOMPAT_KNOWN;
    if (unknown) {
      const names = Object.entries(INCOMPAT_NEWER)
        .filter(([bit]) => unknown & Number(bit))
        .map(([, name]) => name);
      throw this.error(
        "UNSUPPORTED",
        `unknown incompatible features 0x${unknown.toString(16)}${names.length ? ` (${names.join(", ")})` : ""}`,
        EROFS_SUPER_OFFSET + 80,
      );
    }
    // Directory blocks larger than file system blocks: the kernel refuses them too (so far).
    const dirblkbits = u8(sb, 90, "erofs dirblkbits");
    if (dirblkbits !== 0)
      throw this.error("UNSUPPORTED", `directory block size shift ${dirblkbits}`, EROFS_SUPER_OFFSET + 90);
    const extraDevices = u16le(sb, 86, "erofs extra_devices");
    if (incompat & INCOMPAT_DEVICE_TABLE && extraDevices > 0)
      throw this.error(
        "UNSUPPORTED",
        `${extraDevices} extra devices (blob devices) are not supported`,
        EROFS_SUPER_OFFSET + 86,
      );
    // Without COMPR_CFGS the field is lz4_max_distance and only LZ4 exists.
    const algorithms = incompat & INCOMPAT_COMPR_CFGS ? u16le(sb, 84, "erofs available_compr_algs") : 1;
    const compressed = (incompat & (INCOMPAT_ZERO_PADDING | INCOMPAT_COMPR_CFGS)) !== 0;
    const names = ALGORITHM_NAMES.filter((_, i) => algorithms & (1 << i));
    this.fsType = compressed && names.length > 0 ? `erofs (${names.join(", ")})` : "erofs";

    this.cache = new BlockCache(source, this.blockSize);
    const ctx: ZContext = {
      name: source.name,
      blkszbits: this.blkszbits,
      zeroPadding: (incompat & INCOMPAT_ZERO_PADDING) !== 0,
      bigPcluster: (incompat & INCOMPAT_COMPR_CFGS) !== 0,
      algorithms,
      read: (offset, length) => this.source.read(offset, length),
    };
    this.compressed = new CompressedReader(ctx);
    const root = this.inode(this.rootNid);
    if (root.kind !== "dir") throw this.error("CORRUPT", `root inode ${this.rootNid} is not a directory`);
  }

  private error(code: ImageError["code"], message: string, offset?: number): ImageError {
    return new ImageError(code, `${this.source.name}: erofs: ${message}`, "erofs", offset);
  }

  // ---- inodes ----

  private inode(nid: number): Inode {
    const cached = this.inodes.get(nid);
    if (cached) return cached;
    // nid counts 32-byte slots from the metadata area; an absurd one must not overflow the offset.
    if (!Number.isSafeInteger(nid) || nid > this.source.size / 32)
      throw this.error("CORRUPT", `inode number ${nid} is outside the image`);
    const addr = this.metaBase + nid * 32;
    const compact = this.cache.read(addr, 32);
    const format = u16le(compact, 0, "erofs i_format");
    if (format & ~0x0f)
      throw this.error("UNSUPPORTED", `inode ${nid} has unknown format bits 0x${format.toString(16)}`, addr);
    const extended = (format & 1) === 1;
    const layout = (format >> 1) & 7;
    const raw = extended ? this.cache.read(addr, 64) : compact;
    const xattrCount = u16le(raw, 2, "erofs i_xattr_icount");
    const mode = u16le(raw, 4, "erofs i_mode");
    const kind = kindOfMode(mode);
    if (!kind) throw this.error("CORRUPT", `inode ${nid} has bogus mode 0${mode.toString(8)}`, addr);
    const size = extended ? u64le(raw, 8, "erofs i_size") : u32le(raw, 8, "erofs i_size");
    const xattrSize = xattrCount === 0 ? 0 : 12 + 4 * (xattrCount - 1);
    const inode: Inode = {
      nid,
      addr,
      layout,
      mode: mode & 0o7777,
      kind,
      size: kind === "other" ? 0 : size,
      iu: u32le(raw, 16, "erofs i_u"),
      dataStart: addr + (extended ? 64 : 32) + xattrSize,
    };
    if (kind !== "other" && layout > LAYOUT_CHUNK_BASED)
      throw this.error("UNSUPPORTED", `inode ${nid} has unknown data layout ${layout}`, addr);
    if (this.inodes.size >= 1024) this.inodes.clear();
    this.inodes.set(nid, inode);
    return inode;
  }

  /** File bytes [offset, offset + length) of an inode, whatever its layout. */
  private data(inode: Inode, offset: number, length: number): Uint8Array {
    if (offset < 0 || length < 0 || offset + length > inode.size) {
      throw this.error(
        "CORRUPT",
        `read of ${length} bytes at ${offset} past the end of inode ${inode.nid} (${inode.size} bytes)`,
      );
    }
    switch (inode.layout) {
      case LAYOUT_FLAT_PLAIN:
      case LAYOUT_FLAT_INLINE:
        return this.flatData(inode, offset, length);
      case LAYOUT_CHUNK_BASED:
        return this.chunkData(inode, offset, length);
      case LAYOUT_COMPRESSED_FULL:
      case LAYOUT_COMPRESSED_COMPACT:
        return this.compressed.read(inode, offset, length);
      default:
        throw this.error(
          "UNSUPPORTED",
          `inode ${inode.nid} has data layout ${LAYOUT_NAMES[inode.layout] ?? inode.layout}`,
        );
    }
  }

  private read(offset: number, length: number): Uint8Array {
    return length <= this.blockSize ? this.cache.read(offset, length) : this.source.read(offset, length);
  }

  /** Flat: whole blocks from raw_blkaddr; with FLAT_INLINE the last block's bytes follow the inode. */
  private flatData(inode: Inode, offset: number, length: number): Uint8Array {
    if (length === 0) return new Uint8Array(0);
    const nblocks = Math.ceil(inode.size / this.blockSize);
    const blockBytes = (inode.layout === LAYOUT_FLAT_INLINE ? nblocks - 1 : nblocks) * this.blockSize;
    const end = offset + length;
    if (end <= blockBytes) return this.read(inode.iu * this.blockSize + offset, length);
    const tailSize = inode.size - blockBytes;
    // The kernel refuses inline data that crosses a block boundary, and so do we.
    if ((inode.dataStart % this.blockSize) + tailSize > this.blockSize) {
      throw this.error(
        "CORRUPT",
        `inline tail of ${tailSize} bytes of inode ${inode.nid} crosses a block boundary`,
        inode.dataStart,
      );
    }
    if (offset >= blockBytes) return this.read(inode.dataStart + (offset - blockBytes), length);
    const out = new Uint8Array(length);
    out.set(this.read(inode.iu * this.blockSize + offset, blockBytes - offset));
    out.set(this.read(inode.dataStart, end - blockBytes), blockBytes - offset);
    return out;
  }

  /** Chunk based: an array of 4-byte block addresses or 8-byte chunk indexes after the inode. */
  private chunkData(inode: Inode, offset: number, length: number): Uint8Array {
    const format = inode.iu & 0xffff;
    if (format & ~(CHUNK_FORMAT_BLKBITS_MASK | CHUNK_FORMAT_INDEXES))
      throw this.error("UNSUPPORTED", `inode ${inode.nid} has unknown chunk format 0x${format.toString(16)}`);
    const chunkSize = 2 ** (this.blkszbits + (format & CHUNK_FORMAT_BLKBITS_MASK));
    const unit = format & CHUNK_FORMAT_INDEXES ? 8 : 4;
    const table = Math.ceil(inode.dataStart / unit) * unit;
    const out = new Uint8Array(length);
    let pos = offset;
    const end = offset + length;
    while (pos < end) {
      const chunk = Math.floor(pos / chunkSize);
      const within = pos - chunk * chunkSize;
      const n = Math.min(end - pos, chunkSize - within);
      const entry = this.cache.read(table + chunk * unit, unit);
      // Chunk index: {startblk_hi or advise u16, device_id u16, blkaddr u32}. device_id is masked
      // by the device count (none here), so it never selects another device.
      const blkaddr = unit === 8 ? u32le(entry, 4, "erofs chunk blkaddr") : u32le(entry, 0, "erofs block map entry");
      if (blkaddr !== NULL_ADDR) out.set(this.read(blkaddr * this.blockSize + within, n), pos - offset); // else a hole: zeros
      pos += n;
    }
    return out;
  }

  // ---- directories ----

  private dirBlockCount(dir: Inode): number {
    if (dir.size > MAX_DIR_BYTES) throw this.error("LIMIT", `directory inode ${dir.nid} is ${dir.size} bytes`);
    return Math.ceil(dir.size / this.blockSize);
  }

  /** One directory block, parsed: dirents {nid u64, nameoff u16, file_type u8, reserved u8}, then the names. */
  private dirBlock(dir: Inode, index: number): Dirent[] {
    const key = `${dir.nid}:${index}`;
    const cached = this.dirBlocks.get(key);
    if (cached) return cached;
    const entries = this.parseDirBlock(dir, index);
    if (this.dirBlocks.size >= 64) this.dirBlocks.delete(this.dirBlocks.keys().next().value as string);
    this.dirBlocks.set(key, entries);
    return entries;
  }

  private parseDirBlock(dir: Inode, index: number): Dirent[] {
    const start = index * this.blockSize;
    const block = this.data(dir, start, Math.min(this.blockSize, dir.size - start));
    const where = `directory inode ${dir.nid} block ${index}`;
    const first = u16le(block, 8, "erofs dirent nameoff");
    if (first < DIRENT_SIZE || first >= block.length || first % DIRENT_SIZE !== 0)
      throw this.error("CORRUPT", `${where}: bad first name offset ${first}`);
    const count = first / DIRENT_SIZE;
    const entries: Dirent[] = [];
    for (let i = 0; i < count; i++) {
      const off = i * DIRENT_SIZE;
      const nameoff = u16le(block, off + 8, "erofs dirent nameoff");
      const next = i + 1 < count ? u16le(block, off + DIRENT_SIZE + 8, "erofs dirent nameoff") : block.length;
      if (nameoff < first || next <= nameoff || next > block.length)
        throw this.error("CORRUPT", `${where}: bad name offsets ${nameoff}..${next} of entry ${i}`);
      let name = bytesAt(block, nameoff, next - nameoff, "erofs dirent name");
      // Only the last name can be followed by padding up to the end of the block.
      if (i + 1 === count) {
        const nul = name.indexOf(0);
        if (nul >= 0) name = name.subarray(0, nul);
      }
      if (name.length < 1 || name.length > NAME_LEN)
        throw this.error("CORRUPT", `${where}: entry ${i} has a name of ${name.length} bytes`);
      entries.push({
        nid: u64le(block, off, "erofs dirent nid"),
        type: u8(block, off + 10, "erofs dirent file_type"),
        name,
      });
    }
    return entries;
  }

  /** Binary search over blocks, then within the block: names are sorted across the directory. */
  private lookup(dir: Inode, name: string): number | undefined {
    const key = `${dir.nid}/${name}`;
    const cached = this.lookups.get(key);
    if (cached !== undefined) return cached ?? undefined;
    const want = new TextEncoder().encode(name);
    let found: number | undefined;
    let lo = 0;
    let hi = this.dirBlockCount(dir) - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const entries = this.dirBlock(dir, mid);
      if (compareBytes(want, (entries[0] as Dirent).name) < 0) hi = mid - 1;
      else if (compareBytes(want, (entries[entries.length - 1] as Dirent).name) > 0) lo = mid + 1;
      else {
        found = entries.find((e) => compareBytes(e.name, want) === 0)?.nid;
        break;
      }
    }
    if (this.lookups.size >= 4096) this.lookups.clear();
    this.lookups.set(key, found ?? null);
    return found;
  }

  /** The inode at a physical path, or undefined if a component is missing or not a directory. */
  private walk(path: string): Inode | undefined {
    const known = this.paths.get(path);
    if (known !== undefined) return known ?? undefined;
    const parts = path.split("/").filter((c) => c !== "");
    if (parts.length > MAX_PATH_DEPTH) throw this.error("LIMIT", `path '${path}' is too deep`);
    // The resolver lstat()s every prefix of a path in turn: with the parent known, one step, so a
    // path of depth d costs d lookups, not d²/2.
    const cut = path.lastIndexOf("/");
    const parent = cut > 0 ? this.paths.get(path.slice(0, cut)) : undefined;
    let node: Inode | undefined = parent === undefined ? this.inode(this.rootNid) : (parent ?? undefined);
    for (const part of parent === undefined ? parts : parts.slice(-1)) {
      if (node?.kind !== "dir" || part === "." || part === "..") {
        node = undefined;
        break;
      }
      const nid = this.lookup(node, part);
      node = nid === undefined ? undefined : this.inode(nid);
    }
    if (this.paths.size >= 4096) this.paths.clear();
    this.paths.set(path, node ?? null);
    return node;
  }

  private need(path: string, kind: EntryKind): Inode {
    const node = this.walk(path);
    if (!node) throw this.error("NOT_FOUND", `'${path}' does not exist`);
    if (node.kind !== kind)
      throw this.error(
        kind === "file" ? "CORRUPT" : "NOT_FOUND",
        `'${path}' is not a ${kind === "dir" ? "directory" : kind === "file" ? "regular file" : "symlink"}`,
      );
    return node;
  }

  // ---- FileSystem ----

  lstat(path: string): Stat | undefined {
    const node = this.walk(path);
    return node && { kind: node.kind, size: node.kind === "dir" ? 0 : node.size, mode: node.mode };
  }

  readdir(path: string): DirEntry[] {
    const dir = this.need(path, "dir");
    const out: DirEntry[] = [];
    const blocks = this.dirBlockCount(dir);
    for (let b = 0; b < blocks; b++) {
      for (const e of this.dirBlock(dir, b)) {
        const name = text(e.name);
        if (name === "." || name === "..") continue;
        if (out.length >= MAX_DIR_ENTRIES)
          throw this.error("LIMIT", `directory '${path}' has more than ${MAX_DIR_ENTRIES} entries`);
        out.push({ name, kind: kindOfDirentType(e.type) ?? this.inode(e.nid).kind });
      }
    }
    return out;
  }

  readlink(path: string): string {
    const link = this.need(path, "symlink");
    if (link.size > MAX_SYMLINK_BYTES) throw this.error("LIMIT", `symlink '${path}' target is ${link.size} bytes`);
    if (link.size === 0) throw this.error("CORRUPT", `symlink '${path}' has an empty target`);
    return text(this.data(link, 0, link.size));
  }

  readFile(path: string, maxBytes: number): Uint8Array {
    const file = this.need(path, "file");
    if (file.size > maxBytes) throw this.error("LIMIT", `'${path}' is larger than ${maxBytes} bytes (${file.size})`);
    return this.data(file, 0, file.size);
  }
}

/** Opens the erofs file system in `source` (superblock at 1024). Reads only the superblock and root inode now. */
export function openErofs(source: ByteSource): FileSystem {
  return new Erofs(source);
}
