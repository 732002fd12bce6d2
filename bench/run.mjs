// `npm run bench`: times whole processes of the built generator and CLI against `node -e 0`, measured
// interleaved in the same run (the machine is shared and noisy: only ratios to the floor of the same
// run mean anything). Prints a table and writes JSON ($CACHE/results.json, or BENCH_JSON=path).
//
//   BENCH_RUNS=N   counted runs per case (default 15; at least 10), after BENCH_WARMUP (default 2)
//   BENCH_ONLY=mixed,entries,size,verity,load,cli,boot,tricks,profile   run only these parts (cli and
//                  boot boot the e2e guest: run under `flock /tmp/pa-e2e.lock`; tricks and profile,
//                  which build variants of this tree, are not in the default)
//   BENCH_BOOTS=N  boots per configuration in the boot part (default 3)
//
// Inputs are built once into /var/tmp/portable-attach-bench (PORTABLE_ATTACH_BENCH_CACHE).
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import { join } from "node:path";
import {
  attachedTwin,
  CACHE,
  cachedTwin,
  dropTrees,
  entryRoot,
  FORMATS,
  mixedRoot,
  sizeRoots,
  verityRoots,
  writeList,
} from "./inputs.mjs";
import { cliBench } from "./cli.mjs";
import { bootBench } from "./boot.mjs";
import { trickVariants } from "./tricks.mjs";
import { profileGenerator } from "./profile.mjs";
import { NODE_FLAG } from "../scripts/install.mjs";

const repo = new URL("..", import.meta.url).pathname;
// BENCH_GENERATOR / BENCH_CLI: time another build (e.g. one of an older commit) with the same inputs.
const GENERATOR = process.env.BENCH_GENERATOR ?? join(repo, "dist/portable-attach-generator");
const CLI = process.env.BENCH_CLI ?? join(repo, "dist/portable-attach");
const RUNS = Math.max(10, Number(process.env.BENCH_RUNS ?? 15));
const WARMUP = Number(process.env.BENCH_WARMUP ?? 2);
const ONLY = (process.env.BENCH_ONLY ?? "mixed,entries,size,verity,load,cli,boot").split(",");
const COUNTS = (process.env.BENCH_COUNTS ?? "1,10,100,1000").split(",").map(Number);
// The generator writes to /run (tmpfs) at boot: outputs go to a tmpfs too, not to a disk.
const OUT_BASE =
  process.env.BENCH_OUT ?? (statSync("/dev/shm", { throwIfNoEntry: false })?.isDirectory() ? "/dev/shm" : tmpdir());
const log = (m) => process.stderr.write(`bench: ${m}\n`);

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const stats = (xs) => ({ median: median(xs), min: Math.min(...xs), max: Math.max(...xs), runs: xs.length });

/** Wall time of one process, in ms. */
function timeOnce(cmd, args, env) {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(cmd, args, { env, stdio: ["ignore", "ignore", "pipe"] });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")}: exit ${r.status}: ${r.stderr}`);
  return ms;
}

// CPU time (user + system, every thread) of a process, from `perf stat -e task-clock`: on a shared,
// loaded machine it moves far less than wall time. Measured in a run of its own, after the timed one.
const PERF =
  process.env.BENCH_CPU !== "0" && spawnSync("perf", ["stat", "-x,", "-e", "task-clock", "--", "true"]).status === 0;
const PERF_OUT = join(tmpdir(), `pa-bench-perf-${process.pid}`);
/** CPU ms of one process, or undefined without perf. */
function cpuOnce(cmd, args, env) {
  if (!PERF) return undefined;
  const r = spawnSync("perf", ["stat", "-x,", "-e", "task-clock", "-o", PERF_OUT, "--", cmd, ...args], {
    env,
    stdio: ["ignore", "ignore", "pipe"],
  });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")}: exit ${r.status}: ${r.stderr}`);
  const m = /^([\d.]+),msec,task-clock/m.exec(readFileSync(PERF_OUT, "utf8"));
  return m ? Number(m[1]) : undefined;
}

/** Peak RSS (KiB) of one process, via GNU time (a separate, untimed run). */
function peakRss(cmd, args, env) {
  const r = spawnSync("/usr/bin/time", ["-f", "%M", cmd, ...args], {
    env,
    encoding: "utf8",
    stdio: ["ignore", "ignore", "pipe"],
  });
  const m = /(\d+)\s*$/.exec(r.stderr ?? "");
  return m ? Number(m[1]) : null;
}

/**
 * Interleaved: each round runs every command once, in order; `prepare` runs before each command,
 * outside the timing. Returns per-command stats plus peak RSS.
 */
function measure(commands) {
  const times = commands.map(() => []);
  const cpu = commands.map(() => []);
  for (let round = 0; round < WARMUP + RUNS; round++) {
    commands.forEach((c, i) => {
      let ctx = c.prepare?.();
      const ms = timeOnce(c.cmd, c.args(ctx), c.env);
      c.cleanup?.(ctx);
      if (round >= WARMUP) times[i].push(ms);
      if (!PERF || round < WARMUP) return;
      ctx = c.prepare?.();
      cpu[i].push(cpuOnce(c.cmd, c.args(ctx), c.env));
      c.cleanup?.(ctx);
    });
  }
  return commands.map((c, i) => {
    const ctx = c.prepare?.();
    const rss = peakRss(c.cmd, c.args(ctx), c.env);
    c.cleanup?.(ctx);
    return { name: c.name, ...stats(times[i]), cpuMs: PERF ? median(cpu[i]) : undefined, peakRssKiB: rss };
  });
}

// systemd starts a generator with a near-empty environment. NODE_EXTRA_CA_CERTS (set on this machine)
// makes every Node start parse a CA bundle: ~50 ms, more than Node's own start, which would hide what
// the generator costs. Node's variables are dropped for every timed process (BENCH_KEEP_ENV=1 keeps them).
const ENV = { ...process.env };
if (process.env.BENCH_KEEP_ENV !== "1")
  for (const k of Object.keys(ENV))
    if (/^NODE_(OPTIONS|EXTRA_CA_CERTS|DEBUG|V8_COVERAGE)/.test(k) || k === "NODE_COMPILE_CACHE") delete ENV[k];

// Programs are timed as installed ones run: with the V8 flag their #! line gives (scripts/install.mjs).
const AS_INSTALLED = [NODE_FLAG];
const NODE0 = { name: "node -e 0", cmd: process.execPath, args: () => ["-e", "0"], env: ENV };

function generatorCommand(name, root, extraEnv = {}, program = { generator: GENERATOR, nodeArgs: AS_INSTALLED }) {
  return {
    name,
    cmd: process.execPath,
    env: { ...ENV, PORTABLE_ATTACH_ROOT: root, SYSTEMD_LOG_LEVEL: "warning", ...extraEnv },
    prepare: () => mkdtempSync(join(OUT_BASE, "pa-bench-out-")),
    args: (out) => [...(program.nodeArgs ?? AS_INSTALLED), program.generator, out],
    cleanup: (out) => rmSync(out, { recursive: true, force: true }),
  };
}

/**
 * Checks once that the generator attaches every entry (a benchmark of failures would be worthless),
 * and that `unchanged` images are not read but served from their facts cache records: a twin whose
 * images changed since they were attached (a hard link made or removed changes their ctime) would
 * time reading them under the name "attached by the CLI".
 */
function checkAttached(root, expected, unchanged = 0, generator = GENERATOR) {
  const out = mkdtempSync(join(tmpdir(), "pa-bench-check-"));
  try {
    const r = spawnSync(process.execPath, [generator, out], {
      env: { ...ENV, PORTABLE_ATTACH_ROOT: root, SYSTEMD_LOG_LEVEL: "debug" },
      encoding: "utf8",
    });
    const status = JSON.parse(readFileSync(join(out, ".portable-attach-status.json"), "utf8"));
    const attached = status.entries.filter((e) => e.state === "attached").length;
    if (attached !== expected)
      throw new Error(`${root}: ${attached}/${expected} entries attached: ${r.stderr.slice(0, 2000)}`);
    const notRead = Number(/(\d+) image\(s\) not read/.exec(r.stderr)?.[1]);
    if (notRead !== unchanged)
      throw new Error(
        `${root}: ${notRead}/${unchanged} images served from their facts cache; remove ${root}/.done to attach them again`,
      );
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}

const results = {
  date: new Date().toISOString(),
  machine: machine(),
  node: process.version,
  runs: RUNS,
  warmup: WARMUP,
  nodeEnvKept: process.env.BENCH_KEEP_ENV === "1",
};
const rows = [];
const ratio = (x, base) => x / base;
function row(part, label, gen, floor) {
  rows.push({
    part,
    label,
    median: gen.median,
    min: gen.min,
    max: gen.max,
    floor: floor.median,
    ratio: ratio(gen.median, floor.median),
    cpu: gen.cpuMs,
    cpuRatio: gen.cpuMs && floor.cpuMs ? gen.cpuMs / floor.cpuMs : undefined,
    rss: gen.peakRssKiB,
  });
}

function machine() {
  const c = cpus();
  let kernel = "";
  try {
    kernel = readFileSync("/proc/sys/kernel/osrelease", "utf8").trim();
  } catch {}
  return `${c.length} × ${c[0]?.model ?? "?"}, Linux ${kernel}`;
}

/** The reference case's root, and its twin in which the CLI attached all ten entries. */
async function mixedRoots() {
  const { root, entries } = await mixedRoot(log);
  const twin = await attachedTwin(root, entries, true, CLI, log);
  // The twin's list holds the last entry attached: give it all ten (the twin's own file).
  writeFileSync(join(twin, "etc/portable-attach.conf"), readFileSync(join(root, "etc/portable-attach.conf")));
  return { root, twin };
}

// ---------------------------------------------------------------- 0. the reference case
// 10 raw images of 1–2 MiB, 5 squashfs (gzip) and 5 erofs (lz4): read from the images, and attached
// by the CLI (facts cache: not read).
if (ONLY.includes("mixed")) {
  const { root, twin } = await mixedRoots();
  checkAttached(root, 10);
  checkAttached(twin, 10, 10);
  log("mixed: 5 squashfs (gzip) + 5 erofs");
  const [floor, gen, cached] = measure([
    NODE0,
    generatorCommand("mixed 10", root),
    generatorCommand("mixed 10, cached", twin),
  ]);
  results.mixed = { floor, generator: gen, cached };
  row("mixed", "10 raw (5 squashfs gzip, 5 erofs)", gen, floor);
  row("mixed", "10 raw (5 squashfs gzip, 5 erofs), attached by the CLI", cached, floor);
}

// ---------------------------------------------------------------- 1. entries
if (ONLY.includes("entries")) {
  results.entries = {};
  const max = Math.max(...COUNTS);
  for (const format of FORMATS) {
    const { root, image } = await entryRoot(format, max, log);
    // The same images attached with the CLI: each entry has its facts cache (src/io/facts-cache.ts).
    const twin = await cachedTwin(format, max, CLI, log);
    results.entries[format] = {};
    for (const n of COUNTS) {
      writeList(root, image, n);
      writeList(twin.root, image, n);
      checkAttached(root, n);
      checkAttached(twin.root, n, format === "dir" ? 0 : n);
      log(`entries: ${format} × ${n}`);
      const [floor, gen, cached] = measure([
        NODE0,
        generatorCommand(`generator ${format} × ${n}`, root),
        generatorCommand(`generator ${format} × ${n}, cached`, twin.root),
      ]);
      results.entries[format][n] = { floor, generator: gen, cached };
      row("entries", `${format} × ${n}`, gen, floor);
      row("entries", `${format} × ${n}, attached by the CLI`, cached, floor);
    }
    // Only with two counts to compare (BENCH_COUNTS=10 alone has no slope).
    if (COUNTS.length < 2) continue;
    const perEntry = (k) =>
      (results.entries[format][max][k].median - results.entries[format][COUNTS[0]][k].median) / (max - COUNTS[0]);
    results.entries[format].perEntryMs = perEntry("generator");
    results.entries[format].perEntryCachedMs = perEntry("cached");
  }
}

// ---------------------------------------------------------------- 2. image size
if (ONLY.includes("size")) {
  results.size = {};
  for (const format of FORMATS.filter((f) => f !== "dir")) {
    const { small, big } = await sizeRoots(format, log);
    // The same images attached by the CLI: an unchanged raw image is not read again (facts cache).
    const smallCached = await attachedTwin(small.root, [["svcbig", "/var/lib/portables/svcbig.raw"]], true, CLI, log);
    const bigCached = await attachedTwin(big.root, [["svcbig", "/var/lib/portables/svcbig.raw"]], true, CLI, log);
    for (const root of [small.root, big.root]) checkAttached(root, 1);
    for (const root of [smallCached, bigCached]) checkAttached(root, 1, 1);
    log(`size: ${format}`);
    const [floor, s, b, sc, bc] = measure([
      NODE0,
      generatorCommand(`1 MiB ${format}`, small.root),
      generatorCommand(`1 GiB ${format}`, big.root),
      generatorCommand(`1 MiB ${format}, attached by the CLI`, smallCached),
      generatorCommand(`1 GiB ${format}, attached by the CLI`, bigCached),
    ]);
    results.size[format] = {
      floor,
      small: { ...s, imageBytes: statSync(small.image).size },
      big: { ...b, imageBytes: statSync(big.image).size },
      bigOverSmall: b.median / s.median,
      smallCached: sc,
      bigCached: bc,
      bigOverSmallCached: bc.median / sc.median,
    };
    row("size", `${format} 1 MiB`, s, floor);
    row("size", `${format} 1 GiB (10,000 files)`, b, floor);
    row("size", `${format} 1 MiB, attached by the CLI`, sc, floor);
    row("size", `${format} 1 GiB (10,000 files), attached by the CLI`, bc, floor);
  }
  dropTrees();
}

// ---------------------------------------------------------------- 2b. dm-verity
// The same 1 GiB erofs image, unsigned and signed (hash tree + signed root hash as side files,
// ImagePolicy=signed): only the blocks read are hashed, so the two should cost about the same.
if (ONLY.includes("verity")) {
  const { unsigned, signed } = await verityRoots(log);
  checkAttached(unsigned, 1);
  checkAttached(signed, 1);
  log("verity: erofs 1 GiB");
  const [floor, u, s] = measure([
    NODE0,
    generatorCommand("1 GiB erofs, unsigned", unsigned),
    generatorCommand("1 GiB erofs, signed", signed),
  ]);
  results.verity = { floor, unsigned: u, signed: s, signedOverUnsigned: s.median / u.median };
  row("verity", "erofs 1 GiB, unsigned", u, floor);
  row("verity", "erofs 1 GiB, signed (dm-verity + signature checked)", s, floor);
}

// ---------------------------------------------------------------- 4. bundles
if (ONLY.includes("load")) {
  // "Load without running": the generator in user scope returns before reading anything; the CLI
  // prints --version. Both still parse and evaluate the whole bundle.
  const load = [
    NODE0,
    {
      name: "load generator",
      cmd: process.execPath,
      args: () => [...AS_INSTALLED, GENERATOR, "/nonexistent"],
      env: { ...ENV, SYSTEMD_SCOPE: "user" },
    },
    { name: "load cli", cmd: process.execPath, args: () => [...AS_INSTALLED, CLI, "--version"], env: ENV },
  ];
  log("load");
  const [floor, g, c] = measure(load);
  results.bundles = {
    floor,
    generator: { bytes: statSync(GENERATOR).size, load: g },
    cli: { bytes: statSync(CLI).size, load: c },
  };
  row("load", `generator bundle (${statSync(GENERATOR).size} B)`, g, floor);
  row("load", `cli bundle (${statSync(CLI).size} B)`, c, floor);
}

// ---------------------------------------------------------------- 3. CLI vs portablectl
if (ONLY.includes("cli")) {
  results.cli = await cliBench({ runs: RUNS, warmup: WARMUP, log, repo, generator: GENERATOR, cli: CLI });
  for (const r of results.cli.rows ?? []) rows.push(r);
}

// ---------------------------------------------------------------- 5. boot
if (ONLY.includes("boot")) {
  results.boot = await bootBench({ boots: Math.max(1, Number(process.env.BENCH_BOOTS ?? 3)), reloads: 10, log, repo });
  for (const r of results.boot.rows ?? []) rows.push(r);
}

// ---------------------------------------------------------------- 6. what each trick buys
// The shipped build against builds with one speed measure taken out (bench/tricks.mjs), on the
// reference case read and attached by the CLI, a load-only run, and the 1 GiB squashfs image.
if (ONLY.includes("tricks")) {
  const { root, twin } = await mixedRoots();
  const { big } = await sizeRoots("squashfs", log);
  const shipped = { name: "shipped", generator: GENERATOR, nodeArgs: AS_INSTALLED };
  const builds = [shipped, ...trickVariants({ repo, cache: CACHE, log })];
  const cases = [
    ["10 raw, read", root, {}],
    ["10 raw, attached by the CLI", twin, {}],
    ["load only", "/nonexistent", { SYSTEMD_SCOPE: "user" }],
    ["squashfs 1 GiB", big.root, {}],
  ];
  for (const b of builds) {
    checkAttached(root, 10, 0, b.generator);
    checkAttached(twin, 10, 10, b.generator);
    checkAttached(big.root, 1, 0, b.generator);
  }
  log(`tricks: ${builds.length} builds × ${cases.length} cases`);
  const commands = [NODE0];
  for (const b of builds)
    for (const [c, r, env] of cases) commands.push(generatorCommand(`${b.name}: ${c}`, r, env, b));
  const [floor, ...timed] = measure(commands);
  results.tricks = {};
  timed.forEach((t, i) => {
    const b = builds[Math.floor(i / cases.length)];
    const [c] = cases[i % cases.length];
    (results.tricks[b.name] ??= {})[c] = t;
    row("tricks", `${b.name}: ${c}`, t, floor);
  });
  dropTrees();
}

// ---------------------------------------------------------------- 7. where the time goes
if (ONLY.includes("profile")) {
  const { root } = await mixedRoot(log);
  log("profile: the reference case, 10 raw images read");
  results.profile = profileGenerator({
    repo,
    cache: CACHE,
    log,
    root,
    runs: RUNS,
    env: ENV,
    nodeArgs: AS_INSTALLED,
    outBase: OUT_BASE,
  });
}

// ---------------------------------------------------------------- report
const f = (x) => (x === undefined || x === null ? "" : x.toFixed(1));
console.log(
  `portable-attach bench, ${results.date}, ${results.machine}, node ${results.node}, ${RUNS} runs after ${WARMUP} warm-up, medians`,
);
console.log(
  `load average at the end: ${readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ")}; CPU ms: perf task-clock, median, in runs of their own`,
);
console.log(
  ["part", "case", "median ms", "min", "max", "node -e 0 ms", "ratio", "CPU ms", "CPU ratio", "peak RSS MiB"].join(
    " | ",
  ),
);
for (const r of rows) {
  console.log(
    [
      r.part,
      r.label,
      f(r.median),
      f(r.min),
      f(r.max),
      f(r.floor),
      r.ratio === undefined ? "" : r.ratio.toFixed(2) + "×",
      f(r.cpu),
      r.cpuRatio === undefined ? "" : r.cpuRatio.toFixed(2) + "×",
      r.rss ? (r.rss / 1024).toFixed(1) : "",
    ].join(" | "),
  );
}
if (results.entries)
  for (const [fmt, v] of Object.entries(results.entries))
    if (v.perEntryMs !== undefined)
      console.log(
        `per extra entry (${fmt}): ${v.perEntryMs.toFixed(3)} ms; attached by the CLI: ${v.perEntryCachedMs.toFixed(3)} ms`,
      );
if (results.size)
  for (const [fmt, v] of Object.entries(results.size))
    console.log(
      `1 GiB / 1 MiB (${fmt}): ${v.bigOverSmall.toFixed(3)}×; attached by the CLI: ${v.bigOverSmallCached.toFixed(3)}×`,
    );
if (results.verity) console.log(`signed / unsigned (erofs 1 GiB): ${results.verity.signedOverUnsigned.toFixed(3)}×`);
if (results.cli?.codeCache) console.log(`cli: code cache of the installed CLI in the guest: ${results.cli.codeCache}`);
if (results.cli?.note) console.log(`cli: ${results.cli.note}`);

// The speed targets, each with its measured value: met or not met.
const targets = [];
// `cpuMet`: the same target judged on CPU time (perf), which a loaded machine disturbs far less.
const target = (name, value, met, cpuMet) => targets.push({ target: name, value, met, cpuMet });
const x = (v) => `${v.toFixed(2)}×`;
if (results.mixed) {
  const { floor, generator: g, cached: c } = results.mixed;
  const cpu = (r) =>
    r.cpuMs && floor.cpuMs ? `; CPU time ${x(r.cpuMs / floor.cpuMs)} (${f(r.cpuMs)} vs ${f(floor.cpuMs)} ms)` : "";
  const cpuRatio = (r) => (r.cpuMs && floor.cpuMs ? r.cpuMs / floor.cpuMs : undefined);
  const under = (v, limit) => (v === undefined ? undefined : v <= limit);
  target(
    "10 raw entries read from their images ≤ 1.5 × node -e 0",
    `${x(g.median / floor.median)} (${f(g.median)} vs ${f(floor.median)} ms)${cpu(g)}`,
    g.median / floor.median <= 1.5,
    under(cpuRatio(g), 1.5),
  );
  target(
    "10 raw entries attached by the CLI ≤ 1.35 × node -e 0",
    `${x(c.median / floor.median)} (${f(c.median)} ms)${cpu(c)}`,
    c.median / floor.median <= 1.35,
    under(cpuRatio(c), 1.35),
  );
}
if (results.entries) {
  for (const [fmt, v] of Object.entries(results.entries)) {
    if (!v[1000]) continue;
    const [g, c] = [v[1000].generator, v[1000].cached];
    const cpu = g.cpuMs && c.cpuMs ? `; CPU time ${f(g.cpuMs)} and ${f(c.cpuMs)} ms` : "";
    target(
      `1,000 entries (${fmt}) < 0.5 s`,
      `${f(g.median)} ms; attached by the CLI ${f(c.median)} ms${cpu}`,
      Math.max(g.median, c.median) < 500,
      cpu ? Math.max(g.cpuMs, c.cpuMs) < 500 : undefined,
    );
  }
}
if (results.size) {
  for (const [fmt, v] of Object.entries(results.size)) {
    const q = (a, b) => (a.cpuMs && b.cpuMs ? a.cpuMs / b.cpuMs : undefined);
    const [cq, cqc] = [q(v.big, v.small), q(v.bigCached, v.smallCached)];
    const cpu = cq && cqc ? `; CPU time ${x(cq)} and ${x(cqc)}` : "";
    target(
      `1 GiB vs 1 MiB image (${fmt}) ≤ 1.1×`,
      `${x(v.bigOverSmall)}; attached by the CLI ${x(v.bigOverSmallCached)}${cpu}`,
      Math.max(v.bigOverSmall, v.bigOverSmallCached) <= 1.1,
      cpu ? Math.max(cq, cqc) <= 1.1 : undefined,
    );
  }
}
if (results.cli?.node0) {
  const start = results.cli.node0.median;
  for (const k of ["attach-dir", "detach-dir", "attach-raw", "detach-raw"]) {
    const v = results.cli[k];
    if (!v?.ours || !v.portablectl) continue;
    const over = v.ours.median - v.portablectl.median;
    target(
      `CLI ${k.replace("-", " + reload, ")} image: within one Node start (${f(start)} ms in the guest) of portablectl`,
      `${f(v.ours.median)} vs ${f(v.portablectl.median)} ms (${over >= 0 ? "+" : ""}${f(over)})`,
      over <= start,
    );
  }
}
if (results.boot?.[0]) {
  const b = results.boot;
  const d = (n, k) => f(b[n][k].median - b[0][k].median);
  target(
    "boot cost (no target: measured)",
    `userspace +${d(10, "boot")} ms (10 entries), +${d(100, "boot")} ms (100); daemon-reload +${d(10, "reload")} / +${d(100, "reload")} ms`,
    undefined,
  );
}
if (results.profile) {
  console.log(
    "\nprofile of the reference case read from its images (CPU profiler; shares of the samples, ms per run as profiled):",
  );
  for (const p of results.profile)
    console.log(`${(p.share * 100).toFixed(1).padStart(5)} %  ${p.ms.toFixed(2).padStart(6)} ms  ${p.what}`);
}
results.targets = targets;
console.log("\ntargets (verdict on wall time, as the targets say; then on CPU time, where measured):");
const verdict = (m) => (m === undefined ? "-      " : m ? "met    " : "NOT MET");
for (const t of targets)
  console.log(
    `${t.met === undefined ? "info   " : verdict(t.met)} | CPU: ${verdict(t.cpuMet)} | ${t.target} | ${t.value}`,
  );
if (results.boot?.analyze)
  console.log(`boot: systemd-analyze time, first boot of each:\n${results.boot.analyze.trimEnd()}`);
if (results.boot?.note) console.log(`boot: ${results.boot.note}`);
const jsonPath = process.env.BENCH_JSON ?? join(CACHE, "results.json");
results.rows = rows;
writeFileSync(jsonPath, JSON.stringify(results, null, 1) + "\n");
console.log(`JSON: ${jsonPath}`);
