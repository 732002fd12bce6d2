import { closeSync, mkdtempSync, openSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { readAtMost } from "../../src/image/read-at-most.ts";

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
