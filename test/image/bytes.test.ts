import { describe, expect, it } from "vitest";
import { u16be, u16le, u32be, u32le, u64le } from "../../src/image/bytes.ts";
import { ImageError } from "../../src/image/types.ts";

describe("checked field readers agree with DataView", () => {
  const buf = new Uint8Array([0xff, 0xfe, 0x80, 0x01, 0x7f, 0x00, 0xff, 0x1f, 0xaa]);
  const dv = new DataView(buf.buffer);
  it.each([0, 1, 2, 3, 4, 5])("at offset %i", (off) => {
    expect(u16le(buf, off, "f")).toBe(dv.getUint16(off, true));
    expect(u16be(buf, off, "f")).toBe(dv.getUint16(off, false));
    expect(u32le(buf, off, "f")).toBe(dv.getUint32(off, true));
    expect(u32be(buf, off, "f")).toBe(dv.getUint32(off, false));
  });
  it("reads 64-bit values up to 2^53 - 1 and refuses larger ones", () => {
    const max = new Uint8Array(8);
    new DataView(max.buffer).setBigUint64(0, BigInt(Number.MAX_SAFE_INTEGER), true);
    expect(u64le(max, 0, "f")).toBe(Number.MAX_SAFE_INTEGER);
    const over = new Uint8Array(8);
    new DataView(over.buffer).setBigUint64(0, BigInt(Number.MAX_SAFE_INTEGER) + 1n, true);
    expect(() => u64le(over, 0, "f")).toThrow(ImageError);
    const small = new Uint8Array([1, 2, 3, 4, 5, 6, 7, 0]);
    expect(u64le(small, 0, "f")).toBe(Number(new DataView(small.buffer).getBigUint64(0, true)));
  });
  it("names the field when the buffer is short", () => {
    expect(() => u32le(buf, 7, "s_magic")).toThrow(/s_magic/);
  });
});
