import { randomBytes } from "node:crypto";
import * as zlib from "node:zlib";
import { describe, expect, it } from "vitest";
import { zlibInflate } from "../../src/image/decompress/inflate.ts";
import { ImageError } from "../../src/image/types.ts";

// Inputs that exercise every block type: text (dynamic codes, long matches), runs (overlapping
// copies), random bytes (stored blocks), and each zlib strategy.
const text = Buffer.from(
  Array.from({ length: 3000 }, (_, i) => `[Service]\nExecStart=/usr/bin/svc${i % 37} --flag=${i}\n`).join(""),
);
const inputs: [string, Buffer][] = [
  ["empty", Buffer.alloc(0)],
  ["one byte", Buffer.from("x")],
  ["text", text],
  ["zeros", Buffer.alloc(70_000)],
  ["random", randomBytes(100_000)],
  [
    "mixed",
    Buffer.concat([text.subarray(0, 9000), randomBytes(5000), Buffer.alloc(3000, 7), text.subarray(5000, 20000)]),
  ],
];
const options: [string, zlib.ZlibOptions][] = [
  ["level 0", { level: 0 }],
  ["level 1", { level: 1 }],
  ["level 9", { level: 9 }],
  ["fixed", { strategy: zlib.constants.Z_FIXED }],
  ["huffman only", { strategy: zlib.constants.Z_HUFFMAN_ONLY }],
  ["rle", { strategy: zlib.constants.Z_RLE }],
  ["small window", { windowBits: 9, memLevel: 1 }],
];

describe("zlibInflate", () => {
  for (const [name, data] of inputs) {
    for (const [how, opts] of options) {
      it(`decodes ${name}, ${how}, as zlib does`, () => {
        const z = zlib.deflateSync(data, opts);
        expect(Buffer.from(zlibInflate(z, data.length))).toEqual(data);
      });
    }
  }

  it("refuses to decode more than the maximum", () => {
    const z = zlib.deflateSync(text);
    expect(() => zlibInflate(z, text.length - 1)).toThrow(/more than/);
    const stored = zlib.deflateSync(randomBytes(1000), { level: 0 });
    expect(() => zlibInflate(stored, 999)).toThrow(/more than/);
  });

  it("refuses a wrong header, a preset dictionary, a truncated stream and a wrong checksum", () => {
    const z = zlib.deflateSync(text);
    const bad = (f: (b: Buffer) => void) => {
      const b = Buffer.from(z);
      f(b);
      return b;
    };
    expect(() =>
      zlibInflate(
        bad((b) => (b[0] = 0x79)),
        text.length,
      ),
    ).toThrow(/not deflate data|header check/);
    expect(() =>
      zlibInflate(
        bad((b) => (b[1] = (b[1] as number) ^ 1)),
        text.length,
      ),
    ).toThrow(/header check/);
    expect(() => zlibInflate(zlib.deflateSync(text, { dictionary: Buffer.from("Service") }), text.length)).toThrow(
      /dictionary/,
    );
    expect(() => zlibInflate(z.subarray(0, z.length - 10), text.length)).toThrow(ImageError);
    expect(() =>
      zlibInflate(
        bad((b) => (b[b.length - 1] = (b[b.length - 1] as number) ^ 1)),
        text.length,
      ),
    ).toThrow(/Adler-32/);
  });

  it("throws only ImageError, and never decodes wrong data silently, whatever byte is damaged", () => {
    const data = Buffer.concat([text.subarray(0, 3000), Buffer.alloc(500, 1)]);
    for (const opts of [{}, { strategy: zlib.constants.Z_FIXED }, { level: 0 }]) {
      const z = zlib.deflateSync(data, opts);
      for (let i = 0; i < z.length; i++) {
        for (const flip of [1, 0x80, 0xff]) {
          const b = Buffer.from(z);
          b[i] = (b[i] as number) ^ flip;
          try {
            expect(Buffer.from(zlibInflate(b, data.length))).toEqual(data);
          } catch (e) {
            if (!(e instanceof ImageError)) throw e;
          }
        }
      }
    }
  });
});
