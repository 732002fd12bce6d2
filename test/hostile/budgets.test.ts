// The three small images that once stopped every entry (test/hostile/README.md, findings 1), each
// built with the real mksquashfs and xz, each in its own entry beside a good one: the built
// generator exits 0 within seconds, writes little, attaches the good entry and names each bad one
// with the budget it broke, in the log and in the status record.
import { execFileSync, spawnSync } from "node:child_process";
import {
  existsSync,
  linkSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseAttachList } from "../../src/config/attach-list.ts";
import { LIMITS, RunBudget } from "../../src/image/budget.ts";
import { readEntryFacts } from "../../src/io/facts.ts";
import { walk } from "../helpers/tree.ts";
import { build, have, osRelease, unit } from "./spec.ts";

const REPO = join(import.meta.dirname, "..", "..");
const GENERATOR = process.env.PA_GENERATOR ?? join(REPO, "dist/portable-attach-generator");
// On a tmpfs where there is one: tens of thousands of small files cost the disk (and the other tests) nothing.
const scratch = mkdtempSync(join(existsSync("/dev/shm") ? "/dev/shm" : tmpdir(), "pa-hostile-budgets-"));
const ROOT = join(scratch, "root");
const PORTABLES = "/var/lib/portables";
const SYSTEM = "usr/lib/systemd/system";

/** A tree packed with xz, as the reports had them. */
function squash(tree: string, name: string, extra: string[] = []): void {
  execFileSync(
    "mksquashfs",
    [
      tree,
      join(ROOT, PORTABLES, `${name}_1.raw`),
      "-comp",
      "xz",
      "-all-root",
      "-quiet",
      "-noappend",
      "-no-progress",
      ...extra,
    ],
    { stdio: "ignore" },
  );
  rmSync(tree, { recursive: true, force: true });
}

/** 45,000 tiny unit files (a 244 KiB image): once a RangeError in plan() and nothing written. */
function manyUnits(): void {
  const tree = join(scratch, "many");
  build(tree, { "etc/os-release": osRelease() });
  const dir = join(tree, SYSTEM);
  mkdirSync(dir, { recursive: true });
  for (let i = 0; i < 45_000; i++)
    writeFileSync(join(dir, `many-${i}.service`), `[Service]\nExecStart=/bin/true ${i}\n`);
  squash(tree, "many");
}

/** 8,000 unit symlinks through a 45-link chain of 200-deep absolute targets: once 111 s of CPU. */
function symlinkChain(): void {
  const tree = join(scratch, "chain");
  const deep = Array.from({ length: 200 }, () => "d").join("/");
  build(tree, { "etc/os-release": osRelease(), "real.service": unit() });
  mkdirSync(join(tree, deep), { recursive: true });
  for (let k = 0; k < 45; k++)
    symlinkSync(k === 44 ? "/real.service" : `/${deep}/l${k + 1}`, join(tree, deep, `l${k}`));
  const dir = join(tree, SYSTEM);
  mkdirSync(dir, { recursive: true });
  for (let i = 0; i < 8000; i++) symlinkSync(`/${deep}/l0`, join(dir, `chain-${i}.service`));
  squash(tree, "chain");
}

/** 150 identical 4 MiB unit files (an 8 KiB image): once 600 MB written into /run. */
function sameBigUnit(): void {
  const tree = join(scratch, "dup");
  build(tree, { "etc/os-release": osRelease() });
  const dir = join(tree, SYSTEM);
  mkdirSync(dir, { recursive: true });
  const head = "[Service]\nExecStart=/bin/true\n";
  writeFileSync(join(dir, "dup-0.service"), head + "#".repeat(4 * 1024 * 1024 - head.length - 1) + "\n");
  // Hard links keep the scratch tree small; -no-hardlinks stores 150 files, mksquashfs dedupes their data.
  for (let i = 1; i < 150; i++) linkSync(join(dir, "dup-0.service"), join(dir, `dup-${i}.service`));
  squash(tree, "dup", ["-no-hardlinks"]);
}

const BAD = {
  many: /more than 1024 unit files/,
  chain: /more than 1024 unit files/,
  dup: /more than 16 MiB of unit files/,
};

beforeAll(() => {
  build(ROOT, { "etc/os-release": osRelease("host"), "run/portable-attach/late-pass-done": "" });
  build(join(ROOT, PORTABLES, "good_1"), { "etc/os-release": osRelease(), [`${SYSTEM}/good.service`]: unit("good") });
  if (!have("mksquashfs")) return;
  manyUnits();
  symlinkChain();
  sameBigUnit();
  const list = ["[good]", `Image=${PORTABLES}/good_1`, ""];
  for (const name of Object.keys(BAD)) list.push(`[${name}]`, `Image=${PORTABLES}/${name}_1.raw`, "");
  writeFileSync(join(ROOT, "etc/portable-attach.conf"), list.join("\n"));
}, 300_000);

afterAll(() => rmSync(scratch, { recursive: true, force: true }), 120_000);

describe.skipIf(!have("mksquashfs"))("three hostile images beside a good one", () => {
  // Each bad image must be stopped by its own budget, not by the time budget: that, not a stopwatch
  // (the machine may be loaded), shows the run ends in seconds. The time is printed, not judged.
  it("the generator exits 0, attaches the good entry, writes little and names each bad image's budget", () => {
    for (const name of Object.keys(BAD))
      expect(statSync(join(ROOT, PORTABLES, `${name}_1.raw`)).size).toBeLessThan(512 * 1024);
    const out = join(scratch, "out");
    const t0 = performance.now();
    const r = spawnSync(process.execPath, [GENERATOR, out, out, out], {
      env: { PATH: process.env.PATH, PORTABLE_ATTACH_ROOT: ROOT, SYSTEMD_LOG_LEVEL: "info" },
      encoding: "utf8",
      timeout: 120_000,
    });
    const seconds = (performance.now() - t0) / 1000;
    console.log(`three hostile images: generator took ${seconds.toFixed(2)} s`);
    expect(r.status, r.stderr).toBe(0);
    const files = walk(out);
    const bytes = files.reduce((n, f) => n + (f.type === "f" ? statSync(join(out, f.path)).size : 0), 0);
    expect(bytes).toBeLessThan(64 * 1024);
    expect(files.map((f) => f.path)).toContain("good.service");
    const status = JSON.parse(readFileSync(join(out, ".portable-attach-status.json"), "utf8")) as {
      entries: { name: string; state: string; reason?: string }[];
    };
    const by = new Map(status.entries.map((e) => [e.name, e]));
    expect(by.get("good")?.state).toBe("attached");
    for (const [name, budget] of Object.entries(BAD)) {
      const o = by.get(name);
      expect(o?.state).toBe("failed");
      expect(o?.reason).toMatch(new RegExp(`^Image '${PORTABLES}/${name}_1\\.raw' is over budget: ${budget.source}`));
      expect(r.stderr).toMatch(
        new RegExp(`\\[${name}\\] /etc/portable-attach.conf:\\d+: Image '${PORTABLES}/${name}_1\\.raw' is over budget`),
      );
    }
  }, 180_000);
});

describe.skipIf(!have("mksquashfs"))("budgets past the unit count, read in-process", () => {
  const entry = (name: string) =>
    parseAttachList(`[${name}]\nImage=${PORTABLES}/${name}_1.raw\n`, "/etc/portable-attach.conf")
      .entries[0] as Parameters<typeof readEntryFacts>[0];
  const read = (name: string, budget: RunBudget) =>
    readEntryFacts(entry(name), { root: ROOT, architecture: "x86-64", latePassDone: true, budget });

  it("8,000 symlinks through a 45-link chain of 200-deep paths: refused by the path-step budget, in bounded CPU time", () => {
    // With the unit count let through, the resolver itself must stop: each unit is 45 hops of 200 steps.
    // CPU time, not wall time: a quadratic resolver spent minutes here, a loaded machine only stretches the clock.
    const cpu0 = process.cpuUsage();
    const f = read("chain", new RunBudget({ ...LIMITS, imageUnits: 100_000 }));
    const cpu = process.cpuUsage(cpu0);
    const ms = (cpu.user + cpu.system) / 1000;
    console.log(`8,000-symlink chain image: refused after ${ms.toFixed(0)} ms of CPU`);
    expect(f).toMatchObject({
      kind: "failed",
      reason: `Image '${PORTABLES}/chain_1.raw' is over budget: more than 100000 path components walked resolving paths in it`,
    });
    expect(ms).toBeLessThan(5000);
  });

  it("time: an image that takes longer than its share is refused, and so is every image after the run's", () => {
    let now = 0;
    const tick = () => (now += 1000); // every look at the clock: one more second
    const f = read("dup", new RunBudget(LIMITS, tick));
    expect(f).toMatchObject({
      kind: "failed",
      reason: expect.stringMatching(
        /^Image '\/var\/lib\/portables\/dup_1\.raw' is over budget: reading it took more than 10 s$/,
      ),
    });
    const run = new RunBudget(LIMITS, () => now);
    now += 46_000;
    expect(read("dup", run)).toMatchObject({
      kind: "failed",
      reason: expect.stringMatching(/over budget: reading images took more than the 45 s one run may spend on them$/),
    });
  });

  it("bytes decompressed: 150 identical 4 MiB units with the unit-bytes budget let through stop at 64 MiB", () => {
    const f = read("dup", new RunBudget({ ...LIMITS, imageUnitBytes: 1 << 30 }));
    expect(f).toMatchObject({
      kind: "failed",
      reason: `Image '${PORTABLES}/dup_1.raw' is over budget: more than 64 MiB decompressed`,
    });
  });
});
