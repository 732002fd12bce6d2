// Reads a whole file from an open descriptor without trusting it: only a regular file (a FIFO or
// /dev/zero in its place is refused, not read), and not by its size alone: the file may grow while
// we read it, so we read until EOF but never keep more than max + 1 bytes. Lists, facts records,
// verity side files and the files of directory images are all read through here.
import { fstatSync, readSync, type Stats } from "node:fs";

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

/** What readRegularFile() found: the bytes, or why none were read. */
export type RegularFile =
  | { kind: "read"; bytes: Uint8Array; stats: Stats }
  | { kind: "directory" | "special" | "too-large" };

/**
 * The whole of the file open as `fd` if it is a regular file of at most `max` bytes, checked on the
 * descriptor (not on a name that may have been swapped) and again while reading; otherwise what it
 * is. Open it O_NONBLOCK: a FIFO in a file's place must not hold anyone at open(). `beforeRead`
 * gets the size just before the bytes are read (a budget to charge).
 */
export function readRegularFile(fd: number, max: number, beforeRead?: (size: number) => void): RegularFile {
  const stats = fstatSync(fd);
  if (stats.isDirectory()) return { kind: "directory" };
  if (!stats.isFile()) return { kind: "special" };
  if (stats.size > max) return { kind: "too-large" };
  beforeRead?.(stats.size);
  const bytes = readAtMost(fd, stats.size, max);
  return bytes ? { kind: "read", bytes, stats } : { kind: "too-large" };
}
