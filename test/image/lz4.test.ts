// LZ4 block decoder against the real lz4 CLI: its frames are split into blocks here (the frame
// format is just a header plus length-prefixed blocks), so every block we decode was made by the
// reference encoder, fast and HC. Hostile blocks are hand-built.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { lz4DecompressBlock } from "../../src/image/decompress/lz4.ts";
import { ImageError } from "../../src/image/types.ts";

const work = mkdtempSync(join(tmpdir(), "lz4-test-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

interface Block {
  data: Uint8Array;
  compressed: boolean;
}

/** Splits an LZ4 frame (as written by the lz4 CLI) into its blocks. */
function frameBlocks(frame: Uint8Array): Block[] {
  const v = new DataView(frame.buffer, frame.byteOffset, frame.byteLength);
  expect(v.getUint32(0, true)).toBe(0x184d2204);
  const flg = frame[4] as number;
  let p = 6 + (flg & 0x08 ? 8 : 0) + (flg & 0x01 ? 4 : 0) + 1;
  const blocks: Block[] = [];
  for (;;) {
    const word = v.getUint32(p, true);
    p += 4;
    if (word === 0) break;
    const size = word & 0x7fffffff;
    blocks.push({ data: frame.subarray(p, p + size), compressed: (word & 0x80000000) === 0 });
    p += size + (flg & 0x10 ? 4 : 0);
  }
  return blocks;
}

/** Compresses with the lz4 CLI (64 KiB independent blocks) and returns the compressed blocks. */
function lz4Cli(input: Uint8Array, level: string): Block[] {
  const inPath = join(work, "in");
  const outPath = join(work, "out.lz4");
  writeFileSync(inPath, input);
  execFileSync("lz4", ["-q", "-f", level, "-B4", "--no-frame-crc", inPath, outPath]);
  return frameBlocks(new Uint8Array(readFileSync(outPath)));
}

function decodeAll(blocks: Block[], total: number): Uint8Array {
  const out = new Uint8Array(total);
  let op = 0;
  for (const b of blocks) {
    if (!b.compressed) {
      out.set(b.data, op);
      op += b.data.length;
      continue;
    }
    op += lz4DecompressBlock(b.data, out.subarray(op, Math.min(op + 65536, total)));
  }
  expect(op).toBe(total);
  return out;
}

function seeded(n: number, seed: number): Uint8Array {
  const out = new Uint8Array(n);
  let x = seed;
  for (let i = 0; i < n; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    out[i] = x >>> 24;
  }
  return out;
}

interface Samples {
  text: Uint8Array;
  runs: Uint8Array;
  mixed: Uint8Array;
  tiny: Uint8Array;
  zeros: Uint8Array;
}

function samples(): Samples {
  const text = new TextEncoder().encode(
    Array.from(
      { length: 4000 },
      (_, i) => `[Unit]\nDescription=Service number ${i}\nExecStart=/usr/bin/foo --n=${i * 7}\n`,
    ).join(""),
  );
  const runs = new Uint8Array(200_000);
  for (let i = 0; i < runs.length; i++) runs[i] = Math.floor(i / 1000) % 3 === 0 ? 0x41 : (i % 7) + 0x30; // overlapping matches, long lengths
  const mixed = new Uint8Array(150_000);
  const rnd = seeded(150_000, 7);
  for (let i = 0; i < mixed.length; i++) mixed[i] = i % 4096 < 2048 ? (rnd[i] as number) : (rnd[i % 2048] as number);
  return { text, runs, mixed, tiny: new TextEncoder().encode("abc"), zeros: new Uint8Array(300_000) };
}

describe("lz4DecompressBlock against lz4 CLI output", () => {
  for (const level of ["-1", "-9", "-12"]) {
    for (const [name, input] of Object.entries(samples())) {
      it(`round-trips ${name} at ${level}`, () => {
        const blocks = lz4Cli(input, level);
        if (name !== "tiny") expect(blocks.some((b) => b.compressed)).toBe(true);
        expect(Buffer.from(decodeAll(blocks, input.length)).equals(Buffer.from(input))).toBe(true);
      });
    }
  }

  it("stops cleanly at every possible output size (partial decode, as erofs needs)", () => {
    const input = samples().text.subarray(0, 65536);
    const block = lz4Cli(input, "-12")[0] as Block;
    expect(block.compressed).toBe(true);
    for (let n = 0; n <= 3000; n += 1) {
      const dst = new Uint8Array(n);
      expect(lz4DecompressBlock(block.data, dst)).toBe(n);
      expect(Buffer.from(dst).equals(Buffer.from(input.subarray(0, n)))).toBe(true);
    }
  });

  it("leaves bytes past dst untouched (dst is a subarray of a larger buffer)", () => {
    const input = samples().runs.subarray(0, 65536);
    const block = lz4Cli(input, "-1")[0] as Block;
    const big = new Uint8Array(70000).fill(0xee);
    expect(lz4DecompressBlock(block.data, big.subarray(0, 5000))).toBe(5000);
    expect(big.subarray(5000).every((b) => b === 0xee)).toBe(true);
  });
});

function corrupt(src: number[], dstSize = 1000): ImageError {
  try {
    lz4DecompressBlock(new Uint8Array(src), new Uint8Array(dstSize));
  } catch (e) {
    expect(e).toBeInstanceOf(ImageError);
    expect((e as ImageError).code).toBe("CORRUPT");
    return e as ImageError;
  }
  throw new Error("expected CORRUPT");
}

describe("lz4DecompressBlock hand-built sequences", () => {
  it("decodes literals only, an overlapping match, and the empty block", () => {
    const dst = new Uint8Array(20);
    // "ab" then match offset 2 length 4+6=10, then final literal "z".
    expect(lz4DecompressBlock(new Uint8Array([0x26, 0x61, 0x62, 2, 0, 0x10, 0x7a]), dst)).toBe(13);
    expect(new TextDecoder().decode(dst.subarray(0, 13))).toBe("ababababababz");
    expect(lz4DecompressBlock(new Uint8Array([0x00]), new Uint8Array(0))).toBe(0);
  });

  it("extended literal and match lengths", () => {
    const lit = Array.from({ length: 15 + 255 + 3 }, (_, i) => i & 0xff);
    // 273 literals (15+255+3), match offset 1 length 4+15+255+0=274, final 1 literal.
    const src = [0xff, 255, 3, ...lit, 1, 0, 255, 0, 0x10, 9];
    const dst = new Uint8Array(1000);
    expect(lz4DecompressBlock(new Uint8Array(src), dst)).toBe(273 + 274 + 1);
    expect(dst.subarray(273, 273 + 274).every((b) => b === lit[272])).toBe(true);
    expect(dst[273 + 274]).toBe(9);
  });

  it("rejects match offset 0", () => expect(corrupt([0x10, 0x61, 0, 0, 0x00]).message).toMatch(/offset 0/));
  it("rejects a match offset before the start of the output", () =>
    expect(corrupt([0x10, 0x61, 2, 0, 0x00]).message).toMatch(/before the start/));
  it("rejects a match as the very first sequence", () => corrupt([0x00, 1, 0, 0x00]));
  it("rejects a literal run past the end of src", () => corrupt([0x50, 1, 2, 3]));
  it("rejects a literal length extension cut off by the end of src", () => corrupt([0xf0, 255, 255]));
  it("rejects a block cut inside a match offset", () => corrupt([0x10, 0x61, 1]));
  it("rejects a match length extension cut off by the end of src", () => corrupt([0x1f, 0x61, 1, 0, 255]));
  it("rejects a block that ends with a match instead of literals", () => corrupt([0x10, 0x61, 1, 0]));
  it("rejects an empty src", () => corrupt([]));

  it("never writes past dst or throws anything but CORRUPT on random garbage", () => {
    const dst = new Uint8Array(4096);
    for (let seed = 1; seed < 3000; seed++) {
      const src = seeded(1 + (seed % 300), seed);
      try {
        const n = lz4DecompressBlock(src, dst);
        expect(n).toBeLessThanOrEqual(dst.length);
      } catch (e) {
        expect(e).toBeInstanceOf(ImageError);
        expect((e as ImageError).code).toBe("CORRUPT");
      }
    }
  });

  it("rejects every truncation of a real block unless dst fills first", () => {
    const input = samples().text.subarray(0, 20000);
    const block = (lz4Cli(input, "-9")[0] as Block).data;
    for (let cut = 0; cut < block.length; cut += 7) {
      const dst = new Uint8Array(input.length);
      try {
        const n = lz4DecompressBlock(block.subarray(0, cut), dst);
        // A cut that lands right after a literal run decodes a prefix; it must be a correct one.
        expect(n).toBeLessThan(input.length);
        expect(Buffer.from(dst.subarray(0, n)).equals(Buffer.from(input.subarray(0, n)))).toBe(true);
      } catch (e) {
        expect((e as ImageError).code).toBe("CORRUPT");
      }
    }
  });
});
