// Bundles the generator and the CLI into one file each: no runtime dependency but Node itself.
// `ini` (and any pure-JS decompressor) is bundled in; everything else must be a `node:` built-in,
// which the metafile check below enforces so a stray import cannot slip into the boot path.
// Each program is one executable: a small launcher with the bundle as a string, which it compiles
// with V8's code cache dist/<program>.v8cache, made here by a run of the program with this Node
// (scripts/code-cache.mjs, scripts/launcher.cjs).
import { build } from "esbuild";
import { chmodSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { executable, makeCodeCache } from "./scripts/code-cache.mjs";

const pkg = JSON.parse(readFileSync(new URL("./package.json", import.meta.url), "utf8"));
const ALLOWED_INPUT = /^(src|generator)\/|^node_modules\/(ini|fzstd)\/|^lazy-builtin:node:/;

// node:zlib (gzip squashfs), node:net (journald's stream socket), node:child_process (systemctl,
// which loads net) and node:crypto (the CLI's list fingerprint) pull in node:stream and cost
// several ms at every start, while most runs need none of them. Each is bundled as a stand-in whose
// properties load the real module on first use. Keys are taken from the building Node; a key the
// running Node lacks reads undefined, as it would from the real module.
function lazyBuiltinSource(name) {
  const keys = Object.keys(requireBuiltin(name)).filter((k) => k !== "default");
  return [
    `let m; const load = () => m || (m = require(${JSON.stringify(name)}));`,
    `for (const k of ${JSON.stringify(keys)}) Object.defineProperty(exports, k, { enumerable: true, get: () => load()[k] });`,
  ].join("\n");
}
function requireBuiltin(name) {
  return createRequire(import.meta.url)(name);
}
const lazyBuiltins = {
  name: "lazy-builtins",
  setup(b) {
    b.onResolve({ filter: /^node:(zlib|net|child_process|crypto)$/ }, (args) =>
      args.namespace === "lazy-builtin"
        ? { path: args.path, external: true }
        : { path: args.path, namespace: "lazy-builtin" },
    );
    b.onLoad({ filter: /.*/, namespace: "lazy-builtin" }, (args) => ({
      contents: lazyBuiltinSource(args.path),
      loader: "js",
    }));
  },
};

// The bundles have no file extension (they are commands) and are CommonJS; this package.json keeps
// Node from reading them as ES modules because of the repository's own "type": "module".
mkdirSync("dist", { recursive: true });
writeFileSync("dist/package.json", JSON.stringify({ type: "commonjs" }) + "\n");

const targets = [
  { entry: "generator/main.ts", out: "dist/portable-attach-generator" },
  { entry: "src/cli/main.ts", out: "dist/portable-attach" },
];
const banner =
  "// portable-attach " +
  pkg.version +
  ". Bundles ini (ISC, (c) Isaac Z. Schlueter and Contributors) and fzstd (MIT, (c) 2020 Arjun Barrett).";

for (const { entry, out } of targets) {
  // A cache of an earlier build would be refused (it names other source), but must not linger.
  rmSync(out + ".v8cache", { force: true });
  const result = await build({
    entryPoints: [entry],
    outfile: out,
    bundle: true,
    platform: "node",
    target: "node18",
    format: "cjs",
    minify: true,
    legalComments: "none",
    metafile: true,
    write: false,
    plugins: [lazyBuiltins],
    logLevel: "warning",
    define: { PORTABLE_ATTACH_VERSION: JSON.stringify(pkg.version) },
  });
  for (const input of Object.keys(result.metafile.inputs)) {
    if (!ALLOWED_INPUT.test(input)) throw new Error(`${out}: unexpected input '${input}' in bundle`);
  }
  writeFileSync(out, executable(result.outputFiles[0].text, { banner }));
  chmodSync(out, 0o755);
  writeFileSync(out + ".meta.json", JSON.stringify(result.metafile));
  const program = out.slice("dist/".length);
  const made = makeCodeCache({ exe: out, program, cacheFile: out + ".v8cache" });
  if (!made.ok) throw new Error(`${out}.v8cache: ${made.reason}`);
}
