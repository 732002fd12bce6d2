// Every committed image (test/fixtures/images/MANIFEST) read through openImage + resolve.ts must
// show exactly the reference tree: names, kinds, modes, symlink targets, and every file byte for
// byte. A reader that throws UNSUPPORTED for a committed image fails here, on purpose.
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { bytesSource, type ByteSource } from "../../src/image/byte-source.ts";
import { openImage } from "../../src/image/open.ts";
import { readGpt, selectPartitions, typeName } from "../../src/image/partitions.ts";
import { compareVersions } from "../../src/common/version-order.ts";
import { openRawSource } from "../../src/image/raw.ts";
import { readFileInImage, resolveInImage } from "../../src/image/resolve.ts";
import { ImageError, type ImageTree } from "../../src/image/types.ts";

const DIR = fileURLToPath(new URL("../fixtures/images", import.meta.url));
const TREE = join(DIR, "tree");
const MAX = 4 * 1024 * 1024;

interface Fixture {
  image: string;
  sha256: string;
  osName: string;
  layout: "root" | "usr-only";
  arch: string;
  expect: string;
}

function manifest(): Fixture[] {
  return readFileSync(join(DIR, "MANIFEST"), "utf8")
    .split("\n")
    .filter((l) => l !== "" && !l.startsWith("#"))
    .map((line) => {
      const [image, ...kv] = line.split(" ");
      const f = Object.fromEntries(kv.map((p) => p.split("=", 2) as [string, string]));
      return {
        image: image as string,
        sha256: f.sha256,
        osName: f["os-name"],
        layout: f.layout,
        arch: f.arch,
        expect: f.expect,
      } as Fixture;
    });
}

const sha = (b: Uint8Array): string => createHash("sha256").update(b).digest("hex");

/** Canonical listing lines: "path kind mode size sha256|target" (as in tree.listing). */
function expectedListing(f: Fixture): string[] {
  const osRelease = expectedOsRelease(f.osName);
  const lines = readFileSync(join(DIR, "tree.listing"), "utf8")
    .split("\n")
    .filter((l) => l !== "")
    .map((l) => {
      const [path, kind, mode, size, extra] = l.split("\t");
      if (path === "/usr/lib/os-release") return [path, kind, mode, String(osRelease.length), sha(osRelease)].join(" ");
      return [path, kind, mode, size, extra].join(" ");
    });
  return f.layout === "usr-only" ? lines.filter((l) => l.startsWith("/usr ") || l.startsWith("/usr/")) : lines;
}

function expectedOsRelease(name: string): Uint8Array {
  const text = readFileSync(join(TREE, "usr/lib/os-release"), "utf8");
  expect(text.startsWith("NAME=Foo\n")).toBe(true);
  return new TextEncoder().encode(text.replace(/^NAME=Foo\n/, `NAME=${name}\n`));
}

/** Walks the whole image the way the generator could, through readdir/lstat/readlink/readFile. */
function listing(tree: ImageTree): string[] {
  const out: string[] = [];
  const walk = (dir: string): void => {
    for (const e of tree.readdir(dir)) {
      const path = `${dir === "/" ? "" : dir}/${e.name}`;
      const st = tree.lstat(path);
      if (!st) throw new Error(`readdir listed '${path}' but lstat does not find it`);
      expect(e.kind, `kind of ${path} from readdir vs lstat`).toBe(st.kind);
      const mode = st.mode.toString(8);
      if (st.kind === "dir") {
        out.push(`${path} d ${mode} - -`);
        walk(path);
      } else if (st.kind === "symlink") {
        const target = tree.readlink(path);
        out.push(`${path} l ${mode} ${st.size} ${target}`);
      } else if (st.kind === "file") {
        const data = tree.readFile(path, MAX);
        expect(data.length, `size of ${path}`).toBe(st.size);
        out.push(`${path} f ${mode} ${st.size} ${sha(data)}`);
      } else {
        out.push(`${path} other ${mode}`);
      }
    }
  };
  walk("/");
  return out.sort();
}

const fixtures = manifest();

describe("fixture manifest", () => {
  it("lists the images, each with the checksum it was built with", () => {
    expect(fixtures.length).toBeGreaterThanOrEqual(25);
    for (const f of fixtures) expect(sha(readFileSync(join(DIR, f.image))), f.image).toBe(f.sha256);
  });
});

describe.each(fixtures.filter((f) => f.expect === "ok"))("$image", (f) => {
  const open = (): ImageTree => openImage(join(DIR, f.image), { architecture: f.arch });

  it("lists the whole reference tree with identical kinds, modes, targets and file contents", () => {
    const tree = open();
    try {
      expect(tree.type).toBe("raw");
      let got = listing(tree);
      // mke2fs always makes /lost+found; it is really there, but not part of the reference tree.
      if (/ext[234]/.test(tree.description)) {
        expect(got).toContain("/lost+found d 700 - -");
        got = got.filter((l) => l !== "/lost+found d 700 - -");
      }
      expect(got).toEqual(expectedListing(f).sort());
    } finally {
      tree.close();
    }
  });

  it("resolves units and release files inside the image, byte for byte", () => {
    const tree = open();
    try {
      const read = (p: string): Uint8Array | undefined => readFileInImage(tree, p, MAX);
      const fromTree = (p: string): Uint8Array => new Uint8Array(readFileSync(join(TREE, p)));
      const osRelease = expectedOsRelease(f.osName);
      expect(read("/usr/lib/os-release")).toEqual(osRelease);
      expect(read("/usr/lib/extension-release.d/extension-release.foo")).toEqual(
        fromTree("usr/lib/extension-release.d/extension-release.foo"),
      );
      const units = "/usr/lib/systemd/system";
      for (const u of ["foo.service", "foo.socket", "foo@.service", "foo.service.d/10-override.conf"]) {
        expect(read(`${units}/${u}`), u).toEqual(fromTree(`usr/lib/systemd/system/${u}`));
      }
      const foo = fromTree("usr/lib/systemd/system/foo.service");
      // Relative, absolute and slow (long) symlinks all lead to foo.service.
      for (const alias of ["foo-alias.service", "foo-abs.service", "foo-slow.service"])
        expect(read(`${units}/${alias}`), alias).toEqual(foo);
      expect(read(`${units}/foo-dangling.service`)).toBeUndefined();
      expect(() => resolveInImage(tree, `${units}/foo-loop.service`)).toThrow(
        expect.objectContaining({ code: "LOOP" }),
      );
      expect(tree.readlink(`${units}/foo-masked.service`)).toBe("/dev/null");
      const big = read("/usr/share/foo/big.txt");
      expect(big && sha(big)).toBe(sha(fromTree("usr/share/foo/big.txt")));
      expect(read("/usr/share/foo/empty")).toEqual(new Uint8Array(0));
      expect(() => tree.readFile("/usr/share/foo/big.txt", 1000)).toThrow(expect.objectContaining({ code: "LIMIT" }));
      if (f.layout === "root") {
        expect(read("/etc/os-release")).toEqual(osRelease);
        // Climbing above / stays in the image: the target is the image's own /etc file.
        expect(resolveInImage(tree, `${units}/foo-escape.service`)).toBe("/etc/escape-target.service");
        expect(read(`${units}/foo-escape.service`)).toEqual(fromTree("etc/escape-target.service"));
        expect(read("/etc/systemd/system/foo-etc.service")).toEqual(fromTree("etc/systemd/system/foo-etc.service"));
        expect(read("/etc/systemd/system/multi-user.target.wants/foo.service")).toEqual(foo);
        // lib -> usr/lib: a symlink in the middle of the path.
        expect(read("/lib/systemd/system/foo.service")).toEqual(foo);
      } else {
        expect(tree.readdir("/").map((e) => e.name)).toEqual(["usr"]);
        expect(tree.lstat("/etc")).toBeUndefined();
        expect(resolveInImage(tree, "/usr/..")).toBe("/");
      }
    } finally {
      tree.close();
    }
  });
});

describe("open-time cost", () => {
  /** A source that counts what is read, optionally padded with zeros to `size` (no memory used). */
  const counting = (
    bytes: Uint8Array,
    size: number,
  ): ByteSource & { read: ByteSource["read"]; total: () => number } => {
    let total = 0;
    return {
      name: "counted",
      size,
      read(offset: number, length: number) {
        if (offset < 0 || length < 0 || offset + length > size) throw new ImageError("TRUNCATED", `read past ${size}`);
        total += length;
        const out = new Uint8Array(length);
        if (offset < bytes.length) out.set(bytes.subarray(offset, Math.min(offset + length, bytes.length)));
        return out;
      },
      total: () => total,
    };
  };

  it.each(fixtures.filter((f) => f.expect === "ok"))("$image: a few KiB at open, the same for a 1 GiB image", (f) => {
    const bytes = new Uint8Array(readFileSync(join(DIR, f.image)));
    const small = counting(bytes, bytes.length);
    const big = counting(bytes, 1024 ** 3);
    openRawSource(small, { architecture: f.arch }).close();
    openRawSource(big, { architecture: f.arch }).close();
    expect(small.total()).toBeLessThanOrEqual(64 * 1024);
    expect(big.total()).toBe(small.total());
  });
});

describe.each(fixtures.filter((f) => f.expect !== "ok"))("$image (not usable)", (f) => {
  it(`fails with ${f.expect} and says what it found`, () => {
    let error: unknown;
    try {
      openImage(join(DIR, f.image), { architecture: f.arch }).close();
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ImageError);
    expect((error as ImageError).code).toBe(f.expect);
    expect((error as ImageError).message).toContain(f.image);
  });
});

describe("Discoverable Partitions choices", () => {
  const path = (name: string): string => join(DIR, name);
  const osName = (tree: ImageTree): string | undefined =>
    new TextDecoder().decode(readFileInImage(tree, "/etc/os-release", MAX)).match(/^NAME=(.*)$/m)?.[1];

  it("multi-arch: picks the root for the architecture asked for", () => {
    const x86 = openImage(path("gpt-dps-multiarch.raw"), { architecture: "x86-64" });
    const arm = openImage(path("gpt-dps-multiarch.raw"), { architecture: "arm64" });
    try {
      expect(osName(x86)).toBe("Foo");
      expect(x86.description).toBe("gpt: root-x86-64 (erofs)");
      expect(osName(arm)).toBe("Foo-arm64");
      expect(arm.description).toMatch(/^gpt: root-arm64 \(squashfs/);
    } finally {
      x86.close();
      arm.close();
    }
    expect(() => openImage(path("gpt-dps-multiarch.raw"), { architecture: "riscv64" })).toThrow(
      /no root or usr partition for architecture riscv64; found esp, root-arm64, root-x86-64/,
    );
  });

  it("A/B: the newest label that is not marked no-auto wins", () => {
    const tree = openImage(path("gpt-dps-ab.raw"), { architecture: "x86-64" });
    try {
      expect(osName(tree)).toBe("Foo-AB-1.10");
      expect(tree.description).toMatch(/^gpt: root-x86-64 'foo_1.10' \(squashfs/);
    } finally {
      tree.close();
    }
    const table = readGpt(bytesSource(new Uint8Array(readFileSync(path("gpt-dps-ab.raw")))));
    expect(table?.partitions.map((p) => [p.label, p.noAuto])).toEqual([
      ["foo_9", true],
      ["foo_1.10", false],
      ["foo_1.9", false],
    ]);
    // Without the no-auto bit, foo_9 would be the newest.
    const all = { ...table!, partitions: table!.partitions.map((p) => ({ ...p, noAuto: false })) };
    expect(selectPartitions(all, "x86-64", "ab").root?.label).toBe("foo_9");
  });

  it("a root only for another architecture gives a clear error naming it", () => {
    expect(() => openImage(path("gpt-dps-foreign.raw"), { architecture: "x86-64" })).toThrow(
      /no root or usr partition for architecture x86-64 or x86; found root-arm64$/,
    );
    const arm = openImage(path("gpt-dps-foreign.raw"), { architecture: "arm64" });
    expect(osName(arm)).toBe("Foo-arm64");
    arm.close();
    // A name that is also an Object.prototype key is no architecture.
    expect(() => openImage(path("gpt-dps-foreign.raw"), { architecture: "constructor" })).toThrow(
      /^Unknown architecture 'constructor' for picking partitions of /,
    );
  });

  it("verity and signature partitions are recognised, never read as file systems", () => {
    const tree = openImage(path("gpt-dps-verity.raw"), { architecture: "x86-64" });
    expect(tree.description).toBe("gpt: root-x86-64 (erofs), root-x86-64-verity, root-x86-64-verity-sig");
    tree.close();
    // repart's convention, which build.sh follows: data/hash partition UUIDs are the root hash halves.
    const table = readGpt(bytesSource(new Uint8Array(readFileSync(path("gpt-dps-verity.raw")))))!;
    const rootHash = readFileSync(path("gpt-dps-verity.roothash"), "utf8").trim();
    expect(
      table.partitions
        .map((p) => p.uuid.replaceAll("-", ""))
        .slice(0, 2)
        .join(""),
    ).toBe(rootHash);
    // The signature partition: NUL-padded JSON naming the same root hash.
    const sig = table.partitions[2]!;
    const json = readFileSync(path("gpt-dps-verity.raw"))
      .subarray(sig.offset, sig.offset + sig.size)
      .toString("utf8")
      .replace(/\0+$/, "");
    expect(JSON.parse(json)).toMatchObject({ rootHash });
    expect(typeName(sig.type)).toBe("root-x86-64-verity-sig");
  });

  it("4096-byte sectors, usr-only, MBR and a generic Linux partition are described", () => {
    const cases: Array<[string, string | RegExp]> = [
      ["gpt4k-dps-root-squashfs.raw", /^gpt \(4096-byte sectors\): root-x86-64 \(squashfs/],
      ["gpt-dps-usr-erofs.raw", "gpt: usr-x86-64 (erofs)"],
      ["mbr-ext4.raw", "mbr: linux (mbr 0x83) (ext4)"],
      ["gpt-generic-squashfs.raw", /^gpt: linux-generic 'data' \(squashfs/],
      ["ext4-legacy.raw", "ext4"],
      ["ext2.raw", "ext2"],
      ["ext3.raw", "ext3"],
    ];
    for (const [image, description] of cases) {
      const tree = openImage(path(image), { architecture: "x86-64" });
      expect(tree.description).toMatch(description);
      tree.close();
    }
  });

  it("a non-bootable MBR partition is not used, as with systemd", () => {
    expect(() => openImage(path("mbr-nonboot.raw"), { architecture: "x86-64" })).toThrow(
      /partition 1 \(type 0x83\), not a bootable Linux partition/,
    );
  });

  it("a damaged primary GPT header falls back to the backup; both damaged is CORRUPT", () => {
    const bytes = new Uint8Array(readFileSync(path("gpt-dps-root-erofs.raw")));
    bytes[512 + 16] = (bytes[512 + 16] as number) ^ 0xff; // primary header CRC
    const tree = openRawSource(bytesSource(bytes, "primary-damaged"), { architecture: "x86-64" });
    expect(tree.description).toBe("gpt: root-x86-64 (erofs)");
    const last = bytes.length - 512;
    bytes[last + 16] = (bytes[last + 16] as number) ^ 0xff; // backup header CRC
    expect(() => openRawSource(bytesSource(bytes, "both-damaged"), { architecture: "x86-64" })).toThrow(
      expect.objectContaining({
        code: "CORRUPT",
        message: expect.stringMatching(
          /GPT is damaged: GPT header at LBA 1: header CRC32 mismatch; GPT header at LBA \d+: header CRC32 mismatch/,
        ),
      }),
    );
  });

  it("refuses LUKS, btrfs and unknown content with the right codes", () => {
    const img = (at: number, bytes: number[]): Uint8Array => {
      const b = new Uint8Array(128 * 1024);
      b.set(bytes, at);
      return b;
    };
    const openBytes = (b: Uint8Array): ImageTree =>
      openRawSource(bytesSource(b, "synthetic"), { architecture: "x86-64" });
    expect(() => openBytes(img(0, [0x4c, 0x55, 0x4b, 0x53, 0xba, 0xbe, 0, 2]))).toThrow(
      expect.objectContaining({ code: "UNSUPPORTED", message: expect.stringContaining("LUKS") }),
    );
    expect(() => openBytes(img(65600, [...Buffer.from("_BHRfS_M")]))).toThrow(
      expect.objectContaining({ code: "UNSUPPORTED", message: expect.stringContaining("btrfs") }),
    );
    expect(() => openBytes(img(0, []))).toThrow(expect.objectContaining({ code: "BAD_MAGIC" }));
    // 55 AA with an entry whose status byte is neither 0x00 nor 0x80 is not an MBR.
    const fake = img(510, [0x55, 0xaa]);
    fake.set([0x12, 0, 0, 0, 0x83, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0], 446);
    expect(() => openBytes(fake)).toThrow(expect.objectContaining({ code: "BAD_MAGIC" }));
  });

  it("orders labels as systemd-analyze compare-versions does (the ordering partitions.ts uses)", () => {
    const newer: Array<[string, string]> = [
      ["foo_1.10", "foo_1.9"],
      ["foo_9", "foo_1.10"],
      ["1.0", "1.0~rc1"],
      ["1.0^patch", "1.0"],
      ["1.0.1", "1.0-1"],
      ["123a", "123"],
      ["1.2", "1"],
      ["abc", ""],
      ["0010", "9"],
    ];
    for (const [a, b] of newer) {
      expect(compareVersions(a, b), `${a} > ${b}`).toBeGreaterThan(0);
      expect(compareVersions(b, a), `${b} < ${a}`).toBeLessThan(0);
    }
    expect(compareVersions("1.0", "1.0")).toBe(0);
    expect(compareVersions("00123", "123")).toBe(0);
    // "_" only separates, and a segment without a prefix is newer than a "." one.
    expect(compareVersions("1_0", "1.0")).toBeGreaterThan(0);
  });

  const id128 = (() => {
    try {
      return execFileSync("systemd-id128", ["show", "-u"], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] });
    } catch {
      return undefined;
    }
  })();
  it.skipIf(id128 === undefined)("every root/usr/verity type GUID systemd-id128 knows has the same name here", () => {
    // Skip the host aliases ("root", "usr-verity", "root-secondary", …): they repeat arch types.
    const alias = /^(root|usr)(-secondary)?(-verity(-sig)?)?$/;
    const known = (id128 as string)
      .split("\n")
      .map((l) => l.trim().split(/\s+/))
      .filter(
        (w): w is [string, string] =>
          w.length === 2 && /^(root|usr)/.test(w[0] as string) && !alias.test(w[0] as string),
      );
    expect(known.length).toBeGreaterThan(100);
    // systemd 257 lists some types under two names (root-arm and root-armv7l): ours is one of them.
    const names = new Map<string, string[]>();
    for (const [name, guid] of known) names.set(guid, [...(names.get(guid) ?? []), name]);
    for (const [guid, all] of names) expect(all, guid).toContain(typeName(guid));
  });

  it("names partition types like systemd-id128 does", () => {
    expect(typeName("4f68bce3-e8cd-4db1-96e7-fbcaf984b709")).toBe("root-x86-64");
    expect(typeName("e7bb33fb-06cf-4e81-8273-e543b413e2e2")).toBe("usr-x86-64-verity-sig");
    expect(typeName("d2f9000a-7a18-453f-b5cd-4d32f77a7b32")).toBe("usr-riscv64-verity-sig");
  });
});
