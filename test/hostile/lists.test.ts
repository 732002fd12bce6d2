// Hostile attach lists. Every file in test/hostile/lists/ is read through the same loadList() the
// generator and the CLI use, with a good entry appended after the bad text; it must give exactly
// the errors expected.tsv lists for it (file and line named), and the good entry must come through
// untouched. The file-level cases (binary junk, a 100 MB file, a directory, a FIFO, /dev/zero, a
// dangling symlink, a symlink loop, a line of a megabyte) are made here in a scratch root, since
// they cannot or should not be committed; each must also cost bounded time.
import { execFileSync, spawnSync } from "node:child_process";
import {
  closeSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
  ftruncateSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { skipName } from "../helpers/skip-reporter.ts";
import type { Diagnostic } from "../../src/config/diagnostic.ts";
import { loadList } from "../../src/io/load-list.ts";

const LISTS = join(import.meta.dirname, "lists");
const MAIN = "/etc/portable-attach.conf";
const GOOD = "\n[zz-good]\nImage=/var/lib/portables/foo_1\n";
const scratch = mkdtempSync(join(tmpdir(), "pa-hostile-lists-"));
let tried = 0;
afterAll(() => {
  rmSync(scratch, { recursive: true, force: true });
  console.log(`hostile lists: ${tried} bad inputs tried, every one gave its expected error`);
});

interface Expectation {
  line: number;
  severity: "error" | "warning";
  message: RegExp;
}

function readTable(): Map<string, Expectation[]> {
  const table = new Map<string, Expectation[]>();
  for (const row of readFileSync(join(LISTS, "expected.tsv"), "utf8").split("\n")) {
    if (row === "" || row.startsWith("#")) continue;
    const [file, line, severity, message] = row.split("\t") as [string, string, string, string];
    const list = table.get(file) ?? [];
    if (line !== "-")
      list.push({ line: Number(line), severity: severity as Expectation["severity"], message: new RegExp(message) });
    table.set(file, list);
  }
  return table;
}

let n = 0;
function rootWith(files: Record<string, string | Uint8Array>): string {
  const root = join(scratch, String(n++));
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(join(root, path, ".."), { recursive: true });
    writeFileSync(join(root, path), text);
  }
  return root;
}

function show(ds: Diagnostic[]): string {
  return ds.map((d) => `${d.file}:${d.line ?? "-"}: ${d.severity}: ${d.message}`).join("\n");
}

/** Every expected diagnostic is there; for errors, nothing else is. */
function check(diagnostics: Diagnostic[], file: string, expected: Expectation[]): void {
  for (const d of diagnostics) expect(d.file, show(diagnostics)).toBe(file);
  const errors = diagnostics.filter((d) => d.severity === "error");
  expect(errors.length, show(diagnostics)).toBe(expected.filter((e) => e.severity === "error").length);
  for (const e of expected) {
    const hit = diagnostics.find((d) => d.severity === e.severity && d.line === e.line && e.message.test(d.message));
    expect(
      hit,
      `expected ${e.severity} at line ${e.line} matching ${e.message}, got:\n${show(diagnostics)}`,
    ).toBeDefined();
  }
  // No message carries a raw control character (a terminal escape from the file) or a megabyte.
  for (const d of diagnostics) {
    expect(d.message).not.toMatch(/[\x00-\x1f\x7f]/);
    expect(d.message.length).toBeLessThan(600);
  }
}

const table = readTable();

describe("hostile list corpus (test/hostile/lists)", () => {
  it("the table and the directory agree", () => {
    const files = readdirSync(LISTS)
      .filter((f) => f.endsWith(".conf"))
      .sort();
    expect([...table.keys()].sort()).toEqual(files);
    expect(files.length).toBeGreaterThanOrEqual(50);
  });

  it.each([...table.keys()])("%s", (file) => {
    const text = Buffer.concat([readFileSync(join(LISTS, file)), Buffer.from(GOOD)]);
    const list = loadList(rootWith({ [MAIN]: text }));
    check(list.diagnostics, MAIN, table.get(file) ?? []);
    const good = list.merged.entries.find((e) => e.name === "zz-good");
    expect(good?.errors).toEqual([]);
    expect(good?.image).toBe("/var/lib/portables/foo_1");
    tried++;
  });
});

describe("hostile list files", () => {
  const BAD = "/etc/portable-attach.d/50-bad.conf";
  const GOOD_FILE = { "/usr/lib/portable-attach.d/good.conf": GOOD };

  /** The bad file gives exactly `message` (an error), the good file's entry still loads, fast. */
  function expectRefused(root: string, message: RegExp, line?: number): void {
    const t0 = performance.now();
    const list = loadList(root);
    const ms = performance.now() - t0;
    const errors = list.diagnostics.filter((d) => d.severity === "error");
    expect(errors.length, show(list.diagnostics)).toBe(1);
    expect(errors[0]?.file).toBe(BAD);
    expect(errors[0]?.line).toBe(line);
    expect(errors[0]?.message).toMatch(message);
    // A broken entry is kept (with its errors) so it still shadows lower files; it is never clean.
    for (const e of list.merged.entries)
      expect([e.name, e.errors.length === 0]).toEqual([e.name, e.name === "zz-good"]);
    expect(list.merged.entries.some((e) => e.name === "zz-good")).toBe(true);
    expect(ms).toBeLessThan(1000);
    tried++;
  }

  it("binary junk with NUL bytes: skipped line by line, a bounded number of warnings", () => {
    let x = 12345;
    const junk = Buffer.alloc(64 * 1024, 0).map(() => ((x = (x * 1103515245 + 12345) >>> 0), x >>> 24));
    junk[100] = 0;
    const list = loadList(rootWith({ [BAD]: junk, ...GOOD_FILE }));
    for (const d of list.diagnostics) {
      expect(d.file).toBe(BAD);
      expect(d.line).toBeGreaterThan(0);
      expect(d.message).not.toMatch(/[\x00-\x1f\x7f]/);
    }
    expect(list.diagnostics.filter((d) => /cannot be read/.test(d.message)).length).toBeLessThanOrEqual(6);
    expect(list.merged.entries.find((e) => e.name === "zz-good")?.errors).toEqual([]);
    tried++;
  });

  it("binary junk without NUL bytes: errors with lines, a bounded number of warnings", () => {
    let x = 777;
    const junk = Buffer.alloc(256 * 1024, 0).map(() => ((x = (x * 1103515245 + 12345) >>> 0), 1 + ((x >>> 24) % 255)));
    const list = loadList(rootWith({ [BAD]: junk, ...GOOD_FILE }));
    expect(list.diagnostics.length).toBeGreaterThan(0);
    for (const d of list.diagnostics) {
      expect(d.file).toBe(BAD);
      expect(d.line).toBeGreaterThan(0);
      expect(d.message).not.toMatch(/[\x00-\x1f\x7f]/);
    }
    expect(list.diagnostics.filter((d) => /cannot be read/.test(d.message)).length).toBeLessThanOrEqual(6);
    expect(list.merged.entries.find((e) => e.name === "zz-good")?.errors).toEqual([]);
    tried++;
  });

  it("a line of a megabyte", () => {
    expectRefused(
      rootWith({ [BAD]: `[big]\nImage=/${"x".repeat(1024 * 1024)}\n`, ...GOOD_FILE }),
      /^Image='\/x{199}…' is longer than PATH_MAX/,
      2,
    );
  });

  it("a 100 MB list (sparse) is refused without being read", () => {
    const root = rootWith(GOOD_FILE);
    mkdirSync(join(root, "etc/portable-attach.d"), { recursive: true });
    const fd = openSync(join(root, BAD), "w");
    ftruncateSync(fd, 100 * 1024 * 1024);
    closeSync(fd);
    expectRefused(root, /List file is larger than 4194304 bytes/);
  });

  it("a list that is a directory", () => {
    const root = rootWith(GOOD_FILE);
    mkdirSync(join(root, BAD), { recursive: true });
    expectRefused(root, /List file is a directory/);
  });

  it("a dangling symlink", () => {
    const root = rootWith(GOOD_FILE);
    mkdirSync(join(root, "etc/portable-attach.d"), { recursive: true });
    symlinkSync("/nonexistent/list.conf", join(root, BAD));
    expectRefused(root, /Failed to read list file: dangling symlink/);
  });

  it("a symlink loop", () => {
    const root = rootWith(GOOD_FILE);
    mkdirSync(join(root, "etc/portable-attach.d"), { recursive: true });
    symlinkSync("50-bad.conf", join(root, BAD));
    expectRefused(root, /Failed to read list file: Too many levels of symbolic links$/m);
  });

  it("a FIFO in the list's place does not hang the boot (regression: readFileSync blocked forever)", () => {
    const root = rootWith(GOOD_FILE);
    mkdirSync(join(root, "etc/portable-attach.d"), { recursive: true });
    execFileSync("mkfifo", [join(root, BAD)]);
    expectRefused(root, /List file is not a regular file \(a device, FIFO or socket\)/);
  });

  // The tree's own /dev/zero: a symlink's absolute target is looked up inside the root.
  it.skipIf(process.getuid?.() !== 0)(
    skipName(
      "a symlink to /dev/zero is refused, not read until memory runs out (regression)",
      process.getuid?.() === 0 ? undefined : "needs root (mknod)",
    ),
    (ctx) => {
      const root = rootWith(GOOD_FILE);
      mkdirSync(join(root, "etc/portable-attach.d"), { recursive: true });
      mkdirSync(join(root, "dev"));
      execFileSync("mknod", [join(root, "dev/zero"), "c", "1", "5"]);
      // A container's device policy lets mknod make the node but not open it.
      try {
        closeSync(openSync(join(root, "dev/zero"), "r"));
      } catch (e) {
        ctx.skip(
          `a device node cannot be opened here (${(e as NodeJS.ErrnoException).code}: a container's device policy)`,
        );
      }
      symlinkSync("/dev/zero", join(root, BAD));
      expectRefused(root, /not a regular file/);
    },
  );

  it("a symlink to /dev/null masks, silently", () => {
    const root = rootWith({ "/usr/lib/portable-attach.d/50-bad.conf": "[vendor]\nImage=/x\n", ...GOOD_FILE });
    mkdirSync(join(root, "etc/portable-attach.d"), { recursive: true });
    symlinkSync("/dev/null", join(root, BAD));
    const list = loadList(root);
    expect(list.diagnostics).toEqual([]);
    expect(list.merged.entries.map((e) => e.name)).toEqual(["zz-good"]);
    tried++;
  });

  it("a .d directory that is a file is ignored", () => {
    const root = rootWith({ "/etc/portable-attach.d": "not a directory", ...GOOD_FILE });
    const list = loadList(root);
    expect(list.merged.entries.map((e) => e.name)).toEqual(["zz-good"]);
    tried++;
  });
});

describe("fixed: control characters in names", () => {
  // Regression: the outcome's log line started with the section name as written, so a terminal
  // escape in a (refused) name reached the console or journal raw.
  it("the generator's log carries no raw control character from a section name", () => {
    const root = rootWith({ [MAIN]: "[a\x1b[31mred]\nImage=/x\n" });
    const out = join(root, "out");
    const r = spawnSync(
      process.execPath,
      [join(import.meta.dirname, "..", "..", "dist/portable-attach-generator"), out, out, out],
      {
        encoding: "utf8",
        env: { PATH: process.env.PATH ?? "", PORTABLE_ATTACH_ROOT: root, SYSTEMD_ARCHITECTURE: "x86-64" },
      },
    );
    expect(r.status).toBe(0);
    expect(r.stderr).toContain("Invalid attachment name");
    expect(r.stderr).not.toMatch(/\x1b/);
  });
});

describe("damaged list files keep what can be read", () => {
  const MAIN_LIST = "/etc/portable-attach.conf";
  const TWO = "[one]\nImage=/var/lib/portables/one_1\n\n[two]\nImage=/var/lib/portables/two_1\n";

  it("a block of zeros at the end of the main list (a crash) costs the last section alone (regression: every entry lost)", () => {
    const list = loadList(rootWith({ [MAIN_LIST]: Buffer.concat([Buffer.from(TWO), Buffer.alloc(4096, 0)]) }));
    expect(list.diagnostics.map((d) => [d.line, d.severity, d.message])).toEqual([
      [6, "warning", "Line cannot be read (NUL bytes or invalid UTF-8), skipping it"],
      [6, "error", "Section [two] holds a line that cannot be read, refusing the entry"],
    ]);
    expect(list.merged.entries.map((e) => [e.name, e.errors.length])).toEqual([
      ["one", 0],
      ["two", 1],
    ]);
    tried++;
  });

  it("a good section beside binary junk in the same file is attached (regression)", () => {
    let x = 99;
    const junk = Buffer.alloc(8192, 0).map(() => ((x = (x * 1103515245 + 12345) >>> 0), x >>> 24));
    junk[7] = 0;
    // Junk after [good] would be inside its section, and refuse it: the junk comes first here.
    const list = loadList(
      rootWith({ [MAIN_LIST]: Buffer.concat([junk, Buffer.from("\n[good]\nImage=/var/lib/portables/good_1\n")]) }),
    );
    expect(list.merged.entries.find((e) => e.name === "good")?.errors).toEqual([]);
    expect(list.diagnostics.length).toBeGreaterThan(0);
    for (const d of list.diagnostics) expect(d.entry, d.message).toBeUndefined();
    tried++;
  });

  it("a damaged Profile= refuses its entry, which still shadows the vendor's entry of that name", () => {
    const damaged = Buffer.concat([
      Buffer.from("[app]\nImage=/var/lib/portables/app_1\nProfile=str"),
      Buffer.from([0xff, 0xfe]),
      Buffer.from("ct\n"),
    ]);
    const list = loadList(
      rootWith({
        [MAIN_LIST]: damaged,
        "/usr/lib/portable-attach.d/app.conf": "[app]\nImage=/var/lib/portables/app_1\nProfile=trusted\n",
      }),
    );
    const app = list.merged.entries.find((e) => e.name === "app");
    expect(app?.file).toBe(MAIN_LIST);
    expect(app?.errors.map((e) => [e.line, e.message])).toEqual([
      [3, "Section [app] holds a line that cannot be read, refusing the entry"],
    ]);
    expect(list.merged.shadowed.map((s) => s.entry.file)).toEqual(["/usr/lib/portable-attach.d/app.conf"]);
    tried++;
  });
});

describe("list files others may change", () => {
  const FILE = "/etc/portable-attach.d/10-app.conf";
  const TEXT = "[app]\nImage=/var/lib/portables/app_1\n";

  it("a world-writable list file is named in a warning, and still used", () => {
    const root = rootWith({ [FILE]: TEXT });
    execFileSync("chmod", ["0666", join(root, FILE)]);
    const list = loadList(root);
    expect(list.diagnostics).toEqual([
      {
        severity: "warning",
        file: FILE,
        message: "List file is world-writable: anyone may change what is attached; using it anyway (chmod o-w to fix)",
      },
    ]);
    expect(list.merged.entries.map((e) => [e.name, e.errors])).toEqual([["app", []]]);
    tried++;
  });

  it.skipIf(process.getuid?.() !== 0)(
    "a list file owned by someone else than root and the tree's owner is named in a warning, and still used",
    () => {
      const root = rootWith({ [FILE]: TEXT });
      execFileSync("chown", ["65534", join(root, FILE)]);
      const list = loadList(root);
      expect(list.diagnostics).toEqual([
        {
          severity: "warning",
          file: FILE,
          message: "List file is owned by uid 65534, not root: that user may change what is attached; using it anyway",
        },
      ]);
      expect(list.merged.entries.map((e) => e.name)).toEqual(["app"]);
      // In a tree that user owns (an image builder's), the same file is theirs to write: no warning.
      execFileSync("chown", ["65534", root]);
      expect(loadList(root).diagnostics).toEqual([]);
      tried++;
    },
  );
});
