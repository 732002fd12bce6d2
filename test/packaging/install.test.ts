// The install step (scripts/install.mjs, npm run install-files / uninstall-files), run as a user
// would run it: into a DESTDIR, checked file by file; then uninstall, which must leave nothing.
import { spawnSync } from "node:child_process";
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
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { afterAll, describe, expect, it } from "vitest";

const REPO = join(import.meta.dirname, "..", "..");
const SCRIPT = join(REPO, "scripts/install.mjs");
const scratch = mkdtempSync(join(tmpdir(), "pa-install-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

function installer(args: string[], env: Record<string, string> = {}) {
  const r = spawnSync(process.execPath, [SCRIPT, ...args], {
    encoding: "utf8",
    env: { PATH: process.env.PATH ?? "", ...env },
  });
  return { status: r.status, out: r.stdout + r.stderr };
}

/** Every path below dir, files as "path", directories as "path/". */
function tree(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const name of readdirSync(d).sort()) {
      const p = join(d, name);
      if (lstatSync(p).isDirectory()) {
        out.push(relative(dir, p) + "/");
        walk(p);
      } else out.push(relative(dir, p));
    }
  };
  walk(dir);
  return out;
}

const firstLine = (p: string) => readFileSync(p, "utf8").split("\n", 1)[0];

const EXPECTED_FILES = [
  "usr/bin/portable-attach",
  "usr/lib/portable-attach/install-manifest.json",
  ...readdirSync(join(REPO, "profiles")).map((p) => `usr/lib/portable-attach/profile/${p}/service.conf`),
  ...readdirSync(join(REPO, "units")).map((u) => `usr/lib/systemd/system/${u}`),
  "usr/lib/systemd/system-generators/portable-attach-generator",
  "usr/share/bash-completion/completions/portable-attach",
  "usr/share/man/man5/portable-attach.conf.5",
  "usr/share/man/man8/portable-attach-generator.8",
  "usr/share/man/man8/portable-attach.8",
].sort();

describe("install into a DESTDIR", () => {
  const dest = join(scratch, "dest");
  const node = join(scratch, "node-prefix/bin/node");

  it("installs every file where a systemd tool's files go, and nothing else", () => {
    const r = installer(["install", `--destdir=${dest}`, "--prefix=/usr", `--node=${node}`]);
    expect(r.out).toContain("files installed");
    expect(r.status).toBe(0);
    // That node does not exist (yet): no code caches, and install says so.
    expect(r.out).toContain("note: no code cache for portable-attach-generator, it starts a few ms slower");
    const files = tree(dest)
      .filter((p) => !p.endsWith("/"))
      .sort();
    expect(files).toEqual(EXPECTED_FILES);
    expect(tree(dest)).toContain("usr/lib/portable-attach.d/");
  });

  it("writes the Node given at install time into both #! lines, and makes them executable", () => {
    for (const p of ["usr/lib/systemd/system-generators/portable-attach-generator", "usr/bin/portable-attach"]) {
      expect(firstLine(join(dest, p))).toBe(`#!${node} --no-opt`);
      expect(statSync(join(dest, p)).mode & 0o777).toBe(0o755);
    }
    expect(statSync(join(dest, "usr/lib/systemd/system/portable-attach-late.service")).mode & 0o777).toBe(0o644);
  });

  it("installs the files themselves: units, profiles and man pages as in the repository", () => {
    for (const u of readdirSync(join(REPO, "units"))) {
      expect(readFileSync(join(dest, "usr/lib/systemd/system", u), "utf8")).toBe(
        readFileSync(join(REPO, "units", u), "utf8"),
      );
    }
    expect(readFileSync(join(dest, "usr/lib/portable-attach/profile/strict/service.conf"), "utf8")).toBe(
      readFileSync(join(REPO, "profiles/strict/service.conf"), "utf8"),
    );
    expect(readFileSync(join(dest, "usr/share/man/man8/portable-attach.8"), "utf8")).toBe(
      readFileSync(join(REPO, "man/portable-attach.8"), "utf8"),
    );
  });

  it("uninstall leaves DESTDIR empty", () => {
    const r = installer(["uninstall", `--destdir=${dest}`, "--prefix=/usr"]);
    expect(r.status).toBe(0);
    expect(tree(dest)).toEqual([]);
  });

  it("uninstall with nothing installed removes nothing and says so", () => {
    mkdirSync(join(dest, "usr/bin"), { recursive: true });
    writeFileSync(join(dest, "usr/bin/portable-attach"), "someone else's\n");
    const r = installer(["uninstall", `--destdir=${dest}`]);
    expect(r.status).toBe(1);
    expect(r.out).toContain("nothing removed");
    expect(readFileSync(join(dest, "usr/bin/portable-attach"), "utf8")).toBe("someone else's\n");
    rmSync(join(dest, "usr"), { recursive: true });
  });
});

describe("code caches", () => {
  const CACHES = [
    "usr/lib/portable-attach/portable-attach-generator.v8cache",
    "usr/lib/portable-attach/portable-attach.v8cache",
  ];
  const PROGRAMS = {
    "portable-attach-generator": "usr/lib/systemd/system-generators/portable-attach-generator",
    "portable-attach": "usr/bin/portable-attach",
  };

  /**
   * What the installed program makes of the cache installed with it (read below DESTDIR), run by
   * `node program` or, `direct`, as its #! line says; and whether it loaded node:v8.
   */
  function run(dest: string, program: keyof typeof PROGRAMS, direct: boolean): { state: string; loadedV8: boolean } {
    const dir = mkdtempSync(join(scratch, "state-"));
    writeFileSync(join(dir, "package.json"), '{"type":"commonjs"}\n');
    const cache = `/usr/lib/portable-attach/${program}.v8cache`;
    const text = readFileSync(join(dest, PROGRAMS[program]), "utf8");
    expect(text).toContain(`const CODE_CACHE = ${JSON.stringify(cache)};`);
    writeFileSync(
      join(dir, program),
      text.replace(
        `const CODE_CACHE = ${JSON.stringify(cache)};`,
        `const CODE_CACHE = ${JSON.stringify(join(dest, cache))};`,
      ),
      { mode: 0o755 },
    );
    const preload = join(dir, "v8.cjs");
    writeFileSync(
      preload,
      'process.on("exit", () => process.stderr.write(`node:v8 loaded: ${process.moduleLoadList.includes("NativeModule v8")}\\n`));\n',
    );
    // The generator refuses two arguments (one would be its output directory); the CLI says its version.
    const args = [join(dir, program), "--version", "--version"];
    const env = {
      PATH: process.env.PATH ?? "",
      PORTABLE_ATTACH_DEBUG_CODE_CACHE: "1",
      NODE_OPTIONS: `--require=${preload}`,
    };
    const r = direct
      ? spawnSync(args[0] as string, args.slice(1), { cwd: dir, encoding: "utf8", env })
      : spawnSync(process.execPath, args, { cwd: dir, encoding: "utf8", env });
    return {
      state: /: code cache .*: (.*)$/m.exec(r.stderr)?.[1] ?? r.stderr,
      loadedV8: /node:v8 loaded: true/.test(r.stderr),
    };
  }
  const state = (dest: string, program: keyof typeof PROGRAMS): string => run(dest, program, false).state;

  it("are made with the Node of the #! lines, where the programs look for them, and listed for uninstall", () => {
    const dest = join(scratch, "caches");
    const r = installer(["install", `--destdir=${dest}`, `--node=${process.execPath}`]);
    expect(r.status).toBe(0);
    for (const c of CACHES) {
      expect(r.out).toContain(`installed /${c} (V8 code cache, made with ${process.execPath})`);
      expect(statSync(join(dest, c)).mode & 0o777).toBe(0o644);
    }
    const files = tree(dest)
      .filter((p) => !p.endsWith("/"))
      .sort();
    expect(files).toEqual([...EXPECTED_FILES, ...CACHES].sort());
    const manifest = JSON.parse(readFileSync(join(dest, "usr/lib/portable-attach/install-manifest.json"), "utf8")) as {
      files: { path: string }[];
    };
    for (const c of CACHES) expect(manifest.files.map((f) => f.path)).toContain(`/${c}`);
    expect(state(dest, "portable-attach-generator")).toBe("accepted");
    expect(state(dest, "portable-attach")).toBe("accepted");
    // Run as systemd and a shell run them, the #! line gives V8 the flag the cache was made under
    // (the producer set it through node:v8): accepted, and node:v8 not loaded.
    for (const program of ["portable-attach-generator", "portable-attach"] as const)
      expect(run(dest, program, true)).toEqual({ state: "accepted", loadedV8: false });
    expect(run(dest, "portable-attach", false).loadedV8).toBe(true);
    expect(installer(["uninstall", `--destdir=${dest}`]).status).toBe(0);
    expect(tree(dest)).toEqual([]);
  });

  it("a Node that cannot make them: install goes on without, says so, and drops an earlier install's", () => {
    const dest = join(scratch, "no-cache");
    expect(installer(["install", "-q", `--destdir=${dest}`, `--node=${process.execPath}`]).status).toBe(0);
    for (const c of CACHES) expect(existsSync(join(dest, c))).toBe(true);
    const r = installer(["install", `--destdir=${dest}`, "--node=/bin/false"]);
    expect(r.status).toBe(0);
    expect(r.out).toContain(
      "note: no code cache for portable-attach, it starts a few ms slower: portable-attach --root=",
    );
    for (const c of CACHES) expect(existsSync(join(dest, c))).toBe(false);
    // (The second install created no directories, so uninstall leaves them: files only.)
    expect(installer(["uninstall", `--destdir=${dest}`]).status).toBe(0);
    expect(tree(dest).filter((p) => !p.endsWith("/"))).toEqual([]);
  });

  it("--no-code-cache: none, and the programs run without", () => {
    const dest = join(scratch, "no-code-cache");
    const r = installer(["install", `--destdir=${dest}`, `--node=${process.execPath}`, "--no-code-cache"]);
    expect(r.status).toBe(0);
    expect(r.out).not.toContain("code cache");
    expect(tree(dest).filter((p) => p.endsWith(".v8cache"))).toEqual([]);
    expect(state(dest, "portable-attach")).toBe("missing");
  });
});

describe("install details", () => {
  it("finds node on PATH when not told, and the installed generator runs with that #!", () => {
    const dest = join(scratch, "path-node");
    const bin = join(scratch, "fake-path");
    mkdirSync(bin, { recursive: true });
    // A real node, reachable as `node` on PATH at a path of its own.
    writeFileSync(join(bin, "node"), `#!/bin/sh\nexec ${process.execPath} "$@"\n`);
    chmodSync(join(bin, "node"), 0o755);
    const r = spawnSync(process.execPath, [SCRIPT, "install", `--destdir=${dest}`, "-q"], {
      encoding: "utf8",
      env: { PATH: `${bin}:/usr/bin:/bin` },
    });
    expect(r.status).toBe(0);
    const gen = join(dest, "usr/lib/systemd/system-generators/portable-attach-generator");
    expect(firstLine(gen)).toBe(`#!${bin}/node --no-opt`);
    // Run it directly (the kernel reads the #! line), the way systemd runs a generator.
    const root = join(scratch, "empty-root");
    const out = join(scratch, "gen-out");
    mkdirSync(root, { recursive: true });
    mkdirSync(out, { recursive: true }); // systemd creates the output directory
    const g = spawnSync(gen, [out], { encoding: "utf8", env: { PATH: "/usr/bin:/bin", PORTABLE_ATTACH_ROOT: root } });
    expect(g.stderr).toBe("");
    expect(g.status).toBe(0);
    expect(existsSync(join(out, ".portable-attach-status.json"))).toBe(true);
  });

  it("PREFIX=/usr/local: everything below it, and the units call the command there", () => {
    const dest = join(scratch, "local");
    const r = installer(["install", "-q", "--prefix=/usr/local", "--node=/usr/bin/node"], { DESTDIR: dest });
    expect(r.status).toBe(0);
    expect(tree(dest).every((p) => p.startsWith("usr/"))).toBe(true);
    expect(tree(dest).filter((p) => !p.endsWith("/") && !p.startsWith("usr/local/"))).toEqual([]);
    const late = readFileSync(join(dest, "usr/local/lib/systemd/system/portable-attach-late.service"), "utf8");
    expect(late).toContain("ExecStart=/usr/local/bin/portable-attach reload");
    expect(late).not.toContain("/usr/bin/portable-attach");
    expect(installer(["uninstall", "--prefix=/usr/local"], { DESTDIR: dest }).status).toBe(0);
    expect(tree(dest)).toEqual([]);
  });

  it("uninstall keeps a file changed since install, names it, and fails", () => {
    const dest = join(scratch, "changed");
    expect(installer(["install", "-q", `--destdir=${dest}`, "--node=/usr/bin/node"]).status).toBe(0);
    const conf = join(dest, "usr/lib/portable-attach/profile/default/service.conf");
    writeFileSync(conf, "# edited by the administrator\n");
    const r = installer(["uninstall", `--destdir=${dest}`]);
    expect(r.status).toBe(1);
    expect(r.out).toContain("kept /usr/lib/portable-attach/profile/default/service.conf");
    expect(tree(dest).filter((p) => !p.endsWith("/"))).toEqual([
      "usr/lib/portable-attach/profile/default/service.conf",
    ]);
  });

  it("refuses a relative --node", () => {
    const r = installer(["install", `--destdir=${join(scratch, "rel")}`, "--node=node"]);
    expect(r.status).toBe(1);
    expect(r.out).toContain("absolute");
  });
});
