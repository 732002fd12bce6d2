// Raw disk images (`*.raw`, or a block device): finds the file system(s) inside and mounts them, in
// user space, as systemd-dissect would: the root partition at /, the usr partition at /usr.
//
// Probing order, chosen to avoid false positives: a GPT ("EFI PART"
// at LBA 1 for 512- and 4096-byte sectors), then a naked file system by magic, then an MBR (whose
// 55 AA alone is weak evidence, so its entries are validated). Open-time work is a few KiB however
// large the image is: the GPT header and entry array, and each chosen file system's superblock.
// Refused with UNSUPPORTED: LUKS, btrfs, xfs, and any file system we have no reader for.
// A file system with dm-verity data is read only through its verified view (verity-setup.ts): the
// partition table and the magics used to find it are not covered by verity, the file system is.
import { closeSync, fstatSync, openSync, readFileSync, readSync, statSync } from "node:fs";
import { chargeRead } from "./budget.ts";
import { type ByteSource, checkRange, fileSource, inRange, sliceSource } from "./byte-source.ts";
import { openErofs } from "./erofs.ts";
import { openExt } from "./ext4.ts";
import { readGpt, readMbr, selectPartitions, type Selected } from "./partitions.ts";
import { openSquashfs } from "./squashfs.ts";
import { ImageError, type DirEntry, type FileSystem, type ImageTree, type Protection, type Stat } from "./types.ts";
import { hasSideFile, protect, readSideFile, type VerityInputs } from "./verity-setup.ts";
import type { Trust } from "./verity-trust.ts";

const MAGICS: Array<{ name: string; offset: number; bytes: number[]; open?: (s: ByteSource) => FileSystem }> = [
  { name: "squashfs", offset: 0, bytes: [0x68, 0x73, 0x71, 0x73], open: openSquashfs },
  { name: "erofs", offset: 1024, bytes: [0xe2, 0xe1, 0xf5, 0xe0], open: openErofs },
  { name: "ext2/3/4", offset: 1080, bytes: [0x53, 0xef], open: openExt },
  { name: "LUKS (encrypted)", offset: 0, bytes: [0x4c, 0x55, 0x4b, 0x53, 0xba, 0xbe] },
  { name: "xfs", offset: 0, bytes: [0x58, 0x46, 0x53, 0x42] },
  { name: "btrfs", offset: 65600, bytes: [0x5f, 0x42, 0x48, 0x52, 0x66, 0x53, 0x5f, 0x4d] },
];

function hasMagic(source: ByteSource, offset: number, bytes: number[]): boolean {
  if (offset + bytes.length > source.size) return false;
  const got = source.read(offset, bytes.length);
  return bytes.every((b, i) => got[i] === b);
}

/** The file system whose magic this source carries, or undefined. */
function probeFileSystem(source: ByteSource): (typeof MAGICS)[number] | undefined {
  return MAGICS.find((m) => hasMagic(source, m.offset, m.bytes));
}

function openFileSystem(source: ByteSource, what: string): FileSystem {
  const kind = probeFileSystem(source);
  if (!kind)
    throw new ImageError(
      "BAD_MAGIC",
      `${source.name}: ${what} holds no file system we know (squashfs, erofs, ext2/3/4)`,
    );
  if (!kind.open)
    throw new ImageError("UNSUPPORTED", `${source.name}: ${what} is ${kind.name}, which cannot be read`, kind.name);
  return kind.open(source);
}

/** Largest signature partition we read (systemd-repart writes 16 KiB of NUL-padded JSON). */
const MAX_SIG_PARTITION = 1 << 20;

interface Dissected {
  root?: FileSystem;
  usr?: FileSystem;
  description: string;
  protection: Protection;
  /** Side files opened (a naked image's .verity), closed with the image. */
  opened: Array<{ close(): void }>;
}

export interface OpenOptions {
  /** systemd architecture name (x86-64, arm64, …) used to pick GPT partitions. */
  architecture: string;
  /** Certificates for dm-verity signatures; without it, signatures are reported and not checked. */
  trust?: Trust;
}

/**
 * The root (and /usr) file systems of an image, plus the description of what was found. Every
 * read of a file system with dm-verity data goes through the verified view (verity-setup.ts).
 * `sidePrefix` is the image path without ".raw", for NAME.roothash & co.; undefined: no side files.
 */
function dissect(
  source: ByteSource,
  options: OpenOptions,
  imageName: string,
  sidePrefix: string | undefined,
): Dissected {
  const opened: Array<{ close(): void }> = [];
  const levels: Protection["level"][] = [];
  const details: string[] = [];
  const notes: string[] = [];
  const guard = (inputs: VerityInputs): ByteSource => {
    const p = protect(inputs, options.trust, imageName);
    levels.push(p.level);
    details.push(p.detail);
    notes.push(...p.notes);
    return p.source;
  };
  const side = (designator: "root" | "usr"): Pick<VerityInputs, "rootHashFile" | "p7sFile"> =>
    sidePrefix === undefined
      ? {}
      : { rootHashFile: `${sidePrefix}.${designator}hash`, p7sFile: `${sidePrefix}.${designator}hash.p7s` };
  const protection = (): Protection => ({
    level:
      levels.includes("unprotected") || levels.length === 0
        ? "unprotected"
        : levels.includes("verity")
          ? "verity"
          : "signed",
    details,
    notes,
    unchecked: notes.length > 0,
  });
  try {
    const gpt = readGpt(source);
    if (!gpt && probeFileSystem(source)) {
      let hash: VerityInputs["hash"];
      let sigJson: VerityInputs["sigJson"];
      if (sidePrefix !== undefined && hasSideFile(`${sidePrefix}.verity`)) {
        const h = chunkedSource(fileSource(`${sidePrefix}.verity`));
        opened.push(h);
        hash = { source: h, name: `${sidePrefix}.verity` };
      }
      const sigBytes =
        sidePrefix === undefined ? undefined : readSideFile(`${sidePrefix}.verity-sig`, MAX_SIG_PARTITION);
      if (sigBytes) sigJson = { bytes: sigBytes, name: `${sidePrefix}.verity-sig` };
      const data = guard({
        data: source,
        label: "image",
        ...side("root"),
        ...(hash && { hash }),
        ...(sigJson && { sigJson }),
      });
      const fs = openFileSystem(data, "the image");
      return { root: fs, description: fs.fsType, protection: protection(), opened };
    }
    const table = gpt ?? readMbr(source);
    if (!table) {
      throw new ImageError(
        "BAD_MAGIC",
        `${source.name}: neither a partition table (GPT, MBR) nor a file system we know (squashfs, erofs, ext2/3/4)`,
      );
    }
    const chosen = selectPartitions(table, options.architecture, source.name);
    const open = (p: Selected, designator: "root" | "usr"): FileSystem => {
      const hashPart = chosen.verity.find((v) => v.designator === `${designator}-verity`);
      const sigPart = chosen.verity.find((v) => v.designator === `${designator}-verity-sig`);
      const inputs: VerityInputs = {
        data: sliceSource(source, p.offset, p.size, `partition ${p.index} ${p.role}`),
        label: p.role,
        ...side(designator),
      };
      if (hashPart) {
        inputs.hash = {
          source: sliceSource(source, hashPart.offset, hashPart.size, `partition ${hashPart.index} ${hashPart.role}`),
          name: `partition ${hashPart.index} (${hashPart.role})`,
        };
        if (table.scheme === "gpt") inputs.uuids = { data: p.uuid, hash: hashPart.uuid };
      }
      if (sigPart)
        inputs.sigJson = {
          bytes: source.read(sigPart.offset, Math.min(sigPart.size, MAX_SIG_PARTITION)),
          name: `partition ${sigPart.index} (${sigPart.role})`,
        };
      return openFileSystem(guard(inputs), `partition ${p.index} (${p.role})`);
    };
    const root = chosen.root && open(chosen.root, "root");
    const usr = chosen.usr && open(chosen.usr, "usr");
    // e.g. "root-x86-64 (erofs)"; the label only when it says more than the role (A/B versions).
    const name = (p: Selected, fs: FileSystem): string =>
      `${p.role}${p.label && p.label !== p.role ? ` '${p.label}'` : ""} (${fs.fsType})`;
    const parts: string[] = [];
    if (chosen.root && root) parts.push(name(chosen.root, root));
    if (chosen.usr && usr) parts.push(name(chosen.usr, usr));
    for (const v of chosen.verity) parts.push(v.role);
    return {
      ...(root && { root }),
      ...(usr && { usr }),
      description: `${table.scheme}${table.sectorSize !== 512 ? ` (${table.sectorSize}-byte sectors)` : ""}: ${parts.join(", ")}`,
      protection: protection(),
      opened,
    };
  } catch (e) {
    for (const o of opened) o.close();
    throw e;
  }
}

const ROOT_DIR: Stat = { kind: "dir", size: 0, mode: 0o755 };

/**
 * The mount table: `root` at / (or an empty synthetic root for a usr-only image) and `usr` at /usr.
 * Paths are physical (types.ts), so a path under /usr never passes through a symlink named usr.
 */
class RawImage implements ImageTree {
  readonly type = "raw";
  constructor(
    readonly source: string,
    readonly description: string,
    readonly protection: Protection,
    private readonly root: FileSystem | undefined,
    private readonly usr: FileSystem | undefined,
    private readonly release: () => void,
  ) {}

  /** Which file system holds `path`, and the path inside it. */
  private route(path: string): { fs: FileSystem; path: string } | undefined {
    if (this.usr && (path === "/usr" || path.startsWith("/usr/"))) return { fs: this.usr, path: path.slice(4) || "/" };
    return this.root && { fs: this.root, path };
  }

  lstat(path: string): Stat | undefined {
    const r = this.route(path);
    if (r) return r.fs.lstat(r.path);
    return path === "/" ? ROOT_DIR : undefined;
  }

  readdir(path: string): DirEntry[] {
    const r = this.route(path);
    const entries = r ? r.fs.readdir(r.path) : [];
    if (path !== "/" || !this.usr) {
      if (!r) throw new ImageError("NOT_FOUND", `'${path}' does not exist in ${this.source}`);
      return entries;
    }
    // The usr partition is mounted over whatever / has at "usr" (usually an empty directory).
    return [...entries.filter((e) => e.name !== "usr"), { name: "usr", kind: "dir" }];
  }

  readlink(path: string): string {
    const r = this.route(path);
    if (!r) throw new ImageError("NOT_FOUND", `'${path}' does not exist in ${this.source}`);
    return r.fs.readlink(r.path);
  }

  readFile(path: string, maxBytes: number): Uint8Array {
    const r = this.route(path);
    if (!r) throw new ImageError("NOT_FOUND", `'${path}' does not exist in ${this.source}`);
    return r.fs.readFile(r.path, maxBytes);
  }

  close(): void {
    this.release();
  }
}

/**
 * A block device: fstat() says size 0, so the size comes from sysfs (in 512-byte units, whatever
 * the logical sector size). Reads are bounds-checked against that size like any other source.
 */
function deviceSource(path: string): ByteSource & { close(): void } {
  let fd: number | undefined;
  try {
    fd = openSync(path, "r");
    const rdev = Number(fstatSync(fd).rdev);
    const major = (rdev >> 8) & 0xfff;
    const minor = (rdev & 0xff) | ((rdev >> 12) & 0xfff00);
    const size = Number(readFileSync(`/sys/dev/block/${major}:${minor}/size`, "utf8").trim()) * 512;
    if (!Number.isSafeInteger(size) || size <= 0)
      throw new Error(`cannot determine the size of block device (${size})`);
    const name = path;
    return {
      name,
      size,
      read(offset, length) {
        checkRange({ name, size }, offset, length);
        if (fd === undefined) throw new ImageError("IO", `Image '${name}' is already closed`);
        chargeRead(length);
        const buf = Buffer.alloc(length);
        for (let n = 0; n < length; ) {
          const r = readSync(fd, buf, n, length - n, offset + n);
          if (r === 0)
            throw new ImageError("TRUNCATED", `${name} ended at offset ${offset + n}`, undefined, offset + n);
          n += r;
        }
        return new Uint8Array(buf.buffer, buf.byteOffset, length);
      },
      close() {
        if (fd !== undefined) closeSync(fd);
        fd = undefined;
      },
    };
  } catch (e) {
    if (fd !== undefined) closeSync(fd);
    throw new ImageError("IO", `Failed to open block device '${path}': ${(e as Error).message}`);
  }
}

const CHUNK = 64 * 1024;
const MAX_CHUNKS = 64;
/** Chunks one prefetch() may read: 1 MiB, a quarter of what is kept. */
const MAX_PREFETCH_CHUNKS = 16;

/**
 * Reads through aligned 64 KiB chunks, at most 4 MiB of them kept: probing (GPT at 512 and 4096,
 * each file system's magic) and a reader's superblock, inode and directory reads mostly fall in the
 * same few chunks, so a small image costs one pread() instead of dozens, and a large one a handful
 * however large it is. Results are shared, as ByteSource allows. Whatever fails through a chunk
 * (a range outside the image, an image that shrank) is retried as the plain read, so errors are the
 * underlying source's own. prefetch() reads the chunks of a range that are not held yet with one
 * read (a file system's metadata at the end of a big image: one cold seek instead of several).
 * Exported for tests.
 */
export function chunkedSource<S extends ByteSource>(source: S): S {
  const chunks = new Map<number, Uint8Array>();
  const keep = (index: number, c: Uint8Array): void => {
    if (chunks.size >= MAX_CHUNKS) chunks.delete(chunks.keys().next().value as number);
    chunks.set(index, c);
  };
  const chunk = (index: number): Uint8Array => {
    let c = chunks.get(index);
    if (c === undefined) {
      const start = index * CHUNK;
      c = source.read(start, Math.min(CHUNK, source.size - start));
      keep(index, c);
    }
    return c;
  };
  const prefetch = (offset: number, length: number): void => {
    if (length <= 0 || !inRange(source.size, offset, length)) return;
    let first = Math.floor(offset / CHUNK);
    let last = Math.floor((offset + length - 1) / CHUNK);
    while (first <= last && chunks.has(first)) first++;
    while (last >= first && chunks.has(last)) last--;
    if (first > last || last - first + 1 > MAX_PREFETCH_CHUNKS) return;
    const start = first * CHUNK;
    let bytes: Uint8Array;
    try {
      bytes = source.read(start, Math.min((last + 1) * CHUNK, source.size) - start);
    } catch {
      return;
    }
    for (let i = first; i <= last; i++)
      if (!chunks.has(i)) keep(i, bytes.subarray((i - first) * CHUNK, (i - first + 1) * CHUNK));
  };
  const read = (offset: number, length: number): Uint8Array => {
    const first = Math.floor(offset / CHUNK);
    const last = Math.floor((offset + Math.max(length, 1) - 1) / CHUNK);
    if (!inRange(source.size, offset, length) || last - first > 1) {
      return source.read(offset, length);
    }
    try {
      if (first === last) {
        const c = chunk(first);
        return c.subarray(offset - first * CHUNK, offset - first * CHUNK + length);
      }
      const a = chunk(first);
      const b = chunk(last);
      const out = new Uint8Array(length);
      const head = a.subarray(offset - first * CHUNK);
      out.set(head, 0);
      out.set(b.subarray(0, length - head.length), head.length);
      return out;
    } catch {
      return source.read(offset, length);
    }
  };
  return Object.assign(Object.create(source) as S, { read, prefetch });
}

function openSource(path: string): ByteSource & { close(): void } {
  let isDevice = false;
  try {
    isDevice = statSync(path).isBlockDevice();
  } catch {
    // fileSource() reports a missing or unreadable file with the right ImageError.
  }
  return chunkedSource(isDevice ? deviceSource(path) : fileSource(path));
}

/** Opens a raw disk image; the image file stays open until close(). Side files are looked up beside a regular file only. */
export function openRawImage(path: string, options: OpenOptions): ImageTree {
  const source = openSource(path);
  try {
    return fromSource(
      source,
      options,
      path,
      () => source.close(),
      path.endsWith(".raw") ? path.slice(0, -4) : undefined,
    );
  } catch (e) {
    source.close();
    throw namingImage(e, path);
  }
}

/** Field-level messages ("bytes_used is too large …") get the image's name in front, so a log line says which file is damaged. */
function namingImage(e: unknown, path: string): unknown {
  if (!(e instanceof ImageError) || e.message.includes(path)) return e;
  return new ImageError(e.code, `${path}: ${e.message}`, e.format, e.offset);
}

/** The same over any byte source (tests and fuzzing use bytesSource); no side files. */
export function openRawSource(
  source: ByteSource,
  options: OpenOptions,
  name = source.name,
  release: () => void = () => {},
): ImageTree {
  return fromSource(source, options, name, release, undefined);
}

function fromSource(
  source: ByteSource,
  options: OpenOptions,
  name: string,
  release: () => void,
  sidePrefix: string | undefined,
): ImageTree {
  const { root, usr, description, protection, opened } = dissect(source, options, name, sidePrefix);
  return new RawImage(name, description, protection, root, usr, () => {
    for (const o of opened) o.close();
    release();
  });
}
