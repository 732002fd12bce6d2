// --root as an image builder uses it: as a non-root user, attach into a tree that has only the
// image, then the generator (PORTABLE_ATTACH_ROOT on that tree) must write exactly what the
// hand-written list of golden case 01 makes it write. Also: the JSON shapes of list, inspect and
// status, and what the CLI says when there is no systemd to talk to.
import { spawnSync } from "node:child_process";
import { chownSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it, onTestFinished } from "vitest";
import { copyForNobody, removeCopy } from "../helpers/nobody.ts";
import { contents } from "../helpers/tree.ts";
import { CLI, cliEnv, GENERATOR, makeTree, readList, REPO, runCli } from "./helpers.ts";

const roots: string[] = [];
afterAll(() => {
  for (const r of roots) rmSync(r, { recursive: true, force: true });
});

function chownTree(path: string, uid: number, gid: number): void {
  chownSync(path, uid, gid);
  if (statSync(path).isDirectory()) for (const n of readdirSync(path)) chownTree(join(path, n), uid, gid);
}

function generate(root: string, out: string) {
  return spawnSync(process.execPath, [GENERATOR, out, out, out], {
    encoding: "utf8",
    env: { PATH: "/usr/bin:/bin", PORTABLE_ATTACH_ROOT: root, SYSTEMD_ARCHITECTURE: "x86-64" },
  });
}

describe("--root round trip", () => {
  it("attach as non-root into an empty tree, then the generator writes the expected units", () => {
    const root = makeTree();
    roots.push(root);
    const asNobody = process.getuid?.() === 0;
    if (asNobody) chownTree(root, 65534, 65534);
    // The image path typed with the tree in front is stored as the booted system sees it.
    const cli = asNobody ? copyForNobody(CLI) : CLI;
    if (asNobody) onTestFinished(() => removeCopy(cli));
    const r = spawnSync(process.execPath, [cli, `--root=${root}`, "attach", `${root}/var/lib/portables/foo_1`], {
      encoding: "utf8",
      env: cliEnv(),
      ...(asNobody ? { uid: 65534, gid: 65534 } : {}),
    });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toContain("Not reloading: --root given");
    expect(readList(root)).toBe("[foo]\nImage=/var/lib/portables/foo_1\n");
    if (asNobody) expect(statSync(join(root, "etc/portable-attach.conf")).uid).toBe(65534);
    expect(statSync(join(root, "etc/portable-attach.conf")).mode & 0o777).toBe(0o644);

    const out = join(root, "run/systemd/generator");
    mkdirSync(out, { recursive: true });
    const g = generate(root, out);
    expect(g.status, g.stderr).toBe(0);
    const written = contents(out);
    written.delete(".portable-attach-status.json");
    expect(written).toEqual(contents(join(REPO, "test/golden/01-one-service/expected")));

    // status reads what the generator recorded; is-attached agrees.
    const s = runCli(root, ["status", "--json=short"]);
    expect(s.status, s.stderr).toBe(0);
    const outcomes = JSON.parse(s.stdout) as { name: string; state: string; units: string[] }[];
    expect(outcomes.map((o) => [o.name, o.state, o.units])).toEqual([["foo", "attached", ["foo.service"]]]);
    const attached = runCli(root, ["is-attached", "foo"]);
    expect([attached.stdout, attached.status]).toEqual(["attached\n", 0]);
    expect(runCli(root, ["is-attached", "nope"]).status).toBe(1);
  });

  it("keeps the list file's mode and refuses an image without units, writing nothing", () => {
    const root = makeTree();
    roots.push(root);
    expect(runCli(root, ["attach", "/var/lib/portables/bar_1", "--name=other", "--force"]).status).toBe(0);
    spawnSync("chmod", ["0600", join(root, "etc/portable-attach.conf")]);
    const before = readList(root);
    const r = runCli(root, ["attach", "/var/lib/portables/foo_1", "bar"]);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/^Failed to attach '\/var\/lib\/portables\/foo_1': Couldn't find any matching unit files/);
    expect(readList(root)).toBe(before);
    expect(runCli(root, ["enable", "other"]).status).toBe(0);
    expect(statSync(join(root, "etc/portable-attach.conf")).mode & 0o777).toBe(0o600);
    expect(runCli(root, ["attach", "/var/lib/portables/nope_1"]).stderr).toContain(
      "Failed to attach '/var/lib/portables/nope_1': Image '/var/lib/portables/nope_1' does not exist",
    );
  });
});

describe("--json shapes and usage", () => {
  it("list, inspect and status print valid JSON with the documented keys", () => {
    const root = makeTree();
    roots.push(root);
    expect(runCli(root, ["list", "--json=short"]).stdout).toBe("[]\n");
    expect(runCli(root, ["attach", "/var/lib/portables/foo_1", "--enable"]).status).toBe(0);
    const list = JSON.parse(runCli(root, ["list", "--json=pretty"]).stdout) as Record<string, unknown>[];
    expect(list).toEqual([
      // Offline nothing is loaded: "pending", and what the first boot will make of it.
      {
        name: "foo",
        file: "/etc/portable-attach.conf",
        line: 1,
        image: "/var/lib/portables/foo_1",
        extensions: [],
        enabled: true,
        enableUnits: [],
        state: "pending",
        next: "attached",
        source: "computed",
        units: [{ name: "foo.service", enabled: true, active: null }],
      },
    ]);
    const inspect = JSON.parse(runCli(root, ["inspect", "foo", "--json=short"]).stdout) as Record<string, unknown>;
    expect(Object.keys(inspect).sort()).toEqual([
      "attach",
      "description",
      "extensions",
      "fitness",
      "image",
      "operatingSystem",
      "osRelease",
      "path",
      "portableService",
      "protection",
      "type",
      "units",
    ]);
    expect(inspect.protection).toEqual({ level: "unprotected", details: [] });
    expect(inspect.units).toEqual(["foo.service"]);
    expect(inspect.attach).toMatchObject({ state: "attached", units: ["foo.service"] });
    expect(inspect.fitness).toContainEqual({ check: "/etc/machine-id present", ok: true });
    expect(inspect.fitness).toContainEqual({ check: "/proc present (API mount point)", ok: false });
    expect(runCli(root, ["inspect", "foo"]).stderr).toContain(
      "Warning: /proc (API mount point) is missing in '/var/lib/portables/foo_2' (created at run time only if the image is writable).\n",
    );
    // No generator has run in this tree: status says so and fails.
    const s = runCli(root, ["status", "--json=short"]);
    expect(s.status).toBe(1);
    expect(s.stderr).toContain("No generator record");
  });

  it("bad usage exits 1 (as systemctl), with systemd's wording and a pointer to --help", () => {
    const root = makeTree();
    roots.push(root);
    expect(runCli(root, ["frobnicate"])).toMatchObject({
      status: 1,
      stderr: "Unknown command verb 'frobnicate'.\nTry 'portable-attach --help' for more information.\n",
    });
    for (const inherited of ["constructor", "toString", "__proto__"]) {
      expect(runCli(root, [inherited])).toMatchObject({
        status: 1,
        stderr: expect.stringContaining(`Unknown command verb '${inherited}'.`),
      });
    }
    expect(runCli(root, ["--json=xml", "list"]).status).toBe(1);
    expect(runCli(root, ["attach"])).toMatchObject({
      status: 1,
      stderr: expect.stringContaining("Try 'portable-attach --help'"),
    });
    expect(runCli(root, ["detach", "nope"])).toMatchObject({
      status: 1,
      stderr: "No entry 'nope' in any attach list.\n",
    });
  });

  it("without a booted systemd (no --root) it edits and says it did not reload", () => {
    // This machine has no /run/systemd/system: the real "not booted" path, not a mock.
    const root = makeTree();
    roots.push(root);
    const r = spawnSync(process.execPath, [CLI, "reload"], { encoding: "utf8", env: cliEnv() });
    expect(r.status).toBe(0);
    expect(r.stderr).toMatch(
      /^Not reloading: (system has not been booted with systemd|SYSTEMD_OFFLINE=1 is set|running in chroot)/,
    );
    expect(readFileSync(CLI, "utf8").startsWith("#!/usr/bin/env node")).toBe(true);
  });
});

describe("--root stays inside the tree", () => {
  /** A tree, and a directory beside it (outside it) holding a list file with recognizable lines. */
  function treeAndOutside(): { root: string; outside: string; secret: string } {
    const root = makeTree();
    roots.push(root);
    const outside = `${root}-outside`;
    roots.push(outside);
    mkdirSync(outside);
    const secret = join(outside, "secret.conf");
    writeFileSync(secret, "SECRET-LINE-1 of a root-only file\n[stolen]\nImage=/secret\n", { mode: 0o600 });
    return { root, outside, secret };
  }

  it("attach through a list symlinked out of the tree writes the link's target inside the tree (regression: appended outside)", () => {
    const { root, secret } = treeAndOutside();
    mkdirSync(join(root, "etc"), { recursive: true });
    symlinkSync(secret, join(root, "etc/portable-attach.conf"));
    const before = readFileSync(secret, "utf8");
    const r = runCli(root, ["attach", "/var/lib/portables/foo_1"]);
    expect(r.status, r.stderr).toBe(0);
    expect(readFileSync(secret, "utf8")).toBe(before);
    expect(readFileSync(join(root, secret), "utf8")).toBe("[foo]\nImage=/var/lib/portables/foo_1\n");
    expect(r.stderr).not.toContain("SECRET");
  });

  it("the generator does not follow a .d symlink out of the root, nor echo the outside lines (regression)", () => {
    const { root, outside } = treeAndOutside();
    mkdirSync(join(root, "etc"), { recursive: true });
    symlinkSync(outside, join(root, "etc/portable-attach.d"));
    const out = join(root, "run/systemd/generator");
    mkdirSync(out, { recursive: true });
    const g = generate(root, out);
    expect(g.status, g.stderr).toBe(0);
    expect(g.stderr).not.toContain("SECRET");
    expect(g.stderr).not.toContain("stolen");
    expect(readFileSync(join(out, ".portable-attach-status.json"), "utf8")).not.toContain("stolen");
  });

  it.skipIf(process.getuid?.() !== 0)(
    "root's run in a tree a user owns: symlinks planted under the lock's private names truncate nothing (regression)",
    () => {
      const { root, secret } = treeAndOutside();
      mkdirSync(join(root, "etc"), { recursive: true });
      chownTree(root, 65534, 65534);
      const before = readFileSync(secret, "utf8");
      // The user cannot know the next pid; planting a few thousand names after the last one is enough.
      const last = Number(readFileSync("/proc/sys/kernel/ns_last_pid", "utf8"));
      for (let pid = last + 1; pid <= last + 3000; pid++)
        symlinkSync(secret, join(root, `etc/.portable-attach.lock.${pid}.tmp`));
      const r = runCli(root, ["attach", "/var/lib/portables/foo_1"]);
      expect(r.status, r.stderr).toBe(0);
      expect(readFileSync(secret, "utf8")).toBe(before);
      expect(statSync(secret).mode & 0o777).toBe(0o600);
    },
  );

  it("attach and detach through a cache directory symlinked out of the tree neither write nor remove there (regression)", () => {
    const { root, outside } = treeAndOutside();
    mkdirSync(join(root, "etc/portable-attach"), { recursive: true });
    symlinkSync(outside, join(root, "etc/portable-attach/cache"));
    writeFileSync(join(outside, "foo.json"), "root's own file");
    expect(runCli(root, ["attach", "/var/lib/portables/foo_1"]).status).toBe(0);
    expect(readFileSync(join(outside, "foo.json"), "utf8")).toBe("root's own file");
    expect(readdirSync(join(root, outside))).toEqual(["foo.json"]); // the link's target, inside the tree
    expect(runCli(root, ["detach", "foo"]).status).toBe(0);
    expect(readFileSync(join(outside, "foo.json"), "utf8")).toBe("root's own file");
  });

  it("the editor refuses a list with an unreadable line instead of losing it", () => {
    const root = makeTree();
    roots.push(root);
    const damaged = Buffer.concat([
      Buffer.from("# mine\n[bar]\nImage=/var/lib/portables/bar_1\n"),
      Buffer.alloc(512, 0),
    ]);
    mkdirSync(join(root, "etc"), { recursive: true });
    writeFileSync(join(root, "etc/portable-attach.conf"), damaged);
    const r = runCli(root, ["attach", "/var/lib/portables/foo_1"]);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain("line 4 cannot be read (NUL bytes or invalid UTF-8)");
    expect(readFileSync(join(root, "etc/portable-attach.conf")).equals(damaged)).toBe(true);
  });
});

describe("vendor lists with damaged lines", () => {
  const VENDOR = "usr/lib/portable-attach.d/vendor.conf";
  function damagedVendor(): string {
    const root = makeTree();
    roots.push(root);
    const text = Buffer.concat([
      Buffer.from("[foo]\nImage=/var/lib/portables/foo_1\n\n[bar]\nImage=/var/lib/portables/bar_1\nProfile=tru"),
      Buffer.from([0xff]),
      Buffer.from("sted\n"),
    ]);
    mkdirSync(join(root, VENDOR, ".."), { recursive: true });
    writeFileSync(join(root, VENDOR), text);
    return root;
  }

  it("enabling an intact vendor entry copies it, damage elsewhere in that file notwithstanding", () => {
    const root = damagedVendor();
    const r = runCli(root, ["enable", "foo"]);
    expect(r.status, r.stderr).toBe(0);
    expect(readList(root)).toBe(
      "# Copied from /usr/lib/portable-attach.d/vendor.conf by portable-attach.\n[foo]\nImage=/var/lib/portables/foo_1\nEnable=yes\n",
    );
  });

  it("a damaged vendor section is not copied half", () => {
    const root = damagedVendor();
    const r = runCli(root, ["enable", "bar"]);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain(
      "Refusing to copy [bar] from /usr/lib/portable-attach.d/vendor.conf: line 6 cannot be read",
    );
    expect(statSync(join(root, "etc"), { throwIfNoEntry: false })?.isDirectory() ?? false).toBe(false);
  });
});
