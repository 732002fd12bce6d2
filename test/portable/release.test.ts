// Release files: env-file parsing (table + differential against systemd's own os-release parser
// via `SYSTEMD_OS_RELEASE=… systemd-analyze condition ConditionOSRelease=…`), lookup inside an
// in-memory image, the compatibility check and NAME_AND_VERSION.
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import type { DirEntry, EntryKind, ImageTree, Stat } from "../../src/image/types.ts";
import {
  checkExtensionCompatible,
  findExtensionRelease,
  findOsRelease,
  nameAndVersion,
  parseEnvFile,
  ReleaseError,
} from "../../src/portable/release.ts";
import { behaviourFor } from "../../src/portable/systemd-features.ts";
import { hostSystemdVersion } from "../helpers/verify.ts";

function table<I, O>(name: string, fn: (input: I) => O, cases: [I, O][]): void {
  describe(name, () => {
    for (const [input, expected] of cases) {
      it(`${JSON.stringify(input)} → ${JSON.stringify(expected)}`, () => expect(fn(input)).toEqual(expected));
    }
  });
}

const ENV_CASES: [string, Record<string, string>][] = [
  ["ID=debian\nVERSION_ID=12\n", { ID: "debian", VERSION_ID: "12" }],
  ["ID=debian", { ID: "debian" }],
  ['PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\n', { PRETTY_NAME: "Debian GNU/Linux 12 (bookworm)" }],
  ["A='single \"q\" \\n'\n", { A: 'single "q" \\n' }],
  ['A="x\\"y\\\\z\\`w\\$v\\n"\n', { A: 'x"y\\z`w$v\\n' }],
  ["  A  =   spaced value   \n", { A: "spaced value" }],
  ["# comment\n; also comment\nA=1\n#B=2\n", { A: "1" }],
  ["A=1 # not a comment\n", { A: "1 # not a comment" }],
  ["A=1\nA=2\n", { A: "2" }],
  ["no equals sign\nA=1\n", { A: "1" }],
  ["BAD KEY=1\n1BAD=2\nGOOD_1=3\n", { GOOD_1: "3" }],
  ["A=\nB=x\n", { A: "", B: "x" }],
  ["A=\"x\"y'z'\n", { A: "xy'z'" }],
  ['A="x"\'y\' "z"\n', { A: "xyz" }],
  ['A=x "y"\n', { A: 'x "y"' }],
  ["A=a\\ b\\\\c\n", { A: "a b\\c" }],
  ["A=cont\\\ninued\n", { A: "continued" }],
  ['A="multi\nline"\n', { A: "multi\nline" }],
  ["A=1\r\nB=2\r\n", { A: "1", B: "2" }],
  ["__proto__=x\n", Object.fromEntries([["__proto__", "x"]])],
  ["A='unterminated", { A: "unterminated" }],
  ['A="end\\', { A: "end" }],
  ["A=ä€\n", { A: "ä€" }],
  ["", {}],
];

describe("parseEnvFile", () => {
  for (const [text, expected] of ENV_CASES) {
    it(JSON.stringify(text), () => {
      const parsed = parseEnvFile(text);
      expect(Object.getPrototypeOf(parsed)).toBeNull();
      expect(Object.entries(parsed)).toEqual(Object.entries(expected));
    });
  }
});

const haveAnalyzeCondition = spawnSync("systemd-analyze", ["condition", "ConditionPathExists=/"]).status === 0;
const work = mkdtempSync(join(tmpdir(), "release-test-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** The rules of the systemd that judges below: this machine's. */
const HOST_RULES = behaviourFor(hostSystemdVersion());

/** systemd's verdict on "KEY=value" for the os-release `text`, true if the condition holds. */
function systemdAgrees(text: string, key: string, value: string): boolean {
  const file = join(work, "os-release");
  writeFileSync(file, text);
  const quoted = `"${key}=${value.replaceAll("%", "%%").replace(/["\\]/g, "\\$&")}"`;
  const r = spawnSync("systemd-analyze", ["condition", `ConditionOSRelease=${quoted}`], {
    env: { ...process.env, SYSTEMD_OS_RELEASE: file },
    encoding: "utf8",
  });
  return r.status === 0;
}

describe.skipIf(!haveAnalyzeCondition)("parseEnvFile agrees with systemd's os-release parser", () => {
  for (const [text] of ENV_CASES) {
    const parsed = parseEnvFile(text, HOST_RULES);
    // ConditionOSRelease= cannot express empty values, leading whitespace or newlines.
    const testable = Object.entries(parsed).filter(([, v]) => v !== "" && !/^\s/.test(v) && !v.includes("\n"));
    if (testable.length === 0) continue;
    it(JSON.stringify(text), () => {
      for (const [key, value] of testable) {
        expect(systemdAgrees(text, key, value), `${key}=${value}`).toBe(true);
        expect(systemdAgrees(text, key, value + "X"), `${key}=${value}X must fail`).toBe(false);
      }
    });
  }
  it("ignores what we ignore", () => {
    expect(systemdAgrees("#B=2\nA=1\n", "B", "2")).toBe(false);
    expect(systemdAgrees("A=1\nA=2\n", "A", "1")).toBe(false);
  });

  it("a comment ending in '\\' swallows the next line up to 253, not since 254: as this systemd reads it", () => {
    const text = "#comment \\\nA=1\nB=2\n";
    expect({ ...parseEnvFile(text, behaviourFor(252)) }).toEqual({ B: "2" });
    expect({ ...parseEnvFile(text, behaviourFor(254)) }).toEqual({ A: "1", B: "2" });
    expect(systemdAgrees(text, "A", "1")).toBe(parseEnvFile(text, HOST_RULES).A === "1");
  });
});

/** A tiny in-memory ImageTree: paths map to file contents, "->target" symlinks, or null for dirs. */
function memoryTree(entries: Record<string, string | null>): ImageTree {
  const all = new Map<string, string | null>(Object.entries(entries));
  for (const path of [...all.keys()]) {
    for (let p = path; p.lastIndexOf("/") > 0; ) {
      p = p.slice(0, p.lastIndexOf("/"));
      if (!all.has(p)) all.set(p, null);
    }
  }
  all.set("/", null);
  const kind = (v: string | null): EntryKind => (v === null ? "dir" : v.startsWith("->") ? "symlink" : "file");
  return {
    source: "/test/image",
    type: "directory",
    description: "memory",
    lstat(path: string): Stat | undefined {
      const v = all.get(path);
      return v === undefined ? undefined : { kind: kind(v), size: v?.length ?? 0, mode: 0o644 };
    },
    readdir(path: string): DirEntry[] {
      const prefix = path === "/" ? "/" : path + "/";
      return [...all.entries()]
        .filter(([p]) => p !== "/" && p.startsWith(prefix) && !p.slice(prefix.length).includes("/"))
        .map(([p, v]) => ({ name: p.slice(prefix.length), kind: kind(v) }));
    },
    readlink: (path: string) => (all.get(path) as string).slice(2),
    readFile: (path: string) => new TextEncoder().encode(all.get(path) as string),
    close() {},
  };
}

const SYSEXT = "/usr/lib/extension-release.d/extension-release.";
const CONFEXT = "/etc/extension-release.d/extension-release.";

describe("findOsRelease", () => {
  const cases: [string, Record<string, string | null>, { path: string; text: string } | undefined][] = [
    [
      "/etc first",
      { "/etc/os-release": "ID=a", "/usr/lib/os-release": "ID=b" },
      { path: "/etc/os-release", text: "ID=a" },
    ],
    ["/usr/lib fallback", { "/usr/lib/os-release": "ID=b" }, { path: "/usr/lib/os-release", text: "ID=b" }],
    [
      "symlink resolved in the image",
      { "/etc/os-release": "->../usr/lib/os-release", "/usr/lib/os-release": "ID=b" },
      { path: "/etc/os-release", text: "ID=b" },
    ],
    [
      "absolute symlink stays in the image",
      { "/etc/os-release": "->/usr/lib/os-release", "/usr/lib/os-release": "ID=b" },
      { path: "/etc/os-release", text: "ID=b" },
    ],
    [
      "dangling symlink falls through",
      { "/etc/os-release": "->/nowhere", "/usr/lib/os-release": "ID=b" },
      { path: "/usr/lib/os-release", text: "ID=b" },
    ],
    [
      "directory is not a file",
      { "/etc/os-release/x": "", "/usr/lib/os-release": "ID=b" },
      { path: "/usr/lib/os-release", text: "ID=b" },
    ],
    ["none", { "/etc/hostname": "x" }, undefined],
  ];
  for (const [name, tree, expected] of cases) it(name, () => expect(findOsRelease(memoryTree(tree))).toEqual(expected));
});

describe("findExtensionRelease", () => {
  type Expect = string | undefined | typeof ReleaseError;
  const cases: [string, Record<string, string | null>, string, boolean, Expect][] = [
    ["exact name", { [SYSEXT + "app0"]: "ID=_any" }, "app0", false, SYSEXT + "app0"],
    [
      "exact name with version",
      { [SYSEXT + "app0_1.0"]: "x", [SYSEXT + "app0"]: "y" },
      "app0_1.0",
      false,
      SYSEXT + "app0_1.0",
    ],
    ["base-name fallback", { [SYSEXT + "app0"]: "x" }, "app0_1.0", false, SYSEXT + "app0"],
    ["base name cuts at +", { [SYSEXT + "app0"]: "x" }, "app0+3-0", false, SYSEXT + "app0"],
    ["other name is strict", { [SYSEXT + "app0"]: "x" }, "app10", false, undefined],
    ["other name with relaxed", { [SYSEXT + "app0"]: "x" }, "app10", true, SYSEXT + "app0"],
    ["relaxed with two candidates", { [SYSEXT + "a"]: "x", [SYSEXT + "b"]: "y" }, "c", true, ReleaseError],
    ["relaxed prefers the exact name", { [SYSEXT + "a"]: "x", [SYSEXT + "c"]: "y" }, "c", true, SYSEXT + "c"],
    [
      "strict ignores unrelated files",
      { [SYSEXT + "app0"]: "x", [SYSEXT + "wrongext_x.txt"]: "y" },
      "app0_2",
      false,
      SYSEXT + "app0",
    ],
    [
      "exact symlink followed inside the image",
      { [SYSEXT + "app0"]: "->/usr/share/rel", "/usr/share/rel": "ID=z" },
      "app0",
      false,
      SYSEXT + "app0",
    ],
    [
      "symlinks are not scan candidates",
      { [SYSEXT + "app0"]: "->/usr/share/rel", "/usr/share/rel": "ID=z" },
      "app0_1",
      false,
      undefined,
    ],
    ["confext location second", { [CONFEXT + "app0"]: "x" }, "app0", false, CONFEXT + "app0"],
    ["sysext location wins", { [CONFEXT + "app0"]: "x", [SYSEXT + "app0"]: "y" }, "app0", false, SYSEXT + "app0"],
    [
      "sysext fallback beats confext exact",
      { [CONFEXT + "app0_1"]: "x", [SYSEXT + "app0"]: "y" },
      "app0_1",
      false,
      SYSEXT + "app0",
    ],
    [
      "bare prefix is not a candidate",
      { "/usr/lib/extension-release.d/extension-release.": "x" },
      "app0",
      true,
      undefined,
    ],
    ["nothing", { "/usr/lib/os-release": "ID=x" }, "app0", false, undefined],
  ];
  for (const [name, tree, imageName, relaxed, expected] of cases) {
    it(name, () => {
      const run = () => findExtensionRelease(memoryTree(tree), imageName, relaxed);
      if (expected === ReleaseError) expect(run).toThrow(ReleaseError);
      else expect(run()?.path).toBe(expected);
    });
  }
  it("returns the text", () =>
    expect(findExtensionRelease(memoryTree({ [SYSEXT + "a"]: "ID=_any\n" }), "a", false)?.text).toBe("ID=_any\n"));
});

const ROOT = { ID: "debian", ID_LIKE: "ubuntu-ish", VERSION_ID: "12" };
table(
  "checkExtensionCompatible",
  ([root, ext, arch]: [Record<string, string>, Record<string, string>, string]) =>
    checkExtensionCompatible(root, ext, arch),
  [
    [[ROOT, { ID: "debian", VERSION_ID: "12" }, "x86-64"], undefined],
    [[ROOT, {}, "x86-64"], "extension-release is empty"],
    [[ROOT, { ID: "_any" }, "x86-64"], undefined],
    [[ROOT, { ID: "ubuntu-ish", VERSION_ID: "12" }, "x86-64"], undefined],
    [
      [ROOT, { ID: "fedora", VERSION_ID: "12" }, "x86-64"],
      "extension-release ID 'fedora' does not match the root's ID 'debian' or ID_LIKE 'ubuntu-ish'",
    ],
    [
      [{ ID: "debian" }, { ID: "fedora" }, "x86-64"],
      "extension-release ID 'fedora' does not match the root's ID 'debian' or ID_LIKE",
    ],
    [[ROOT, { VERSION_ID: "12" }, "x86-64"], "extension-release lacks ID"],
    [[ROOT, { ID: "" }, "x86-64"], "extension-release lacks ID"],
    [[ROOT, { ID: "debian" }, "x86-64"], "extension-release lacks VERSION_ID, but the root has VERSION_ID '12'"],
    [
      [ROOT, { ID: "debian", VERSION_ID: "11" }, "x86-64"],
      "extension-release VERSION_ID '11' does not match the root's '12'",
    ],
    [[{ ID: "arch" }, { ID: "arch" }, "x86-64"], undefined],
    [
      [{ ID: "debian", VERSION_ID: "12", SYSEXT_LEVEL: "1.0" }, { ID: "debian", SYSEXT_LEVEL: "1.0" }, "x86-64"],
      undefined,
    ],
    [
      [
        { ID: "debian", VERSION_ID: "12", SYSEXT_LEVEL: "1.0" },
        { ID: "debian", SYSEXT_LEVEL: "2.0", VERSION_ID: "12" },
        "x86-64",
      ],
      "extension-release SYSEXT_LEVEL '2.0' does not match the root's '1.0'",
    ],
    [
      [{ ID: "debian", VERSION_ID: "12", SYSEXT_LEVEL: "1.0" }, { ID: "debian", VERSION_ID: "12" }, "x86-64"],
      undefined,
    ],
    [[{ ID: "debian", SYSEXT_LEVEL: "1.0" }, { ID: "debian", VERSION_ID: "12" }, "x86-64"], undefined],
    [
      [ROOT, { ID: "debian", VERSION_ID: "12", SYSEXT_SCOPE: "system initrd" }, "x86-64"],
      "extension-release SYSEXT_SCOPE='system initrd' does not include 'portable'",
    ],
    [[ROOT, { ID: "debian", VERSION_ID: "12", SYSEXT_SCOPE: " portable " }, "x86-64"], undefined],
    [
      [ROOT, { ID: "debian", VERSION_ID: "12", SYSEXT_SCOPE: "" }, "x86-64"],
      "extension-release SYSEXT_SCOPE='' does not include 'portable'",
    ],
    [[ROOT, { ID: "debian", VERSION_ID: "12", CONFEXT_SCOPE: "system" }, "x86-64"], undefined],
    [
      [ROOT, { ID: "debian", VERSION_ID: "12", ARCHITECTURE: "arm64" }, "x86-64"],
      "extension-release ARCHITECTURE 'arm64' does not match the host architecture 'x86-64'",
    ],
    [[ROOT, { ID: "debian", VERSION_ID: "12", ARCHITECTURE: "x86-64" }, "x86-64"], undefined],
    [[ROOT, { ID: "debian", VERSION_ID: "12", ARCHITECTURE: "_any" }, "arm64"], undefined],
    [
      [ROOT, { ID: "_any", ARCHITECTURE: "arm64" }, "x86-64"],
      "extension-release ARCHITECTURE 'arm64' does not match the host architecture 'x86-64'",
    ],
  ],
);

describe("checkExtensionCompatible with confext keys", () => {
  const root = { ID: "debian", VERSION_ID: "12", CONFEXT_LEVEL: "3" };
  it("uses CONFEXT_LEVEL", () =>
    expect(checkExtensionCompatible(root, { ID: "debian", CONFEXT_LEVEL: "3" }, "x86-64", "confext")).toBeUndefined());
  it("uses CONFEXT_SCOPE", () =>
    expect(
      checkExtensionCompatible(
        root,
        { ID: "debian", CONFEXT_LEVEL: "3", CONFEXT_SCOPE: "system" },
        "x86-64",
        "confext",
      ),
    ).toMatch(/CONFEXT_SCOPE/));
});

table(
  "nameAndVersion",
  ([release, kind]: [Record<string, string>, "os" | "sysext" | "confext"]) => nameAndVersion(release, kind),
  [
    [[{ ID: "debian", VERSION_ID: "12" }, "os"], "debian_12"],
    [[{ IMAGE_ID: "img", ID: "debian", IMAGE_VERSION: "1.2", VERSION_ID: "12" }, "os"], "img_1.2"],
    [[{ ID: "arch", BUILD_ID: "rolling" }, "os"], "arch_rolling"],
    [[{ ID: "arch" }, "os"], "arch"],
    [[{ VERSION_ID: "12" }, "os"], "12"],
    [[{ IMAGE_ID: "", ID: "debian" }, "os"], "debian"],
    [[{ NAME: "x" }, "os"], undefined],
    [[{ ID: "debian", SYSEXT_IMAGE_ID: "app" }, "sysext"], "app"],
    [[{ SYSEXT_ID: "app", SYSEXT_VERSION_ID: "3", VERSION_ID: "12" }, "sysext"], "app_3"],
    [[{ SYSEXT_IMAGE_ID: "app", SYSEXT_BUILD_ID: "b7" }, "sysext"], "app_b7"],
    [[{ SYSEXT_IMAGE_ID: "app" }, "confext"], undefined],
    [[{ CONFEXT_IMAGE_ID: "cfg", CONFEXT_IMAGE_VERSION: "4" }, "confext"], "cfg_4"],
  ],
);
