// CRC-32 (IEEE 802.3, reflected, as zlib's crc32 and the GPT and xz formats use it) and CRC-32C
// (Castagnoli, the erofs superblock checksum), in JS rather
// than zlib.crc32: that exists only on Node >= 20.15, and loading node:zlib pulls in node:stream,
// several ms of a start, to check a few KiB. Four tables (slicing by 4) keep it at a few hundred
// MB/s once optimised; they are built on first use.

let tables: Uint32Array | undefined;
let tablesC: Uint32Array | undefined;

function makeTables(poly: number): Uint32Array {
  const t = new Uint32Array(4 * 256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? poly ^ (c >>> 1) : c >>> 1;
    t[n] = c;
  }
  // Table k: the CRC of a byte followed by k zero bytes, so four bytes fold in one step.
  for (let n = 0; n < 256; n++) {
    for (let k = 1; k < 4; k++) {
      const prev = t[(k - 1) * 256 + n] as number;
      t[k * 256 + n] = (t[prev & 0xff] as number) ^ (prev >>> 8);
    }
  }
  return t;
}

export function crc32(data: Uint8Array): number {
  return (update((tables ??= makeTables(0xedb88320)), 0xffffffff, data) ^ 0xffffffff) >>> 0;
}

/** CRC-32C (Castagnoli) as the kernel's crc32c(seed, …): no final inversion (erofs passes ~0 and keeps the raw value). */
export function crc32c(data: Uint8Array, seed = 0xffffffff): number {
  return update((tablesC ??= makeTables(0x82f63b78)), seed, data) >>> 0;
}

function update(t: Uint32Array, crc: number, data: Uint8Array): number {
  let c = crc;
  let i = 0;
  const end4 = data.length & ~3;
  while (i < end4) {
    c ^=
      (data[i] as number) |
      ((data[i + 1] as number) << 8) |
      ((data[i + 2] as number) << 16) |
      ((data[i + 3] as number) << 24);
    c =
      (t[768 + (c & 0xff)] as number) ^
      (t[512 + ((c >>> 8) & 0xff)] as number) ^
      (t[256 + ((c >>> 16) & 0xff)] as number) ^
      (t[c >>> 24] as number);
    i += 4;
  }
  while (i < data.length) c = (t[(c ^ (data[i++] as number)) & 0xff] as number) ^ (c >>> 8);
  return c;
}
