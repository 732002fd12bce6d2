// Times shell commands against each other, interleaved, for before/after comparisons that the
// bench's fixed cases do not cover (an older build against this one, a variant of a flag):
//
//   node bench/interleave.mjs RUNS 'label::command' ['label::command' ...]
//
// Each round runs every command once, in the order given; 2 warm-up rounds, then RUNS counted.
// OUT in a command becomes a fresh empty directory on /dev/shm (a generator's output directory).
// Prints each command's median, its ratio to the first command's (put `node -e 0` first) and its
// minimum. Like the bench, it removes NODE_EXTRA_CA_CERTS and NODE_OPTIONS from the environment.
// With perf at hand (INTERLEAVE_CPU=0 turns it off), each command also runs once more per round
// under `perf stat -e task-clock`, untimed: its CPU time, which a loaded machine moves far less.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";

const [runsArg, ...specs] = process.argv.slice(2);
const runs = Number(runsArg);
if (!Number.isInteger(runs) || runs < 1 || specs.length === 0 || specs.some((s) => !s.includes("::"))) {
  console.error("usage: node bench/interleave.mjs RUNS 'label::command' ['label::command' ...]");
  process.exit(2);
}
const commands = specs.map((s) => ({ label: s.slice(0, s.indexOf("::")), command: s.slice(s.indexOf("::") + 2) }));
const env = { ...process.env };
delete env.NODE_EXTRA_CA_CERTS;
delete env.NODE_OPTIONS;

const perf =
  process.env.INTERLEAVE_CPU !== "0" &&
  spawnSync("perf", ["stat", "-x,", "-e", "task-clock", "--", "true"]).status === 0;
const perfOut = `/dev/shm/pa-interleave-perf-${process.pid}`;
const run = (label, command, wrap) => {
  const out = mkdtempSync("/dev/shm/pa-interleave-");
  const t0 = process.hrtime.bigint();
  const r = spawnSync("/bin/sh", ["-c", `exec ${wrap}${command.replaceAll("OUT", out)}`], {
    env,
    stdio: ["ignore", "ignore", "pipe"],
  });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  rmSync(out, { recursive: true, force: true });
  if (r.status !== 0) {
    console.error(`${label}: exit ${r.status ?? r.signal}: ${r.stderr}`);
    process.exit(1);
  }
  return ms;
};
const times = commands.map(() => []);
const cpu = commands.map(() => []);
for (let round = 0; round < runs + 2; round++) {
  commands.forEach(({ label, command }, i) => {
    const ms = run(label, command, "");
    if (round < 2) return;
    times[i].push(ms);
    if (!perf) return;
    run(label, command, `perf stat -x, -e task-clock -o ${perfOut} -- `);
    cpu[i].push(Number(/^([\d.]+),msec,task-clock/m.exec(readFileSync(perfOut, "utf8"))?.[1]));
  });
}
rmSync(perfOut, { force: true });
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const base = median(times[0]);
const cpuBase = perf ? median(cpu[0]) : 0;
commands.forEach(({ label }, i) => {
  const m = median(times[i]);
  const c = perf ? `  CPU ${median(cpu[i]).toFixed(1).padStart(6)} ms  ${(median(cpu[i]) / cpuBase).toFixed(2)}×` : "";
  console.log(
    `${label.padEnd(32)} ${m.toFixed(1).padStart(8)} ms  ${(m / base).toFixed(2)}×  min ${Math.min(...times[i]).toFixed(1)}${c}`,
  );
});
console.log(`load average: ${readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ")}`);
