// Part `tricks` of `npm run bench`: what each speed measure still buys, measured by taking it out.
// Each variant is this source tree with one measure undone (a textual patch that must apply, or the
// part fails), built the usual way into $CACHE/tricks/<variant>/dist and timed by run.mjs against the
// shipped build, interleaved. The facts cache needs no variant: the bench's "attached by the CLI"
// rows are the same entries with it.
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { cpSync, existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";

/** Each variant: the files it changes, as [path, from, to] replacements. */
const VARIANTS = {
  "no code cache": { noCache: true, patches: [] },
  "TurboFan on (no --no-opt)": {
    nodeArgs: [],
    patches: [
      ["scripts/code-cache.mjs", 'export const NODE_FLAG = "--no-opt";', 'export const NODE_FLAG = "--no-warnings";'],
      [
        "scripts/launcher.cjs",
        'if (!process.execArgv.includes(NO_TURBOFAN)) require("node:v8").setFlagsFromString(NO_TURBOFAN);',
        "",
      ],
    ],
  },
  "built-ins loaded eagerly": { patches: [["build.mjs", "plugins: [lazyBuiltins],", "plugins: [],"]] },
  "node:zlib for squashfs gzip": {
    patches: [
      [
        "src/image/squashfs.ts",
        'import { zlibInflate } from "./decompress/inflate.ts";',
        'import { inflateSync } from "node:zlib";\nconst zlibInflate = (d: Uint8Array, max: number) => new Uint8Array(inflateSync(d, { maxOutputLength: max }));',
      ],
    ],
  },
};

/** Builds every variant; returns [{ name, generator, nodeArgs }]. */
export function trickVariants({ repo, cache, log }) {
  return Object.entries(VARIANTS).map(([name, v]) => ({
    name,
    generator: variantBuild({ repo, cache, log, name, ...v }),
    nodeArgs: v.nodeArgs,
  }));
}

/**
 * The generator of this tree with `patches` applied, built into $CACHE/tricks/NAME (again only when
 * the sources or the patches changed: a stamp holds their digest). Returns its path.
 */
export function variantBuild({ repo, cache, log, name, patches, noCache = false }) {
  const files = spawnSync("git", ["-C", repo, "ls-files", "-z"], { encoding: "utf8" }).stdout.split("\0");
  const dir = join(cache, "tricks", name.replace(/[^a-z0-9]+/gi, "-"));
  const generator = join(dir, "dist/portable-attach-generator");
  const stamp = join(dir, ".stamp");
  const state = sourceState(repo, files, patches);
  if (existsSync(stamp) && readFileSync(stamp, "utf8") === state) return generator;
  log(`building '${name}'`);
  rmSync(dir, { recursive: true, force: true });
  for (const f of files.filter((f) => /^(src|generator|scripts|profiles)\/|^[^/]+$/.test(f)))
    if (existsSync(join(repo, f))) cpSync(join(repo, f), join(dir, f));
  // The code cache's representative run reads the fixture images.
  cpSync(join(repo, "test/fixtures/images"), join(dir, "test/fixtures/images"), { recursive: true });
  spawnSync("cp", ["-al", join(repo, "node_modules"), join(dir, "node_modules")]);
  for (const [path, from, to] of patches) {
    const text = readFileSync(join(dir, path), "utf8");
    if (!text.includes(from)) throw new Error(`'${name}': ${path} no longer has: ${from}`);
    writeFileSync(join(dir, path), text.replace(from, to));
  }
  const r = spawnSync(process.execPath, ["build.mjs"], { cwd: dir, encoding: "utf8" });
  if (r.status !== 0) throw new Error(`'${name}': build failed: ${r.stderr}`);
  if (noCache) rmSync(`${generator}.v8cache`);
  writeFileSync(stamp, state);
  return generator;
}

function sourceState(repo, files, patches) {
  const hash = createHash("sha256").update(process.version).update(JSON.stringify(patches));
  for (const f of files.filter((f) => /^(src|generator|scripts)\/|^build\.mjs$/.test(f)))
    if (existsSync(join(repo, f))) hash.update(f).update(readFileSync(join(repo, f)));
  return hash.digest("hex");
}
