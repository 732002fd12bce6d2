// squashfs 4.0 reader: https://dr-emann.github.io/squashfs/squashfs.html (the community spec of
// the on-disk format), checked against the Linux driver (fs/squashfs/) and squashfs-tools 4.5.1.
//
// Supported: every compressor the Linux driver reads — gzip (a zlib stream, decompress/inflate.ts), xz,
// lzo, lz4, zstd — and uncompressed metadata/data/fragments (-noI -noD -noF); basic and extended
// inodes of every type (devices, fifos and sockets are reported as "other"); directory indexes (to
// jump into large directories); fragments and tail ends; sparse blocks. Ignored: xattrs, uid/gid
// (id table), the export table, hard-link counts. Refused: other versions (UNSUPPORTED), legacy
// lzma (id 2, which the kernel cannot read either; only refused when a compressed block is met, so
// a fully uncompressed image still opens), lz4 option versions other than the legacy one.
//
// Only what a lookup needs is read: the superblock, the metadata blocks on the path (kept in a
// small LRU), and the data blocks of the file asked for. Parsed inodes and the listings of
// directories just read are cached too, so readdir() followed by lstat() of every entry stays
// linear. Every offset from the image is checked against the table it belongs to; metadata
// cursors only move forward, so no chain can loop.
import { chargeDecompressed } from "./budget.ts";
import type { ByteSource } from "./byte-source.ts";
import { u16le, u32le, u64le } from "./bytes.ts";
import { lz4DecompressBlock } from "./decompress/lz4.ts";
import { zlibInflate } from "./decompress/inflate.ts";
import { lzo1xDecompress } from "./decompress/lzo.ts";
import { xzDecompress } from "./decompress/xz.ts";
import { zstdDecompress } from "./decompress/zstd.ts";
import { MAX_DIR_ENTRIES, MAX_PATH_DEPTH, MAX_SYMLINK_BYTES } from "./limits.ts";
import { ImageError, type DirEntry, type EntryKind, type FileSystem, type Stat } from "./types.ts";

const FORMAT = "squashfs";
const SUPERBLOCK_SIZE = 96;
const MAGIC = 0x73717368; // "hsqs"
const METADATA_SIZE = 8192;
const METADATA_UNCOMPRESSED = 0x8000;
const DATA_UNCOMPRESSED = 1 << 24;
const NO_FRAGMENT = 0xffffffff;
const FLAG_COMPRESSOR_OPTIONS = 0x0400;
const FRAGMENT_ENTRY_SIZE = 16;
const DIR_HEADER_SIZE = 12;
const DIR_ENTRY_SIZE = 8;
/** Entries per directory header and bytes per name (SQUASHFS_DIR_COUNT, SQUASHFS_NAME_LEN). */
const DIR_COUNT_MAX = 256;
const NAME_MAX = 256;
/** Decoded metadata blocks kept: 64 × 8 KiB covers the inode and directory blocks of many lookups. */
const METADATA_CACHE_BLOCKS = 64;
/** The tables are read in one go (ByteSource.prefetch) when they take at most this many bytes. */
const METADATA_PREFETCH_MAX = 1 << 20;
/** Decoded fragment blocks kept: small files (units, os-release) usually share one. */
const FRAGMENT_CACHE_BLOCKS = 4;
/** Parsed inodes kept: every lookup walks the same few directories from the root. */
const INODE_CACHE_ENTRIES = 256;
/**
 * Listings kept after readdir(), so the lstat()/readFile() of each listed entry that follows is a
 * map lookup instead of a scan. Only listings up to LISTING_CACHE_MAX_ENTRIES entries are kept.
 */
const LISTING_CACHE_DIRS = 8;
const LISTING_CACHE_MAX_ENTRIES = 4096;
/** Single-name lookups remembered (found or not), for directories not listed. */
const LOOKUP_CACHE_ENTRIES = 1024;
/** Paths resolved (found or not): every lstat() of a path follows the lstat() of its parent. Longer paths are not kept. */
const PATH_CACHE_ENTRIES = 1024;
const PATH_CACHE_MAX_LENGTH = 1024;

const COMPRESSORS: Record<number, string> = { 1: "gzip", 2: "lzma", 3: "lzo", 4: "xz", 5: "lz4", 6: "zstd" };

/** A table's extent: metadata blocks of that table must start and end inside it. */
interface Region {
  name: string;
  start: number;
  end: number;
}

interface MetaBlock {
  data: Uint8Array;
  /** Absolute offset of the next metadata block. */
  next: number;
}

/** A position in a metadata table: absolute block offset plus offset in its decoded bytes. */
interface MetaPos {
  block: number;
  offset: number;
}

/** A position that take() moves forward: one object per walk instead of one per read. */
class Cursor {
  block: number;
  offset: number;
  constructor(from: MetaPos) {
    this.block = from.block;
    this.offset = from.offset;
  }
  /** Where the cursor is now, as a position to keep. */
  pos(): MetaPos {
    return { block: this.block, offset: this.offset };
  }
}

interface BaseInode {
  mode: number;
}
interface DirInode extends BaseInode {
  kind: "dir";
  /** Listing start in the directory table and its length (file_size − 3). */
  listing: MetaPos;
  listingSize: number;
  /** Extended directories: number of index entries and where they start in the inode table. */
  indexCount: number;
  indexPos: MetaPos;
  /** Identifies the listing, for the listing and lookup caches. */
  key: string;
}
interface FileInode extends BaseInode {
  kind: "file";
  size: number;
  blocksStart: number;
  fragment: number;
  fragmentOffset: number;
  /** Where the block-size list starts in the inode table. */
  blockList: MetaPos;
}
interface SymlinkInode extends BaseInode {
  kind: "symlink";
  targetSize: number;
  target: MetaPos;
}
interface OtherInode extends BaseInode {
  kind: "other";
}
type Inode = DirInode | FileInode | SymlinkInode | OtherInode;

interface RawEntry {
  name: Uint8Array;
  type: number;
  inodeBlock: number;
  inodeOffset: number;
}

/**
 * A bounded cache that keeps what was used recently, in two generations: new and used entries go
 * into `young`; when it is half full it becomes `old` and the previous old is dropped. A hit in
 * old moves up. Holds at most `max` entries, like an LRU, but a hit is one Map lookup: an LRU on a
 * Map's insertion order deletes and re-inserts on every hit, which showed in profiles.
 */
class Cache<K, V> {
  private young = new Map<K, V>();
  private old: Map<K, V> | undefined;
  constructor(private readonly max: number) {}
  get(key: K): V | undefined {
    const v = this.young.get(key);
    if (v !== undefined || this.old === undefined) return v;
    const o = this.old.get(key);
    if (o !== undefined) this.set(key, o);
    return o;
  }
  set(key: K, value: V): void {
    this.young.set(key, value);
    if (this.young.size >= this.max / 2) {
      this.old = this.young;
      this.young = new Map();
    }
  }
}

const utf8 = new TextDecoder("utf-8", { fatal: false });
const encoder = new TextEncoder();

/** A name or link target as a string: ASCII without a TextDecoder call (which costs more than a short name), else UTF-8 with U+FFFD for bad bytes. */
function decodeUtf8(bytes: Uint8Array): string {
  for (let i = 0; i < bytes.length; i++) if ((bytes[i] as number) >= 0x80) return utf8.decode(bytes);
  return String.fromCharCode.apply(null, bytes as unknown as number[]);
}

/** A name's UTF-8 bytes, ASCII likewise without a TextEncoder call. */
function encodeUtf8(name: string): Uint8Array {
  const out = new Uint8Array(name.length);
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    if (c >= 0x80) return encoder.encode(name);
    out[i] = c;
  }
  return out;
}

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return (a[i] as number) - (b[i] as number);
  return a.length - b.length;
}

/** The kind of an inode or directory entry type, or undefined for a type squashfs does not define. */
function kindOfType(type: number): EntryKind | undefined {
  switch (type) {
    case 1:
    case 8:
      return "dir";
    case 2:
    case 9:
      return "file";
    case 3:
    case 10:
      return "symlink";
    case 4:
    case 5:
    case 6:
    case 7:
    case 11:
    case 12:
    case 13:
    case 14:
      return "other";
    default:
      return undefined;
  }
}

/** A u64 table start that may be 0xFFFFFFFFFFFFFFFF ("absent"). */
function optionalStart(sb: Uint8Array, off: number, field: string): number | undefined {
  if (u32le(sb, off, field) === 0xffffffff && u32le(sb, off + 4, field) === 0xffffffff) return undefined;
  return u64le(sb, off, field);
}

class Squashfs implements FileSystem {
  readonly fsType: string;
  private readonly blockSize: number;
  private readonly compression: number;
  private readonly bytesUsed: number;
  private readonly fragmentCount: number;
  private readonly fragmentTableStart: number;
  private readonly rootRef: MetaPos;
  private readonly inodes: Region;
  private readonly directories: Region;
  private readonly fragments: Region;
  private readonly metaCache = new Cache<number, MetaBlock>(METADATA_CACHE_BLOCKS);
  private prefetched = false;
  private readonly fragmentCache = new Cache<number, Uint8Array>(FRAGMENT_CACHE_BLOCKS);
  /** Keyed by the inode's position: block offset from the table start × 2^16 + offset (< 2^48). */
  private readonly inodeCache = new Cache<number, Inode>(INODE_CACHE_ENTRIES);
  private readonly listingCache = new Cache<string, Map<string, RawEntry>>(LISTING_CACHE_DIRS);
  private readonly lookupCache = new Cache<string, RawEntry | null>(LOOKUP_CACHE_ENTRIES);
  /** Physical path → inode (null: absent), so a path costs one lookup in its parent's listing. */
  private readonly pathCache = new Cache<string, Inode | null>(PATH_CACHE_ENTRIES);

  constructor(private readonly source: ByteSource) {
    const name = source.name;
    if (source.size < SUPERBLOCK_SIZE)
      throw new ImageError("TRUNCATED", `${name}: too small for a squashfs superblock`, FORMAT, 0);
    const sb = source.read(0, SUPERBLOCK_SIZE);
    if (u32le(sb, 0, "s_magic") !== MAGIC) throw new ImageError("BAD_MAGIC", `${name}: no squashfs magic`, FORMAT, 0);
    const major = u16le(sb, 28, "s_major");
    const minor = u16le(sb, 30, "s_minor");
    if (major !== 4 || minor !== 0)
      throw new ImageError(
        "UNSUPPORTED",
        `${name}: squashfs version ${major}.${minor} is not supported (only 4.0)`,
        FORMAT,
        28,
      );

    this.blockSize = u32le(sb, 12, "block_size");
    const blockLog = u16le(sb, 22, "block_log");
    if (this.blockSize < 4096 || this.blockSize > 1 << 20 || (this.blockSize & (this.blockSize - 1)) !== 0)
      throw this.corrupt(`block size ${this.blockSize} is not a power of two between 4 KiB and 1 MiB`, 12);
    if (1 << blockLog !== this.blockSize)
      throw this.corrupt(`block_log ${blockLog} does not match block size ${this.blockSize}`, 22);

    this.compression = u16le(sb, 20, "compression_id");
    const compressor = COMPRESSORS[this.compression];
    if (compressor === undefined)
      throw new ImageError("UNSUPPORTED", `${name}: unknown squashfs compressor id ${this.compression}`, FORMAT, 20);
    this.fsType = `squashfs (${compressor})`;

    this.bytesUsed = u64le(sb, 40, "bytes_used");
    if (this.bytesUsed > source.size)
      throw new ImageError(
        "TRUNCATED",
        `${name}: squashfs claims ${this.bytesUsed} bytes, image has ${source.size}`,
        FORMAT,
        40,
      );
    if (this.bytesUsed < SUPERBLOCK_SIZE)
      throw this.corrupt(`bytes_used ${this.bytesUsed} is smaller than the superblock`, 40);
    const inodeStart = u64le(sb, 64, "inode_table_start");
    const dirStart = u64le(sb, 72, "directory_table_start");
    if (inodeStart < SUPERBLOCK_SIZE || inodeStart >= dirStart || dirStart > this.bytesUsed)
      throw this.corrupt(
        `inode table at ${inodeStart} and directory table at ${dirStart} are not in order inside ${this.bytesUsed} bytes`,
        64,
      );
    for (const [off, field] of [
      [48, "id_table_start"],
      [56, "xattr_id_table_start"],
      [88, "export_table_start"],
    ] as const) {
      const start = optionalStart(sb, off, field);
      if (start !== undefined && (start < dirStart || start > this.bytesUsed))
        throw this.corrupt(`${field} ${start} is outside the image`, off);
    }

    this.fragmentCount = u32le(sb, 16, "fragment_entry_count");
    const fragStart = optionalStart(sb, 80, "fragment_table_start");
    if (this.fragmentCount > 0) {
      const indexBytes = Math.ceil(this.fragmentCount / (METADATA_SIZE / FRAGMENT_ENTRY_SIZE)) * 8;
      if (fragStart === undefined || fragStart < dirStart || fragStart + indexBytes > this.bytesUsed)
        throw this.corrupt(`fragment table for ${this.fragmentCount} entries does not fit at ${fragStart}`, 80);
    }
    this.fragmentTableStart = fragStart ?? this.bytesUsed;

    // Metadata blocks of each table lie between its start and the next table's start.
    this.inodes = { name: "inode table", start: inodeStart, end: dirStart };
    this.directories = { name: "directory table", start: dirStart, end: this.bytesUsed };
    this.fragments = { name: "fragment table", start: dirStart, end: this.fragmentTableStart };

    const root = u64le(sb, 32, "root_inode_ref");
    this.rootRef = { block: inodeStart + Math.floor(root / 0x10000), offset: root % 0x10000 };

    if (u16le(sb, 24, "flags") & FLAG_COMPRESSOR_OPTIONS && this.compression === 5) {
      // lz4 options: version 1 is the legacy format the kernel reads; anything else it refuses.
      const opts = this.take(
        { name: "compressor options", start: SUPERBLOCK_SIZE, end: inodeStart },
        new Cursor({ block: SUPERBLOCK_SIZE, offset: 0 }),
        8,
        "lz4 options",
      );
      const version = u32le(opts, 0, "lz4 version");
      if (version !== 1)
        throw new ImageError(
          "UNSUPPORTED",
          `${name}: squashfs lz4 options version ${version} is not supported`,
          FORMAT,
          SUPERBLOCK_SIZE,
        );
    }
  }

  /** Every CORRUPT error names the image, so a log line says which one to look at. */
  private corrupt(message: string, offset?: number): ImageError {
    return new ImageError("CORRUPT", `${this.source.name}: invalid squashfs: ${message}`, FORMAT, offset);
  }

  private kind(type: number, at: number): EntryKind {
    const kind = kindOfType(type);
    if (kind === undefined) throw this.corrupt(`unknown inode type ${type}`, at);
    return kind;
  }

  // --- decompression -------------------------------------------------------------------------

  /** Decodes one compressed block (metadata, data or fragment) of at most `max` bytes. */
  private decompress(data: Uint8Array, max: number, what: string, at: number): Uint8Array {
    const out = this.decode(data, max, what, at);
    chargeDecompressed(out.length);
    return out;
  }

  private decode(data: Uint8Array, max: number, what: string, at: number): Uint8Array {
    const name = COMPRESSORS[this.compression] as string;
    try {
      switch (this.compression) {
        case 1:
          return zlibInflate(data, max);
        case 3: {
          const dst = new Uint8Array(max);
          return dst.subarray(0, lzo1xDecompress(data, dst));
        }
        case 4:
          return xzDecompress(data, max);
        case 5: {
          // One spare byte: a block that fills it decodes to more than it may.
          const dst = new Uint8Array(max + 1);
          const n = lz4DecompressBlock(data, dst);
          if (n > max) throw new ImageError("LIMIT", `decodes to more than ${max} bytes`, "lz4");
          return dst.subarray(0, n);
        }
        case 6:
          return zstdDecompress(data, max);
        default:
          throw new ImageError(
            "UNSUPPORTED",
            `squashfs compressor '${name}' (id ${this.compression}) is not supported`,
            FORMAT,
            at,
          );
      }
    } catch (e) {
      if (e instanceof ImageError && e.code === "UNSUPPORTED")
        throw new ImageError("UNSUPPORTED", `${this.source.name}: ${e.message}`, FORMAT, at);
      // Inside squashfs every block has a known maximum size, so overflowing it is corruption too.
      const reason = e instanceof Error ? e.message : String(e);
      throw new ImageError(
        "CORRUPT",
        `${this.source.name}: cannot decompress squashfs ${what} at offset ${at} (${name}): ${reason}`,
        FORMAT,
        at,
      );
    }
  }

  // --- metadata ------------------------------------------------------------------------------

  private metaBlock(region: Region, at: number): MetaBlock {
    if (at < region.start || at + 2 > region.end)
      throw this.corrupt(`${region.name} block at ${at} is outside ${region.start}..${region.end}`, at);
    let block = this.metaCache.get(at);
    if (block === undefined) {
      if (!this.prefetched) {
        // All the tables lie between the inode table and bytes_used, at the end of the image:
        // one read for all of them instead of one per block touched (each a seek on a cold disk).
        this.prefetched = true;
        const length = this.bytesUsed - this.inodes.start;
        if (length <= METADATA_PREFETCH_MAX) this.source.prefetch?.(this.inodes.start, length);
      }
      const header = u16le(this.source.read(at, 2), 0, "metadata block header");
      const size = header & ~METADATA_UNCOMPRESSED;
      if (size === 0 || size > METADATA_SIZE) throw this.corrupt(`${region.name} block at ${at} has size ${size}`, at);
      if (at + 2 + size > region.end)
        throw this.corrupt(`${region.name} block at ${at} runs past the table end ${region.end}`, at);
      const raw = this.source.read(at + 2, size);
      const data =
        header & METADATA_UNCOMPRESSED ? raw : this.decompress(raw, METADATA_SIZE, `${region.name} block`, at);
      if (data.length === 0) throw this.corrupt(`${region.name} block at ${at} is empty`, at);
      block = { data, next: at + 2 + size };
      this.metaCache.set(at, block);
    }
    if (block.next > region.end)
      throw this.corrupt(`${region.name} block at ${at} runs past the table end ${region.end}`, at);
    return block;
  }

  /**
   * Reads `length` bytes at the cursor and moves it past them, continuing into following blocks
   * (inodes and directory entries straddle block boundaries). Each step moves to a later block, so
   * the walk ends at the region end at the latest. `what` names the read in errors (a function:
   * built only then).
   */
  private take(region: Region, cur: Cursor, length: number, what: string | (() => string)): Uint8Array {
    // Nothing to read (an empty block list or symlink target) may sit right at the table end.
    if (length === 0) return new Uint8Array(0);
    let at = cur.block;
    let offset = cur.offset;
    let meta = this.metaBlock(region, at);
    if (offset >= meta.data.length) {
      // An offset exactly at the end of a block is the start of the next one (a previous read
      // ended there); beyond that is bad.
      if (offset > meta.data.length)
        throw this.corrupt(
          `${typeof what === "string" ? what : what()}: offset ${offset} beyond the ${meta.data.length}-byte ${region.name} block at ${at}`,
          at,
        );
      at = meta.next;
      offset = 0;
      meta = this.metaBlock(region, at);
    }
    if (offset + length <= meta.data.length) {
      cur.block = at;
      cur.offset = offset + length;
      return meta.data.subarray(offset, offset + length);
    }
    const bytes = new Uint8Array(length);
    let filled = 0;
    for (;;) {
      const n = Math.min(length - filled, meta.data.length - offset);
      bytes.set(meta.data.subarray(offset, offset + n), filled);
      filled += n;
      offset += n;
      if (filled === length) {
        cur.block = at;
        cur.offset = offset;
        return bytes;
      }
      at = meta.next;
      offset = 0;
      meta = this.metaBlock(region, at);
    }
  }

  // --- inodes --------------------------------------------------------------------------------

  private inode(ref: MetaPos): Inode {
    // Blocks are at most 2^32 bytes into the table (a u32 in directory headers), offsets < 2^16.
    const key = (ref.block - this.inodes.start) * 0x10000 + ref.offset;
    let node = this.inodeCache.get(key);
    if (node === undefined) {
      node = this.parseInode(ref);
      this.inodeCache.set(key, node);
    }
    return node;
  }

  private parseInode(ref: MetaPos): Inode {
    const at = ref.block;
    const cur = new Cursor(ref);
    const what = (): string => `inode at ${ref.block}+${ref.offset}`;
    const read = (n: number): Uint8Array => this.take(this.inodes, cur, n, what);
    const head = read(16);
    const type = u16le(head, 0, "inode_type");
    const mode = u16le(head, 2, "permissions") & 0o7777;
    const kind = this.kind(type, at);
    switch (type) {
      case 1: {
        const b = read(16);
        const fileSize = u16le(b, 8, "dir file_size");
        return this.dirInode(
          mode,
          u32le(b, 0, "dir block_index"),
          u16le(b, 10, "dir block_offset"),
          fileSize,
          0,
          cur.pos(),
          at,
        );
      }
      case 8: {
        const b = read(24);
        return this.dirInode(
          mode,
          u32le(b, 8, "xdir block_index"),
          u16le(b, 18, "xdir block_offset"),
          u32le(b, 4, "xdir file_size"),
          u16le(b, 16, "xdir index_count"),
          cur.pos(),
          at,
        );
      }
      case 2: {
        const b = read(16);
        return {
          kind: "file",
          mode,
          blocksStart: u32le(b, 0, "blocks_start"),
          fragment: u32le(b, 4, "fragment_block_index"),
          fragmentOffset: u32le(b, 8, "block_offset"),
          size: u32le(b, 12, "file_size"),
          blockList: cur.pos(),
        };
      }
      case 9: {
        const b = read(40);
        return {
          kind: "file",
          mode,
          blocksStart: u64le(b, 0, "xfile blocks_start"),
          size: u64le(b, 8, "xfile file_size"),
          fragment: u32le(b, 28, "xfile fragment_block_index"),
          fragmentOffset: u32le(b, 32, "xfile block_offset"),
          blockList: cur.pos(),
        };
      }
      case 3:
      case 10: {
        const b = read(8);
        return { kind: "symlink", mode, targetSize: u32le(b, 4, "target_size"), target: cur.pos() };
      }
      default:
        return { kind: kind as "other", mode };
    }
  }

  private dirInode(
    mode: number,
    blockIndex: number,
    blockOffset: number,
    fileSize: number,
    indexCount: number,
    indexPos: MetaPos,
    at: number,
  ): DirInode {
    // file_size counts 3 bytes for the "." and ".." entries squashfs does not store.
    if (fileSize < 3) throw this.corrupt(`directory inode with file_size ${fileSize}`, at);
    if (blockOffset >= METADATA_SIZE) throw this.corrupt(`directory inode with block_offset ${blockOffset}`, at);
    // Every metadata block takes at least 3 bytes on disk and decodes to at most 8 KiB, which
    // bounds what a listing can hold; a file_size beyond that is a lie we need not walk into.
    const tableBytes = this.directories.end - this.directories.start;
    if (fileSize - 3 > (tableBytes * METADATA_SIZE) / 3)
      throw this.corrupt(`directory listing of ${fileSize - 3} bytes in a ${tableBytes}-byte directory table`, at);
    // One index entry per directory metadata block the listing crosses.
    if (indexCount > Math.ceil((fileSize - 3) / METADATA_SIZE) + 1)
      throw this.corrupt(`directory index with ${indexCount} entries for a ${fileSize - 3}-byte listing`, at);
    const block = this.directories.start + blockIndex;
    return {
      kind: "dir",
      mode,
      listing: { block, offset: blockOffset },
      listingSize: fileSize - 3,
      indexCount,
      indexPos,
      key: `${block}+${blockOffset}+${fileSize - 3}`,
    };
  }

  // --- directories ---------------------------------------------------------------------------

  /**
   * Directory entries from `from` (the listing start, or a point the directory index jumped to,
   * with `consumed` listing bytes already behind it) to the end of the listing.
   */
  private *entries(dir: DirInode, from: MetaPos = dir.listing, consumed = 0): Generator<RawEntry> {
    const pos = new Cursor(from);
    let left = dir.listingSize - consumed;
    // Compressed metadata can pack millions of entries into a small image; lookups and listings
    // alike stop at the same cap readdir() applies.
    let seen = 0;
    const read = (n: number, what: string): Uint8Array => {
      if (n > left) throw this.corrupt(`${what} runs past the listing end`, pos.block);
      left -= n;
      return this.take(this.directories, pos, n, what);
    };
    while (left > 0) {
      const h = read(DIR_HEADER_SIZE, "directory header");
      const count = u32le(h, 0, "dir header count") + 1;
      if (count > DIR_COUNT_MAX)
        throw this.corrupt(`directory header with ${count} entries (at most ${DIR_COUNT_MAX})`, pos.block);
      const inodeBlock = u32le(h, 4, "dir header start");
      for (let i = 0; i < count; i++) {
        if (++seen > MAX_DIR_ENTRIES)
          throw new ImageError(
            "LIMIT",
            `${this.source.name}: directory at ${dir.listing.block} has more than ${MAX_DIR_ENTRIES} entries`,
            FORMAT,
          );
        const e = read(DIR_ENTRY_SIZE, "directory entry");
        const nameSize = u16le(e, 6, "dir entry name_size") + 1;
        if (nameSize > NAME_MAX) throw this.corrupt(`directory entry name of ${nameSize} bytes`, pos.block);
        const name = read(nameSize, "directory entry name");
        if (
          name.includes(0x2f) ||
          name.includes(0) ||
          (name[0] === 0x2e && (nameSize === 1 || (nameSize === 2 && name[1] === 0x2e)))
        ) {
          throw this.corrupt(`directory entry with invalid name '${decodeUtf8(name)}'`, pos.block);
        }
        yield { name, type: u16le(e, 4, "dir entry type"), inodeBlock, inodeOffset: u16le(e, 0, "dir entry offset") };
      }
    }
  }

  /**
   * Where to start scanning for `name`: extended directories carry an index with the first name
   * of each directory metadata block, so a lookup in a big directory reads one or two blocks.
   */
  private scanStart(dir: DirInode, name: Uint8Array): { pos: MetaPos; consumed: number } {
    let best = { pos: dir.listing, consumed: 0 };
    const pos = new Cursor(dir.indexPos);
    for (let i = 0; i < dir.indexCount; i++) {
      const r = this.take(this.inodes, pos, 12, "directory index");
      const index = u32le(r, 0, "dir index index");
      const start = u32le(r, 4, "dir index start");
      const size = u32le(r, 8, "dir index name_size") + 1;
      if (size > NAME_MAX) throw this.corrupt(`directory index name of ${size} bytes`, pos.block);
      const n = this.take(this.inodes, pos, size, "directory index name");
      if (compareBytes(n, name) > 0) break;
      // Offsets in the listing advance by whole decoded blocks, so block and offset follow from index.
      if (index < best.consumed || index > dir.listingSize)
        throw this.corrupt(`directory index entry ${i} points to listing byte ${index}`, pos.block);
      best = {
        pos: { block: this.directories.start + start, offset: (dir.listing.offset + index) % METADATA_SIZE },
        consumed: index,
      };
    }
    return best;
  }

  private lookup(dir: DirInode, name: string): RawEntry | undefined {
    const key = dir.key;
    // A listing that fits in a metadata block is read whole on the first lookup: most directories
    // on a path are asked for several names (/ for etc, run, usr and lib).
    const listed = this.listingCache.get(key) ?? (dir.listingSize <= METADATA_SIZE ? this.listing(dir) : undefined);
    if (listed) return listed.get(name);
    // resolve.ts lstat()s every prefix of a path, and a hostile image can make a directory contain
    // itself: remembering answers keeps that at one scan per distinct (directory, name).
    const lookupKey = `${key}/${name}`;
    const known = this.lookupCache.get(lookupKey);
    if (known !== undefined) return known ?? undefined;
    const found = this.scan(dir, name);
    this.lookupCache.set(lookupKey, found ?? null);
    return found;
  }

  /**
   * Name → entry (the first of duplicates) for a whole listing, kept in the listing cache; with
   * `out`, also every entry in listing order with its kind, for readdir().
   */
  private listing(dir: DirInode, out?: DirEntry[]): Map<string, RawEntry> {
    const byName = new Map<string, RawEntry>();
    let n = 0;
    for (const e of this.entries(dir)) {
      const name = decodeUtf8(e.name);
      out?.push({ name, kind: this.kind(e.type, dir.listing.block) });
      if (!byName.has(name)) byName.set(name, e);
      n++;
    }
    if (n <= LISTING_CACHE_MAX_ENTRIES) this.listingCache.set(dir.key, byName);
    return byName;
  }

  private scan(dir: DirInode, name: string): RawEntry | undefined {
    const want = encodeUtf8(name);
    const start = this.scanStart(dir, want);
    for (const e of this.entries(dir, start.pos, start.consumed)) {
      const c = compareBytes(e.name, want);
      if (c === 0) return e;
      // mksquashfs sorts entries by strcmp; past the name it cannot come any more.
      if (c > 0) return undefined;
    }
    return undefined;
  }

  private entryInode(e: RawEntry): Inode {
    return this.inode({ block: this.inodes.start + e.inodeBlock, offset: e.inodeOffset });
  }

  /**
   * The inode at a physical path, or undefined if a component is missing or not a directory.
   * Answers are kept by path: callers lstat() /usr, then /usr/lib, then /usr/lib/os-release, so a
   * walk starts from the longest prefix already known (usually the parent) and costs one lookup.
   */
  private find(path: string): Inode | undefined {
    const known = this.pathCache.get(path);
    if (known !== undefined) return known ?? undefined;
    // The usual case: the parent (everything before the last "/") is known. A name other than ""
    // and "." is then one more component, and a path this short cannot be too deep.
    const cut = path.lastIndexOf("/");
    if (cut >= 0 && path.length <= 2 * MAX_PATH_DEPTH) {
      const name = path.slice(cut + 1);
      const parent = name === "" || name === "." ? undefined : this.pathCache.get(cut === 0 ? "/" : path.slice(0, cut));
      if (parent !== undefined) {
        const e = parent?.kind === "dir" ? this.lookup(parent, name) : undefined;
        const node = e ? this.entryInode(e) : null;
        this.rememberPath(path, node);
        return node ?? undefined;
      }
    }
    const parts = path.split("/").filter((c) => c !== "" && c !== ".");
    if (parts.length > MAX_PATH_DEPTH)
      throw new ImageError("LIMIT", `Path '${path}' is too deep in ${this.source.name}`, FORMAT);
    const root = this.inode(this.rootRef);
    if (root.kind !== "dir") throw this.corrupt("root inode is not a directory", this.rootRef.block);
    // The prefix of i components is canonical.slice(0, ends[i]).
    const canonical = `/${parts.join("/")}`;
    const ends = [0];
    for (const part of parts) ends.push((ends[ends.length - 1] as number) + 1 + part.length);
    const prefix = (i: number): string => canonical.slice(0, ends[i]);
    let i = Math.max(parts.length - 1, 0);
    let cached: Inode | null | undefined;
    for (; i > 0; i--) {
      cached = this.pathCache.get(prefix(i));
      if (cached !== undefined) break;
    }
    if (cached === undefined) this.rememberPath("/", root);
    let node = cached === undefined ? root : cached;
    for (; node !== null && i < parts.length; i++) {
      const e = node.kind === "dir" ? this.lookup(node, parts[i] as string) : undefined;
      node = e ? this.entryInode(e) : null;
      this.rememberPath(prefix(i + 1), node);
    }
    this.rememberPath(path, node);
    return node ?? undefined;
  }

  private rememberPath(path: string, node: Inode | null): void {
    if (path.length <= PATH_CACHE_MAX_LENGTH) this.pathCache.set(path, node);
  }

  private mustFind(path: string, kind: EntryKind, what: string): Inode {
    const node = this.find(path);
    if (!node) throw new ImageError("NOT_FOUND", `'${path}' does not exist in ${this.source.name}`, FORMAT);
    if (node.kind !== kind)
      throw new ImageError(
        kind === "file" ? "CORRUPT" : "NOT_FOUND",
        `'${path}' in ${this.source.name} is not ${what}`,
        FORMAT,
      );
    return node;
  }

  // --- file data -----------------------------------------------------------------------------

  private fragmentBlock(index: number): Uint8Array {
    if (index >= this.fragmentCount) throw this.corrupt(`fragment ${index} of ${this.fragmentCount}`);
    const perBlock = METADATA_SIZE / FRAGMENT_ENTRY_SIZE;
    const ptrAt = this.fragmentTableStart + Math.floor(index / perBlock) * 8;
    const blockAt = u64le(this.source.read(ptrAt, 8), 0, "fragment table pointer");
    const entry = this.take(
      this.fragments,
      new Cursor({ block: blockAt, offset: (index % perBlock) * FRAGMENT_ENTRY_SIZE }),
      FRAGMENT_ENTRY_SIZE,
      () => `fragment entry ${index}`,
    );
    const start = u64le(entry, 0, "fragment start");
    const word = u32le(entry, 8, "fragment size");
    const cached = this.fragmentCache.get(start);
    if (cached) return cached;
    const data = this.dataBlock(start, word, this.blockSize, `fragment block ${index}`);
    this.fragmentCache.set(start, data);
    return data;
  }

  /** One data or fragment block: `word` is its on-disk size with bit 24 = stored uncompressed. */
  private dataBlock(at: number, word: number, max: number, what: string): Uint8Array {
    const size = word & (DATA_UNCOMPRESSED - 1);
    if (word >>> 25 !== 0 || size > this.blockSize)
      throw this.corrupt(`${what} has on-disk size word 0x${word.toString(16)}`, at);
    if (at + size > this.bytesUsed) throw this.corrupt(`${what} at ${at} (${size} bytes) is outside the image`, at);
    const raw = this.source.read(at, size);
    if (word & DATA_UNCOMPRESSED) return raw;
    return this.decompress(raw, max, what, at);
  }

  private fileData(path: string, file: FileInode, maxBytes: number): Uint8Array {
    if (file.size > maxBytes)
      throw new ImageError("LIMIT", `'${path}' in ${this.source.name} is larger than ${maxBytes} bytes`, FORMAT);
    const bs = this.blockSize;
    const hasFragment = file.fragment !== NO_FRAGMENT;
    const blocks = hasFragment ? Math.floor(file.size / bs) : Math.ceil(file.size / bs);
    const out = new Uint8Array(file.size);
    const sizes = this.take(this.inodes, new Cursor(file.blockList), blocks * 4, () => `block list of '${path}'`);
    let at = file.blocksStart;
    for (let i = 0; i < blocks; i++) {
      const word = u32le(sizes, i * 4, "block size");
      const expect = Math.min(bs, file.size - i * bs);
      if (word === 0) continue; // sparse: a block of zeros, nothing on disk
      const data = this.dataBlock(at, word, bs, `block ${i} of '${path}'`);
      if (data.length !== expect)
        throw this.corrupt(`block ${i} of '${path}' holds ${data.length} bytes, expected ${expect}`, at);
      out.set(data, i * bs);
      at += word & (DATA_UNCOMPRESSED - 1);
    }
    const tail = file.size - blocks * bs;
    if (hasFragment && tail > 0) {
      const frag = this.fragmentBlock(file.fragment);
      if (file.fragmentOffset + tail > frag.length)
        throw this.corrupt(
          `tail of '${path}' (${tail} bytes at ${file.fragmentOffset}) is outside its ${frag.length}-byte fragment`,
        );
      out.set(frag.subarray(file.fragmentOffset, file.fragmentOffset + tail), blocks * bs);
    }
    return out;
  }

  // --- FileSystem ----------------------------------------------------------------------------

  lstat(path: string): Stat | undefined {
    const node = this.find(path);
    if (!node) return undefined;
    const size = node.kind === "file" ? node.size : node.kind === "symlink" ? node.targetSize : 0;
    return { kind: node.kind, size, mode: node.mode };
  }

  readdir(path: string): DirEntry[] {
    const dir = this.mustFind(path, "dir", "a directory") as DirInode;
    const out: DirEntry[] = [];
    this.listing(dir, out);
    return out;
  }

  readlink(path: string): string {
    const link = this.mustFind(path, "symlink", "a symlink") as SymlinkInode;
    if (link.targetSize > MAX_SYMLINK_BYTES)
      throw new ImageError(
        "LIMIT",
        `Symlink '${path}' in ${this.source.name} is too long (${link.targetSize} bytes)`,
        FORMAT,
      );
    return decodeUtf8(this.take(this.inodes, new Cursor(link.target), link.targetSize, () => `target of '${path}'`));
  }

  readFile(path: string, maxBytes: number): Uint8Array {
    return this.fileData(path, this.mustFind(path, "file", "a regular file") as FileInode, maxBytes);
  }
}

/** Opens a squashfs 4.0 file system; reads and checks only the superblock until asked for paths. */
export function openSquashfs(source: ByteSource): FileSystem {
  return new Squashfs(source);
}
