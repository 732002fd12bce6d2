// Escapers: table tests, then the same values through systemd 252's own parser (systemd --test,
// see systemd-test-mode.ts) to prove each written value reads back as the value we meant.
import { describe, expect, it } from "vitest";
import {
  checkPath,
  escapeExtensionImage,
  escapeMarkerPath,
  escapeSpecifiers,
  quoteWord,
  unescapeMarkerPath,
  unescapeSpecifiers,
} from "../../src/unit/escape.ts";
import { haveSystemdTestMode, loadUnits } from "./systemd-test-mode.ts";

function table<I, O>(name: string, fn: (input: I) => O, cases: [I, O][]): void {
  describe(name, () => {
    for (const [input, expected] of cases) {
      it(`${JSON.stringify(input)} → ${JSON.stringify(expected)}`, () => expect(fn(input)).toEqual(expected));
    }
  });
}

table("escapeSpecifiers", escapeSpecifiers, [
  ["/plain/path.raw", "/plain/path.raw"],
  ["/a%b.raw", "/a%%b.raw"],
  ["%%", "%%%%"],
  ["", ""],
]);

table("escapeMarkerPath", escapeMarkerPath, [
  ["/usr/share/minimal_0.raw", "/usr/share/minimal_0.raw"],
  ["/a:b", "/a\\x3ab"],
  ["/a\\b", "/a\\x5cb"],
  ["/a\nb\tc", "/a\\x0ab\\x09c"],
  ["/a\x7f", "/a\\x7f"],
  ["/ä", "/\\xc3\\xa4"],
  ["/a b%'", "/a b%'"],
]);

describe("unescapeMarkerPath", () => {
  for (const path of ["/usr/share/minimal_0.raw", "/a:b\\c", "/ä€😀", "/x\ny\x01", "/literal\\x4"]) {
    it(`round-trips ${JSON.stringify(path)}`, () => expect(unescapeMarkerPath(escapeMarkerPath(path))).toBe(path));
  }
  it("keeps unknown escapes as they are", () => expect(unescapeMarkerPath("/a\\qb")).toBe("/a\\qb"));
  it("unescapes specifiers it escaped", () => expect(unescapeSpecifiers(escapeSpecifiers("/%a%%"))).toBe("/%a%%"));
});

table("quoteWord", quoteWord, [
  ["PORTABLE=foo_1.2.raw", "PORTABLE=foo_1.2.raw"],
  ["PORTABLE=a:b,c@d+e/f-g", "PORTABLE=a:b,c@d+e/f-g"],
  ["A=50%", "A=50%%"],
  ["A=x y", '"A=x y"'],
  ['A="q"', '"A=\\"q\\""'],
  ["A=back\\slash", '"A=back\\\\slash"'],
  ["A=it's", '"A=it\'s"'],
  ["A=tab\there\nnl\x01", '"A=tab\\there\\nnl\\x01"'],
  ["A=ä", '"A=ä"'],
  ["A=$HOME", '"A=$HOME"'],
  ["", '""'],
]);

describe("quoteWord refuses NUL", () => {
  it("throws", () => expect(() => quoteWord("A=\0")).toThrow(RangeError));
});

table("escapeExtensionImage", ([p, o]: [string, string | undefined]) => escapeExtensionImage(p, o), [
  [["/tmp/app0.raw", undefined], "/tmp/app0.raw"],
  [
    ["/tmp/app0.raw", "x-systemd.relax-extension-release-check"],
    "/tmp/app0.raw:x-systemd.relax-extension-release-check",
  ],
  [["/a:b.raw", undefined], "/a\\:b.raw"],
  [["/a b.raw", undefined], "/a\\x20b.raw"],
  [["/a\\b.raw", undefined], "/a\\\\b.raw"],
  [["/a\"b'c.raw", undefined], "/a\\x22b\\x27c.raw"],
  [["/a%b.raw", undefined], "/a%%b.raw"],
  [["/ä.raw", undefined], "/ä.raw"],
]);

table("checkPath", checkPath, [
  ["/var/lib/portables/foo_1.raw", undefined],
  ["/", undefined],
  ["/a b/c:d%e\\f'g\"h", undefined],
  ["/ä/€", undefined],
  ["relative.raw", "path 'relative.raw' is not absolute"],
  ["", "path '' is not absolute"],
  ["/a//b", "path '/a//b' is not normalized"],
  ["/a/./b", "path '/a/./b' is not normalized"],
  ["/a/../b", "path '/a/../b' is not normalized"],
  ["/a/..", "path '/a/..' is not normalized"],
  ["/a/.", "path '/a/.' is not normalized"],
  ["/a/", "path '/a/' is not normalized"],
  ["/a/.hidden/..b", undefined],
  ["/a\nb", "path '/a\\x0ab' contains control characters"],
  ["/a\x7f", "path '/a\\x7f' contains control characters"],
  ["/a\uFFFD", "path '/a\uFFFD' is not valid UTF-8"],
  ["/a\uD800", "path '/a\uD800' is not valid UTF-8"],
  ["/😀", undefined],
  ["/" + "a".repeat(4094), undefined],
  ["/" + "a".repeat(4095), `path '/${"a".repeat(63)}…' is longer than PATH_MAX`],
  ["/a ", "path '/a ' ends in whitespace"],
  ["/a\\", "path '/a\\' ends in a backslash"],
]);

// Values that exercise every escaping rule; each must read back unchanged through systemd.
const PATHS = [
  "/srv/plain_1.0.raw",
  "/srv/50%/a%nb.raw",
  "/srv/sp ace/x.raw",
  "/srv/co:lon.raw",
  "/srv/back\\slash.raw",
  "/srv/q\"uo'te.raw",
  "/srv/ümlaut€.raw",
  "/srv/$dollar;semi#hash.raw",
];
const WORDS = [
  "plain",
  "50%",
  "a%nb",
  "x y  z",
  'q"uote',
  "it's",
  "back\\slash",
  "tab\there",
  "ümlaut",
  "$HOME ${X}",
  "a=b:c",
  "",
];

/** One service per value, all pulled in by main.target, so one systemd run checks them all. */
function units(body: (value: string) => string, values: string[]): Record<string, string> {
  const files: Record<string, string> = {};
  const names = values.map((_, i) => `v${i}.service`);
  files["main.target"] = `[Unit]\nWants=${names.join(" ")}\n`;
  values.forEach((value, i) => {
    files[names[i]!] = `[Service]\nExecStart=/bin/true\n${body(value)}\n`;
  });
  return files;
}

function settingsOf(dump: ReturnType<typeof loadUnits>, count: number, key: string): (string[] | undefined)[] {
  return Array.from({ length: count }, (_, i) => dump.units.get(`v${i}.service`)?.get(key));
}

describe.skipIf(!haveSystemdTestMode)("systemd 252 reads back what we write", () => {
  it("RootImage= and RootDirectory= with escapeSpecifiers", () => {
    for (const key of ["RootImage", "RootDirectory"]) {
      for (const p of PATHS) expect(checkPath(p)).toBeUndefined();
      const dump = loadUnits(
        units((p) => `${key}=${escapeSpecifiers(p)}`, PATHS),
        "main.target",
      );
      expect(settingsOf(dump, PATHS.length, key)).toEqual(PATHS.map((p) => [p]));
      expect(dump.log).not.toMatch(/v\d+\.service/);
    }
  });

  it("Environment= with quoteWord", () => {
    const dump = loadUnits(
      units((w) => `Environment=${quoteWord(`K=${w}`)} ${quoteWord("L=second")}`, WORDS),
      "main.target",
    );
    expect(settingsOf(dump, WORDS.length, "Environment")).toEqual(WORDS.map((w) => [`K=${w}`, "L=second"]));
    expect(dump.log).not.toMatch(/v\d+\.service/);
  });

  it("LogExtraFields= with quoteWord", () => {
    const dump = loadUnits(
      units((w) => `LogExtraFields=${quoteWord(`PORTABLE=${w}`)}`, WORDS),
      "main.target",
    );
    expect(settingsOf(dump, WORDS.length, "LogExtraFields")).toEqual(WORDS.map((w) => [`PORTABLE=${w}`]));
    expect(dump.log).not.toMatch(/v\d+\.service/);
  });

  it("ExtensionDirectories= with quoteWord", () => {
    // The dump joins the list with spaces, so one directory per unit.
    const dump = loadUnits(
      units((p) => `ExtensionDirectories=${quoteWord(p)}`, PATHS),
      "main.target",
    );
    expect(settingsOf(dump, PATHS.length, "ExtensionDirectories")).toEqual(PATHS.map((p) => [p]));
    expect(dump.log).not.toMatch(/v\d+\.service/);
  });

  it("ExtensionImages= with escapeExtensionImage, two per line, with and without options", () => {
    const dump = loadUnits(
      units((p) => `ExtensionImages=${escapeExtensionImage(p)} ${escapeExtensionImage(p + "2", "ro")}`, PATHS),
      "main.target",
    );
    // The dump prints PATH, or PATH:PARTITION:OPTIONS for entries with options.
    expect(settingsOf(dump, PATHS.length, "ExtensionImages")).toEqual(PATHS.map((p) => [p, `${p}2:root:ro`]));
    expect(dump.log).not.toMatch(/v\d+\.service/);
  });

  it("quoteWord is wrong for ExtensionImages= (why escapeExtensionImage exists)", () => {
    const dump = loadUnits(
      units((p) => `ExtensionImages=${quoteWord(p)}`, ["/srv/co:lon.raw"]),
      "main.target",
    );
    expect(settingsOf(dump, 1, "ExtensionImages")).not.toEqual([["/srv/co:lon.raw"]]);
  });

  it("paths checkPath refuses are misread when written raw", () => {
    const refused = ["/srv/trailing ", "/srv//double", "/srv/./dot", "/srv/dir/"];
    for (const p of refused) expect(checkPath(p)).toBeDefined();
    const dump = loadUnits(
      units((p) => `RootImage=${escapeSpecifiers(p)}`, refused),
      "main.target",
    );
    const read = settingsOf(dump, refused.length, "RootImage");
    refused.forEach((p, i) => {
      expect(read[i]).not.toEqual([p]);
    });
  });
});
