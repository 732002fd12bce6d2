// Seeded random hostile trees under one whole-run budget: many unit files per image, deep
// directories, long symlink chains (absolute, relative, through directories, into loops), packed by
// the real mksquashfs and mkfs.erofs and read as the generator reads them, all images sharing one
// RunBudget. Each image must be read or refused with a message naming it (never an internal
// error), within its time budget, and the run within the run's. FUZZ_TREES (default 6) and
// FUZZ_SEED change the run.
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { parseAttachList } from "../../src/config/attach-list.ts";
import { LIMITS, RunBudget } from "../../src/image/budget.ts";
import { readEntryFacts } from "../../src/io/facts.ts";
import { have } from "../hostile/spec.ts";
import { rng } from "../helpers/random.ts";

const TREES = Number(process.env.FUZZ_TREES ?? 6);
const SEED = Number(process.env.FUZZ_SEED ?? 0x5eed);
// On a tmpfs where there is one: tens of thousands of small files cost the disk (and the other tests) nothing.
const scratch = mkdtempSync(join(existsSync("/dev/shm") ? "/dev/shm" : tmpdir(), "pa-fuzz-trees-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }), 120_000);
const SYSTEM = "usr/lib/systemd/system";

/** A tree of `units` unit files and symlinks: chains of up to 60 links, targets up to 120 deep. */
function makeTree(dir: string, random: () => number): { units: number } {
  const pick = (n: number) => Math.floor(random() * n);
  mkdirSync(join(dir, SYSTEM), { recursive: true });
  mkdirSync(join(dir, "etc"), { recursive: true });
  writeFileSync(join(dir, "etc/os-release"), "ID=debian\n");
  const depth = 1 + pick(120);
  const deep = Array.from({ length: depth }, (_, i) => `d${i % 3}`).join("/");
  mkdirSync(join(dir, deep), { recursive: true });
  const chain = 1 + pick(60);
  for (let k = 0; k < chain; k++) {
    const next =
      k === chain - 1
        ? random() < 0.5
          ? "/real.service"
          : `/${deep}/l0`
        : random() < 0.5
          ? `/${deep}/l${k + 1}`
          : `l${k + 1}`;
    symlinkSync(next, join(dir, deep, `l${k}`));
  }
  writeFileSync(join(dir, "real.service"), "[Service]\nExecStart=/bin/true\n");
  const units = [50, 500, 3000][pick(3)] as number;
  for (let i = 0; i < units; i++) {
    const name = join(dir, SYSTEM, `fz-${i}.service`);
    const r = random();
    if (r < 0.4) writeFileSync(name, `[Service]\nExecStart=/bin/true ${i}\n`);
    else if (r < 0.8) symlinkSync(`/${deep}/l${pick(chain)}`, name);
    else if (r < 0.9) symlinkSync(`${"../".repeat(pick(8))}${deep}/l0`, name);
    else symlinkSync(`fz-${pick(units)}.service`, name);
  }
  return { units };
}

describe.skipIf(!have("mksquashfs") || !have("mkfs.erofs"))("random hostile trees under one run budget", () => {
  it(`${TREES} trees, seed ${SEED}: every image read or refused by name, in its time`, () => {
    const random = rng(SEED);
    const root = join(scratch, "root");
    const portables = join(root, "var/lib/portables");
    mkdirSync(portables, { recursive: true });
    // Budgets small enough that the test shows them working, large enough for a loaded machine.
    const limits = { ...LIMITS, imageMs: 5_000, runMs: 60_000 };
    const budget = new RunBudget(limits);
    const t0 = performance.now();
    const seen: string[] = [];
    for (let n = 0; n < TREES; n++) {
      const tree = join(scratch, `t${n}`);
      const { units } = makeTree(tree, random);
      const tool = n % 2 === 0 ? "mksquashfs" : "mkfs.erofs";
      const image = join(portables, `fz${n}_1.raw`);
      if (tool === "mksquashfs")
        execFileSync(tool, [tree, image, "-comp", "xz", "-all-root", "-quiet", "-noappend", "-no-progress"], {
          stdio: "ignore",
        });
      else execFileSync(tool, ["--all-root", "--quiet", image, tree], { stdio: "ignore" });
      rmSync(tree, { recursive: true, force: true });
      const entry = parseAttachList(`[fz${n}]\nImage=/var/lib/portables/fz${n}_1.raw\nPrefixes=fz\n`, "/x")
        .entries[0] as Parameters<typeof readEntryFacts>[0];
      const s = performance.now();
      const f = readEntryFacts(entry, { root, architecture: "x86-64", latePassDone: true, budget });
      const ms = performance.now() - s;
      const what = f.kind === "read" ? `${f.root.units.length} units` : f.kind === "failed" ? f.reason : f.kind;
      seen.push(`${tool} ${units} units: ${what} (${ms.toFixed(0)} ms)`);
      if (f.kind === "failed") expect(f.reason).toMatch(new RegExp(`fz${n}_1\\.raw`));
      expect(f.kind === "failed" ? f.reason : "").not.toMatch(/Internal error|TypeError|RangeError/);
      // Past its budget an image is stopped at the next charge, a step or a block away.
      expect(ms).toBeLessThan(limits.imageMs + 2_000);
    }
    console.log(`fuzz trees: seed ${SEED}:\n  ${seen.join("\n  ")}`);
    expect(performance.now() - t0).toBeLessThan(limits.runMs + 60_000);
  }, 600_000);
});
