// Part `profile` of `npm run bench`: where a generator run's time goes, by V8's CPU profiler.
// An unminified build of this tree (its code cache made as usual) runs RUNS times with --cpu-prof
// over the given root; each sample's own time is put under what it belongs to: one of our rooms
// (src/image, src/io …, from esbuild's "// src/…" markers in the bundle), the launcher, Node
// loading the program (its module loader, vm.Script deserializing the cache), Node's own start,
// the garbage collector, or system calls. The profiler slows the run: read the shares, not the ms;
// unminified, the program is larger and its load a larger share than in the shipped build.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { variantBuild } from "./tricks.mjs";

export function profileGenerator({ repo, cache, log, root, runs, env, nodeArgs, outBase }) {
  const generator = variantBuild({
    repo,
    cache,
    log,
    name: "unminified",
    patches: [["build.mjs", "minify: true,", "minify: false,"]],
  });
  const exe = readFileSync(generator, "utf8");
  const bundle = JSON.parse(/^launch\("[0-9a-f]{16}", (".*")\);$/m.exec(exe)?.[1] ?? '""').split("\n");
  // Line → the source file esbuild says it came from.
  const origin = [];
  let current = "the bundle's top level";
  bundle.forEach((line, i) => {
    const m = /^\/\/ ((?:src|generator|node_modules)\/\S+)$/.exec(line);
    if (m) current = m[1];
    origin[i] = current;
  });
  const url = `file://${generator}`;
  const dir = mkdtempSync(join(outBase, "pa-bench-prof-"));
  const totals = new Map();
  let all = 0;
  try {
    for (let i = 0; i < runs; i++) {
      const out = mkdtempSync(join(outBase, "pa-bench-out-"));
      const r = spawnSync(
        process.execPath,
        [...nodeArgs, "--cpu-prof", "--cpu-prof-interval", "50", "--cpu-prof-dir", dir, generator, out],
        { env: { ...env, PORTABLE_ATTACH_ROOT: root, SYSTEMD_LOG_LEVEL: "warning" }, stdio: "ignore" },
      );
      rmSync(out, { recursive: true, force: true });
      if (r.status !== 0) throw new Error(`profile: the generator exited with ${r.status ?? r.signal}`);
    }
    for (const f of readdirSync(dir)) {
      const p = JSON.parse(readFileSync(join(dir, f), "utf8"));
      const nodes = new Map(p.nodes.map((n) => [n.id, n]));
      // The launcher and the bundle (compiled from a string under the same name) are two scripts.
      const launcher = p.nodes.find((n) => n.callFrame.url === url && n.callFrame.functionName === "launch")?.callFrame
        .scriptId;
      p.samples.forEach((id, i) => {
        const t = p.timeDeltas[i] ?? 0;
        const what = category(nodes.get(id).callFrame, { url, launcher, origin });
        totals.set(what, (totals.get(what) ?? 0) + t);
        all += t;
      });
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return [...totals]
    .filter(([what]) => what !== "(idle)")
    .sort((a, b) => b[1] - a[1])
    .map(([what, us]) => ({ what, ms: us / 1000 / runs, share: us / all }));
}

function category(frame, { url: ours, launcher, origin }) {
  const { url, functionName, lineNumber, scriptId } = frame;
  if (url === ours) {
    if (scriptId === launcher) return "launcher (reads and checks the code cache)";
    const file = origin[lineNumber] ?? "the bundle's top level";
    if (file.startsWith("node_modules/")) return file.split("/")[1];
    const parts = file.split("/");
    return parts[0] === "generator"
      ? "generator/main.ts"
      : parts.slice(0, parts[1] === "image" && parts.length > 3 ? 3 : 2).join("/");
  }
  if (url === "" && ["(program)", "(garbage collector)", "(idle)", "(root)"].includes(functionName))
    return functionName === "(program)" ? "(V8 and Node native)" : functionName;
  if (url === "") return "system calls and native functions";
  if (/^node:(internal\/modules|vm)/.test(url)) return "Node: loading the program (module loader, vm.Script)";
  if (/^node:(fs|internal\/fs|path|buffer|internal\/(util|validators|errors|url))/.test(url))
    return "Node: fs, path, buffer";
  return "Node: start-up and the rest";
}
