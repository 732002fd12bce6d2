// dm-verity and root-hash signatures, on images built by the real tools (test/helpers/verity-images.sh).
import { execFileSync } from "node:child_process";
import { X509Certificate } from "node:crypto";
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bytesSource, type ByteSource } from "../../src/image/byte-source.ts";
import { openImage } from "../../src/image/open.ts";
import { DerError, findSigner, parsePkcs7 } from "../../src/image/pkcs7.ts";
import { readFileInImage } from "../../src/image/resolve.ts";
import { ImageError } from "../../src/image/types.ts";
import { readVeritySuperblock, verifiedSource } from "../../src/image/verity.ts";
import { protect } from "../../src/image/verity-setup.ts";
import { verityTrust } from "../../src/image/verity-trust.ts";
import { hostPath } from "../../src/io/root-path.ts";
import { imageError } from "../helpers/image-error.ts";
import { rng } from "../helpers/random.ts";

const BUILD = join(import.meta.dirname, "..", "helpers", "verity-images.sh");
let dir: string;
/** A root whose /etc/verity.d trusts trusted-rsa and trusted-ec; and one with no certificates. */
let trusted: string;
let empty: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "pa-verity-"));
  execFileSync(BUILD, [dir]);
  trusted = join(dir, "trusted-root");
  mkdirSync(join(trusted, "etc/verity.d"), { recursive: true });
  mkdirSync(join(trusted, "usr/lib/verity.d"), { recursive: true });
  copyFileSync(join(dir, "keys/trusted-rsa.crt"), join(trusted, "etc/verity.d/rsa.crt"));
  copyFileSync(join(dir, "keys/trusted-ec.crt"), join(trusted, "usr/lib/verity.d/ec.crt"));
  empty = join(dir, "empty-root");
  mkdirSync(empty);
}, 60_000);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const open = (name: string, root = trusted) =>
  openImage(join(dir, name), { architecture: "x86-64", trust: verityTrust((p) => hostPath(root, p)) });
const unit = (name: string, root = trusted) => {
  const t = open(name, root);
  try {
    return Buffer.from(readFileInImage(t, "/usr/lib/systemd/system/app.service", 1 << 20) ?? []).toString();
  } finally {
    t.close();
  }
};

/** A copy of `name` (and its side files) as `copy`, with one byte changed at the first `marker` (plus `delta`) or at `offset`. */
function tampered(
  name: string,
  copy: string,
  where: { marker?: string; offset?: number; delta?: number },
  file = name,
): string {
  for (const ext of [".raw", ".verity", ".roothash", ".roothash.p7s"]) {
    try {
      copyFileSync(join(dir, name.replace(/\.raw$/, ext)), join(dir, copy.replace(/\.raw$/, ext)));
    } catch {
      // no such side file
    }
  }
  const target = join(dir, file === name ? copy : file.replace(name.replace(/\.raw$/, ""), copy.replace(/\.raw$/, "")));
  const bytes = readFileSync(target);
  const at = where.marker !== undefined ? bytes.indexOf(where.marker) + (where.delta ?? 0) : (where.offset as number);
  expect(at).toBeGreaterThanOrEqual(0);
  bytes[at] = (bytes[at] as number) ^ 0x01;
  writeFileSync(target, bytes);
  return copy;
}

/** Changes the hex digit right after `marker` in `file` into another hex digit. */
function otherHexDigit(file: string, marker: string): void {
  const bytes = readFileSync(file);
  const at = bytes.indexOf(marker) + marker.length;
  bytes[at] = bytes[at] === 0x30 ? 0x31 : 0x30;
  writeFileSync(file, bytes);
}

describe("dm-verity images", () => {
  it("a signed GPT image is read and reported as signed", () => {
    const t = open("signed.raw");
    expect(t.protection?.level).toBe("signed");
    expect(t.protection?.details.join()).toMatch(
      /root-x86-64: signed \(sha256, root hash [0-9a-f]{64} from partition 3 \(root-x86-64-verity-sig\), certificate \/etc\/verity.d\/rsa.crt\)/,
    );
    t.close();
    expect(unit("signed.raw")).toContain("APP-UNIT-MARKER");
  });

  it("without certificates the signature is noted, not checked", () => {
    const t = open("signed.raw", empty);
    expect(t.protection?.level).toBe("verity");
    expect(t.protection?.notes.join()).toMatch(
      /signature in partition 3 \(root-x86-64-verity-sig\) was not checked: no certificates/,
    );
    t.close();
    expect(unit("untrusted.raw", empty)).toContain("APP-UNIT-MARKER");
  });

  it("a signature by a key not in verity.d is refused", () => {
    const e = imageError(() => open("untrusted.raw"));
    expect(e?.message).toMatch(
      /untrusted\.raw: root-x86-64: the signature in partition 3 \(root-x86-64-verity-sig\) of root hash [0-9a-f]{64} was not made by any of the 2 certificate\(s\) in verity.d/,
    );
  });

  it("one byte changed in the unit file is refused when the unit is read", () => {
    tampered("signed.raw", "t-unit.raw", { marker: "APP-UNIT-MARKER" });
    const e = imageError(() => unit("t-unit.raw"));
    expect(e?.code).toBe("CORRUPT");
    expect(e?.message).toMatch(
      /t-unit\.raw \(partition 1 root-x86-64\): dm-verity check failed: data block \d+ .* does not match its hash \(hash tree partition 2 \(root-x86-64-verity\), root hash from partition 3 \(root-x86-64-verity-sig\)\)/,
    );
  });

  it("one byte changed in a directory block is refused", () => {
    tampered("signed.raw", "t-dir.raw", { marker: "zz-dir-marker" });
    // erofs keeps this directory in block 0 with the superblock: refused before anything is used.
    const e = imageError(() => {
      const t = open("t-dir.raw");
      try {
        t.readdir("/usr/lib/systemd/system/app.service.d");
      } finally {
        t.close();
      }
    });
    expect(e?.message).toMatch(/dm-verity check failed: data block \d+ /);
  });

  it("one byte changed in the hash tree is refused", () => {
    // The first hash block (the top level) follows the 4 KiB superblock of partition 2.
    tampered("signed.raw", "t-tree.raw", { marker: "verity\0\0", delta: 4096 + 100 });
    expect(imageError(() => open("t-tree.raw"))?.message).toMatch(/the top hash block does not match the root hash/);
  });

  it("a changed root hash in the signature partition is refused (signature or UUIDs)", () => {
    copyFileSync(join(dir, "signed.raw"), join(dir, "t-json.raw"));
    otherHexDigit(join(dir, "t-json.raw"), '"rootHash":"');
    expect(imageError(() => open("t-json.raw"))?.message).toMatch(
      /t-json\.raw: root-x86-64: partition UUIDs \(.*\) do not match the root hash from partition 3 \(root-x86-64-verity-sig\)/,
    );
  });

  it("verity without signature: root hash from the partition UUIDs", () => {
    const t = open("hashonly.raw");
    expect(t.protection?.level).toBe("verity");
    expect(t.protection?.details.join()).toContain("from the partition UUIDs), not signed");
    t.close();
    tampered("hashonly.raw", "t-hashonly.raw", { marker: "APP-UNIT-MARKER" });
    expect(imageError(() => unit("t-hashonly.raw"))?.message).toMatch(/dm-verity check failed/);
  });

  it("a naked image with .verity and .roothash side files", () => {
    const t = open("naked.raw");
    expect(t.protection?.level).toBe("verity");
    expect(t.protection?.details.join()).toContain(`from ${join(dir, "naked.roothash")}`);
    t.close();
    expect(unit("naked.raw")).toContain("APP-UNIT-MARKER");
    tampered("naked.raw", "t-naked.raw", { marker: "APP-UNIT-MARKER" });
    expect(imageError(() => unit("t-naked.raw"))?.message).toMatch(
      /t-naked\.raw: dm-verity check failed: data block \d+ .*hash tree .*t-naked\.verity, root hash from .*t-naked\.roothash/,
    );
  });

  it("a naked image with a .roothash.p7s signed by a trusted EC key", () => {
    const t = open("nakedsig.raw");
    expect(t.protection?.level).toBe("signed");
    expect(t.protection?.details.join()).toContain("certificate /usr/lib/verity.d/ec.crt");
    t.close();
  });

  it("a wrong .roothash, or one without a hash tree, is refused", () => {
    for (const ext of [".raw", ".verity", ".roothash"]) copyFileSync(join(dir, `naked${ext}`), join(dir, `t-rh${ext}`));
    otherHexDigit(join(dir, "t-rh.roothash"), "");
    expect(imageError(() => open("t-rh.raw"))?.message).toMatch(/top hash block does not match the root hash/);
    copyFileSync(join(dir, "plain.raw"), join(dir, "t-nohash.raw"));
    copyFileSync(join(dir, "naked.roothash"), join(dir, "t-nohash.roothash"));
    expect(imageError(() => open("t-nohash.raw"))?.message).toMatch(
      /t-nohash\.raw: image: a root hash or signature is given \(.*t-nohash\.roothash\) but there is no hash tree/,
    );
    copyFileSync(join(dir, "plain.raw"), join(dir, "t-nohash2.raw"));
    copyFileSync(join(dir, "nakedsig.roothash.p7s"), join(dir, "t-nohash2.roothash.p7s"));
    expect(imageError(() => open("t-nohash2.raw"))?.message).toMatch(
      /t-nohash2\.raw: image: a root hash or signature is given \(.*t-nohash2\.roothash\.p7s\) but there is no hash tree/,
    );
  });

  it("an image without verity data is unprotected", () => {
    const t = open("plain.raw");
    expect(t.protection?.level).toBe("unprotected");
    t.close();
  });

  it("a certificate file that does not parse is not taken for 'no certificates configured'", () => {
    const root = join(dir, "broken-root");
    mkdirSync(join(root, "etc/verity.d"), { recursive: true });
    writeFileSync(
      join(root, "etc/verity.d/broken.crt"),
      "-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n",
    );
    expect(imageError(() => open("signed.raw", root))?.message).toMatch(
      /not made by any of the 0 certificate\(s\) in verity.d \(unusable: \/etc\/verity.d\/broken.crt: /,
    );
  });

  it("a certificate masked by an empty file of the same name in a higher directory is not trusted", () => {
    const root = join(dir, "masked-root");
    mkdirSync(join(root, "etc/verity.d"), { recursive: true });
    mkdirSync(join(root, "usr/lib/verity.d"), { recursive: true });
    copyFileSync(join(dir, "keys/trusted-rsa.crt"), join(root, "usr/lib/verity.d/a.crt"));
    copyFileSync(join(dir, "keys/trusted-ec.crt"), join(root, "usr/lib/verity.d/b.crt"));
    writeFileSync(join(root, "etc/verity.d/a.crt"), "");
    expect(imageError(() => open("signed.raw", root))?.message).toMatch(/not made by any of the 1 certificate/);
  });

  it("under a root, an absolute symlink for verity.d is followed inside the root, not onto the host", () => {
    const root = join(dir, "linked-root");
    mkdirSync(join(root, "etc"), { recursive: true });
    mkdirSync(join(root, "srv/certs"), { recursive: true });
    copyFileSync(join(dir, "keys/trusted-rsa.crt"), join(root, "srv/certs/rsa.crt"));
    symlinkSync("/srv/certs", join(root, "etc/verity.d"));
    const loaded = verityTrust((p) => hostPath(root, p)).load();
    expect(loaded.files).toEqual(["/etc/verity.d/rsa.crt"]);
    expect(loaded.certificates).toHaveLength(1);
  });
});

describe("verified source", () => {
  it("reads each block from the data once, however often it is read", () => {
    const hashFile = readFileSync(join(dir, "naked.verity"));
    const data = readFileSync(join(dir, "naked.raw"));
    let reads = 0;
    const counting: ByteSource = {
      name: "data",
      size: data.length,
      read: (o, l) => (reads++, data.subarray(o, o + l)),
    };
    const hash = bytesSource(hashFile, "hash");
    const sb = readVeritySuperblock(hash, "hash");
    expect(sb).toMatchObject({
      algorithm: "sha256",
      dataBlockSize: 4096,
      hashBlockSize: 4096,
      dataBlocks: data.length / 4096,
    });
    const root = Buffer.from(readFileSync(join(dir, "naked.roothash"), "utf8").trim(), "hex");
    const v = verifiedSource(counting, hash, sb, root, { data: "data", hash: "hash", rootHashFrom: "test" });
    expect(Buffer.from(v.read(5000, 9000))).toEqual(data.subarray(5000, 14000));
    expect(reads).toBe(3);
    v.read(4096, 100);
    v.read(0, 8192);
    expect(reads).toBe(4);
  });
});

describe("an image made by systemd-repart", () => {
  // repart 252 needs root and loop devices to format; newer ones work offline. Skipped where it cannot.
  it("Verity=data/hash/signature: read, and signed by its certificate", (ctx) => {
    const d = join(dir, "repart");
    mkdirSync(join(d, "defs"), { recursive: true });
    mkdirSync(join(d, "tree/usr/lib/systemd/system"), { recursive: true });
    writeFileSync(join(d, "tree/usr/lib/os-release"), "ID=rep\n");
    writeFileSync(join(d, "tree/usr/lib/systemd/system/rep.service"), "[Service]\nExecStart=/bin/true\n");
    const part = (file: string, text: string) =>
      writeFileSync(join(d, "defs", file), `[Partition]\n${text}VerityMatchKey=root\n`);
    part("10-root.conf", `Type=root\nFormat=squashfs\nCopyFiles=${join(d, "tree")}:/\nVerity=data\n`);
    part("20-verity.conf", "Type=root-verity\nVerity=hash\n");
    part("30-sig.conf", "Type=root-verity-sig\nVerity=signature\n");
    const image = join(dir, "rep.raw");
    const keys = join(dir, "keys/trusted-rsa");
    const args = [
      "--empty=create",
      "--size=auto",
      `--definitions=${join(d, "defs")}`,
      `--private-key=${keys}.key`,
      `--certificate=${keys}.crt`,
      "--dry-run=no",
      image,
    ];
    try {
      execFileSync("systemd-repart", args, { stdio: "ignore", timeout: 60_000 });
    } catch {
      ctx.skip("systemd-repart cannot make the image here (252 needs root and loop devices)");
    }
    const t = open("rep.raw");
    try {
      expect(t.protection?.level).toBe("signed");
      expect(t.protection?.details.join()).toMatch(
        /^root-x86-64: signed \(sha256, root hash [0-9a-f]{64} from partition 3 \(root-x86-64-verity-sig\), certificate \/etc\/verity.d\/rsa.crt\)$/,
      );
      expect(Buffer.from(readFileInImage(t, "/usr/lib/systemd/system/rep.service", 4096) ?? []).toString()).toContain(
        "ExecStart=/bin/true",
      );
    } finally {
      t.close();
    }
    expect(imageError(() => open("rep.raw", join(dir, "masked-root-none")))).toBeUndefined();
  }, 90_000);
});

describe("hash tree layouts veritysetup makes", () => {
  it.each([
    ["4096/4096 sha256", ["--data-block-size=4096", "--hash-block-size=4096"]],
    ["1024/512 sha512, 3 levels", ["--data-block-size=1024", "--hash-block-size=512", "--hash=sha512"]],
    ["512/4096 sha384, no salt", ["--data-block-size=512", "--hash-block-size=4096", "--hash=sha384", "--salt=-"]],
    [
      "one data block: no hash levels, the root hash is the block's",
      ["--data-block-size=4096", "--hash-block-size=4096"],
      4096,
    ],
  ])("%s: every block verifies, and a changed one does not", (_label, flags, bytes?: number) => {
    let data = readFileSync(join(dir, "naked.raw"));
    if (bytes !== undefined) {
      data = data.subarray(0, bytes);
      writeFileSync(join(dir, "one-block.raw"), data);
    }
    const hashFile = join(dir, `layout-${Math.random()}.verity`);
    const out = execFileSync(
      "veritysetup",
      ["format", ...flags, join(dir, bytes === undefined ? "naked.raw" : "one-block.raw"), hashFile],
      { encoding: "utf8" },
    );
    const root = Buffer.from(/Root hash:\s+([0-9a-f]+)/.exec(out)?.[1] ?? "", "hex");
    const hash = bytesSource(readFileSync(hashFile), "hash");
    const sb = readVeritySuperblock(hash, "hash");
    const names = { data: "data", hash: "hash", rootHashFrom: "test" };
    expect(Buffer.from(verifiedSource(bytesSource(data, "data"), hash, sb, root, names).read(0, data.length))).toEqual(
      data,
    );
    const changed = Buffer.from(data);
    changed[data.length - 1] = (changed[data.length - 1] as number) ^ 1;
    const v = verifiedSource(bytesSource(changed, "data"), hash, sb, root, names);
    if (bytes === undefined) expect(Buffer.from(v.read(0, 512))).toEqual(data.subarray(0, 512));
    expect(imageError(() => v.read(data.length - 10, 10))?.message).toMatch(
      /data block \d+ .* does not match its hash/,
    );
  });
});

describe("PKCS#7 parser", () => {
  const p7s = () => readFileSync(join(dir, "nakedsig.roothash.p7s"));
  const roothash = () => Buffer.from(readFileSync(join(dir, "nakedsig.roothash"), "utf8").trim());
  const cert = () => new X509Certificate(readFileSync(join(dir, "keys/trusted-ec.crt")));

  it("finds the signer of openssl cms -sign -noattr output, and only for the right content", () => {
    const s = parsePkcs7(p7s());
    expect(findSigner(s, roothash(), [cert()])).toBeDefined();
    expect(findSigner(s, Buffer.from("0".repeat(64)), [cert()])).toBeUndefined();
    expect(
      findSigner(s, roothash(), [new X509Certificate(readFileSync(join(dir, "keys/untrusted.crt")))]),
    ).toBeUndefined();
  });

  it("accepts signed attributes (openssl cms -sign without -noattr)", () => {
    const out = join(dir, "attr.p7s");
    execFileSync("openssl", [
      "cms",
      "-sign",
      "-binary",
      "-in",
      join(dir, "nakedsig.roothash"),
      "-inkey",
      join(dir, "keys/trusted-rsa.key"),
      "-signer",
      join(dir, "keys/trusted-rsa.crt"),
      "-outform",
      "DER",
      "-out",
      out,
    ]);
    const s = parsePkcs7(readFileSync(out));
    expect(s.signedAttributes).toBeDefined();
    const rsa = new X509Certificate(readFileSync(join(dir, "keys/trusted-rsa.crt")));
    expect(findSigner(s, readFileSync(join(dir, "nakedsig.roothash")), [rsa])).toBeDefined();
    expect(findSigner(s, roothash(), [rsa])).toBeUndefined(); // without the newline: another message digest
  });

  it("survives hostile input: truncations and random byte changes throw DerError or verify nothing", () => {
    const good = p7s();
    const rnd = rng(18);
    const certs = [cert()];
    for (let n = 0; n < good.length; n += 7) expect(() => parsePkcs7(good.subarray(0, n))).toThrow(DerError);
    for (let i = 0; i < 3000; i++) {
      const b = Buffer.from(good);
      for (let k = 1 + Math.floor(rnd() * 4); k > 0; k--) b[Math.floor(rnd() * b.length)] = Math.floor(rnd() * 256);
      let s;
      try {
        s = parsePkcs7(b);
      } catch (e) {
        expect(e).toBeInstanceOf(DerError);
        continue;
      }
      // A change in the signature or the signed parts must not verify; one elsewhere (the embedded certificate) may.
      findSigner(s, roothash(), certs);
    }
    expect(() => parsePkcs7(new Uint8Array(70_000))).toThrow(DerError);
    expect(() => parsePkcs7(Uint8Array.from([0x30, 0x84, 0xff, 0xff, 0xff, 0xff]))).toThrow(DerError);
    expect(() => parsePkcs7(Uint8Array.from([0x30, 0x80, 0, 0]))).toThrow(DerError);
  });
});

describe("hostile verity data", () => {
  const onlyImageErrors = (fn: () => void): void => {
    try {
      fn();
    } catch (e) {
      if (!(e instanceof ImageError)) throw e;
    }
  };

  it("random changes to the superblock or the tree give ImageError or correct bytes, nothing else", () => {
    const good = readFileSync(join(dir, "naked.verity"));
    const data = readFileSync(join(dir, "naked.raw"));
    const root = Buffer.from(readFileSync(join(dir, "naked.roothash"), "utf8").trim(), "hex");
    const rnd = rng(7);
    let served = 0;
    for (let i = 0; i < 2000; i++) {
      const h = Buffer.from(good);
      // Mostly the superblock fields (block sizes, counts, salt size, algorithm), sometimes the tree.
      const span = i % 4 === 0 ? h.length : 96;
      for (let k = 1 + Math.floor(rnd() * 3); k > 0; k--) h[Math.floor(rnd() * span)] = Math.floor(rnd() * 256);
      onlyImageErrors(() => {
        const hash = bytesSource(h, "hash");
        const v = verifiedSource(bytesSource(data, "data"), hash, readVeritySuperblock(hash, "hash"), root, {
          data: "data",
          hash: "hash",
          rootHashFrom: "test",
        });
        const at = Math.floor(rnd() * (v.size - 100));
        expect(Buffer.from(v.read(at, 100))).toEqual(data.subarray(at, at + 100));
        served++;
      });
    }
    expect(served).toBeGreaterThan(0); // changes in unused bytes (padding) change nothing
  });

  it("hostile signature JSON is refused with ImageError", () => {
    const data = bytesSource(readFileSync(join(dir, "naked.raw")), "data");
    const hash = { source: bytesSource(readFileSync(join(dir, "naked.verity")), "hash"), name: "hash" };
    const trust = verityTrust((p) => hostPath(trusted, p));
    const rnd = rng(11);
    const good = Buffer.from(
      JSON.stringify({
        rootHash: readFileSync(join(dir, "nakedsig.roothash"), "utf8").trim(),
        signature: readFileSync(join(dir, "nakedsig.roothash.p7s")).toString("base64"),
      }),
    );
    const samples = [
      "",
      "{",
      "null",
      "[]",
      '{"rootHash":1,"signature":"x"}',
      '{"rootHash":"zz","signature":""}',
      '{"rootHash":"00","signature":"!!"}',
      "\u0000{}",
    ];
    for (const t of samples)
      expect(() =>
        protect({ data, label: "image", hash, sigJson: { bytes: Buffer.from(t), name: "sig" } }, trust, "img"),
      ).toThrow(ImageError);
    for (let i = 0; i < 300; i++) {
      const b = Buffer.from(good);
      for (let k = 1 + Math.floor(rnd() * 3); k > 0; k--) b[Math.floor(rnd() * b.length)] = Math.floor(rnd() * 256);
      onlyImageErrors(() => protect({ data, label: "image", hash, sigJson: { bytes: b, name: "sig" } }, trust, "img"));
    }
  });
});
