// Hostile images. Each case is a small spec (test/hostile/spec.ts) or a committed fixture with a
// few bytes changed, put into a scratch root next to a good image; each is read in-process exactly
// as the generator reads it (readEntryFacts + plan) together with the good entry, and must give
// its expected outcome and message (naming the image) while the good entry stays attached, in
// bounded time. Then the built generator runs once over all of them together (with umask 000):
// exit 0, the good entry attached, modes 0644/0755, and a canary file outside the images, which
// many of the images' symlinks point at, in none of the files it wrote.
import { execFileSync, spawnSync } from "node:child_process";
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
  closeSync,
  openSync,
  ftruncateSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from "vitest";
import { skipName } from "../helpers/skip-reporter.ts";
import { copyForNobody, removeCopy } from "../helpers/nobody.ts";
import { parseAttachList } from "../../src/config/attach-list.ts";
import { openImage } from "../../src/image/open.ts";
import { readFileInImage } from "../../src/image/resolve.ts";
import { ImageError } from "../../src/image/types.ts";
import { readEntryFacts } from "../../src/io/facts.ts";
import { readHostFacts } from "../../src/io/host.ts";
import { plan } from "../../src/plan/plan.ts";
import type { EntryFacts, Outcome } from "../../src/plan/types.ts";
import { resignErofs } from "../helpers/erofs.ts";
import { walk } from "../helpers/tree.ts";
import { build, have, osRelease, unit, type Spec } from "./spec.ts";

const REPO = join(import.meta.dirname, "..", "..");
const FIXTURES = join(REPO, "test/fixtures/images");
const GENERATOR = join(REPO, "dist/portable-attach-generator");
const scratch = mkdtempSync(join(tmpdir(), "pa-hostile-images-"));
const ROOT = join(scratch, "root");
/** Outside ROOT, readable by root: nothing we write may ever contain it. */
const CANARY_DIR = join(scratch, "outside");
const TOKEN = `CANARY-${process.pid}-${Date.now()}`;
const CANARY = join(CANARY_DIR, "secret");
const CANARY_UNITS = join(CANARY_DIR, "units");
/** From any depth inside ROOT, enough ../ to reach / on the host. */
const UP = "../".repeat(40);
const PORTABLES = "/var/lib/portables";
let tried = 0;

interface Case {
  name: string;
  /** A spec for a directory image, or a raw image made by `raw(path)`. */
  spec?: Spec;
  raw?: (path: string) => void;
  /** Image= when the case is not an image of its own. */
  image?: string;
  prefixes?: string;
  state: "attached" | "failed";
  reason?: RegExp;
  warnings?: RegExp[];
  units?: string[];
}

const ok = (name: string, extra: Spec = {}): Spec => ({
  "etc/os-release": osRelease(),
  [`usr/lib/systemd/system/${name}.service`]: unit(name),
  ...extra,
});
const fixture = (name: string, edit: (b: Buffer) => Buffer | void) => (path: string) => {
  const bytes = readFileSync(join(FIXTURES, name));
  writeFileSync(path, edit(bytes) ?? bytes);
};
const u32 = (off: number, v: number) => (b: Buffer) => void b.writeUInt32LE(v >>> 0, off);
const u64 = (off: number, v: bigint) => (b: Buffer) => void b.writeBigUInt64LE(v, off);

const SYSTEM = "usr/lib/systemd/system";
const cases: Case[] = [
  // ---- symlinks that try to leave the image
  {
    name: "escshadow",
    spec: ok("escshadow", { [`${SYSTEM}/escshadow-x.service`]: { link: "/etc/shadow" } }),
    state: "attached",
    units: ["escshadow.service"],
    warnings: [
      /escshadow-x\.service' in \/var\/lib\/portables\/escshadow_1 is a symlink that leads nowhere inside the image/,
    ],
  },
  {
    name: "escdotdot",
    spec: ok("escdotdot", { [`${SYSTEM}/escdotdot-x.service`]: { link: `${UP}etc/shadow` } }),
    state: "attached",
    units: ["escdotdot.service"],
    warnings: [/leads nowhere inside the image/],
  },
  {
    name: "esccanary",
    spec: ok("esccanary", { [`${SYSTEM}/esccanary-x.service`]: { link: CANARY } }),
    state: "attached",
    units: ["esccanary.service"],
    warnings: [/leads nowhere/],
  },
  {
    name: "escrel",
    spec: ok("escrel", { [`${SYSTEM}/escrel-x.service`]: { link: `${UP}${CANARY.slice(1)}` } }),
    state: "attached",
    units: ["escrel.service"],
    warnings: [/leads nowhere/],
  },
  {
    name: "escunitdir",
    spec: {
      "etc/os-release": osRelease(),
      [SYSTEM]: { link: CANARY_UNITS },
      "etc/systemd/system": { link: `${UP}${CANARY_UNITS.slice(1)}` },
    },
    state: "failed",
    reason: /^Couldn't find any matching unit files in image '\/var\/lib\/portables\/escunitdir_1'$/,
  },
  {
    name: "escosrel",
    spec: { "etc/os-release": { link: "/etc/shadow" }, [`${SYSTEM}/escosrel.service`]: unit() },
    state: "failed",
    reason: /^Image '\/var\/lib\/portables\/escosrel_1' lacks os-release data$/,
  },
  {
    name: "escosrelcanary",
    spec: {
      "etc/os-release": { link: CANARY },
      "usr/lib/os-release": { link: `${UP}${CANARY.slice(1)}` },
      [`${SYSTEM}/escosrelcanary.service`]: unit(),
    },
    state: "failed",
    reason: /lacks os-release data/,
  },
  {
    name: "osrelinside",
    spec: {
      "etc/os-release": { link: "/etc/shadow" },
      "etc/shadow": osRelease("inside"),
      [`${SYSTEM}/osrelinside.service`]: unit(),
    },
    state: "attached",
    units: ["osrelinside.service"],
  },
  {
    name: "escimage",
    image: `${PORTABLES}/escimage_1`,
    state: "failed",
    reason: /^Image '\/var\/lib\/portables\/escimage_1' does not exist$/,
  },
  // ---- loops
  {
    name: "loopunit",
    spec: ok("loopunit", {
      [`${SYSTEM}/loopunit-a.service`]: { link: "loopunit-b.service" },
      [`${SYSTEM}/loopunit-b.service`]: { link: "loopunit-a.service" },
    }),
    state: "attached",
    units: ["loopunit.service"],
    warnings: [/loopunit-a\.service' .* cannot be read: Too many levels of symbolic links/, /loopunit-b\.service/],
  },
  {
    name: "looposrel",
    spec: { "etc/os-release": { link: "os-release" }, [`${SYSTEM}/looposrel.service`]: unit() },
    state: "failed",
    reason: /Too many levels of symbolic links resolving '\/etc\/os-release' in \/var\/lib\/portables\/looposrel_1/,
  },
  {
    name: "loopdir",
    spec: ok("loopdir", { "etc/systemd/system": { link: "../../etc/systemd/system" } }),
    state: "failed",
    reason: /Too many levels of symbolic links resolving '\/etc\/systemd\/system' in \/var\/lib\/portables\/loopdir_1/,
  },
  {
    name: "deepdir",
    spec: ok("deepdir", { [`${SYSTEM}/d`]: { link: "." } }),
    state: "attached",
    units: ["deepdir.service"],
  },
  // ---- sizes
  {
    name: "bigunit",
    spec: ok("bigunit", { [`${SYSTEM}/bigunit-huge.service`]: { sparse: 1 << 30 } }),
    state: "attached",
    units: ["bigunit.service"],
    warnings: [/bigunit-huge\.service' .* is larger than 4194304 bytes/],
  },
  {
    name: "bigosrel",
    spec: { "etc/os-release": { sparse: 1 << 30 }, [`${SYSTEM}/bigosrel.service`]: unit() },
    state: "failed",
    reason: /'\/etc\/os-release' in \/var\/lib\/portables\/bigosrel_1 is larger than/,
  },
  {
    name: "manyentries",
    spec: ok("manyentries", { "usr/lib/systemd/system": { many: 100_001 } }),
    state: "failed",
    reason:
      /^Directory '\/usr\/lib\/systemd\/system' in \/var\/lib\/portables\/manyentries_1 has more than 100000 entries$/,
  },
  // ---- odd names and odd files
  {
    name: "badnames",
    spec: ok("badnames", {
      [`${SYSTEM}/badnames x.service`]: unit(),
      [`${SYSTEM}/badnames\n.service`]: unit(),
      [`${SYSTEM}/badnames%i.service`]: unit(),
      [`${SYSTEM}/badnames\xff.service`]: unit(), // latin1: a non-UTF-8 byte in the name
      [`${SYSTEM}/badnames.service.service`]: unit(),
      [`${SYSTEM}/badnames.exe`]: unit(),
      [`${SYSTEM}/.badnames.service`]: unit(),
    }),
    state: "attached",
    units: ["badnames.service", "badnames.service.service"],
  },
  {
    name: "odd",
    spec: ok("odd", {
      [`${SYSTEM}/odd-dir.service`]: { dir: true },
      [`${SYSTEM}/odd-fifo.service`]: { fifo: true },
      [`${SYSTEM}/odd-link.service`]: { link: "odd-fifo.service" },
      [`${SYSTEM}/odd-empty.service`]: "",
    }),
    state: "attached",
    units: ["odd.service"],
    warnings: [/odd-empty\.service' .* is empty \(masked\)/, /odd-link\.service' .* leads nowhere/],
  },
  {
    name: "empty",
    spec: { etc: { dir: true } },
    state: "failed",
    reason: /^Image '\/var\/lib\/portables\/empty_1' lacks os-release data$/,
  },
  {
    name: "binaryosrel",
    spec: {
      "etc/os-release": Buffer.from([0, 1, 2, 0xff, 0xfe, 10, 0x3d, 0x3d]),
      [`${SYSTEM}/binaryosrel.service`]: unit(),
    },
    state: "failed",
    reason: /binaryosrel_1' os-release metadata lacks the ID field/,
  },
  {
    name: "dangling",
    image: `${PORTABLES}/dangling_1`,
    state: "failed",
    reason: /^Image '\/var\/lib\/portables\/dangling_1' does not exist$/,
  },
  {
    name: "fiforaw",
    image: `${PORTABLES}/fiforaw_1.raw`,
    state: "failed",
    reason: /^Image '\/var\/lib\/portables\/fiforaw_1\.raw' does not exist$/,
  },
  // ---- raw images: committed fixtures with a few bytes changed (prefix foo: their units are foo*.service)
  {
    name: "rtrunchalf",
    prefixes: "foo",
    raw: fixture("squashfs-gzip.raw", (b) => b.subarray(0, b.length >> 1)),
    state: "failed",
    reason: /rtrunchalf_1\.raw/,
  },
  {
    name: "rtrunctiny",
    prefixes: "foo",
    raw: fixture("erofs-none.raw", (b) => b.subarray(0, 100)),
    state: "failed",
    reason: /rtrunctiny_1\.raw/,
  },
  {
    name: "rtruncext4",
    prefixes: "foo",
    raw: fixture("ext4.raw", (b) => b.subarray(0, 64 * 1024)),
    state: "failed",
    reason: /rtruncext4_1\.raw/,
  },
  {
    name: "rtruncgpt",
    prefixes: "foo",
    raw: fixture("gpt-dps-root-erofs.raw", (b) => b.subarray(0, 40 * 1024)),
    state: "failed",
    reason: /rtruncgpt_1\.raw/,
  },
  {
    name: "rnomagic",
    prefixes: "foo",
    raw: fixture("squashfs-xz.raw", (b) => void b.fill(0, 0, 4096)),
    state: "failed",
    reason: /rnomagic_1\.raw/,
  },
  // ---- verity side files that are not files: refused, never waited on or read without end
  ...(
    [
      ["fifo", "verity"],
      ["fifo", "roothash"],
      ["fifo", "verity-sig"],
      ["fifo", "roothash.p7s"],
      ["zero", "roothash"],
    ] as const
  ).map(([what, side]) => {
    const name = `${what}${side.replace(/\W/g, "")}`;
    return {
      name,
      prefixes: "foo",
      raw: (p: string) => {
        fixture("squashfs-zstd.raw", () => undefined)(p);
        const at = p.replace(/\.raw$/, `.${side}`);
        if (what === "fifo") execFileSync("mkfifo", [at]);
        else symlinkSync("/dev/zero", at);
      },
      state: "failed" as const,
      reason: new RegExp(`${name}_1\\.${side.replace(".", "\\.")}' is not a regular file$`),
    };
  }),
  {
    name: "rjunk",
    prefixes: "foo",
    raw: (p) =>
      writeFileSync(
        p,
        Buffer.alloc(64 * 1024, 0).map((_, i) => (i * 2654435761) >>> 24),
      ),
    state: "failed",
    reason: /rjunk_1\.raw/,
  },
  {
    name: "rzero1g",
    prefixes: "foo",
    raw: (p) => {
      const fd = openSync(p, "w");
      ftruncateSync(fd, 1 << 30);
      closeSync(fd);
    },
    state: "failed",
    reason: /rzero1g_1\.raw/,
  },
  {
    name: "rsqinodes",
    prefixes: "foo",
    raw: fixture("squashfs-gzip.raw", u64(64, 1n << 40n)),
    state: "failed",
    reason: /rsqinodes_1\.raw/,
  },
  {
    name: "rsqblock",
    prefixes: "foo",
    raw: fixture("squashfs-gzip.raw", u32(12, 3)),
    state: "failed",
    reason: /rsqblock_1\.raw/,
  },
  {
    name: "rsqroot",
    prefixes: "foo",
    raw: fixture("squashfs-gzip.raw", u64(32, 0xffffffffffffn)),
    state: "failed",
    reason: /rsqroot_1\.raw/,
  },
  {
    name: "rerofsblk",
    prefixes: "foo",
    raw: fixture("erofs-none.raw", (b) => void (b[1024 + 12] = 30)),
    state: "failed",
    reason: /rerofsblk_1\.raw/,
  },
  {
    name: "rerofsroot",
    prefixes: "foo",
    raw: fixture("erofs-none.raw", (b) => void b.writeUInt16LE(0xffff, 1024 + 14)),
    state: "failed",
    reason: /rerofsroot_1\.raw/,
  },
  {
    name: "rext4blk",
    prefixes: "foo",
    raw: fixture("ext4.raw", u32(1024 + 24, 20)),
    state: "failed",
    reason: /rext4blk_1\.raw/,
  },
  {
    name: "rext4ipg",
    prefixes: "foo",
    raw: fixture("ext4.raw", u32(1024 + 40, 0)),
    state: "failed",
    reason: /rext4ipg_1\.raw/,
  },
  {
    name: "rext4isz",
    prefixes: "foo",
    raw: fixture("ext4.raw", (b) => void b.writeUInt16LE(3, 1024 + 88)),
    state: "failed",
    reason: /rext4isz_1\.raw/,
  },
  // A damaged primary GPT header: the backup header at the end of the disk is used, as blkid does.
  {
    name: "rgptcount",
    prefixes: "foo",
    raw: fixture("gpt-dps-root-erofs.raw", u32(512 + 80, 1_000_000)),
    state: "attached",
  },
  { name: "rgptentsz", prefixes: "foo", raw: fixture("gpt-dps-root-erofs.raw", u32(512 + 84, 7)), state: "attached" },
  // Both headers damaged.
  {
    name: "rgptboth",
    prefixes: "foo",
    raw: fixture("gpt-dps-root-erofs.raw", (b) => {
      b.writeUInt32LE(1_000_000, 512 + 80);
      b.writeUInt32LE(1_000_000, b.length - 512 + 80);
    }),
    state: "failed",
    reason: /rgptboth_1\.raw/,
  },
  {
    name: "rmbrbeyond",
    prefixes: "foo",
    raw: fixture("mbr-ext4.raw", u32(446 + 8, 0x7fffffff)),
    state: "failed",
    reason: /rmbrbeyond_1\.raw/,
  },
];

/** Where each case's image is, in ROOT. */
function imagePath(c: Case): string {
  return c.image ?? `${PORTABLES}/${c.name}_1${c.raw ? ".raw" : ""}`;
}

beforeAll(() => {
  mkdirSync(CANARY_DIR, { recursive: true });
  writeFileSync(CANARY, `ID=${TOKEN}\n${TOKEN}\n`);
  // A complete, valid host directory that an escaping unit directory would find.
  for (const n of ["escunitdir", "escrel", "esccanary"]) writeFileSync(join(CANARY_DIR, `${n}.service`), unit(TOKEN));
  mkdirSync(CANARY_UNITS, { recursive: true });
  writeFileSync(join(CANARY_UNITS, "escunitdir.service"), unit(TOKEN));
  // A whole valid image outside ROOT, which escimage_1 points at.
  build(join(CANARY_DIR, "image"), { "etc/os-release": osRelease(TOKEN), [`${SYSTEM}/escimage.service`]: unit(TOKEN) });
  // ROOT/etc/shadow: what a leaking resolver would find under the test root.
  // The late pass ran: a missing image is failed, not deferred.
  build(ROOT, {
    "etc/shadow": `root:${TOKEN}:19000:0:99999:7:::\n`,
    "etc/os-release": osRelease("host"),
    "run/portable-attach/late-pass-done": "",
  });
  cpSync(join(REPO, "profiles"), join(ROOT, "usr/lib/portable-attach/profile"), { recursive: true });
  build(join(ROOT, PORTABLES, "good_1"), ok("good"));
  build(join(ROOT, PORTABLES), {
    escimage_1: { link: join(CANARY_DIR, "image") },
    dangling_1: { link: "/nonexistent" },
    "fiforaw_1.raw": { fifo: true },
  });
  for (const c of cases) {
    if (c.spec) build(join(ROOT, imagePath(c)), c.spec);
    if (c.raw) c.raw(join(ROOT, imagePath(c)));
  }
  const list = ["[good]", `Image=${PORTABLES}/good_1`, ""];
  for (const c of cases)
    list.push(`[${c.name}]`, `Image=${imagePath(c)}`, ...(c.prefixes ? [`Prefixes=${c.prefixes}`] : []), "");
  build(ROOT, { "etc/portable-attach.conf": list.join("\n") });
  // Generous: 100,001 files on a machine also running the 1,000-kill test can take a while.
}, 180_000);

afterAll(() => {
  rmSync(scratch, { recursive: true, force: true });
  console.log(`hostile images: ${tried} bad inputs tried, every one gave its expected outcome and message`);
});

function entries() {
  const parsed = parseAttachList(
    readFileSync(join(ROOT, "etc/portable-attach.conf"), "utf8"),
    "/etc/portable-attach.conf",
  );
  expect(parsed.diagnostics).toEqual([]);
  return parsed.entries;
}

/** Reads and plans `names` as the generator does; returns the outcomes and the files' text. */
function run(names: string[]): { outcomes: Outcome[]; text: string; ms: number } {
  const all = entries().filter((e) => names.includes(e.name));
  const facts = new Map<string, EntryFacts>();
  const t0 = performance.now();
  for (const e of all) facts.set(e.name, readEntryFacts(e, { root: ROOT, architecture: "x86-64", latePassDone: true }));
  const ms = performance.now() - t0;
  const result = plan({ entries: all, masked: [], facts, host: readHostFacts(ROOT, "x86-64") });
  const text = result.files
    .map((f) => (f.kind === "file" ? Buffer.from(f.content).toString("latin1") : f.target))
    .join("\n");
  return { outcomes: result.outcomes, text, ms };
}

describe("hostile images, one at a time next to a good one", () => {
  it.each(cases.map((c) => [c.name, c] as const))("%s", (_name, c) => {
    const { outcomes, text, ms } = run(["good", c.name]);
    const good = outcomes.find((o) => o.name === "good");
    expect(good?.state).toBe("attached");
    expect(good?.units).toEqual(["good.service"]);
    const o = outcomes.find((x) => x.name === c.name) as Outcome;
    expect([o.state, o.reason], JSON.stringify(o, null, 1)).toEqual([
      c.state,
      c.reason ? expect.stringMatching(c.reason) : undefined,
    ]);
    expect(o.reason ?? "").not.toMatch(/Internal error|TypeError|RangeError/);
    if (c.units) expect(o.units).toEqual(c.units);
    for (const w of c.warnings ?? [])
      expect(
        o.warnings.some((x) => w.test(x)),
        `${w}\n${o.warnings.join("\n")}`,
      ).toBe(true);
    expect(text).not.toContain(TOKEN);
    expect(ms).toBeLessThan(5000);
    tried++;
  });
});

describe("the canary outside the images, whatever their symlinks say", () => {
  const tools = ["mksquashfs", "mkfs.erofs", "mkfs.ext4"].filter(have);
  it.skipIf(tools.length === 0)(`symlinks in raw images (${tools.join(", ")}) resolve inside the image`, () => {
    // One tree with every kind of escape; packed by each tool found.
    const tree = join(scratch, "canary-tree");
    build(tree, {
      "etc/os-release": { link: CANARY },
      "usr/lib/os-release": osRelease(),
      [`${SYSTEM}/rawcanary.service`]: unit(),
      [`${SYSTEM}/rawcanary-abs.service`]: { link: CANARY },
      [`${SYSTEM}/rawcanary-rel.service`]: { link: `${UP}${CANARY.slice(1)}` },
      [`${SYSTEM}/rawcanary-shadow.service`]: { link: "/etc/shadow" },
      "etc/systemd/system": { link: CANARY_UNITS },
      "usr/local/lib/systemd/system": { link: `${UP}${CANARY_UNITS.slice(1)}` },
    });
    const images: string[] = [];
    for (const tool of tools) {
      const out = join(ROOT, PORTABLES, `rawcanary_${tool}.raw`);
      if (tool === "mksquashfs") execFileSync(tool, [tree, out, "-all-root", "-quiet", "-noappend"]);
      if (tool === "mkfs.erofs") execFileSync(tool, ["--all-root", "--quiet", out, tree]);
      if (tool === "mkfs.ext4") execFileSync(tool, ["-q", "-F", "-d", tree, out, "4M"]);
      images.push(out.slice(ROOT.length));
    }
    const list = images.map((p, i) => `[rawcanary${i}]\nImage=${p}\nPrefixes=rawcanary\n`).join("\n");
    for (const [i] of images.entries()) {
      const parsed = parseAttachList(list, "/x").entries.filter((e) => e.name === `rawcanary${i}`);
      const facts = new Map<string, EntryFacts>(
        parsed.map((e) => [e.name, readEntryFacts(e, { root: ROOT, architecture: "x86-64", latePassDone: true })]),
      );
      const result = plan({ entries: parsed, masked: [], facts, host: readHostFacts(ROOT, "x86-64") });
      const o = result.outcomes[0] as Outcome;
      expect([images[i], o.state, o.units], JSON.stringify(o)).toEqual([images[i], "attached", ["rawcanary.service"]]);
      expect(o.warnings.filter((w) => /leads nowhere inside the image/.test(w))).toHaveLength(3);
      for (const f of result.files)
        if (f.kind === "file") expect(Buffer.from(f.content).toString("latin1")).not.toContain(TOKEN);
      tried++;
    }
  });
});

describe("raw images made by the real tools from hostile trees", () => {
  /** Packs `tree` with `tool` into ROOT's portables as NAME.raw; returns its path as the system sees it. */
  function pack(tool: string, tree: string, name: string, extra: string[] = []): string {
    const out = join(ROOT, PORTABLES, `${name}.raw`);
    if (tool === "mksquashfs") execFileSync(tool, [tree, out, "-all-root", "-quiet", "-noappend", ...extra]);
    else execFileSync(tool, ["--all-root", "--quiet", ...extra, out, tree]);
    return out.slice(ROOT.length);
  }
  function attach(image: string, prefixes: string): Outcome {
    const e = parseAttachList(`[x]\nImage=${image}\nPrefixes=${prefixes}\n`, "/x").entries;
    const facts = new Map<string, EntryFacts>([
      ["x", readEntryFacts(e[0] as never, { root: ROOT, architecture: "x86-64", latePassDone: true })],
    ]);
    return plan({ entries: e, masked: [], facts, host: readHostFacts(ROOT, "x86-64") }).outcomes[0] as Outcome;
  }

  it.skipIf(!have("mksquashfs") || !have("mkfs.erofs"))(
    "a decompression bomb (a 32 MiB unit that packs into kilobytes) is refused by its size, quickly",
    () => {
      const tree = join(scratch, "bomb-tree");
      build(tree, {
        "etc/os-release": osRelease(),
        [`${SYSTEM}/bomb.service`]: unit(),
        [`${SYSTEM}/bomb-big.service`]: Buffer.alloc(32 << 20, "[Unit]\n"),
      });
      for (const [tool, extra] of [
        ["mksquashfs", ["-comp", "gzip"]],
        ["mksquashfs", ["-comp", "xz"]],
        ["mkfs.erofs", ["-zlz4hc"]],
      ] as const) {
        const image = pack(tool, tree, `bomb_${tool}${extra[1] ?? ""}`, [...extra]);
        const t0 = performance.now();
        const o = attach(image, "bomb");
        expect([image, o.state, o.units]).toEqual([image, "attached", ["bomb.service"]]);
        expect(o.warnings.join("\n")).toMatch(/bomb-big\.service' in .* is larger than 4194304 bytes/);
        expect(performance.now() - t0).toBeLessThan(2000);
        tried++;
      }
    },
  );

  it.skipIf(!have("mksquashfs") || !have("mkfs.erofs"))(
    "names with '/' and non-UTF-8 bytes inside raw images: skipped, or the entry fails naming the image",
    () => {
      const tree = join(scratch, "names-tree");
      // Placeholders of the same length, patched into the image's (uncompressed) directory entries.
      build(tree, {
        "etc/os-release": osRelease(),
        [`${SYSTEM}/names.service`]: unit(),
        [`${SYSTEM}/names-SLASH.service`]: unit("slash"),
        [`${SYSTEM}/names-HIGH.service`]: unit("high"),
        [`${SYSTEM}/names-DOTS.service`]: unit("dots"),
      });
      for (const tool of ["mksquashfs", "mkfs.erofs"]) {
        const image = pack(tool, tree, `names_${tool}`, tool === "mksquashfs" ? ["-noI", "-noD", "-noF", "-noX"] : []);
        const host = join(ROOT, image);
        let bytes = readFileSync(host);
        for (const [from, to] of [
          ["names-SLASH", "names/SLASH"],
          ["names-HIGH", "names-\xff\xfeGH"],
          ["names-DOTS", "../../../."],
        ]) {
          const at = bytes.indexOf(Buffer.from(from as string, "latin1"));
          expect(at, `${tool}: ${from}`).toBeGreaterThan(0);
          bytes = Buffer.concat([
            bytes.subarray(0, at),
            Buffer.from(to as string, "latin1"),
            bytes.subarray(at + (from as string).length),
          ]);
        }
        writeFileSync(host, tool === "mkfs.erofs" ? resignErofs(bytes) : bytes);
        const o = attach(image, "names");
        // Either the reader refuses the directory (the entry fails, naming the image and the name) or
        // the bad names are skipped as invalid unit names; never a unit named with '/' or '..'.
        if (o.state === "failed")
          expect(o.reason).toMatch(new RegExp(`^/var/lib/portables/names_${tool}\\.raw: .*invalid name`));
        else expect([tool, o.state, o.units]).toEqual([tool, "attached", ["names.service"]]);
        console.log(`names with '/' in ${tool}: ${o.state} ${o.reason ?? o.units.join(" ")}`);
        tried++;
      }
    },
  );
});

describe("the generator over all of them at once", () => {
  it("exits 0, attaches the good entry, writes 0644/0755 even with umask 000, and never the canary", () => {
    expect(existsSync(GENERATOR), "npm run build first").toBe(true);
    const out = join(scratch, "out");
    const r = spawnSync("sh", ["-c", 'umask 000; exec "$0" "$@"', process.execPath, GENERATOR, out, out, out], {
      encoding: "utf8",
      env: {
        PATH: process.env.PATH ?? "",
        PORTABLE_ATTACH_ROOT: ROOT,
        SYSTEMD_ARCHITECTURE: "x86-64",
        SYSTEMD_LOG_LEVEL: "info",
      },
      timeout: 60_000,
    });
    expect(r.status, r.stderr).toBe(0);
    const status = JSON.parse(readFileSync(join(out, ".portable-attach-status.json"), "utf8")) as {
      entries: Outcome[];
    };
    const byName = new Map(status.entries.map((o) => [o.name, o]));
    expect(byName.get("good")?.state).toBe("attached");
    for (const c of cases) {
      const o = byName.get(c.name);
      // Several fixture-based images offer foo.service: the first by name wins, the others say so.
      if (c.state === "attached" && o?.state === "failed")
        expect(o.reason, c.name).toMatch(/^Unit 'foo.*' is already provided by entry \[rgptcount\]/);
      else expect(o?.state, c.name).toBe(c.state);
      if (c.state === "failed") expect(r.stderr).toContain(`[${c.name}] /etc/portable-attach.conf:`);
    }
    for (const e of walk(out)) {
      if (e.type !== "l") expect([e.path, e.mode.toString(8)]).toEqual([e.path, e.type === "d" ? "755" : "644"]);
      else expect(e.target).not.toContain(CANARY_DIR);
      if (e.type === "f") expect(readFileSync(join(out, e.path), "latin1"), e.path).not.toContain(TOKEN);
    }
    expect(r.stderr).not.toContain(TOKEN);
    // Nothing was written anywhere but the output directory: the root tree is as we made it.
    expect(readdirSync(join(ROOT, "etc")).sort()).toEqual(["os-release", "portable-attach.conf", "shadow"]);
    expect(readdirSync(join(ROOT, "run/portable-attach"))).toEqual(["late-pass-done"]);
    tried++;
  }, 60_000);
});

describe("images that change or fail while they are read", () => {
  it("an image rewritten and truncated by another process while the generator runs: exit 0, coherent tree", () => {
    const src = join(FIXTURES, "squashfs-gzip.raw");
    const root2 = join(scratch, "root-moving");
    cpSync(join(ROOT, PORTABLES, "good_1"), join(root2, PORTABLES, "good_1"), { recursive: true });
    mkdirSync(join(root2, "etc"));
    writeFileSync(
      join(root2, "etc/portable-attach.conf"),
      `[good]\nImage=${PORTABLES}/good_1\n\n[moving]\nImage=${PORTABLES}/moving_1.raw\nPrefixes=foo\n`,
    );
    const target = join(root2, PORTABLES, "moving_1.raw");
    // Truncate to a random size, grow back with the real bytes, in place, as fast as possible.
    const mover = execFileSync(
      "sh",
      [
        "-c",
        `(while :; do truncate -s $(( $(od -An -N2 -tu2 /dev/urandom) * 2 )) "$1"; cat "$2" > "$1"; done) >/dev/null 2>&1 & echo $!`,
        "sh",
        target,
        src,
      ],
      { encoding: "utf8" },
    );
    const states = new Map<string, number>();
    try {
      for (let i = 0; i < 12; i++) {
        const out = join(scratch, `out-moving-${i}`);
        const r = spawnSync(process.execPath, [GENERATOR, out, out, out], {
          encoding: "utf8",
          env: { PATH: process.env.PATH ?? "", PORTABLE_ATTACH_ROOT: root2, SYSTEMD_ARCHITECTURE: "x86-64" },
          timeout: 30_000,
        });
        expect(r.status, r.stderr).toBe(0);
        const status = JSON.parse(readFileSync(join(out, ".portable-attach-status.json"), "utf8")) as {
          entries: Outcome[];
        };
        const byName = new Map(status.entries.map((o) => [o.name, o]));
        expect(byName.get("good")?.state).toBe("attached");
        const moving = byName.get("moving") as Outcome;
        states.set(moving.state, (states.get(moving.state) ?? 0) + 1);
        expect(moving.reason ?? "").not.toMatch(/Internal error/);
        // Coherent: every unit written has its 20-portable.conf, every drop-in dir its unit.
        const files = walk(out).map((e) => e.path);
        for (const o of status.entries)
          for (const u of o.units) expect(files).toEqual(expect.arrayContaining([u, `${u}.d/20-portable.conf`]));
        expect(files.filter((f) => f.startsWith(".#"))).toEqual([]);
      }
    } finally {
      process.kill(Number(mover.trim()));
    }
    console.log(`moving image: ${JSON.stringify(Object.fromEntries(states))} over 12 generator runs`);
    tried++;
  }, 60_000);

  it("with too few file descriptors to open the images: exit 0 or a clear error, never a crash", () => {
    // A real fd limit: node itself needs a few; below that the images fail to open, one by one.
    const out = join(scratch, "out-fds");
    const root2 = join(scratch, "root-fds");
    mkdirSync(join(root2, "etc"), { recursive: true });
    cpSync(join(ROOT, PORTABLES, "good_1"), join(root2, PORTABLES, "good_1"), { recursive: true });
    cpSync(join(FIXTURES, "squashfs-gzip.raw"), join(root2, PORTABLES, "sq_1.raw"));
    writeFileSync(
      join(root2, "etc/portable-attach.conf"),
      `[good]\nImage=${PORTABLES}/good_1\n\n[sq]\nImage=${PORTABLES}/sq_1.raw\nPrefixes=foo\n`,
    );
    let seen = "";
    for (const n of [24, 20, 18, 16, 14]) {
      rmSync(out, { recursive: true, force: true });
      const r = spawnSync("prlimit", [`--nofile=${n}`, process.execPath, GENERATOR, out, out, out], {
        encoding: "utf8",
        env: { PATH: process.env.PATH ?? "", PORTABLE_ATTACH_ROOT: root2, SYSTEMD_ARCHITECTURE: "x86-64" },
      });
      if (r.status === 0) {
        const status = JSON.parse(readFileSync(join(out, ".portable-attach-status.json"), "utf8")) as {
          entries: Outcome[];
        };
        for (const o of status.entries) expect(o.reason ?? "").not.toMatch(/Internal error/);
        seen += ` ${n}:${status.entries.map((o) => o.state).join("/")}`;
      } else {
        // Node could not even start, or the output could not be written: said, not crashed.
        expect(r.stderr).not.toMatch(/at .*portable-attach-generator/);
        seen += ` ${n}:exit${r.status}`;
      }
    }
    console.log(`fd limits:${seen}`);
    tried++;
  });
});

describe("cyclic and overlapping extents (read directly: the damaged file is not a unit)", () => {
  // ext4-fragmented.raw: big.txt has an extent index (depth 1) whose leaf is block 1306 (1 KiB blocks).
  const LEAF = 1306 * 1024;
  function readBig(edit: (b: Buffer) => void): { error?: string; bytes?: number; ms: number } {
    const path = join(scratch, `extents-${Math.random().toString(36).slice(2)}_1.raw`);
    fixture("ext4-fragmented.raw", edit)(path);
    const t0 = performance.now();
    try {
      const tree = openImage(path, { architecture: "x86-64" });
      try {
        return {
          bytes: readFileInImage(tree, "/usr/share/foo/big.txt", 4 << 20)?.length ?? -1,
          ms: performance.now() - t0,
        };
      } finally {
        tree.close();
      }
    } catch (e) {
      expect(e).toBeInstanceOf(ImageError);
      expect((e as Error).message).toContain(path);
      return { error: (e as Error).message, ms: performance.now() - t0 };
    }
  }
  it("the fixture's leaf is where we think it is (or the cases below prove nothing)", () => {
    const b = readFileSync(join(FIXTURES, "ext4-fragmented.raw"));
    expect([b.readUInt16LE(LEAF), b.readUInt16LE(LEAF + 6)]).toEqual([0xf30a, 0]);
  });
  it("an extent leaf turned into an index that points at itself: refused, naming the image, quickly", () => {
    const r = readBig((b) => {
      b.writeUInt16LE(1, LEAF + 6); // depth 1: an index node
      b.writeUInt32LE(0, LEAF + 12); // ei_block
      b.writeUInt32LE(1306, LEAF + 16); // ei_leaf_lo: itself
      b.writeUInt16LE(0, LEAF + 20);
    });
    expect(r.error, JSON.stringify(r)).toBeDefined();
    expect(r.ms).toBeLessThan(2000);
    console.log(`ext4 extent cycle: ${r.error}`);
    tried++;
  });
  it("overlapping extents (two logical ranges on one physical block): an error or the image's own bytes, quickly", () => {
    // The 2nd extent's ee_start_lo = the 1st's.
    const r = readBig((b) => void b.writeUInt32LE(b.readUInt32LE(LEAF + 12 + 8), LEAF + 12 + 12 + 8));
    expect(r.error ?? r.bytes).toBeDefined();
    expect(r.ms).toBeLessThan(2000);
    console.log(`ext4 overlapping extents: ${r.error ?? `read ${r.bytes} bytes`}`);
    tried++;
  });
});

describe("messages name the damaged image", () => {
  // Regression: a LIMIT for a huge 64-bit field said "bytes_used is too large (…)" without naming
  // the image; raw.ts now puts the image's path in front of such field-level messages.
  it("squashfs: a superblock with a huge bytes_used names the image in its error", () => {
    const path = join(scratch, "rsqbytes_1.raw");
    fixture("squashfs-gzip.raw", u64(40, 1n << 60n))(path);
    let message = "";
    try {
      openImage(path, { architecture: "x86-64" }).close();
    } catch (e) {
      message = (e as Error).message;
    }
    expect(message).toContain("rsqbytes_1.raw");
  });
  // Regression: lookupImage() ran outside the try that turns ImageError into a failed entry, so an
  // Image= path through a symlink loop or deeper than MAX_PATH_DEPTH was recorded as "Internal error".
  it("an Image= path through a symlink loop fails its entry with a clear reason, not an exception", () => {
    const root = join(scratch, "root-lookup-loop");
    build(root, { "var/lib/portables/loop_1": { link: "loop_1" } });
    const e = parseAttachList(`[loop]\nImage=/var/lib/portables/loop_1\n`, "/x").entries[0];
    const facts = readEntryFacts(e as never, { root, architecture: "x86-64", latePassDone: true });
    expect(facts).toEqual({
      kind: "failed",
      reason: expect.stringMatching(/^Too many levels of symbolic links resolving '\/var\/lib\/portables\/loop_1'/),
    });
  });
  it("an Image= path deeper than MAX_PATH_DEPTH fails its entry with a clear reason, not an exception", () => {
    const e = parseAttachList(`[deep]\nImage=${"/a".repeat(300)}\n`, "/x").entries[0];
    const facts = readEntryFacts(e as never, { root: ROOT, architecture: "x86-64", latePassDone: true });
    expect(facts).toEqual({ kind: "failed", reason: expect.stringMatching(/is too deep/) });
  });
});

describe("bounds", () => {
  it("a directory of more than 100,000 entries is refused after reading at most the limit (regression: readdirSync read all)", () => {
    const c = cases.find((x) => x.name === "manyentries") as Case;
    const t0 = performance.now();
    const { outcomes } = run([c.name]);
    expect(outcomes[0]?.reason).toMatch(/has more than 100000 entries/);
    expect(performance.now() - t0).toBeLessThan(3000);
  });
});

// Permission-based faults need a user without CAP_DAC_OVERRIDE: run as nobody when we are root.
describe.skipIf(process.getuid?.() !== 0)(
  skipName(
    "unreadable things (the generator as uid 65534)",
    process.getuid?.() === 0 ? undefined : "needs root (to run the generator as uid 65534)",
  ),
  () => {
    it("an unreadable list, image and profile cost their own entries; an unwritable output dir is a clear exit 1", () => {
      const root = join(scratch, "root-perm");
      build(root, {
        "etc/portable-attach.conf": `[locked]\nImage=${PORTABLES}/locked_1\n`,
        "usr/lib/portable-attach.d/vendor.conf": `[good]\nImage=${PORTABLES}/good_1\nProfile=strict\n\n[shut]\nImage=${PORTABLES}/shut_1\n`,
      });
      cpSync(join(ROOT, PORTABLES, "good_1"), join(root, PORTABLES, "good_1"), { recursive: true });
      build(join(root, PORTABLES, "shut_1"), ok("shut"));
      cpSync(join(REPO, "profiles"), join(root, "usr/lib/portable-attach/profile"), { recursive: true });
      execFileSync("chmod", ["-R", "a+rX", scratch]);
      chmodSync(join(root, "etc/portable-attach.conf"), 0o600);
      chmodSync(join(root, PORTABLES, "shut_1/usr/lib/systemd/system"), 0o700);
      chmodSync(join(root, "usr/lib/portable-attach/profile/strict"), 0o700);
      const out = join(scratch, "out-perm");
      mkdirSync(out);
      execFileSync("chown", ["65534:65534", out]);
      const env = { PATH: process.env.PATH ?? "", PORTABLE_ATTACH_ROOT: root, SYSTEMD_ARCHITECTURE: "x86-64" };
      const generator = copyForNobody(GENERATOR);
      onTestFinished(() => removeCopy(generator));
      const r = spawnSync(process.execPath, [generator, out, out, out], {
        encoding: "utf8",
        env,
        uid: 65534,
        gid: 65534,
      });
      expect(r.status, r.stderr).toBe(0);
      expect(r.stderr).toMatch(/\/etc\/portable-attach\.conf: Failed to read list file: Permission denied, ignoring/);
      const statusText = readFileSync(join(out, ".portable-attach-status.json"), "utf8");
      expect(r.stderr, statusText).toMatch(
        /\[shut\] \/usr\/lib\/portable-attach\.d\/vendor\.conf:5: Failed to list '\/usr\/lib\/systemd\/system' in \/var\/lib\/portables\/shut_1: EACCES/,
      );
      const status = JSON.parse(readFileSync(join(out, ".portable-attach-status.json"), "utf8")) as {
        entries: Outcome[];
      };
      expect(status.entries.map((o) => [o.name, o.state])).toEqual([
        ["good", "attached"],
        ["shut", "failed"],
      ]);
      // The profile we cannot see is not linked (as portablectl does with a missing one), with a warning.
      expect(existsSync(join(out, "good.service.d/20-portable.conf"))).toBe(true);
      expect(existsSync(join(out, "good.service.d/10-profile.conf"))).toBe(false);
      expect(r.stderr).toContain("[good] Profile 'strict' was not found, no profile drop-in written");

      // An output directory nobody can write to: exit 1 with the directory named, nothing elsewhere.
      const ro = join(scratch, "out-ro");
      mkdirSync(ro);
      const before = walk(root).length;
      const r2 = spawnSync(process.execPath, [generator, ro, ro, ro], {
        encoding: "utf8",
        env,
        uid: 65534,
        gid: 65534,
      });
      expect(r2.status).toBe(1);
      expect(r2.stderr).toMatch(new RegExp(`Failed to write to '${ro}': EACCES`));
      expect(readdirSync(ro)).toEqual([]);
      expect(walk(root).length).toBe(before);
      tried += 4;
    });
  },
);
