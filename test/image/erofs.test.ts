// erofs reader against images made here by the real mkfs.erofs (erofs-utils 1.5), one per layout
// it can write, compared file by file with the tree they were made from; dump.erofs confirms each
// image really uses the layout a test is named after. Hostile cases patch a real image.
import { resignErofs } from "../helpers/erofs.ts";
import { execFileSync } from "node:child_process";
import {
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  symlinkSync,
  writeFileSync,
  chmodSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bytesSource, type ByteSource } from "../../src/image/byte-source.ts";
import { CompressedReader, type ZContext } from "../../src/image/erofs-compressed.ts";
import { openErofs } from "../../src/image/erofs.ts";
import { ImageError, type FileSystem } from "../../src/image/types.ts";

const work = mkdtempSync(join(tmpdir(), "erofs-test-"));
const tree = join(work, "tree");
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** Deterministic bytes that LZ4 cannot compress (mulberry32). */
function seeded(n: number, seed: number): Buffer {
  const out = Buffer.alloc(n);
  let a = seed >>> 0;
  for (let i = 0; i < n; i++) {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    out[i] = ((t ^ (t >>> 14)) >>> 0) & 0xff;
  }
  return out;
}

/** Compressible text, incompressible bytes, and both interleaved (HEAD and PLAIN pclusters in one file). */
function buildTree(): void {
  const w = (p: string, data: string | Uint8Array, mode?: number) => {
    mkdirSync(join(tree, p, ".."), { recursive: true });
    writeFileSync(join(tree, p), data);
    if (mode !== undefined) chmodSync(join(tree, p), mode);
  };
  w("usr/lib/os-release", "ID=portable\nNAME=Portable Test\n");
  w("usr/lib/extension-release.d/extension-release.foo", "ID=_any\n");
  w("usr/lib/systemd/system/foo.service", "[Service]\nExecStart=/usr/bin/foo\n");
  w("usr/lib/systemd/system/foo.service.d/10-override.conf", "[Service]\nNice=5\n");
  w("usr/bin/foo", "#!/bin/sh\necho foo\n", 0o755);
  const text = Array.from({ length: 9000 }, (_, i) => `line ${i}: the quick brown fox ${i % 97} jumps\n`).join("");
  w("data/text.txt", text); // ~370 KiB, compresses well: real LZ4 pclusters
  w("data/random.bin", seeded(100_000, 3)); // incompressible: PLAIN pclusters
  const mixed = Buffer.concat(
    Array.from({ length: 50 }, (_, i) =>
      i % 3 === 0 ? seeded(4096, i) : Buffer.from(text.slice(i * 4096, (i + 1) * 4096)),
    ),
  );
  w("data/mixed.bin", Buffer.concat([mixed, Buffer.from("tail!")]));
  w("data/block-and-tail", seeded(4096 + 100, 9)); // one whole block plus an inline tail
  w("data/small", "abc");
  w("data/empty", "");
  mkdirSync(join(tree, "etc/systemd/system/multi-user.target.wants"), { recursive: true });
  symlinkSync("../usr/lib/os-release", join(tree, "etc/os-release"));
  symlinkSync(
    "/usr/lib/systemd/system/foo.service",
    join(tree, "etc/systemd/system/multi-user.target.wants/foo.service"),
  );
  symlinkSync("/dev/null", join(tree, "etc/systemd/system/masked.service"));
  symlinkSync(`/usr/lib/${"x".repeat(200)}/target`, join(tree, "etc/long-link"));
  symlinkSync("usr/lib", join(tree, "lib"));
  for (let i = 0; i < 500; i++) w(`many/entry-${String(i).padStart(3, "0")}.conf`, `${i}\n`);
  w(`many/${"n".repeat(254)}`, "long name\n");
  execFileSync("mkfifo", [join(tree, "etc/fifo")]);
}

interface Variant {
  name: string;
  args: string[];
  fsType: string;
  /** dump.erofs "Layout:" of data/text.txt and data/mixed.bin. */
  layout: number;
}

const VARIANTS: Variant[] = [
  { name: "plain", args: [], fsType: "erofs", layout: 2 },
  { name: "noinline", args: ["-Enoinline_data"], fsType: "erofs", layout: 0 },
  { name: "extended-inodes", args: ["-Eforce-inode-extended"], fsType: "erofs", layout: 2 },
  { name: "chunked", args: ["--chunksize=8192"], fsType: "erofs", layout: 4 },
  { name: "lz4", args: ["-zlz4"], fsType: "erofs (lz4)", layout: 3 },
  { name: "lz4hc", args: ["-zlz4hc,12"], fsType: "erofs (lz4)", layout: 3 },
  { name: "lz4hc-ztailpacking", args: ["-zlz4hc", "-Eztailpacking"], fsType: "erofs (lz4)", layout: 3 },
  { name: "lz4-full-indexes", args: ["-zlz4", "-Elegacy-compress"], fsType: "erofs", layout: 1 },
  {
    name: "lz4-full-indexes-ztailpacking",
    args: ["-zlz4", "-Elegacy-compress,ztailpacking"],
    fsType: "erofs",
    layout: 1,
  },
  { name: "lz4hc-big-pcluster", args: ["-zlz4hc", "-C65536"], fsType: "erofs (lz4)", layout: 3 },
  {
    name: "lz4-big-pcluster-ztailpacking",
    args: ["-zlz4", "-C16384", "-Eztailpacking"],
    fsType: "erofs (lz4)",
    layout: 3,
  },
];

const images = new Map<string, string>();
function image(name: string): string {
  const path = images.get(name);
  if (!path) throw new Error(`no image ${name}`);
  return path;
}

beforeAll(() => {
  buildTree();
  for (const v of VARIANTS) {
    const out = join(work, `${v.name}.img`);
    execFileSync("mkfs.erofs", ["--quiet", "--all-root", "-T1700000000", ...v.args, out, tree]);
    images.set(v.name, out);
  }
});

function open(path: string): FileSystem {
  return openErofs(bytesSource(new Uint8Array(readFileSync(path)), path));
}

function dumpField(img: string, path: string, field: RegExp): number {
  const out = execFileSync("dump.erofs", [`--path=${path}`, img], { encoding: "utf8" });
  const m = field.exec(out);
  if (!m) throw new Error(`dump.erofs: no ${field} in ${out}`);
  return Number(m[1]);
}

/** Compares every entry of the host tree below `rel` with the image. Returns the number of entries checked. */
function compareTree(fs: FileSystem, rel: string): number {
  let n = 0;
  const host = join(tree, rel);
  const names = readdirSync(host).sort();
  expect(
    fs
      .readdir(rel || "/")
      .map((e) => e.name)
      .sort(),
  ).toEqual(names);
  const kinds = new Map(fs.readdir(rel || "/").map((e) => [e.name, e.kind]));
  for (const name of names) {
    const p = `${rel}/${name}`;
    const st = lstatSync(join(tree, p));
    const got = fs.lstat(p);
    const kind = st.isFile() ? "file" : st.isDirectory() ? "dir" : st.isSymbolicLink() ? "symlink" : "other";
    expect(got?.kind, p).toBe(kind);
    expect(kinds.get(name), p).toBe(kind);
    expect(got?.mode, p).toBe(st.mode & 0o7777);
    n++;
    if (kind === "file") {
      expect(got?.size, p).toBe(st.size);
      expect(Buffer.from(fs.readFile(p, 1 << 22)).equals(readFileSync(join(tree, p))), p).toBe(true);
    } else if (kind === "symlink") {
      expect(fs.readlink(p), p).toBe(readlinkSync(join(tree, p)));
      expect(got?.size, p).toBe(readlinkSync(join(tree, p)).length);
    } else if (kind === "dir") {
      n += compareTree(fs, p);
    }
  }
  return n;
}

describe("erofs images from mkfs.erofs", () => {
  for (const v of VARIANTS) {
    describe(v.name, () => {
      it(`uses the layout it is named after (${v.layout})`, () => {
        expect(dumpField(image(v.name), "/data/text.txt", /Layout: (\d+)/)).toBe(v.layout);
        expect(dumpField(image(v.name), "/data/mixed.bin", /Layout: (\d+)/)).toBe(v.layout);
      });

      it("matches the source tree: listing, kinds, modes, sizes, file bytes, symlink targets", () => {
        const fs = open(image(v.name));
        expect(fs.fsType).toBe(v.fsType);
        expect(compareTree(fs, "")).toBeGreaterThan(520);
      });

      it("answers lookups of missing paths and wrong kinds", () => {
        const fs = open(image(v.name));
        expect(fs.lstat("/nope")).toBeUndefined();
        expect(fs.lstat("/data/small/below-a-file")).toBeUndefined();
        expect(fs.lstat("/many/entry-500.conf")).toBeUndefined();
        expect(fs.lstat("/many/entry-499.conf")?.kind).toBe("file");
        expect(fs.lstat("/many/a")).toBeUndefined(); // before the first name
        expect(fs.lstat("/many/zzz")).toBeUndefined(); // after the last name
        expect(fs.lstat("/")?.kind).toBe("dir");
        // Physical paths only: the last component may be a symlink, which is not followed.
        expect(fs.lstat("/lib")?.kind).toBe("symlink");
        expect(fs.lstat("/lib/os-release")).toBeUndefined();
        expect(() => fs.readFile("/nope", 100)).toThrow(ImageError);
        expect(() => fs.readFile("/data", 100)).toThrow(/not a regular file/);
        expect(() => fs.readdir("/data/small")).toThrow(/not a directory/);
        expect(() => fs.readlink("/data/small")).toThrow(/not a symlink/);
      });

      it("refuses a file larger than maxBytes with LIMIT", () => {
        const fs = open(image(v.name));
        expect(() => fs.readFile("/data/text.txt", 1000)).toThrow(expect.objectContaining({ code: "LIMIT" }));
      });
    });
  }

  it("compressed images are smaller than the plain one (the pclusters really are LZ4)", () => {
    const plain = lstatSync(image("plain")).size;
    for (const name of ["lz4", "lz4hc", "lz4hc-ztailpacking", "lz4-full-indexes", "lz4hc-big-pcluster"]) {
      expect(lstatSync(image(name)).size, name).toBeLessThan(plain - 200_000);
    }
  });

  it("big pcluster images use pclusters of more than one block", () => {
    const out = execFileSync("dump.erofs", ["-e", "--path=/data/text.txt", image("lz4hc-big-pcluster")], {
      encoding: "utf8",
    });
    const plens = [...out.matchAll(/\|\s+(\d+)\s*$/gm)].map((m) => Number(m[1]));
    expect(Math.max(...plens)).toBeGreaterThan(4096);
  });

  it("reads any byte range of a compressed file like the host bytes (partial pcluster decoding)", () => {
    for (const name of [
      "lz4hc-ztailpacking",
      "lz4-full-indexes",
      "lz4hc-big-pcluster",
      "lz4-big-pcluster-ztailpacking",
    ]) {
      const img = readFileSync(image(name));
      const off = inodeOffset(name, "/data/mixed.bin");
      const format = img.readUInt16LE(off);
      const xattrs = img.readUInt16LE(off + 2);
      const ctx: ZContext = {
        name,
        blkszbits: img[1024 + 12] as number,
        zeroPadding: (img.readUInt32LE(1024 + 80) & 1) !== 0,
        bigPcluster: (img.readUInt32LE(1024 + 80) & 2) !== 0,
        algorithms: 1,
        read: (o, l) => new Uint8Array(img.buffer, img.byteOffset + o, l),
      };
      const want = readFileSync(join(tree, "data/mixed.bin"));
      const inode = {
        nid: 1,
        size: want.length,
        layout: (format >> 1) & 7,
        dataStart: off + (format & 1 ? 64 : 32) + (xattrs ? 12 + 4 * (xattrs - 1) : 0),
      };
      const reader = new CompressedReader(ctx);
      const r = seeded(400, 11);
      for (let k = 0; k < 100; k++) {
        const a = r.readUInt32LE(k * 4) % want.length;
        const len = Math.min(want.length - a, k % 2 ? r.readUInt16LE(k * 4) % 300 : r.readUInt32LE(k * 4 + 1) % 40000);
        expect(Buffer.from(reader.read(inode, a, len)).equals(want.subarray(a, a + len)), `${name} ${a}+${len}`).toBe(
          true,
        );
      }
      expect(Buffer.from(reader.read(inode, want.length - 5, 5)).toString()).toBe("tail!");
    }
  });
});

/** Counts the bytes a reader pulls from its source. */
function counting(bytes: Uint8Array, name: string): { source: ByteSource; read: () => number } {
  const inner = bytesSource(bytes, name);
  let total = 0;
  return {
    source: {
      name,
      size: inner.size,
      read(offset, length) {
        total += length;
        return inner.read(offset, length);
      },
    },
    read: () => total,
  };
}

describe("erofs lookup cost does not grow with the image", () => {
  it("finds os-release and a unit in a 40 MiB image reading about as much as in a small one", () => {
    const bigTree = join(work, "bigtree");
    mkdirSync(join(bigTree, "usr/lib/systemd/system"), { recursive: true });
    mkdirSync(join(bigTree, "var"), { recursive: true });
    writeFileSync(join(bigTree, "usr/lib/os-release"), "ID=portable\n");
    writeFileSync(join(bigTree, "usr/lib/systemd/system/foo.service"), "[Service]\nExecStart=/bin/true\n");
    const small = join(work, "cost-small.img");
    execFileSync("mkfs.erofs", ["--quiet", "-zlz4", small, bigTree]);
    writeFileSync(join(bigTree, "var/big"), seeded(40 << 20, 5));
    for (let i = 0; i < 2000; i++) writeFileSync(join(bigTree, "var", `f${i}`), `${i}`);
    const large = join(work, "cost-large.img");
    execFileSync("mkfs.erofs", ["--quiet", "-zlz4", large, bigTree]);

    const cost = (img: string) => {
      const bytes = new Uint8Array(readFileSync(img));
      const c = counting(bytes, img);
      const fs = openErofs(c.source);
      expect(new TextDecoder().decode(fs.readFile("/usr/lib/os-release", 1000))).toBe("ID=portable\n");
      expect(fs.readFile("/usr/lib/systemd/system/foo.service", 1000).length).toBeGreaterThan(0);
      return { bytes: bytes.length, read: c.read() };
    };
    const s = cost(small);
    const l = cost(large);
    expect(l.bytes).toBeGreaterThan(40 << 20);
    expect(l.read).toBeLessThan(64 * 1024);
    expect(l.read).toBeLessThanOrEqual(s.read * 2);
  });
});

// ---- hostile images: each patches one field of a real image and names what it proves ----

function expectCode(fn: () => unknown, code: string, message?: RegExp): void {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(ImageError);
    expect((e as ImageError).code).toBe(code);
    if (message) expect((e as Error).message).toMatch(message);
    return;
  }
  throw new Error(`expected ImageError ${code}`);
}

function patched(name: string, patch: (b: Buffer, dv: DataView) => void): FileSystem {
  const b = Buffer.from(readFileSync(image(name)));
  patch(b, new DataView(b.buffer, b.byteOffset, b.byteLength));
  resignErofs(b);
  return openErofs(bytesSource(new Uint8Array(b), `${name} (patched)`));
}

/** Image offset of the inode at `path` (via dump.erofs's NID and the superblock's meta_blkaddr). */
function inodeOffset(name: string, path: string): number {
  const b = readFileSync(image(name));
  const blkszbits = b[1024 + 12] as number;
  const meta = b.readUInt32LE(1024 + 40);
  return meta * 2 ** blkszbits + dumpField(image(name), path, /NID: (\d+)/) * 32;
}

/** Image offset of the first dirent block of a flat directory: its own block, or inline after a compact inode. */
function firstDirBlock(name: string, path: string): number {
  const off = inodeOffset(name, path);
  const b = readFileSync(image(name));
  const xattrs = b.readUInt16LE(off + 2);
  const blkaddr = b.readUInt32LE(off + 16);
  return dumpField(image(name), path, /Size: (\d+)/) < 4096
    ? off + 32 + (xattrs ? 12 + 4 * (xattrs - 1) : 0)
    : blkaddr * 4096;
}

describe("erofs hostile images", () => {
  it("a wrong magic is BAD_MAGIC", () =>
    expectCode(() => patched("plain", (b) => b.writeUInt32LE(0x12345678, 1024)), "BAD_MAGIC"));

  it("an image cut before the superblock is TRUNCATED", () => {
    expectCode(
      () => openErofs(bytesSource(new Uint8Array(readFileSync(image("plain"))).subarray(0, 1100))),
      "TRUNCATED",
    );
  });

  it("an unknown incompat feature (48-bit layout) is UNSUPPORTED, named", () =>
    expectCode(
      () => patched("plain", (b) => b.writeUInt32LE(b.readUInt32LE(1024 + 80) | 0x80, 1024 + 80)),
      "UNSUPPORTED",
      /48-bit/,
    ));

  it("extra devices (blob devices) are UNSUPPORTED", () =>
    expectCode(
      () =>
        patched("plain", (b) => {
          b.writeUInt32LE(b.readUInt32LE(1024 + 80) | 0x08, 1024 + 80);
          b.writeUInt16LE(1, 1024 + 86);
        }),
      "UNSUPPORTED",
      /extra devices/,
    ));

  it("directory blocks larger than file system blocks (dirblkbits) are UNSUPPORTED, like in the kernel", () =>
    expectCode(() => patched("plain", (b) => b.writeUInt8(1, 1024 + 90)), "UNSUPPORTED", /directory block/));

  it("an image whose data lives on a blob device (mkfs.erofs --blobdev) is UNSUPPORTED", () => {
    const img = join(work, "blob.img");
    // erofs-utils 1.8 writes into an existing blob device only (1.5 creates it).
    writeFileSync(join(work, "blob.dev"), "");
    execFileSync("mkfs.erofs", ["--quiet", `--blobdev=${join(work, "blob.dev")}`, "--chunksize=4096", img, tree]);
    expectCode(() => open(img), "UNSUPPORTED", /extra devices/);
  });

  it("a 1 MiB block size is UNSUPPORTED, not trusted", () =>
    expectCode(() => patched("plain", (b) => b.writeUInt8(20, 1024 + 12)), "UNSUPPORTED"));

  it("a superblock whose crc32c does not match is CORRUPT, as fsck.erofs and the kernel say; without the feature flag it is not checked", () => {
    const flip = (b: Buffer) => void (b[1024 + 48] = (b[1024 + 48] as number) ^ 0xff); // a byte of the volume UUID
    const b = Buffer.from(readFileSync(image("plain")));
    expect(b.readUInt32LE(1024 + 8) & 1).toBe(1); // mkfs.erofs writes the checksum by default
    flip(b);
    expectCode(
      () => openErofs(bytesSource(new Uint8Array(b), "flipped")),
      "CORRUPT",
      /superblock checksum 0x[0-9a-f]+ does not match 0x[0-9a-f]+/,
    );
    b.writeUInt32LE(b.readUInt32LE(1024 + 8) & ~1, 1024 + 8);
    expect(openErofs(bytesSource(new Uint8Array(b), "unflagged")).lstat("/data")?.kind).toBe("dir");
    const resigned = Buffer.from(readFileSync(image("plain")));
    flip(resigned);
    expect(openErofs(bytesSource(new Uint8Array(resignErofs(resigned)), "resigned")).lstat("/data")?.kind).toBe("dir");
  });

  it("a root nid that is a regular file is CORRUPT", () =>
    expectCode(
      () => patched("plain", (b) => b.writeUInt16LE(dumpField(image("plain"), "/data/small", /NID: (\d+)/), 1024 + 14)),
      "CORRUPT",
      /root/,
    ));

  it("an image cut in the middle gives TRUNCATED for data past the cut, and still answers lookups before it", () => {
    const full = new Uint8Array(readFileSync(image("noinline")));
    const textOff = inodeOffset("noinline", "/data/text.txt");
    const blkaddr = Buffer.from(full).readUInt32LE(textOff + 16);
    const fs = openErofs(bytesSource(full.subarray(0, blkaddr * 4096 + 10), "cut"));
    expect(fs.lstat("/data/text.txt")?.kind).toBe("file");
    expectCode(() => fs.readFile("/data/text.txt", 1 << 22), "TRUNCATED");
  });

  it("an inode with a bogus file type is CORRUPT", () => {
    const off = inodeOffset("plain", "/data/small");
    const fs = patched("plain", (b) => b.writeUInt16LE(0o000644, off + 4));
    expectCode(() => fs.lstat("/data/small"), "CORRUPT", /mode/);
  });

  it("an inode with an unknown data layout is UNSUPPORTED", () => {
    const off = inodeOffset("plain", "/data/small");
    const fs = patched("plain", (b) => b.writeUInt16LE(7 << 1, off));
    expectCode(() => fs.lstat("/data/small"), "UNSUPPORTED", /layout/);
  });

  it("an inline tail that would cross a block boundary is CORRUPT", () => {
    const off = inodeOffset("plain", "/data/small");
    const fs = patched("plain", (b) => b.writeUInt32LE(5000, off + 8)); // 3-byte inline file now claims 5000 bytes
    expectCode(() => fs.readFile("/data/small", 1 << 20), "CORRUPT", /crosses a block boundary|past/);
  });

  it("a flat file whose blocks lie past the end of the image is TRUNCATED, never read outside", () => {
    const off = inodeOffset("noinline", "/data/text.txt");
    const fs = patched("noinline", (b) => b.writeUInt32LE(0xfffffff0, off + 16));
    expectCode(() => fs.readFile("/data/text.txt", 1 << 22), "TRUNCATED");
  });

  it("a directory block whose first name offset is not a multiple of 12 is CORRUPT", () => {
    const blk = firstDirBlock("noinline", "/data");
    const fs = patched("noinline", (b) => b.writeUInt16LE(b.readUInt16LE(blk + 8) + 1, blk + 8));
    expectCode(() => fs.readdir("/data"), "CORRUPT", /first name offset/);
    expectCode(() => fs.lstat("/data/small"), "CORRUPT");
  });

  it("overlapping name offsets in a directory block are CORRUPT", () => {
    const blk = firstDirBlock("noinline", "/data");
    const fs = patched("noinline", (b) => b.writeUInt16LE(b.readUInt16LE(blk + 8) - 4, blk + 12 + 8 + 12));
    expectCode(() => fs.readdir("/data"), "CORRUPT", /name offsets/);
  });

  it("a dirent pointing at an inode far outside the image is CORRUPT", () => {
    const blk = firstDirBlock("noinline", "/data");
    // Entries are ".", "..", then names in order; patch every nid in the block.
    const fs = patched("noinline", (b, dv) => {
      const count = b.readUInt16LE(blk + 8) / 12;
      for (let i = 0; i < count; i++) dv.setBigUint64(blk + i * 12, 1n << 40n, true);
    });
    expectCode(() => fs.lstat("/data/small"), "CORRUPT", /outside the image/);
  });

  it("a directory that claims more bytes than any real one is LIMIT", () => {
    const off = inodeOffset("extended-inodes", "/data");
    const fs = patched("extended-inodes", (_b, dv) => dv.setBigUint64(off + 8, 1n << 40n, true));
    expectCode(() => fs.readdir("/data"), "LIMIT");
  });

  it("a symlink with a target longer than PATH_MAX is LIMIT", () => {
    const off = inodeOffset("plain", "/etc/long-link");
    const fs = patched("plain", (b) => b.writeUInt32LE(1 << 20, off + 8));
    expectCode(() => fs.readlink("/etc/long-link"), "LIMIT");
  });

  it("a chunk index past the image is TRUNCATED; a hole reads as zeros", () => {
    const off = inodeOffset("chunked", "/data/text.txt");
    const b0 = Buffer.from(readFileSync(image("chunked")));
    const table = Math.ceil((off + 32) / 4) * 4; // compact inode, no xattrs, 4-byte block map
    const far = patched("chunked", (b) => b.writeUInt32LE(0xfffffff0, table));
    expectCode(() => far.readFile("/data/text.txt", 1 << 22), "TRUNCATED");
    const hole = patched("chunked", (b) => b.writeUInt32LE(0xffffffff, table + 4));
    const got = Buffer.from(hole.readFile("/data/text.txt", 1 << 22));
    const want = readFileSync(join(tree, "data/text.txt"));
    expect(got.subarray(0, 8192).equals(want.subarray(0, 8192))).toBe(true);
    expect(got.subarray(8192, 16384).every((x) => x === 0)).toBe(true);
    expect(got.subarray(16384).equals(want.subarray(16384))).toBe(true);
    expect(b0.length).toBeGreaterThan(0);
  });

  it("a compressed file declaring LZMA is UNSUPPORTED and names it", () => {
    const off = inodeOffset("lz4", "/data/text.txt");
    const header = Math.ceil((off + 32) / 8) * 8;
    const fs = patched("lz4", (b) => {
      b.writeUInt32LE(b.readUInt32LE(1024 + 80) | 0x02, 1024 + 80); // COMPR_CFGS
      b.writeUInt16LE(0b11, 1024 + 84); // lz4 and lzma available
      b.writeUInt8(1, header + 6); // HEAD1 algorithm: lzma
    });
    expect(fs.fsType).toBe("erofs (lz4, lzma)");
    expectCode(() => fs.readFile("/data/text.txt", 1 << 22), "UNSUPPORTED", /lzma/);
    expect(fs.readFile("/usr/lib/os-release", 1000).length).toBeGreaterThan(0); // other files still read
  });

  it("a compressed file whose algorithm the superblock does not declare is CORRUPT", () => {
    const off = inodeOffset("lz4", "/data/text.txt");
    const header = Math.ceil((off + 32) / 8) * 8;
    const fs = patched("lz4", (b) => b.writeUInt8(3, header + 6));
    expectCode(() => fs.readFile("/data/text.txt", 1 << 22), "CORRUPT", /zstd/);
  });

  it("fragments (whole file in the packed inode) are UNSUPPORTED", () => {
    const off = inodeOffset("lz4", "/data/text.txt");
    const header = Math.ceil((off + 32) / 8) * 8;
    const fs = patched("lz4", (b) => b.writeUInt8(0x80, header + 7));
    expectCode(() => fs.readFile("/data/text.txt", 1 << 22), "UNSUPPORTED", /fragment/);
  });

  it("full-index NONHEADs pointing back past lcluster 0 are CORRUPT, not a loop", () => {
    const off = inodeOffset("lz4-full-indexes", "/data/text.txt");
    const indexes = Math.ceil((off + 32) / 8) * 8 + 16;
    const fs = patched("lz4-full-indexes", (b) => {
      for (let lcn = 0; lcn < 20; lcn++) {
        b.writeUInt16LE(2, indexes + lcn * 8); // NONHEAD
        b.writeUInt16LE(1000, indexes + lcn * 8 + 4); // delta[0]
      }
    });
    expectCode(() => fs.readFile("/data/text.txt", 1 << 22), "CORRUPT", /lookback/);
  });

  it("a NONHEAD chain with delta 1 walks back to lcluster 0 and stops there", () => {
    const off = inodeOffset("lz4-full-indexes", "/data/text.txt");
    const indexes = Math.ceil((off + 32) / 8) * 8 + 16;
    const fs = patched("lz4-full-indexes", (b) => {
      for (let lcn = 0; lcn < 92; lcn++) {
        b.writeUInt16LE(2, indexes + lcn * 8);
        b.writeUInt16LE(1, indexes + lcn * 8 + 4);
      }
    });
    expectCode(() => fs.readFile("/data/text.txt", 1 << 22), "CORRUPT", /lookback/);
  });

  it("a pcluster of garbage bytes is CORRUPT from the LZ4 decoder", () => {
    const off = inodeOffset("lz4-full-indexes", "/data/text.txt");
    const indexes = Math.ceil((off + 32) / 8) * 8 + 16;
    const b0 = Buffer.from(readFileSync(image("lz4-full-indexes")));
    const pblk = b0.readUInt32LE(indexes + 4);
    const fs = patched("lz4-full-indexes", (b) => seeded(4096, 77).copy(b, pblk * 4096));
    expectCode(
      () => fs.readFile("/data/text.txt", 1 << 22),
      "CORRUPT",
      /inode \d+: pcluster at \d+: Invalid LZ4 block/,
    );
  });

  it("random corruption of metadata only ever gives ImageError, quickly", () => {
    for (const name of ["plain", "lz4hc-ztailpacking", "lz4-full-indexes", "lz4hc-big-pcluster", "chunked"]) {
      const orig = readFileSync(image(name));
      // Metadata (superblock, inodes, dirents, indexes) sits in the first blocks of these images.
      const metaEnd = Math.min(orig.length, 64 * 1024);
      for (let seed = 1; seed <= 60; seed++) {
        const b = Buffer.from(orig);
        const r = seeded(64, seed * 7919 + name.length);
        for (let k = 0; k < 16; k++) b[(r.readUInt32LE((k * 4) % 60) % (metaEnd - 1024)) + 1024] = r[k] as number;
        const started = Date.now();
        try {
          const fs = openErofs(bytesSource(new Uint8Array(b), `${name}#${seed}`));
          walkAll(fs, "/", 0);
        } catch (e) {
          if (!(e instanceof ImageError)) throw e;
        }
        expect(Date.now() - started).toBeLessThan(5000);
      }
    }
  });
});

function walkAll(fs: FileSystem, dir: string, depth: number): void {
  if (depth > 8) return;
  for (const e of fs.readdir(dir)) {
    const p = dir === "/" ? `/${e.name}` : `${dir}/${e.name}`;
    try {
      const st = fs.lstat(p);
      if (st?.kind === "dir") walkAll(fs, p, depth + 1);
      else if (st?.kind === "file") fs.readFile(p, 1 << 22);
      else if (st?.kind === "symlink") fs.readlink(p);
    } catch (e) {
      if (!(e instanceof ImageError)) throw e;
    }
  }
}
