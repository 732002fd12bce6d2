// squashfs reader against images made here by the real mksquashfs from a small tree, for every
// compressor and layout option that changes the on-disk structures; then hand-patched images, each
// named after what it proves. The host tree is the oracle: every name, kind, mode, symlink target
// and file byte must match.
import { execFileSync, spawnSync } from "node:child_process";
import {
  linkSync,
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
import * as zlib from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bytesSource, type ByteSource } from "../../src/image/byte-source.ts";
import { openSquashfs } from "../../src/image/squashfs.ts";
import { ImageError, type FileSystem } from "../../src/image/types.ts";
import { noise } from "../helpers/random.ts";
import { imageError } from "../helpers/image-error.ts";

const hasMksquashfs = spawnSync("sh", ["-c", "command -v mksquashfs"]).status === 0;
const work = mkdtempSync(join(tmpdir(), "squashfs-test-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));
const MAX = 4 << 20;

function text(n: number, salt = ""): string {
  let s = "";
  for (let i = 0; s.length < n; i++) s += `${salt}line ${i}: ${(i * 7919) % 10007}\n`;
  return s.slice(0, n);
}

const LONG_NAME = "n".repeat(255);
const MANY = 500;

function makeTree(root: string): void {
  const w = (p: string, data: string | Uint8Array, mode?: number): void => {
    writeFileSync(join(root, p), data);
    if (mode !== undefined) chmodSync(join(root, p), mode);
  };
  for (const d of ["etc", "usr/lib/systemd/system/foo.service.d", "usr/share/many", "usr/share/emptydir", "usr/bin"])
    mkdirSync(join(root, d), { recursive: true });
  w("usr/lib/os-release", "NAME=Test\nID=test\n");
  symlinkSync("../usr/lib/os-release", join(root, "etc/os-release"));
  w("usr/lib/systemd/system/foo.service", "[Service]\nExecStart=/usr/bin/foo\n");
  w("usr/lib/systemd/system/foo.service.d/override.conf", "[Service]\nNice=5\n");
  symlinkSync("/usr/lib/systemd/system/foo.service", join(root, "usr/lib/systemd/system/abs.service"));
  symlinkSync("foo.service", join(root, "usr/lib/systemd/system/alias.service"));
  symlinkSync("/dev/null", join(root, "usr/lib/systemd/system/masked.service"));
  symlinkSync(`${"x/".repeat(150)}target`, join(root, "usr/share/long-link"));
  symlinkSync("does-not-exist", join(root, "usr/share/dangling"));
  // > one 128 KiB block with a tail in a fragment; exactly one block; a sparse middle; tiny files.
  w("usr/share/big.txt", text(300_000));
  w("usr/share/exact.bin", noise(131_072, 3));
  w(
    "usr/share/sparse.bin",
    Buffer.concat([noise(131_072, 5), new Uint8Array(262_144), Buffer.from("tail after zeros")]),
  );
  w("usr/share/small", "abc", 0o640);
  w("usr/share/empty", "");
  linkSync(join(root, "usr/share/small"), join(root, "usr/share/small-hardlink"));
  w("usr/share/grüße.txt", "utf-8 name\n");
  w("usr/bin/prog", x86ish(100_000), 0o755);
  execFileSync("mkfifo", [join(root, "usr/share/fifo")]);
  // Long names so the listing spans several metadata blocks and gets a directory index.
  for (let i = 0; i < MANY - 1; i++)
    w(
      `usr/share/many/entry-with-a-fairly-long-name-${String(i).padStart(3, "0")}`,
      i % 7 === 0 ? text(i * 10, String(i)) : "",
    );
  w(`usr/share/many/${LONG_NAME}`, "long name\n");
}

/** x86-like code for mksquashfs -Xbcj x86. */
function x86ish(n: number): Uint8Array {
  const out = noise(n, 7);
  for (let i = 0; i + 5 < n; i += 16) {
    out[i] = 0xe8;
    out[i + 3] = 0;
    out[i + 4] = 0;
  }
  return out;
}

function mksquashfs(tree: string, name: string, args: string[]): Uint8Array {
  const out = join(work, `${name}.sqfs`);
  execFileSync("mksquashfs", [
    tree,
    out,
    "-noappend",
    "-quiet",
    "-no-progress",
    "-all-root",
    "-mkfs-time",
    "1700000000",
    "-all-time",
    "1700000000",
    ...args,
  ]);
  return new Uint8Array(readFileSync(out));
}

/** Compares the whole image with the host tree it was built from. Returns the number of entries seen. */
function compareWithHost(fs: FileSystem, host: string, path = "/"): number {
  const hostDir = join(host, path);
  const want = readdirSync(hostDir).sort();
  const got = fs.readdir(path);
  expect(got.map((e) => e.name).sort(), `listing of ${path}`).toEqual(want);
  let n = got.length;
  for (const e of got) {
    const p = `${path === "/" ? "" : path}/${e.name}`;
    const h = lstatSync(join(host, p));
    const st = fs.lstat(p);
    const kind = h.isFile() ? "file" : h.isDirectory() ? "dir" : h.isSymbolicLink() ? "symlink" : "other";
    expect(st?.kind, `kind of ${p}`).toBe(kind);
    expect(e.kind, `readdir kind of ${p}`).toBe(kind);
    expect(st?.mode, `mode of ${p}`).toBe(h.mode & 0o7777);
    if (kind === "file") {
      expect(st?.size, `size of ${p}`).toBe(h.size);
      expect(Buffer.from(fs.readFile(p, MAX)).equals(readFileSync(join(host, p))), `content of ${p}`).toBe(true);
    } else if (kind === "symlink") {
      const target = readlinkSync(join(host, p));
      expect(fs.readlink(p), `target of ${p}`).toBe(target);
      expect(st?.size).toBe(Buffer.byteLength(target));
    } else if (kind === "dir") {
      n += compareWithHost(fs, host, p);
    }
  }
  return n;
}

/** A ByteSource that counts what it is asked for. */
function counting(inner: ByteSource): ByteSource & { bytes: number } {
  const c = {
    name: inner.name,
    size: inner.size,
    bytes: 0,
    read(offset: number, length: number): Uint8Array {
      c.bytes += length;
      return inner.read(offset, length);
    },
  };
  return c;
}

const open = (img: Uint8Array, name = "test.sqfs"): FileSystem => openSquashfs(bytesSource(img, name));

describe.skipIf(!hasMksquashfs)("squashfs images from mksquashfs", () => {
  const tree = join(work, "tree");
  beforeAll(() => {
    mkdirSync(tree);
    makeTree(tree);
  });

  const variants: Array<[string, string[], string]> = [
    ["gzip", ["-comp", "gzip"], "squashfs (gzip)"],
    ["xz", ["-comp", "xz"], "squashfs (xz)"],
    ["xz -Xbcj x86", ["-comp", "xz", "-Xbcj", "x86"], "squashfs (xz)"],
    ["lzo", ["-comp", "lzo"], "squashfs (lzo)"],
    ["lz4", ["-comp", "lz4"], "squashfs (lz4)"],
    ["lz4 -Xhc", ["-comp", "lz4", "-Xhc"], "squashfs (lz4)"],
    ["zstd", ["-comp", "zstd"], "squashfs (zstd)"],
    ["uncompressed (-noI -noD -noF -noX)", ["-noI", "-noD", "-noF", "-noX"], "squashfs (gzip)"],
    ["gzip, 4 KiB blocks", ["-comp", "gzip", "-b", "4096"], "squashfs (gzip)"],
    ["xz, 1 MiB blocks", ["-comp", "xz", "-b", "1M"], "squashfs (xz)"],
    ["gzip, no fragments", ["-comp", "gzip", "-no-fragments"], "squashfs (gzip)"],
    ["zstd, always fragments", ["-comp", "zstd", "-always-use-fragments"], "squashfs (zstd)"],
    ["gzip, no sparse detection", ["-comp", "gzip", "-no-sparse"], "squashfs (gzip)"],
  ];
  for (const [name, args, fsType] of variants) {
    it(`${name}: the whole tree matches the host, byte for byte`, () => {
      const fs = open(mksquashfs(tree, name.replace(/\W+/g, "-"), args));
      expect(fs.fsType).toBe(fsType);
      expect(compareWithHost(fs, tree)).toBeGreaterThan(MANY + 20);
    });
  }

  it("finds entries in a 500-entry directory through its index, and misses absent ones", () => {
    const fs = open(mksquashfs(tree, "many", ["-comp", "gzip"]));
    for (let i = 0; i < MANY - 1; i += 37)
      expect(fs.lstat(`/usr/share/many/entry-with-a-fairly-long-name-${String(i).padStart(3, "0")}`)?.kind).toBe(
        "file",
      );
    expect(fs.readFile(`/usr/share/many/${LONG_NAME}`, MAX)).toEqual(new TextEncoder().encode("long name\n"));
    for (const absent of [
      "entry",
      "entry-with-a-fairly-long-name-999",
      "a",
      "zzz",
      "entry-with-a-fairly-long-name-0500",
    ])
      expect(fs.lstat(`/usr/share/many/${absent}`), absent).toBeUndefined();
  });

  it("looks up a name in a big directory reading less than a full listing", () => {
    const img = mksquashfs(tree, "index", ["-comp", "gzip"]);
    const last = `/usr/share/many/entry-with-a-fairly-long-name-${MANY - 2}`;
    const viaLookup = counting(bytesSource(img));
    expect(openSquashfs(viaLookup).lstat(last)?.kind).toBe("file");
    const viaListing = counting(bytesSource(img));
    expect(openSquashfs(viaListing).readdir("/usr/share/many")).toHaveLength(MANY);
    expect(viaLookup.bytes).toBeLessThan(viaListing.bytes);
  });

  it("reads a few KiB to find os-release and a unit, however big the image", () => {
    const bigTree = join(work, "bigtree");
    mkdirSync(join(bigTree, "usr/lib/systemd/system"), { recursive: true });
    mkdirSync(join(bigTree, "etc"));
    writeFileSync(join(bigTree, "usr/lib/os-release"), "NAME=Big\n");
    symlinkSync("../usr/lib/os-release", join(bigTree, "etc/os-release"));
    writeFileSync(join(bigTree, "usr/lib/systemd/system/foo.service"), "[Service]\nExecStart=/bin/true\n");
    writeFileSync(join(bigTree, "usr/payload"), noise(24 << 20, 9));
    const img = mksquashfs(bigTree, "big", ["-comp", "gzip", "-noD"]);
    expect(img.length).toBeGreaterThan(24 << 20);
    const src = counting(bytesSource(img));
    const fs = openSquashfs(src);
    expect(fs.readlink("/etc/os-release")).toBe("../usr/lib/os-release");
    expect(new TextDecoder().decode(fs.readFile("/usr/lib/os-release", MAX))).toBe("NAME=Big\n");
    expect(fs.readFile("/usr/lib/systemd/system/foo.service", MAX).length).toBeGreaterThan(0);
    expect(src.bytes).toBeLessThan(16 << 10);
  });

  it("answers a path the same in any order of asking and however it is spelled", () => {
    // Paths are remembered, and a path whose parent is known costs one lookup: the answer must
    // not depend on what was asked before.
    const img = mksquashfs(tree, "paths", ["-comp", "zstd"]);
    const paths = [
      "/usr/lib/systemd/system/foo.service",
      "/usr/lib/systemd/system",
      "/usr//lib/./systemd/system/foo.service",
      "usr/lib/os-release",
      "/usr/lib/os-release/",
      "/usr/lib/os-release/.",
      "/usr/lib/os-release/x",
      "/usr/lib/..",
      "/usr/lib/nope/x",
      "/usr/share/many/entry-with-a-fairly-long-name-400",
      "/usr/share/many/entry-with-a-fairly-long-name-4000",
      "/etc/os-release/x",
      "/",
      "//",
      "/.",
      "",
    ];
    const alone = paths.map((p) => open(img).lstat(p));
    expect(alone[0]?.kind).toBe("file");
    expect(alone[2]).toEqual(alone[0]);
    expect(alone[5]?.kind).toBe("file");
    expect(alone[7]).toBeUndefined();
    for (const order of [paths, [...paths].reverse()]) {
      const fs = open(img);
      for (const p of order) expect(fs.lstat(p), p).toEqual(alone[paths.indexOf(p)]);
    }
    const listed = open(img);
    listed.readdir("/usr/lib/systemd/system");
    for (const p of paths) expect(listed.lstat(p), p).toEqual(alone[paths.indexOf(p)]);
  });

  it("asks its source for all the tables in one prefetch, at the first lookup", () => {
    const img = mksquashfs(tree, "prefetch", ["-comp", "zstd"]);
    const v = new DataView(img.buffer, img.byteOffset, img.byteLength);
    const inodeStart = Number(v.getBigUint64(64, true));
    const bytesUsed = Number(v.getBigUint64(40, true));
    const calls: Array<[number, number]> = [];
    const fs = openSquashfs({ ...bytesSource(img), prefetch: (o: number, l: number) => void calls.push([o, l]) });
    expect(calls).toEqual([]);
    expect(fs.lstat("/usr/lib/os-release")?.kind).toBe("file");
    fs.readdir("/usr/share/many");
    expect(fs.readFile("/usr/share/big.txt", MAX).length).toBe(300_000);
    expect(calls).toEqual([[inodeStart, bytesUsed - inodeStart]]);
  });

  it("answers the FileSystem contract for missing paths and wrong kinds", () => {
    const fs = open(mksquashfs(tree, "contract", ["-comp", "lz4"]));
    expect(fs.lstat("/")?.kind).toBe("dir");
    expect(fs.lstat("/nope")).toBeUndefined();
    expect(fs.lstat("/usr/share/small/below-a-file")).toBeUndefined();
    expect(fs.lstat("/usr/share/fifo")?.kind).toBe("other");
    expect(imageError(() => fs.readdir("/nope"))?.code).toBe("NOT_FOUND");
    expect(imageError(() => fs.readdir("/usr/share/small"))?.code).toBe("NOT_FOUND");
    expect(imageError(() => fs.readlink("/usr/share/small"))?.code).toBe("NOT_FOUND");
    expect(imageError(() => fs.readFile("/usr", MAX))?.code).toBe("CORRUPT");
    expect(imageError(() => fs.readFile("/usr/share/big.txt", 1000))?.code).toBe("LIMIT");
    // Physical paths only: a symlink in the middle is not followed here (resolve.ts does that).
    expect(fs.lstat("/etc/os-release/x")).toBeUndefined();
  });
});

// ---------------------------------------------------------------------------------------------
// Hand-patched images. A tiny uncompressed image (-noI -noD -noF, 4 KiB blocks) keeps every
// table in one raw metadata block, so the test can find and patch fields at known offsets.

interface Layout {
  inodeStart: number;
  dirStart: number;
  /** Absolute offset of an inode, by name in the root directory ("/" for the root itself). */
  inode: Record<string, number>;
  /** Absolute offset of the root listing's first header, and of each entry by name. */
  rootHeader: number;
  entry: Record<string, number>;
}

function layout(img: Uint8Array): Layout {
  const v = new DataView(img.buffer, img.byteOffset, img.byteLength);
  const inodeStart = Number(v.getBigUint64(64, true));
  const dirStart = Number(v.getBigUint64(72, true));
  // One raw block per table: header 0x8000 | size, then the bytes.
  expect(v.getUint16(inodeStart, true) & 0x8000).toBe(0x8000);
  const rootAt = inodeStart + 2 + Number(v.getBigUint64(32, true) & 0xffffn);
  expect(v.getUint16(rootAt, true)).toBe(1); // basic directory
  const rootHeader = dirStart + 2 + v.getUint16(rootAt + 26, true);
  const count = v.getUint32(rootHeader, true) + 1;
  expect(v.getUint32(rootHeader + 4, true)).toBe(0);
  const inode: Record<string, number> = { "/": rootAt };
  const entry: Record<string, number> = {};
  let p = rootHeader + 12;
  for (let i = 0; i < count; i++) {
    const size = v.getUint16(p + 6, true) + 1;
    const name = new TextDecoder().decode(img.subarray(p + 8, p + 8 + size));
    entry[name] = p;
    inode[name] = inodeStart + 2 + v.getUint16(p, true);
    p += 8 + size;
  }
  return { inodeStart, dirStart, inode, rootHeader, entry };
}

describe.skipIf(!hasMksquashfs)("hostile squashfs images", () => {
  let base: Uint8Array;
  let gzipBase: Uint8Array;
  let L: Layout;
  const B_SIZE = 5000;
  beforeAll(() => {
    const t = join(work, "small");
    mkdirSync(join(t, "d"), { recursive: true });
    writeFileSync(join(t, "a"), "hello\n");
    writeFileSync(join(t, "b"), noise(B_SIZE, 11)); // two 4 KiB blocks, the second one short
    writeFileSync(join(t, "d/x"), "x\n");
    symlinkSync("a", join(t, "l"));
    base = mksquashfs(t, "small", ["-noI", "-noD", "-noF", "-noX", "-no-xattrs", "-b", "4096"]);
    gzipBase = mksquashfs(t, "small-gzip", ["-comp", "gzip", "-no-xattrs", "-b", "4096"]);
    L = layout(base);
    expect(Object.keys(L.entry).sort()).toEqual(["a", "b", "d", "l"]);
  });

  /** A copy of the base image with `patch` applied through a DataView. */
  function patched(patch: (v: DataView, img: Uint8Array) => void, from = base): Uint8Array {
    const img = Uint8Array.from(from);
    patch(new DataView(img.buffer), img);
    return img;
  }

  it("reads the unpatched image (so the patches below are what fails)", () => {
    const fs = open(base);
    expect(
      fs
        .readdir("/")
        .map((e) => e.name)
        .sort(),
    ).toEqual(["a", "b", "d", "l"]);
    expect(new TextDecoder().decode(fs.readFile("/a", MAX))).toBe("hello\n");
    expect(fs.readFile("/b", MAX)).toEqual(noise(B_SIZE, 11));
    expect(fs.readlink("/l")).toBe("a");
    expect(fs.readdir("/d")).toEqual([{ name: "x", kind: "file" }]);
  });

  it("rejects a buffer without the squashfs magic", () => {
    expect(imageError(() => open(patched((v) => v.setUint32(0, 0x12345678, true))))?.code).toBe("BAD_MAGIC");
    expect(imageError(() => open(new Uint8Array(50)))?.code).toBe("TRUNCATED");
  });

  it("refuses squashfs 3.1 as UNSUPPORTED", () => {
    expect(imageError(() => open(patched((v) => (v.setUint16(28, 3, true), v.setUint16(30, 1, true)))))).toMatchObject({
      code: "UNSUPPORTED",
      message: expect.stringContaining("3.1"),
    });
  });

  it("rejects a block size that is not a power of two, or disagrees with block_log", () => {
    expect(imageError(() => open(patched((v) => v.setUint32(12, 5000, true))))?.code).toBe("CORRUPT");
    expect(imageError(() => open(patched((v) => v.setUint32(12, 2 << 20, true))))?.code).toBe("CORRUPT");
    expect(imageError(() => open(patched((v) => v.setUint16(22, 13, true))))?.code).toBe("CORRUPT");
  });

  it("rejects an inode table that starts after the directory table", () => {
    expect(imageError(() => open(patched((v) => v.setBigUint64(64, BigInt(L.dirStart + 10), true))))?.code).toBe(
      "CORRUPT",
    );
  });

  it("rejects table starts beyond bytes_used", () => {
    expect(imageError(() => open(patched((v, img) => v.setBigUint64(48, BigInt(img.length + 4096), true))))?.code).toBe(
      "CORRUPT",
    );
    expect(imageError(() => open(patched((v) => v.setBigUint64(80, 1n << 40n, true))))?.code).toBe("CORRUPT");
  });

  it("reports an image cut short of bytes_used as TRUNCATED", () => {
    const bytesUsed = Number(new DataView(base.buffer).getBigUint64(40, true));
    expect(imageError(() => open(base.subarray(0, bytesUsed - 1)))?.code).toBe("TRUNCATED");
  });

  it("refuses an unknown compressor id as UNSUPPORTED, naming it", () => {
    expect(imageError(() => open(patched((v) => v.setUint16(20, 9, true))))).toMatchObject({
      code: "UNSUPPORTED",
      message: expect.stringContaining("compressor id 9"),
    });
  });

  it("reads an uncompressed image tagged lzma, but refuses lzma when a compressed block is met", () => {
    const fs = open(patched((v) => v.setUint16(20, 2, true)));
    expect(fs.fsType).toBe("squashfs (lzma)");
    expect(new TextDecoder().decode(fs.readFile("/a", MAX))).toBe("hello\n");
    const gz = open(patched((v) => v.setUint16(20, 2, true), gzipBase));
    expect(imageError(() => gz.lstat("/a"))).toMatchObject({
      code: "UNSUPPORTED",
      message: expect.stringContaining("lzma"),
    });
  });

  it("does not loop on a metadata block whose header says size 0", () => {
    const fs = open(patched((v) => v.setUint16(L.inodeStart, 0x8000, true)));
    expect(imageError(() => fs.lstat("/a"))?.code).toBe("CORRUPT");
  });

  it("rejects a metadata block larger than 8 KiB", () => {
    const fs = open(patched((v) => v.setUint16(L.inodeStart, 0xffff, true)));
    expect(imageError(() => fs.lstat("/a"))?.code).toBe("CORRUPT");
  });

  it("rejects an inode reference beyond its metadata block", () => {
    const fs = open(patched((v) => v.setBigUint64(32, 9000n, true)));
    expect(imageError(() => fs.lstat("/"))?.code).toBe("CORRUPT");
  });

  it("rejects an unknown inode type", () => {
    const fs = open(patched((v) => v.setUint16(L.inode["/"] as number, 99, true)));
    expect(imageError(() => fs.readdir("/"))).toMatchObject({
      code: "CORRUPT",
      message: expect.stringContaining("inode type 99"),
    });
  });

  it("rejects a directory header claiming more than 256 entries", () => {
    const fs = open(patched((v) => v.setUint32(L.rootHeader, 300, true)));
    expect(imageError(() => fs.readdir("/"))?.code).toBe("CORRUPT");
  });

  for (const [what, byte] of [
    ["'.'", 0x2e],
    ["'/'", 0x2f],
    ["a NUL", 0x00],
  ] as const) {
    it(`rejects a directory entry named ${what}`, () => {
      const fs = open(patched((_v, img) => (img[(L.entry.a as number) + 8] = byte)));
      expect(imageError(() => fs.readdir("/"))?.code).toBe("CORRUPT");
    });
  }

  it("stops a directory listing that claims more bytes than its table holds", () => {
    const fs = open(patched((v) => v.setUint16((L.inode["/"] as number) + 24, 0xffff, true)));
    expect(imageError(() => fs.readdir("/"))).toBeInstanceOf(ImageError);
  });

  it("rejects a directory file_size below the 3 bytes of '.' and '..'", () => {
    const fs = open(patched((v) => v.setUint16((L.inode["/"] as number) + 24, 2, true)));
    expect(imageError(() => fs.readdir("/"))?.code).toBe("CORRUPT");
  });

  it("does not walk forever through a directory entry that points back to its own directory", () => {
    // Make /d's entry point at the root inode: /d/d/d/... is the root again, a cycle.
    const rootOffset = (L.inode["/"] as number) - L.inodeStart - 2;
    const fs = open(patched((v) => v.setUint16(L.entry.d as number, rootOffset, true)));
    expect(new TextDecoder().decode(fs.readFile(`/${"d/".repeat(200)}a`, MAX))).toBe("hello\n");
    expect(imageError(() => fs.lstat(`/${"d/".repeat(300)}a`))?.code).toBe("LIMIT");
  });

  it("refuses a symlink target longer than PATH_MAX with LIMIT", () => {
    const fs = open(patched((v) => v.setUint32((L.inode.l as number) + 20, 100_000, true)));
    expect(fs.lstat("/l")).toMatchObject({ kind: "symlink", size: 100_000 });
    expect(imageError(() => fs.readlink("/l"))?.code).toBe("LIMIT");
  });

  it("refuses a fragment index beyond the fragment count", () => {
    const fs = open(patched((v) => v.setUint32((L.inode.a as number) + 20, 5, true)));
    expect(imageError(() => fs.readFile("/a", MAX))?.code).toBe("CORRUPT");
  });

  it("refuses a tail that reaches outside its fragment block", () => {
    const fs = open(patched((v) => v.setUint32((L.inode.a as number) + 24, 0xffffff00, true)));
    expect(imageError(() => fs.readFile("/a", MAX))?.code).toBe("CORRUPT");
  });

  it("refuses a file larger than maxBytes without reading its data", () => {
    const img = patched((v) => v.setUint32((L.inode.a as number) + 28, 0xffffffff, true));
    const src = counting(bytesSource(img));
    const fs = openSquashfs(src);
    expect(fs.lstat("/a")?.size).toBe(0xffffffff);
    const before = src.bytes;
    expect(imageError(() => fs.readFile("/a", MAX))?.code).toBe("LIMIT");
    expect(src.bytes).toBe(before);
  });

  it("rejects a data block size word with bits above bit 24", () => {
    const fs = open(patched((v) => v.setUint32((L.inode.b as number) + 32, 0x02000000 | 4096, true)));
    expect(imageError(() => fs.readFile("/b", MAX))?.code).toBe("CORRUPT");
  });

  it("treats a zero block size word as a sparse block of zeros", () => {
    // b is two blocks (without -always-use-fragments only files below one block get a fragment);
    // zeroing the last word makes its 904-byte tail block sparse.
    const fs = open(patched((v) => v.setUint32((L.inode.b as number) + 36, 0, true)));
    const want = noise(B_SIZE, 11);
    want.fill(0, 4096);
    expect(fs.readFile("/b", MAX)).toEqual(want);
  });

  it("rejects a compressed data block that inflates beyond the block size", () => {
    const bomb = zlib.deflateSync(new Uint8Array(1 << 20));
    const img = patched((v, img) => {
      const at = Number(v.getUint32((L.inode.b as number) + 16, true));
      img.set(bomb, at);
      v.setUint32((L.inode.b as number) + 32, bomb.length, true); // compressed (bit 24 clear)
    });
    expect(imageError(() => open(img).readFile("/b", MAX))?.code).toBe("CORRUPT");
  });

  it("rejects a block that decodes to fewer bytes than the file needs there", () => {
    const short = zlib.deflateSync(new Uint8Array(100));
    const img = patched((v, img) => {
      const at = Number(v.getUint32((L.inode.b as number) + 16, true));
      img.set(short, at);
      v.setUint32((L.inode.b as number) + 32, short.length, true);
    });
    expect(imageError(() => open(img).readFile("/b", MAX))).toMatchObject({
      code: "CORRUPT",
      message: expect.stringContaining("expected 4096"),
    });
  });

  it("never throws anything but ImageError for single-byte damage anywhere in the metadata", () => {
    const start = L.inodeStart;
    for (let i = start; i < base.length; i++) {
      for (const x of [0x01, 0x80, 0xff]) {
        const img = Uint8Array.from(base);
        img[i] = (img[i] as number) ^ x;
        imageError(() => {
          const fs = open(img);
          for (const p of ["/a", "/b", "/l", "/d/x", "/d"]) {
            const st = fs.lstat(p);
            if (st?.kind === "file") fs.readFile(p, MAX);
            if (st?.kind === "symlink") fs.readlink(p);
            if (st?.kind === "dir") fs.readdir(p);
          }
        });
      }
    }
  });
});
