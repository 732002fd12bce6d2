// The style and boundary checks `npm run lint` runs must be able to fail: each is run here on a small
// tree with one planted violation, under the repository's own configuration.
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";

const REPO = join(import.meta.dirname, "..", "..");
const BIN = join(REPO, "node_modules", ".bin");
const scratch = mkdtempSync(join(tmpdir(), "pa-style-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

function tree(name: string, files: Record<string, string>): string {
  const dir = join(scratch, name);
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), text);
  }
  writeFileSync(join(dir, "tsconfig.json"), "{}\n");
  return dir;
}

function cruise(dir: string) {
  const args = ["src", "--config", join(REPO, ".dependency-cruiser.cjs"), "--output-type", "err"];
  return spawnSync(join(BIN, "depcruise"), args, { cwd: dir, encoding: "utf8" });
}

describe("import boundaries (dependency-cruiser)", () => {
  const clean = {
    "src/io/read.ts": 'import { plan } from "../plan/plan.ts";\nexport const read = plan;\n',
    "src/plan/plan.ts": "export const plan = 1;\n",
  };

  it("accepts imports that point down", () => {
    const r = cruise(tree("down", clean));
    expect(r.stdout + r.stderr).not.toMatch(/error/);
    expect(r.status).toBe(0);
  });

  it.each([
    [
      "pure-rooms-do-no-io",
      { "src/plan/plan.ts": 'import { readFileSync } from "node:fs";\nexport const plan = readFileSync;\n' },
    ],
    [
      "no-upward-imports",
      {
        "src/plan/plan.ts": 'import { x } from "../cli/x.ts";\nexport const plan = x;\n',
        "src/cli/x.ts": "export const x = 1;\n",
      },
    ],
    [
      "image-is-a-leaf",
      {
        "src/image/raw.ts": 'import { v } from "../portable/v.ts";\nexport const r = v;\n',
        "src/portable/v.ts": "export const v = 1;\n",
      },
    ],
    [
      "no-circular",
      {
        "src/image/a.ts": 'import { b } from "./b.ts";\nexport const a = b;\n',
        "src/image/b.ts": 'import { a } from "./a.ts";\nexport const b = a;\n',
      },
    ],
  ])("refuses a planted %s violation", (rule, files) => {
    const r = cruise(tree(rule, { ...clean, ...files }));
    expect(r.status).not.toBe(0);
    expect(r.stdout + r.stderr).toContain(rule);
  });
});

describe("formatter (biome)", () => {
  function check(text: string) {
    const dir = tree(`fmt-${text.length}`, { "src/x.ts": text });
    return spawnSync(join(BIN, "biome"), ["format", "--config-path", REPO, "src/x.ts"], { cwd: dir, encoding: "utf8" });
  }

  it("accepts formatted code and refuses unformatted code", () => {
    expect(check('export const a = { b: "c" };\n').status).toBe(0);
    const bad = check("export const a = {b:'c'}\n");
    expect(bad.status).not.toBe(0);
    expect(bad.stdout + bad.stderr).toMatch(/format/i);
  });
});
