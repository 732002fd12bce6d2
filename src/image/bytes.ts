// Checked little-endian field readers over a Uint8Array. Each names the field it reads, so a short
// buffer gives "TRUNCATED: cannot read <field>" instead of undefined arithmetic.
import { ImageError } from "./types.ts";

function need(buf: Uint8Array, off: number, len: number, field: string): void {
  if (!Number.isInteger(off) || off < 0 || off + len > buf.length) {
    throw new ImageError(
      "TRUNCATED",
      `Cannot read ${field}: ${len} bytes at ${off} past end of ${buf.length}-byte block`,
      undefined,
      off,
    );
  }
}

export function view(buf: Uint8Array): DataView {
  return new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
}

export function u8(buf: Uint8Array, off: number, field: string): number {
  need(buf, off, 1, field);
  return buf[off] as number;
}

// The readers below assemble bytes by hand: a DataView per call was the top cost in profiles of
// directory walks. `need()` has checked the range, so the indexed reads are defined.
const at = (buf: Uint8Array, i: number): number => buf[i] as number;

export function u16le(buf: Uint8Array, off: number, field: string): number {
  need(buf, off, 2, field);
  return at(buf, off) | (at(buf, off + 1) << 8);
}

export function u32le(buf: Uint8Array, off: number, field: string): number {
  need(buf, off, 4, field);
  return (at(buf, off) | (at(buf, off + 1) << 8) | (at(buf, off + 2) << 16)) + at(buf, off + 3) * 0x1000000;
}

export function u16be(buf: Uint8Array, off: number, field: string): number {
  need(buf, off, 2, field);
  return (at(buf, off) << 8) | at(buf, off + 1);
}

export function u32be(buf: Uint8Array, off: number, field: string): number {
  need(buf, off, 4, field);
  return at(buf, off) * 0x1000000 + ((at(buf, off + 1) << 16) | (at(buf, off + 2) << 8) | at(buf, off + 3));
}

/** A 64-bit field as a number; LIMIT if it does not fit in 2^53 (no image we read is that large). */
export function u64le(buf: Uint8Array, off: number, field: string): number {
  need(buf, off, 8, field);
  const low = u32le(buf, off, field);
  const high = u32le(buf, off + 4, field);
  if (high > 0x1fffff)
    throw new ImageError("LIMIT", `${field} is too large (high word 0x${high.toString(16)})`, undefined, off);
  return high * 0x100000000 + low;
}

/** `len` bytes as a new subarray view (not a copy). */
export function bytesAt(buf: Uint8Array, off: number, len: number, field: string): Uint8Array {
  need(buf, off, len, field);
  return buf.subarray(off, off + len);
}

const utf8 = new TextDecoder("utf-8", { fatal: false });
/** Decodes a name; invalid UTF-8 becomes U+FFFD, which later fails unit-name validation. */
export function text(bytes: Uint8Array): string {
  return utf8.decode(bytes);
}
