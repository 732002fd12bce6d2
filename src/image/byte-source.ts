// Bounds-checked positional reads. Every raw-image reader sees its bytes only through a ByteSource,
// so no offset an image claims can make us read outside the image file or the partition.
import { closeSync, constants, fstatSync, openSync, readSync } from "node:fs";
import { chargeRead } from "./budget.ts";
import { ImageError } from "./types.ts";

export interface ByteSource {
  /** For messages: the image file, plus the partition if this is a slice. */
  readonly name: string;
  readonly size: number;
  /** Exactly `length` bytes at `offset`, or ImageError TRUNCATED. The result may be shared: do not modify it. */
  read(offset: number, length: number): Uint8Array;
  /**
   * Advice, optional: the bytes at `offset` will be read soon, in pieces. A source that reads
   * through a cache may read them now in one go (on a cold disk one seek instead of several).
   * Never throws: whatever is wrong with the range is reported by the read that follows.
   */
  prefetch?(offset: number, length: number): void;
}

/** Whether `length` bytes at `offset` lie inside a source of `size` bytes (both safe, non-negative integers). */
export function inRange(size: number, offset: number, length: number): boolean {
  return (
    Number.isSafeInteger(offset) &&
    Number.isSafeInteger(length) &&
    offset >= 0 &&
    length >= 0 &&
    offset + length <= size
  );
}

/** Throws ImageError TRUNCATED unless the range lies inside the source. */
export function checkRange(src: { name: string; size: number }, offset: number, length: number, what = "read"): void {
  if (!inRange(src.size, offset, length)) {
    throw new ImageError(
      "TRUNCATED",
      `${what} of ${length} bytes at offset ${offset} is outside ${src.name} (size ${src.size})`,
      undefined,
      offset,
    );
  }
}

/** Bytes already in memory (tests, fuzzing, decompressed metadata). */
export function bytesSource(bytes: Uint8Array, name = "buffer"): ByteSource {
  return {
    name,
    size: bytes.length,
    read(offset, length) {
      checkRange(this, offset, length);
      return bytes.subarray(offset, offset + length);
    },
  };
}

/** A window of another source: a partition. */
export function sliceSource(parent: ByteSource, offset: number, length: number, name: string): ByteSource {
  checkRange(parent, offset, length, `partition '${name}'`);
  return {
    name: `${parent.name} (${name})`,
    size: length,
    read(o, l) {
      checkRange(this, o, l);
      return parent.read(offset + o, l);
    },
    prefetch(o, l) {
      if (o >= 0 && l >= 0 && o + l <= length) parent.prefetch?.(offset + o, l);
    },
  };
}

export interface FileSource extends ByteSource {
  close(): void;
}

/** A regular file read with pread(). The size is fixed at open: an image that shrinks later gives TRUNCATED, never garbage. */
export function fileSource(path: string): FileSource {
  let fd: number | undefined;
  try {
    // O_NONBLOCK: a FIFO put in a file's place must not hold the boot at open().
    fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new ImageError(
      code === "ENOENT" ? "NOT_FOUND" : "IO",
      `Failed to open image '${path}': ${(e as Error).message}`,
    );
  }
  const st = fstatSync(fd);
  if (!st.isFile()) {
    closeSync(fd);
    throw new ImageError("CORRUPT", `'${path}' is not a regular file`);
  }
  const size = Number(st.size);
  return {
    name: path,
    size,
    read(offset, length) {
      checkRange(this, offset, length);
      if (fd === undefined) throw new ImageError("IO", `Image '${path}' is already closed`);
      chargeRead(length);
      const buf = Buffer.allocUnsafe(length);
      let n = 0;
      while (n < length) {
        let r: number;
        try {
          r = readSync(fd, buf, n, length - n, offset + n);
        } catch (e) {
          throw new ImageError(
            "IO",
            `Failed to read ${path} at offset ${offset + n}: ${(e as Error).message}`,
            undefined,
            offset + n,
          );
        }
        if (r === 0)
          throw new ImageError(
            "TRUNCATED",
            `${path} ended at offset ${offset + n}, expected ${length - n} more bytes`,
            undefined,
            offset + n,
          );
        n += r;
      }
      return new Uint8Array(buf.buffer, buf.byteOffset, length);
    },
    close() {
      if (fd !== undefined) closeSync(fd);
      fd = undefined;
    },
  };
}
