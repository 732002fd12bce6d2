// The facts cache (src/io/facts-cache.ts), end to end through the built CLI and
// generator: attach writes it; the generator attaches from it an image that is not reachable yet
// (and pulls in the late pass to check it), trusts it for a reachable raw image only while that
// image's identity is unchanged, and ignores it whenever the entry, the host or the file differ.
// A "tell-tale" cache — one whose unit text was edited — shows which side the generator used.
import { spawnSync } from "node:child_process";
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  utimesSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { contents } from "../helpers/tree.ts";
import { GENERATOR, makeTree, REPO, runCli, writeList } from "./helpers.ts";

const FIXTURE = join(REPO, "test/fixtures/images/erofs-lz4.raw");
const IMAGE = "/var/lib/portables/foo.raw";
const CACHE = "etc/portable-attach/cache/foo.json";
const roots: string[] = [];
afterAll(() => {
  for (const r of roots) rmSync(r, { recursive: true, force: true });
});

interface Outcome {
  name: string;
  state: string;
  units: string[];
  cached?: string[];
}

function generate(root: string, env: Record<string, string> = {}) {
  const out = join(root, "run/systemd/generator");
  rmSync(out, { recursive: true, force: true });
  mkdirSync(out, { recursive: true });
  const g = spawnSync(process.execPath, [GENERATOR, out], {
    encoding: "utf8",
    env: { PATH: "/usr/bin:/bin", PORTABLE_ATTACH_ROOT: root, SYSTEMD_ARCHITECTURE: "x86-64", ...env },
  });
  expect(g.status, g.stderr).toBe(0);
  const files = contents(out);
  const status = JSON.parse(files.get(".portable-attach-status.json") ?? "{}") as { entries: Outcome[] };
  files.delete(".portable-attach-status.json");
  return { files, outcome: status.entries.find((o) => o.name === "foo") as Outcome, stderr: g.stderr };
}

/** A root whose image was written more than the racy window (2 s) ago, attached with the CLI. */
function attachedRoot(): string {
  const root = makeTree("pa-cache-");
  roots.push(root);
  copyFileSync(FIXTURE, join(root, IMAGE));
  return root;
}

function attach(root: string, args: string[] = []): void {
  const r = runCli(root, ["attach", ...args, IMAGE]);
  expect(r.status, r.stderr).toBe(0);
}

function readCache(root: string, path = CACHE) {
  return JSON.parse(readFileSync(join(root, path), "utf8"));
}

/** Edits foo.service's text in the cache, so output shows whether the cache or the image was used. */
function markCache(root: string): void {
  const record = readCache(root);
  for (const u of record.images[0].facts.units) {
    if (u.name === "foo.service")
      u.content = Buffer.from(
        Buffer.from(u.content, "base64").toString("latin1") + "# from the cache\n",
        "latin1",
      ).toString("base64");
  }
  writeFileSync(join(root, CACHE), JSON.stringify(record));
}
const usedCache = (files: Map<string, string>) => files.get("foo.service")?.endsWith("# from the cache\n") ?? false;

let settled: string; // attached with a settled image
let baseline: Map<string, string>; // what the generator writes from the image alone

beforeAll(async () => {
  settled = attachedRoot();
  await new Promise((r) => setTimeout(r, 2100)); // past the racy window of the copy above
  attach(settled);
  const noCache = makeTree("pa-cache-none-");
  roots.push(noCache);
  copyFileSync(FIXTURE, join(noCache, IMAGE));
  writeList(noCache, `[foo]\nImage=${IMAGE}\n`);
  baseline = generate(noCache).files;
}, 30_000);

describe("the facts cache", () => {
  it("attach records the image's facts and its identity", () => {
    const record = readCache(settled);
    const st = statSync(join(settled, IMAGE), { bigint: true });
    expect(record.images).toHaveLength(1);
    expect(record.images[0].configured).toBe(IMAGE);
    expect(record.images[0].facts.path).toBe(IMAGE);
    expect(record.images[0].identity).toEqual({
      ino: String(st.ino),
      size: String(st.size),
      mtimeNs: String(st.mtimeNs),
      ctimeNs: String(st.ctimeNs),
    });
    expect(record.images[0].facts.units.map((u: { name: string }) => u.name)).toContain("foo.service");
    expect(record.images[0].facts.releaseText).toMatch(/^NAME=.?Foo.?$/m);
  });

  it("a reachable image gives the same output with or without the cache", () => {
    const { files, outcome } = generate(settled);
    expect(files).toEqual(baseline);
    expect(outcome.state).toBe("attached");
    expect(outcome.cached).toBeUndefined();
  });

  it("an unchanged image is not read again; a changed one always is", () => {
    const root = attachedRoot();
    attach(root); // racy: recorded without an identity
    expect(readCache(root).images[0].identity).toBeUndefined();
    markCache(root);
    const debug = { SYSTEMD_LOG_LEVEL: "debug" };
    const racy = generate(root, debug);
    expect(usedCache(racy.files)).toBe(false);
    // The debug log says how many images were not read (the bench checks its cached cases with it).
    expect(racy.stderr).toContain("0 image(s) not read: unchanged since attach time");

    markCache(settled);
    const unchanged = generate(settled, debug);
    expect(usedCache(unchanged.files)).toBe(true);
    expect(unchanged.stderr).toContain("1 image(s) not read: unchanged since attach time");
    // Any change of the image shows in its ctime: the cache loses.
    const t = new Date();
    utimesSync(join(settled, IMAGE), t, t);
    expect(generate(settled).files).toEqual(baseline);
    attach(settled); // back to a fresh (racy) record for the other tests
  });

  it("an image not reachable yet is attached from the cache, and the late pass is pulled in to check it", () => {
    const root = attachedRoot();
    attach(root);
    renameSync(join(root, IMAGE), join(root, IMAGE + ".away"));
    const { files, outcome, stderr } = generate(root, { SYSTEMD_LOG_LEVEL: "notice" });
    expect(outcome.state).toBe("attached");
    expect(outcome.cached).toEqual([IMAGE]);
    expect(stderr).toContain("attached from the cache written at attach time");
    for (const [path, text] of baseline) expect(files.get(path)).toBe(text);
    expect(files.get("portable-attach-late.service.d/50-deferred.conf")).toContain(`RequiresMountsFor=${IMAGE}`);

    // Once the late pass ran, local file systems are mounted: a missing image is really missing.
    mkdirSync(join(root, "run/portable-attach"), { recursive: true });
    writeFileSync(join(root, "run/portable-attach/late-pass-done"), "");
    expect(generate(root).outcome.state).toBe("failed");
  });

  it("is ignored when the entry, the host or the record differ from what it was written for", () => {
    const root = attachedRoot();
    attach(root);
    renameSync(join(root, IMAGE), join(root, IMAGE + ".away"));
    const good = readFileSync(join(root, CACHE), "utf8");
    expect(generate(root).outcome.state).toBe("attached");

    const variants: [string, () => void][] = [
      ["Prefixes=", () => writeList(root, `[foo]\nImage=${IMAGE}\nPrefixes=foo bar\n`)],
      ["Force=", () => writeList(root, `[foo]\nImage=${IMAGE}\nForce=yes\n`)],
      ["Image=", () => writeList(root, `[foo]\nImage=/var/lib/portables/foo_9.raw\n`)],
      ["Extensions=", () => writeList(root, `[foo]\nImage=${IMAGE}\nExtensions=/var/lib/portables/ext.raw\n`)],
      ["version", () => writeFileSync(join(root, CACHE), good.replace(/"version":"[^"]*"/, '"version":"0.0.0-other"'))],
      ["truncated", () => writeFileSync(join(root, CACHE), good.slice(0, good.length >> 1))],
      ["not an object", () => writeFileSync(join(root, CACHE), "null\n")],
      ["units of the wrong shape", () => writeFileSync(join(root, CACHE), good.replace(/"units":\[/, '"units":[7,'))],
      // The pin is written into units as it is: only an image policy's characters may pass.
      [
        "a pin that is not a policy",
        () => (
          expect(good).toContain('"pin":"root=erofs:=absent"'),
          writeFileSync(
            join(root, CACHE),
            good.replace('"pin":"root=erofs:=absent"', '"pin":"x\\nExecStartPre=/bin/evil"'),
          )
        ),
      ],
      // A FIFO must not hang the generator (nobody writes to it).
      ["a FIFO", () => (rmSync(join(root, CACHE)), spawnSync("mkfifo", [join(root, CACHE)]))],
      ["a directory", () => (rmSync(join(root, CACHE)), mkdirSync(join(root, CACHE)))],
    ];
    for (const [what, spoil] of variants) {
      spoil();
      const { outcome } = generate(root);
      expect(outcome.state, what).toBe("deferred");
      writeList(root, `[foo]\nImage=${IMAGE}\n`);
      rmSync(join(root, CACHE), { recursive: true, force: true });
      writeFileSync(join(root, CACHE), good);
    }
    expect(generate(root, { SYSTEMD_ARCHITECTURE: "arm64" }).outcome.state).toBe("deferred");
    expect(generate(root).outcome.state).toBe("attached");
  });

  it("a directory image's record is used only while it is not reachable", () => {
    const root = makeTree("pa-cache-dir-");
    roots.push(root);
    const r = runCli(root, ["attach", "/var/lib/portables/foo_1"]);
    expect(r.status, r.stderr).toBe(0);
    const record = readCache(root);
    expect(record.images[0].identity).toBeUndefined();
    expect(record.images[0].facts.type).toBe("directory");
    renameSync(join(root, "var/lib/portables/foo_1"), join(root, "var/lib/portables/away"));
    expect(generate(root).outcome.cached).toEqual(["/var/lib/portables/foo_1"]);
  });

  it("detach removes it; --runtime keeps it in /run, beside the list", () => {
    const root = attachedRoot();
    attach(root);
    expect(existsSync(join(root, CACHE))).toBe(true);
    expect(runCli(root, ["detach", "foo"]).status).toBe(0);
    expect(existsSync(join(root, CACHE))).toBe(false);

    attach(root, ["--runtime"]);
    expect(existsSync(join(root, "run/portable-attach/cache/foo.json"))).toBe(true);
    expect(existsSync(join(root, CACHE))).toBe(false);
    renameSync(join(root, IMAGE), join(root, IMAGE + ".away"));
    expect(generate(root).outcome.cached).toEqual([IMAGE]);
  });

  it("a temporary file left by a killed run goes at the next write; a live writer's stays", () => {
    const root = attachedRoot();
    const dir = join(root, "etc/portable-attach/cache");
    mkdirSync(dir, { recursive: true });
    const dead = spawnSync(process.execPath, ["-e", "0"]).pid; // exited: its pid names no process
    const stale = [`.#bar.json.${dead}.x1y2z3`, `.#a.b.json.${dead}.abcdef`];
    const live = `.#baz.json.${process.pid}.abcdef`;
    for (const n of [...stale, live]) writeFileSync(join(dir, n), "{");
    attach(root);
    expect(readdirSync(dir).sort()).toEqual([live, "foo.json"].sort());
  });

  it("a failure to write it costs a warning, not the attach", () => {
    const root = attachedRoot();
    mkdirSync(join(root, "etc/portable-attach"), { recursive: true });
    writeFileSync(join(root, "etc/portable-attach/cache"), "not a directory\n");
    const r = runCli(root, ["attach", IMAGE]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toContain("Failed to write the cache for [foo]");
    expect(generate(root).outcome.state).toBe("attached");
  });
});
