// Version ordering: table tests (cases from systemd's test-string-util.c spirit and the UAPI
// version format spec), antisymmetry, and a differential run against
// `systemd-analyze compare-versions`, which calls the same strverscmp_improved().
import { spawnSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { compareVersions } from "../../src/common/version-order.ts";
import { parseVersionedName } from "../../src/portable/version.ts";

/** [older, newer] pairs, or equal pairs marked with "=". */
const ORDERED: [string, "<" | "=", string][] = [
  ["1", "<", "2"],
  ["1.9", "<", "1.10"],
  ["1.0~rc1", "<", "1.0"],
  ["1.0~rc1", "<", "1.0~rc2"],
  ["1~", "<", "1"],
  ["123-9", "<", "123.1-1"],
  ["1.0-1", "<", "1.0.1"],
  ["1.0", "<", "1.0-1"],
  ["1.0", "<", "1.0^1"],
  ["1.0^1", "<", "1.0.1"],
  ["1.a", "<", "1.0"],
  ["abc", "<", "abcde"],
  ["a", "<", "b"],
  ["1", "<", "1.0"],
  ["1.2", "<", "1.2a"],
  ["A", "<", "a"],
  ["", "<", "0"],
  ["0.7.23", "<", "0.7.100"],
  ["2024.1", "<", "2024.10"],
  ["1.0", "=", "1.0"],
  ["00123", "=", "123"],
  // Other characters only separate segments, and a bare segment beats a '.' one (as systemd says).
  ["1.0", "<", "1_0"],
  ["1.0", "<", "1++0"],
  ["1_0", "<", "10"],
  ["1_0", "=", "1+0"],
  ["", "=", ""],
];

describe("compareVersions", () => {
  for (const [a, op, b] of ORDERED) {
    it(`${a} ${op} ${b}`, () => {
      expect(compareVersions(a, b)).toBe(op === "=" ? 0 : -1);
      expect(compareVersions(b, a)).toBe(op === "=" ? 0 : 1);
    });
  }
  it("sorts a directory's worth of versions", () => {
    const sorted = ["1.0~rc1", "1.0", "1.0-1", "1.0^1", "1.0.1", "1.2", "1.10", "2~beta", "2"];
    const shuffled = [...sorted].reverse();
    expect(shuffled.sort(compareVersions)).toEqual(sorted);
  });
});

const haveCompare = spawnSync("systemd-analyze", ["compare-versions", "1", "2"]).status === 12;
const CORPUS = [
  "1",
  "2",
  "1.0",
  "1.0.0",
  "1.10",
  "1.9",
  "1.0~rc1",
  "1.0~",
  "~",
  "1~1",
  "1-1",
  "1-2",
  "1^1",
  "1.0^",
  "1.a",
  "1a",
  "a1",
  "abc",
  "abd",
  "ABC",
  "007",
  "7",
  "1..2",
  "1.-2",
  "1_2",
  "1+2",
  "2024.01.15",
  "v1.2",
  "0",
  "1.0-rc1",
  "10.0",
  "9.99",
];

describe.skipIf(!haveCompare)("compareVersions agrees with systemd-analyze compare-versions", () => {
  it(`every pair of ${CORPUS.length} versions`, () => {
    const mismatches: string[] = [];
    for (const a of CORPUS) {
      for (const b of CORPUS) {
        const status = spawnSync("systemd-analyze", ["compare-versions", a, b]).status;
        // Exit status: 0 equal, 11 first is newer, 12 first is older.
        const systemd = status === 0 ? 0 : status === 11 ? 1 : status === 12 ? -1 : NaN;
        if (compareVersions(a, b) !== systemd)
          mismatches.push(`${a} vs ${b}: systemd ${systemd}, ours ${compareVersions(a, b)}`);
      }
    }
    expect(mismatches).toEqual([]);
  }, 120_000);
});

describe("parseVersionedName", () => {
  const cases: [string, string, string, string | undefined][] = [
    ["foo_1.2.raw", "foo", ".raw", "1.2"],
    ["foo_0.7.23", "foo", "", "0.7.23"],
    ["foo_1.0~rc1.raw", "foo", ".raw", "1.0~rc1"],
    ["foo_1_x86-64.raw", "foo", ".raw", "1_x86-64"],
    ["foo.raw", "foo", ".raw", undefined],
    ["foo_.raw", "foo", ".raw", undefined],
    ["foo_1.raw", "fo", ".raw", undefined],
    ["foobar_1.raw", "foo", ".raw", undefined],
    ["foo_1.img", "foo", ".raw", undefined],
    ["foo_1 2.raw", "foo", ".raw", undefined],
    ["foo_1/2.raw", "foo", ".raw", undefined],
    ["foo_.raw", "foo", "_.raw", undefined],
  ];
  for (const [file, name, suffix, expected] of cases) {
    it(`${file} (${name}, ${suffix}) → ${expected}`, () =>
      expect(parseVersionedName(file, name, suffix)).toBe(expected));
  }
});
