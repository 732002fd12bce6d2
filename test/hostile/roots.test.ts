// A tree given as a root (--root, PORTABLE_ATTACH_ROOT) may belong to someone else than the run
// that reads it: an image builder's tree, edited by root. Symlinks in it are chased inside it, as
// `systemctl --root` does, and the files we create there are created with O_EXCL|O_NOFOLLOW, so a
// planted symlink never leads a read or a write out of the tree.
import {
  chmodSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { replaceFileAtomic } from "../../src/io/atomic-file.ts";
import { loadList } from "../../src/io/load-list.ts";
import { acquireLock } from "../../src/io/lock.ts";
import { inRoot } from "../../src/io/root-path.ts";

const scratch = mkdtempSync(join(tmpdir(), "pa-hostile-roots-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

let n = 0;
/** A tree, and beside it (outside it) a file holding a secret. */
function setup(): { tree: string; outside: string; secret: string } {
  const base = join(scratch, String(n++));
  const tree = join(base, "tree");
  mkdirSync(join(tree, "etc"), { recursive: true });
  const outside = join(base, "outside");
  mkdirSync(outside);
  const secret = join(outside, "secret.conf");
  writeFileSync(secret, "[stolen]\nImage=/secret/line\n", { mode: 0o600 });
  chmodSync(secret, 0o600);
  return { tree, outside, secret };
}

describe("inRoot: symlinks chased inside the root", () => {
  it("an absolute target starts again at the root; '..' stops at the root; a missing tail is kept", () => {
    const { tree } = setup();
    mkdirSync(join(tree, "usr/lib"), { recursive: true });
    symlinkSync("/usr/lib", join(tree, "lib"));
    symlinkSync("../../../../../../../usr", join(tree, "etc/up"));
    expect(inRoot(tree, "/lib/x.conf")).toBe(`${tree}/usr/lib/x.conf`);
    expect(inRoot(tree, "/etc/up/lib")).toBe(`${tree}/usr/lib`);
    expect(inRoot(tree, "/../../etc/new/file")).toBe(`${tree}/etc/new/file`);
    expect(inRoot(tree, "/lib", false)).toBe(`${tree}/lib`);
  });

  it("a symlink loop is an ELOOP error, not a hang", () => {
    const { tree } = setup();
    symlinkSync("/etc/b", join(tree, "etc/a"));
    symlinkSync("/etc/a", join(tree, "etc/b"));
    expect(() => inRoot(tree, "/etc/a/x")).toThrow(/ELOOP/);
  });
});

describe("list files under a root are read inside it", () => {
  it("a main list symlinked to a file outside the tree is not read", () => {
    const { tree, secret } = setup();
    symlinkSync(secret, join(tree, "etc/portable-attach.conf"));
    const list = loadList(tree);
    expect(list.merged.entries).toEqual([]);
    expect(JSON.stringify(list.diagnostics)).not.toContain("secret");
    expect(list.diagnostics).toEqual([
      expect.objectContaining({
        file: "/etc/portable-attach.conf",
        message: "Failed to read list file: dangling symlink",
      }),
    ]);
  });

  it("a .d directory symlinked out of the tree (absolute or by '..') is not listed", () => {
    for (const link of ["abs", "rel"]) {
      const { tree, outside } = setup();
      const target = link === "abs" ? outside : `../../../../../../..${outside}`;
      symlinkSync(target, join(tree, "etc/portable-attach.d"));
      const list = loadList(tree);
      expect(list.merged.entries.map((e) => e.name)).toEqual([]);
      expect(JSON.stringify(list.diagnostics)).not.toContain("secret");
    }
  });

  it("a symlink whose absolute target is inside the tree is followed there", () => {
    const { tree } = setup();
    mkdirSync(join(tree, "usr/share"), { recursive: true });
    writeFileSync(join(tree, "usr/share/list.conf"), "[inside]\nImage=/x\n");
    symlinkSync("/usr/share/list.conf", join(tree, "etc/portable-attach.conf"));
    expect(loadList(tree).merged.entries.map((e) => e.name)).toEqual(["inside"]);
  });
});

describe("files created in a tree someone else owns", () => {
  it("a symlink planted under the lock's private name does not truncate its target (regression)", () => {
    const { tree, secret } = setup();
    const lock = join(tree, "etc/.portable-attach.lock");
    symlinkSync(secret, `${lock}.${process.pid}.tmp`);
    const before = readFileSync(secret, "utf8");
    const held = acquireLock(lock, 2000);
    held.release();
    expect(readFileSync(secret, "utf8")).toBe(before);
    expect(statSync(secret).mode & 0o777).toBe(0o600);
    expect(existsSync(lock)).toBe(false);
  });

  it("a symlink planted as the lock itself is broken, its target neither read into a message nor changed", () => {
    const { tree, secret } = setup();
    // Read through the link, this would be a lock held by pid 1 for ever, its text quoted on timeout.
    writeFileSync(secret, "1\nroot-only words\n");
    const lock = join(tree, "etc/.portable-attach.lock");
    symlinkSync(secret, lock);
    const before = readFileSync(secret, "utf8");
    const held = acquireLock(lock, 2000);
    expect(lstatSync(lock).isFile()).toBe(true);
    held.release();
    expect(readFileSync(secret, "utf8")).toBe(before);
  });

  it("the atomic writer writes a symlinked file's target inside the root", () => {
    const { tree, secret } = setup();
    symlinkSync(secret, join(tree, "etc/portable-attach.conf"));
    expect(() => replaceFileAtomic(tree, "/etc/portable-attach.conf", "[a]\nImage=/a\n")).toThrow(/ENOENT/);
    expect(readFileSync(secret, "utf8")).toBe("[stolen]\nImage=/secret/line\n");
    mkdirSync(join(tree, secret, ".."), { recursive: true });
    replaceFileAtomic(tree, "/etc/portable-attach.conf", "[a]\nImage=/a\n");
    expect(readFileSync(secret, "utf8")).toBe("[stolen]\nImage=/secret/line\n");
    expect(readFileSync(join(tree, secret), "utf8")).toBe("[a]\nImage=/a\n");
    expect(lstatSync(join(tree, "etc/portable-attach.conf")).isSymbolicLink()).toBe(true);
  });

  it("with no root: a symlinked file is replaced through its link, the mode kept or set, no temporary left", () => {
    const { outside } = setup();
    writeFileSync(join(outside, "real.conf"), "old\n", { mode: 0o600 });
    chmodSync(join(outside, "real.conf"), 0o600);
    symlinkSync("real.conf", join(outside, "link.conf"));
    replaceFileAtomic("", join(outside, "link.conf"), "new\n");
    expect(readFileSync(join(outside, "real.conf"), "utf8")).toBe("new\n");
    expect(statSync(join(outside, "real.conf")).mode & 0o777).toBe(0o600);
    expect(lstatSync(join(outside, "link.conf")).isSymbolicLink()).toBe(true);
    replaceFileAtomic("", join(outside, "real.conf"), "newer\n", { mode: 0o640, keepMode: false, sync: false });
    expect(statSync(join(outside, "real.conf")).mode & 0o777).toBe(0o640);
    expect(readdirSync(outside).sort()).toEqual(["link.conf", "real.conf", "secret.conf"]);
  });

  it("a temporary name someone planted (a symlink out) is neither written through nor fatal: another is drawn", () => {
    const { tree, secret } = setup();
    // The draw is made predictable here so the planted name is the first one tried.
    const random = Math.random;
    const draws = [0.5, 0.5, 0.25, 0.25];
    Math.random = () => draws.shift() ?? random();
    try {
      const planted = join(tree, "etc", `.#portable-attach.conf.${process.pid}.800000800000`);
      symlinkSync(secret, planted);
      replaceFileAtomic(tree, "/etc/portable-attach.conf", "[a]\nImage=/a\n");
      expect(draws).toEqual([]);
      expect(readFileSync(secret, "utf8")).toBe("[stolen]\nImage=/secret/line\n");
      expect(readFileSync(join(tree, "etc/portable-attach.conf"), "utf8")).toBe("[a]\nImage=/a\n");
      expect(lstatSync(planted).isSymbolicLink()).toBe(true);
    } finally {
      Math.random = random;
    }
  });
});
