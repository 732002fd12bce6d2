// Bundles the generator and the CLI into one file each: no runtime dependency but Node itself.
// `ini` (and any pure-JS decompressor) is bundled in; everything else must be a `node:` built-in,
// which the metafile check below enforces so a stray import cannot slip into the boot path.
import { build } from "esbuild";
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";

const pkg = JSON.parse(readFileSync(new URL("./package.json", import.meta.url), "utf8"));
const ALLOWED_INPUT = /^(src|generator)\/|^node_modules\/(ini|fzstd)\//;

// The bundles have no file extension (they are commands) and are CommonJS; this package.json keeps
// Node from reading them as ES modules because of the repository's own "type": "module".
mkdirSync("dist", { recursive: true });
writeFileSync("dist/package.json", JSON.stringify({ type: "commonjs" }) + "\n");

const targets = [
  { entry: "generator/main.ts", out: "dist/portable-attach-generator" },
  { entry: "src/cli/main.ts", out: "dist/portable-attach" },
];

for (const { entry, out } of targets) {
  let result;
  try {
    result = await build({
      entryPoints: [entry],
      outfile: out,
      bundle: true,
      platform: "node",
      target: "node18",
      format: "cjs",
      minify: true,
      legalComments: "none",
      metafile: true,
      logLevel: "warning",
      banner: { js: "#!/usr/bin/env node\n// portable-attach " + pkg.version + ". Bundles ini (ISC, (c) Isaac Z. Schlueter and Contributors)." },
      define: { PORTABLE_ATTACH_VERSION: JSON.stringify(pkg.version) },
    });
  } catch (e) {
    if (entry === "src/cli/main.ts" && /Could not resolve/.test(String(e))) continue; // CLI not written yet
    throw e;
  }
  for (const input of Object.keys(result.metafile.inputs)) {
    if (!ALLOWED_INPUT.test(input)) throw new Error(`${out}: unexpected input '${input}' in bundle`);
  }
  chmodSync(out, 0o755);
  writeFileSync(out + ".meta.json", JSON.stringify(result.metafile));
}
