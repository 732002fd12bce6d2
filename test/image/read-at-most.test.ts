import { execFileSync } from "node:child_process";
import { closeSync, constants, mkdirSync, mkdtempSync, openSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { readAtMost, readRegularFile } from "../../src/image/read-at-most.ts";

const dir = mkdtempSync(join(tmpdir(), "pa-read-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function read(bytes: number, hint: number, max: number): number | undefined {
  const path = join(dir, `f${bytes}-${hint}`);
  writeFileSync(path, Buffer.alloc(bytes, 0x61));
  const fd = openSync(path, "r");
  try {
    return readAtMost(fd, hint, max)?.length;
  } finally {
    closeSync(fd);
  }
}

describe("readAtMost", () => {
  it.each([
    [0, 0, 10, 0],
    [10, 10, 10, 10],
    [11, 11, 10, undefined],
    // The size seen by fstat is only a hint: a file that grew since is read whole, or refused.
    [200_000, 5, 1_000_000, 200_000],
    [200_000, 5, 100_000, undefined],
    [3, 1000, 10, 3],
  ])("%i bytes, size hint %i, at most %i: %s", (bytes, hint, max, expected) => {
    expect(read(bytes, hint, max)).toBe(expected);
  });
});

describe("readRegularFile", () => {
  const open = (path: string, run: (fd: number) => void) => {
    const fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
    try {
      run(fd);
    } finally {
      closeSync(fd);
    }
  };

  it("reads a regular file of at most max bytes, and says the size first", () => {
    const path = join(dir, "regular");
    writeFileSync(path, "abc");
    open(path, (fd) => {
      const sizes: number[] = [];
      const file = readRegularFile(fd, 3, (size) => sizes.push(size));
      expect(file.kind === "read" && Buffer.from(file.bytes).toString()).toBe("abc");
      expect(sizes).toEqual([3]);
    });
  });

  it("refuses a larger file before reading it (nothing charged), a directory and a FIFO", () => {
    const big = join(dir, "big");
    writeFileSync(big, "abcd");
    const fifo = join(dir, "fifo");
    execFileSync("mkfifo", [fifo]);
    const sub = join(dir, "sub");
    mkdirSync(sub);
    const charged: number[] = [];
    open(big, (fd) => expect(readRegularFile(fd, 3, (n) => charged.push(n))).toEqual({ kind: "too-large" }));
    expect(charged).toEqual([]);
    open(sub, (fd) => expect(readRegularFile(fd, 3)).toEqual({ kind: "directory" }));
    open(fifo, (fd) => expect(readRegularFile(fd, 3)).toEqual({ kind: "special" }));
  });
});
