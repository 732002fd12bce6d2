// Reads a whole file from an open descriptor without trusting its size: the file may grow while we
// read it, so we read until EOF but never keep more than max + 1 bytes.
import { readSync } from "node:fs";

/** The file's bytes, or undefined if it holds (or grows to) more than `max` bytes. `sizeHint` is fstat's size. */
export function readAtMost(fd: number, sizeHint: number, max: number): Uint8Array | undefined {
  let buf = Buffer.allocUnsafe(Math.min(max + 1, sizeHint + 1));
  let n = 0;
  for (;;) {
    if (n === buf.length) {
      if (n > max) return undefined;
      const bigger = Buffer.allocUnsafe(Math.min(max + 1, n * 2 + 65536));
      buf.copy(bigger, 0, 0, n);
      buf = bigger;
    }
    const r = readSync(fd, buf, n, buf.length - n, n);
    if (r === 0) return new Uint8Array(buf.buffer, buf.byteOffset, n);
    n += r;
  }
}
