// The raw image reader's chunk cache (raw.ts): reads go through aligned 64 KiB chunks, and
// prefetch() reads the missing chunks of a range with one read of the underlying source.
import { describe, expect, it } from "vitest";
import { bytesSource, sliceSource, type ByteSource } from "../../src/image/byte-source.ts";
import { chunkedSource } from "../../src/image/raw.ts";
import { imageError } from "../helpers/image-error.ts";
import { noise } from "../helpers/random.ts";

const CHUNK = 64 * 1024;

/** A source over `bytes` that logs every read; `fail` makes reads throw (an image that shrank). */
function logged(bytes: Uint8Array): ByteSource & { reads: Array<[number, number]>; fail: boolean } {
  const inner = bytesSource(bytes, "logged");
  const s = {
    name: inner.name,
    size: inner.size,
    reads: [] as Array<[number, number]>,
    fail: false,
    read(offset: number, length: number): Uint8Array {
      s.reads.push([offset, length]);
      if (s.fail) throw new Error("gone");
      return inner.read(offset, length);
    },
  };
  return s;
}

describe("chunked reads and prefetch()", () => {
  const bytes = noise(40 * CHUNK + 1234, 21);

  it("reads a range's missing chunks in one read, then serves reads inside it from them", () => {
    const src = logged(bytes);
    const c = chunkedSource(src);
    c.read(3 * CHUNK + 10, 100); // chunk 3 held
    src.reads.length = 0;
    c.prefetch?.(3 * CHUNK + 5, 4 * CHUNK - 5); // to the last byte of chunk 6
    expect(src.reads).toEqual([[4 * CHUNK, 3 * CHUNK]]); // chunks 4..6; 3 was held
    src.reads.length = 0;
    for (const [o, l] of [
      [4 * CHUNK, 10],
      [5 * CHUNK - 3, 6],
      [6 * CHUNK + 7, 500],
      [3 * CHUNK + 1, 9],
    ] as const) {
      expect(c.read(o, l)).toEqual(bytes.subarray(o, o + l));
    }
    expect(src.reads).toEqual([]);
    c.prefetch?.(4 * CHUNK, 2 * CHUNK); // all held: nothing to read
    expect(src.reads).toEqual([]);
  });

  it("reads the short last chunk of the source to its end", () => {
    const src = logged(bytes);
    const c = chunkedSource(src);
    c.prefetch?.(bytes.length - 1000, 1000);
    expect(src.reads).toEqual([[40 * CHUNK, 1234]]);
    expect(c.read(bytes.length - 5, 5)).toEqual(bytes.subarray(bytes.length - 5));
    expect(src.reads).toHaveLength(1);
  });

  it("ignores ranges outside the source, empty ones and ones over 1 MiB, and never throws", () => {
    const src = logged(bytes);
    const c = chunkedSource(src);
    for (const [o, l] of [
      [-1, 10],
      [0, 0],
      [bytes.length - 10, 11],
      [0, 17 * CHUNK],
      [Number.MAX_SAFE_INTEGER, 1],
      [0.5, 10],
    ])
      c.prefetch?.(o as number, l as number);
    expect(src.reads).toEqual([]);
    src.fail = true;
    c.prefetch?.(0, 100);
    // The failure is the read's to report, with the source's own error.
    expect(() => c.read(0, 100)).toThrow("gone");
  });

  it("passes through a partition's window, and only inside it", () => {
    const src = logged(bytes);
    const part = sliceSource(chunkedSource(src), 10 * CHUNK, 5 * CHUNK, "p");
    part.prefetch?.(CHUNK, 2 * CHUNK);
    expect(src.reads).toEqual([[11 * CHUNK, 2 * CHUNK]]);
    part.prefetch?.(4 * CHUNK, CHUNK + 1);
    expect(src.reads).toHaveLength(1);
    expect(imageError(() => part.read(4 * CHUNK, CHUNK + 1))?.code).toBe("TRUNCATED");
  });
});
