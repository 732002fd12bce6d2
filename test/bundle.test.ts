// Smoke tests of the built artifacts themselves: what ships is one file per program that needs
// nothing but Node, and the generator behaves as systemd.generator(7) asks when run as a program.
// Then the programs' V8 code caches (scripts/launcher.cjs, scripts/code-cache.mjs): the one the
// build made is used, and no cache, a damaged or foreign one, or a path that cannot be read changes
// nothing a run does but its speed.
import { spawnSync } from "node:child_process";
import {
  chmodSync,
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { contents, listing } from "./helpers/tree.ts";

const REPO = join(import.meta.dirname, "..");
const DIST = join(REPO, "dist");
const GENERATOR = join(DIST, "portable-attach-generator");
const CLI = join(DIST, "portable-attach");
const scratch = mkdtempSync(join(tmpdir(), "pa-bundle-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

function run(args: string[], env: Record<string, string>) {
  return spawnSync(process.execPath, [GENERATOR, ...args], {
    encoding: "utf8",
    env: { PATH: process.env.PATH ?? "", ...env },
  });
}

/** The launch line of an executable (scripts/code-cache.mjs): the bundle's ID and its wrapped source. */
const LAUNCH = /^launch\("([0-9a-f]{16})", (".*")\);$/m;
const CACHE_LINE = /^const CODE_CACHE = .*;$/m;
function parts(text: string): { id: string; source: string; launcher: string } {
  const m = LAUNCH.exec(text);
  if (!m) throw new Error("no launch line");
  return { id: m[1] ?? "", source: JSON.parse(m[2] ?? "") as string, launcher: text.slice(0, m.index) };
}

describe.each([GENERATOR, CLI])("%s", (exe) => {
  const text = readFileSync(exe, "utf8");

  it("is one executable file with a #! line, under 250 KB, with its bundle as a string", () => {
    expect(text.startsWith("#!/usr/bin/env node\n")).toBe(true);
    expect(spawnSync("test", ["-x", exe]).status).toBe(0);
    expect(text.length).toBeLessThan(250 * 1024);
    const { source } = parts(text);
    expect(source.startsWith("(function (exports, require, module, __filename, __dirname) {")).toBe(true);
    expect(text).toMatch(/^const CODE_CACHE = __filename \+ "\.v8cache";$/m);
  });

  it("is ASCII: one other character makes every start decode the whole file to UTF-16", () => {
    expect(text.split("\n").findIndex((line) => /[^\x00-\x7f]/.test(line))).toBe(-1);
  });

  it("requires nothing but node: built-ins (the launcher: fs, vm, path only for its debug line, v8 only without --no-opt)", () => {
    const { source, launcher } = parts(text);
    const requires = (code: string) => [...code.matchAll(/require\(\s*["'`]([^"'`]+)["'`]\s*\)/g)].map((m) => m[1]);
    const required = requires(source);
    expect(required.length).toBeGreaterThan(0);
    expect(required.filter((r) => !r?.startsWith("node:"))).toEqual([]);
    expect(source).not.toMatch(/\bimport\s*\(/);
    expect([...new Set(requires(launcher))].sort()).toEqual(["node:fs", "node:path", "node:v8", "node:vm"]);
  });
});

describe("what a plain run loads", () => {
  // node:stream and what pulls it in (net, child_process, crypto, zlib, process.stdout) cost
  // several ms of every start: a run that needs none of them must not load them (build.mjs's lazy
  // built-ins, src/io/stdio.ts).
  const HEAVY = /^NativeModule (stream|net|child_process|crypto|zlib|internal\/streams\/.*)$/;
  function loaded(args: string[], env: Record<string, string> = {}): string[] {
    const preload = join(scratch, "modules.cjs");
    // What Node itself loaded before the program (its bootstrap, --require) does not count.
    writeFileSync(
      preload,
      'const before = new Set(process.moduleLoadList);\nprocess.on("exit", () => require("node:fs").writeSync(2, "\\n" + JSON.stringify(process.moduleLoadList.filter((m) => !before.has(m))) + "\\n"));\n',
    );
    // --no-opt, as an installed program's #! line gives it (scripts/install.mjs NODE_FLAG); without it
    // the launcher loads node:v8 (and so streams) to set it.
    const r = spawnSync(process.execPath, ["--no-opt", "--require", preload, ...args], {
      encoding: "utf8",
      env: { PATH: process.env.PATH ?? "", ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    const last = r.stderr.trim().split("\n").pop() ?? "[]";
    return (JSON.parse(last) as string[]).filter((m) => HEAVY.test(m));
  }

  it("the generator, on a list with a directory image and a raw one, to a pipe", () => {
    const root = join(scratch, "loads");
    cpSync(join(REPO, "test/golden/15-raw-extension/input"), root, { recursive: true });
    for (const line of readFileSync(join(REPO, "test/golden/15-raw-extension/images"), "utf8")
      .split("\n")
      .filter((l) => l.trim() !== "")) {
      const [dest, fixture] = line.split(/\s+/) as [string, string];
      mkdirSync(dirname(join(root, dest)), { recursive: true });
      cpSync(join(REPO, "test/fixtures/images", fixture), join(root, dest));
    }
    const out = join(root, "run/systemd/generator");
    mkdirSync(out, { recursive: true });
    expect(loaded([GENERATOR, out], { PORTABLE_ATTACH_ROOT: root, SYSTEMD_LOG_LEVEL: "debug" })).toEqual([]);
    expect(readdirSync(out).length).toBeGreaterThan(1);
  });

  it("the CLI's --help, --version and list, to a pipe", () => {
    for (const args of [["--help"], ["--version"], [`--root=${scratch}`, "list"]])
      expect(loaded([CLI, ...args])).toEqual([]);
    // The check sees what it looks for.
    expect(loaded(["-e", 'require("node:child_process")'])).toContain("NativeModule child_process");
  });

  it("the CLI's attach and detach without a reload: the list edit loads no stream (its temporary name included)", () => {
    const root = join(scratch, "edit");
    mkdirSync(join(root, "var/lib/portables"), { recursive: true });
    cpSync(join(REPO, "test/fixtures/images/squashfs-zstd.raw"), join(root, "var/lib/portables/foo.raw"));
    expect(loaded([CLI, `--root=${root}`, "attach", "--no-reload", "/var/lib/portables/foo.raw"])).toEqual([]);
    expect(readFileSync(join(root, "etc/portable-attach.conf"), "utf8")).toContain("[foo]");
    expect(loaded([CLI, `--root=${root}`, "detach", "--no-reload", "foo"])).toEqual([]);
    expect(readFileSync(join(root, "etc/portable-attach.conf"), "utf8")).not.toContain("[foo]");
  });
});

describe("no TurboFan (scripts/launcher.cjs: Node's exit would wait for its jobs)", () => {
  // `list` of 400 entries runs the same functions thousands of times: hot enough for TurboFan.
  const root = join(scratch, "hot");
  beforeAll(() => {
    let list = "";
    for (let i = 0; i < 400; i++)
      list += `[svc${i}]\nImage=/var/lib/portables/svc${i}\nEnable=yes\nProfile=default\n\n`;
    mkdirSync(join(root, "etc"), { recursive: true });
    writeFileSync(join(root, "etc/portable-attach.conf"), list);
  });
  const optimized = (program: string): string[] => {
    const r = spawnSync(process.execPath, ["--trace-opt", program, `--root=${root}`, "list"], {
      encoding: "utf8",
      env: { PATH: process.env.PATH ?? "" },
    });
    expect(r.stdout).toContain("400 entries listed.");
    return r.stdout.split("\n").filter((l) => l.startsWith("[completed optimizing"));
  };

  it("a run of a program optimizes nothing", () => {
    expect(optimized(CLI)).toEqual([]);
  });

  it("nor does a long one: the generator on 1,000 entries (how long a run lasts changes nothing V8 does)", () => {
    const long = join(scratch, "long");
    let list = "";
    for (let i = 0; i < 1000; i++) {
      const image = join(long, "var/lib/portables", `svc${i}`);
      mkdirSync(join(image, "usr/lib/systemd/system"), { recursive: true });
      writeFileSync(join(image, "usr/lib/os-release"), "ID=long\n");
      writeFileSync(join(image, `usr/lib/systemd/system/svc${i}.service`), `[Service]\nExecStart=/bin/true ${i}\n`);
      list += `[svc${i}]\nImage=/var/lib/portables/svc${i}\n\n`;
    }
    mkdirSync(join(long, "etc"), { recursive: true });
    writeFileSync(join(long, "etc/portable-attach.conf"), list);
    const out = join(scratch, "long-out");
    const r = spawnSync(process.execPath, ["--trace-opt", GENERATOR, out], {
      encoding: "utf8",
      env: { PATH: process.env.PATH ?? "", PORTABLE_ATTACH_ROOT: long },
    });
    expect(r.status).toBe(0);
    expect(readdirSync(out).filter((f) => f.endsWith(".service"))).toHaveLength(1000);
    expect(r.stdout.split("\n").filter((l) => l.startsWith("[completed optimizing"))).toEqual([]);
  });

  it("(the check sees what it looks for: the same bundle without the launcher)", () => {
    const bare = join(scratch, "bare-cli.cjs");
    writeFileSync(
      bare,
      `(${parts(readFileSync(CLI, "utf8")).source})(exports, require, module, __filename, __dirname);\n`,
    );
    expect(optimized(bare).length).toBeGreaterThan(0);
  });
});

describe("the generator bundle", () => {
  it("refuses a wrong number of output directories", () => {
    const r = run(["a", "b"], {});
    expect(r.status).toBe(1);
    expect(r.stderr).toContain("one or three arguments");
  });

  it("does nothing in user scope and in the initrd", () => {
    for (const env of [{ SYSTEMD_SCOPE: "user" }, { SYSTEMD_IN_INITRD: "1" }]) {
      const out = mkdtempSync(join(scratch, "out-"));
      expect(run([out], { PORTABLE_ATTACH_ROOT: "/nonexistent", ...env }).status).toBe(0);
      expect(readdirSync(out)).toEqual([]);
    }
  });

  it("runs with one directory, honours SYSTEMD_LOG_LEVEL, and logs each entry's problem with its file and line", () => {
    const root = join(scratch, "root");
    mkdirSync(join(root, "etc"), { recursive: true });
    writeFileSync(join(root, "etc/portable-attach.conf"), "[gone]\nImage=/var/lib/portables/gone_1\n");
    mkdirSync(join(root, "run/portable-attach"), { recursive: true });
    writeFileSync(join(root, "run/portable-attach/late-pass-done"), "");
    const out = mkdtempSync(join(scratch, "out-"));
    const r = run([out], { PORTABLE_ATTACH_ROOT: root, SYSTEMD_LOG_LEVEL: "info" });
    expect(r.status).toBe(0);
    expect(r.stderr).toBe(
      "[gone] /etc/portable-attach.conf:1: Image '/var/lib/portables/gone_1' does not exist, ignoring\n",
    );
    const status = JSON.parse(readFileSync(join(out, ".portable-attach-status.json"), "utf8"));
    expect(status.entries).toEqual([expect.objectContaining({ name: "gone", state: "failed" })]);
    const quiet = run([mkdtempSync(join(scratch, "out-"))], { PORTABLE_ATTACH_ROOT: root, SYSTEMD_LOG_LEVEL: "crit" });
    expect(quiet.stderr).toBe("");
  });

  it("exits 1 when the output directory cannot be written", () => {
    const root = join(scratch, "root2");
    mkdirSync(join(root, "etc"), { recursive: true });
    writeFileSync(join(root, "etc/portable-attach.conf"), "");
    writeFileSync(join(scratch, "a-file"), "");
    const r = run([join(scratch, "a-file/out")], { PORTABLE_ATTACH_ROOT: root });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain("Failed to write to");
  });
});

// ---- The code cache ----

const CODE_CACHE_MJS = join(REPO, "scripts/code-cache.mjs");
const GOLDEN = join(REPO, "test/golden/15-raw-extension"); // a squashfs image with an erofs extension

/** What the launcher says of its cache (PORTABLE_ATTACH_DEBUG_CODE_CACHE=1), and the rest of stderr. */
function debugLine(stderr: string): { state: string | undefined; rest: string } {
  const m = /^[^\n]*: code cache [^\n]*: ([^\n]*)\n/m.exec(stderr);
  return { state: m?.[1], rest: m ? stderr.replace(m[0], "") : stderr };
}

/** Run scripts/code-cache.mjs's functions (an ES module) in a child; `cc` is the module. */
function codeCacheTool(body: string, ...args: string[]) {
  const r = spawnSync(
    process.execPath,
    ["--input-type=module", "-e", `import * as cc from ${JSON.stringify(CODE_CACHE_MJS)};\n${body}`, ...args],
    { encoding: "utf8" },
  );
  expect(r.stderr).toBe("");
  expect(r.status).toBe(0);
  return r.stdout;
}

/** The cache file's checksum as the launcher documents it: 4 lanes of FNV-1a-64 over LE words, folded. */
function referenceChecksum(bytes: Uint8Array, from: number, to: number): number {
  const padded = new Uint8Array(from + ((to - from + 31) & ~31));
  padded.set(bytes.subarray(0, to));
  const view = new DataView(padded.buffer);
  const lanes = [1n, 2n, 3n, 4n];
  const M = (1n << 64n) - 1n;
  for (let at = from; at < padded.length; at += 32) {
    for (let k = 0; k < 4; k++)
      lanes[k] = (((lanes[k] ?? 0n) ^ view.getBigUint64(at + 8 * k, true)) * 0x100000001b3n) & M;
  }
  const rotl = (x: bigint, n: bigint) => ((x << n) | (x >> (64n - n))) & M;
  const [a = 0n, b = 0n, c = 0n, d = 0n] = lanes;
  const h = a ^ rotl(b, 16n) ^ rotl(c, 32n) ^ rotl(d, 48n);
  return Number(BigInt.asIntN(32, h ^ (h >> 32n)));
}

/** The cache file's header: bundle ID, Node, payload length, payload checksum (scripts/launcher.cjs). */
const HEADER = 48;

/** A cache file with its checksum made right again after an edit. */
function resealed(cache: Buffer): Buffer {
  const out = Buffer.from(cache);
  out.writeInt32LE(referenceChecksum(out, HEADER, out.length), HEADER - 4);
  return out;
}

describe("the code cache", () => {
  it("npm run build made one for each program, and this Node accepts it", () => {
    for (const exe of [GENERATOR, CLI]) {
      expect(existsSync(`${exe}.v8cache`)).toBe(true);
      // The generator refuses two arguments (one would be its output directory); the CLI says its version.
      const r = spawnSync(process.execPath, [exe, "--version", "--version"], {
        cwd: scratch,
        encoding: "utf8",
        env: { PATH: process.env.PATH ?? "", PORTABLE_ATTACH_DEBUG_CODE_CACHE: "1" },
      });
      expect(debugLine(r.stderr).state).toBe("accepted");
      expect(r.stderr).toContain(`code cache ${exe}.v8cache: accepted`);
      // Its header names the bundle and the Node it was made for.
      const header = readFileSync(`${exe}.v8cache`).toString("latin1", 0, 40);
      expect(header).toBe(parts(readFileSync(exe, "utf8")).id + `${process.version} ${process.arch}`.padEnd(24));
    }
  });

  it("made on a slow machine, where the representative run lasts long, it is accepted", () => {
    // A Node that has been up 150 ms before the program starts, as on a loaded CI machine: when the
    // generator turned TurboFan back on after 100 ms of a run, its cache was made under other
    // flags than the ones every run starts with, and V8 refused it.
    const slow = join(scratch, "slow-node");
    mkdirSync(slow, { recursive: true });
    writeFileSync(join(slow, "late.cjs"), "Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 150);\n");
    writeFileSync(
      join(slow, "node"),
      `#!/bin/sh\nexec ${JSON.stringify(process.execPath)} --require ${JSON.stringify(join(slow, "late.cjs"))} "$@"\n`,
    );
    chmodSync(join(slow, "node"), 0o755);
    const copy = join(slow, "portable-attach-generator");
    cpSync(GENERATOR, copy);
    codeCacheTool(
      `const made = cc.makeCodeCache({ node: process.argv[2], exe: process.argv[1], program: "portable-attach-generator", cacheFile: process.argv[1] + ".v8cache" });
      if (!made.ok) throw new Error(made.reason);`,
      copy,
      join(slow, "node"),
    );
    const r = spawnSync(process.execPath, [copy, "--version", "--version"], {
      cwd: scratch,
      encoding: "utf8",
      env: { PATH: process.env.PATH ?? "", PORTABLE_ATTACH_DEBUG_CODE_CACHE: "1" },
    });
    expect(debugLine(r.stderr).state).toBe("accepted");
  });

  it("the launcher's checksum is the one it documents, and sees any one changed byte", () => {
    const text = readFileSync(join(REPO, "scripts/launcher.cjs"), "utf8");
    const { checksum } = new Function(
      "require",
      "module",
      "__filename",
      "__dirname",
      `${text}\nreturn { checksum };`,
    )() as {
      checksum: () => { bytes(n: number): Uint8Array; hash(from: number, to: number): number };
    };
    let seed = 7;
    const random = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) >>> 16) & 0xff;
    for (const size of [24, 25, 55, 56, 57, 1000, 65536 + 13]) {
      const data = Uint8Array.from({ length: size }, random);
      const sum = checksum();
      const bytes = sum.bytes(size);
      bytes.set(data);
      const h = sum.hash(24, size);
      expect(h).toBe(referenceChecksum(data, 24, size));
      if (size > 24) {
        for (const at of [24, size - 1, 24 + ((size - 24) >> 1)]) {
          bytes[at] = (bytes[at] ?? 0) ^ 0x01;
          expect(sum.hash(24, size), `byte ${at} of ${size}`).not.toBe(h);
          bytes[at] = (bytes[at] ?? 0) ^ 0x01;
        }
      }
    }
  });

  describe("whatever the cache file, the generator's output is the same (golden case 15-raw-extension)", () => {
    const root = join(scratch, "cc-root");
    const good = readFileSync(`${GENERATOR}.v8cache`);
    const exe = join(scratch, "cc", "portable-attach-generator");
    const cache = join(scratch, "cc", "generator.v8cache");
    let reference: { status: number | null; stdout: string; stderr: string; tree: string; files: Map<string, string> };
    let foreign: Buffer;

    function runWith(setup: () => void) {
      rmSync(cache, { recursive: true, force: true });
      setup();
      const out = mkdtempSync(join(scratch, "cc-out-"));
      const r = spawnSync(process.execPath, [exe, out], {
        encoding: "utf8",
        timeout: 30_000,
        env: {
          PATH: process.env.PATH ?? "",
          PORTABLE_ATTACH_ROOT: root,
          SYSTEMD_ARCHITECTURE: "x86-64",
          SYSTEMD_LOG_LEVEL: "info",
          PORTABLE_ATTACH_DEBUG_CODE_CACHE: "1",
        },
      });
      expect(r.error).toBeUndefined();
      const { state, rest } = debugLine(r.stderr);
      return { state, status: r.status, stdout: r.stdout, stderr: rest, tree: listing(out), files: contents(out) };
    }

    beforeAll(() => {
      cpSync(join(GOLDEN, "input"), root, { recursive: true, verbatimSymlinks: true });
      cpSync(join(REPO, "profiles"), join(root, "usr/lib/portable-attach/profile"), { recursive: true });
      for (const line of readFileSync(join(GOLDEN, "images"), "utf8")
        .split("\n")
        .filter((l) => l.trim() !== "")) {
        const [dest, fixture] = line.split(/\s+/) as [string, string];
        mkdirSync(dirname(join(root, dest)), { recursive: true });
        cpSync(join(REPO, "test/fixtures/images", fixture), join(root, dest));
      }
      // The built generator, reading its cache from a path of this test's.
      mkdirSync(dirname(exe), { recursive: true });
      writeFileSync(join(dirname(exe), "package.json"), '{"type":"commonjs"}\n');
      writeFileSync(
        exe,
        readFileSync(GENERATOR, "utf8").replace(CACHE_LINE, `const CODE_CACHE = ${JSON.stringify(cache)};`),
      );
      // Another build: the same bundle with one character changed, so the same length (all that V8
      // itself compares), and its cache, made as the build makes one.
      const other = join(scratch, "cc-other", "portable-attach-generator");
      mkdirSync(dirname(other), { recursive: true });
      codeCacheTool(
        `import { readFileSync, writeFileSync } from "node:fs";
        const { bundle } = cc.bundleOf(readFileSync(process.argv[1], "utf8"));
        const changed = bundle.replace("This program takes one or three", "That program takes one or three");
        if (changed === bundle || changed.length !== bundle.length) throw new Error("no one-character change found");
        writeFileSync(process.argv[2], cc.executable(changed, { banner: "//" }));
        const made = cc.makeCodeCache({ exe: process.argv[2], program: "portable-attach-generator", cacheFile: process.argv[2] + ".v8cache" });
        if (!made.ok) throw new Error(made.reason);`,
        GENERATOR,
        other,
      );
      foreign = readFileSync(`${other}.v8cache`);
      expect(foreign.length).toBeGreaterThan(1000);
      const r = runWith(() => writeFileSync(cache, good));
      expect(r.state).toBe("accepted");
      reference = r;
    });

    it("the good cache: accepted, and the output is the golden one", () => {
      expect(reference.status).toBe(0);
      expect(reference.tree).toBe(["f .portable-attach-status.json", listing(join(GOLDEN, "expected"))].join("\n"));
      const files = new Map(reference.files);
      files.delete(".portable-attach-status.json");
      expect(files).toEqual(contents(join(GOLDEN, "expected")));
      expect(reference.stderr).toBe(readFileSync(join(GOLDEN, "expected.log"), "utf8"));
    });

    const flip = (b: Buffer, at: number) => {
      const c = Buffer.from(b);
      c[at] = (c[at] ?? 0) ^ 0x20;
      return c;
    };
    const variants: [string, () => void, RegExp][] = [
      ["missing", () => {}, /^missing$/],
      ["empty", () => writeFileSync(cache, ""), /^unusable \(truncated\)$/],
      ["truncated", () => writeFileSync(cache, good.subarray(0, good.length >> 1)), /^unusable \(wrong length\)$/],
      [
        "longer than its header says",
        () => writeFileSync(cache, Buffer.concat([good, Buffer.from("x")])),
        /^unusable \(wrong length\)$/,
      ],
      [
        "one byte of the payload changed",
        () => writeFileSync(cache, flip(good, good.length >> 1)),
        /^unusable \(checksum mismatch\)$/,
      ],
      ["its checksum changed", () => writeFileSync(cache, flip(good, HEADER - 3)), /^unusable \(checksum mismatch\)$/],
      [
        "garbage of the same size",
        () => writeFileSync(cache, Buffer.alloc(good.length, "garbage")),
        /^unusable \(made for another build\)$/,
      ],
      [
        "made for another build whose bundle has the same length",
        () => writeFileSync(cache, foreign),
        /^unusable \(made for another build\)$/,
      ],
      [
        "made by another Node release",
        () => writeFileSync(cache, resealed(flip(good, 16 + 2))),
        /^unusable \(made by another Node\)$/,
      ],
      // Sound by our checks, refused by V8 (its version hash, at offset 4 of its own header, changed).
      ["made by another V8", () => writeFileSync(cache, resealed(flip(good, HEADER + 4))), /^rejected$/],
      ["a directory", () => mkdirSync(cache), /^unusable \(EISDIR\)$/],
      ["a FIFO (must not block)", () => expect(spawnSync("mkfifo", [cache]).status).toBe(0), /^unusable \(ESPIPE\)$/],
      ["a symlink loop", () => symlinkSync(cache, cache), /^unusable \(ELOOP\)$/],
      ["a dangling symlink", () => symlinkSync(join(scratch, "nowhere"), cache), /^missing$/],
      [
        "not readable (mode 000; root reads it anyway)",
        () => {
          writeFileSync(cache, good);
          chmodSync(cache, 0);
        },
        process.getuid?.() === 0 ? /^accepted$/ : /^unusable \(EACCES\)$/,
      ],
    ];

    it.each(variants)("%s: the same output, status and log", (_name, setup, state) => {
      const r = runWith(setup);
      expect(r.state).toMatch(state);
      expect(r.status).toBe(reference.status);
      expect(r.stdout).toBe(reference.stdout);
      expect(r.stderr).toBe(reference.stderr);
      expect(r.tree).toBe(reference.tree);
      expect(r.files).toEqual(reference.files);
    });
  });

  it("an uncaught error's stack names the program file, with its cache and without", () => {
    const dir = join(scratch, "throws");
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, "package.json"), '{"type":"commonjs"}\n');
    const exe = join(dir, "portable-attach"); // the CLI's representative run makes its cache
    codeCacheTool(
      `import { writeFileSync, chmodSync } from "node:fs";
      writeFileSync(process.argv[1], cc.executable('"use strict";\\nfunction boom() { if (process.argv[2] === "throw") throw new Error("boom"); }\\nboom();\\n', { banner: "//" }));
      chmodSync(process.argv[1], 0o755);
      const made = cc.makeCodeCache({ exe: process.argv[1], program: "portable-attach", cacheFile: process.argv[1] + ".v8cache" });
      if (!made.ok) throw new Error(made.reason);`,
      exe,
    );
    for (const cached of [true, false]) {
      if (!cached) rmSync(`${exe}.v8cache`);
      const r = spawnSync(exe, ["throw"], {
        encoding: "utf8",
        env: { PATH: process.env.PATH ?? "", PORTABLE_ATTACH_DEBUG_CODE_CACHE: "1" },
      });
      expect(r.status).toBe(1);
      const { state, rest } = debugLine(r.stderr);
      expect(state).toBe(cached ? "accepted" : "missing");
      expect(rest).toContain(`at boom (${exe}:2:`);
      expect(rest).toContain("Error: boom");
      expect(rest).not.toContain("portable-attach-code-cache-"); // the producer's temp copy
    }
  });
});
