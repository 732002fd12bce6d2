// portable-attach-generator: systemd.generator(7). Reads the attach list, reads each image, and
// writes the units portablectl attach would write into the normal generator directory (argv[1];
// admin files in /etc still win over it). It never fails the boot over an entry: per-entry
// problems are logged as "…, ignoring" and the run exits 0; only a broken environment (bad
// arguments, an unwritable output directory) exits 1.
import { mkdirSync, statSync } from "node:fs";
import { formatDiagnostic } from "../src/config/diagnostic.ts";
import { shown } from "../src/config/shown.ts";
import { STATUS_FILE_NAME } from "../src/config/paths.ts";
import { loadList } from "../src/io/load-list.ts";
import { runPipeline } from "../src/io/pipeline.ts";
import { applyPlan, writeFileAtomic } from "../src/io/apply.ts";
import { commandLineSwitch, readKernelCommandLine } from "../src/io/kernel-cmdline.ts";
import { hostPath } from "../src/io/root-path.ts";
import { createLogger, type Logger } from "../src/io/log.ts";
import { hostArchitecture } from "../src/portable/architecture.ts";
import type { Outcome } from "../src/plan/types.ts";

const IDENT = "portable-attach-generator";
/** Kernel command-line switch: portable_attach=0 (any boolean) turns the generator off for a boot. */
const SWITCH = "portable_attach";

/** 0600 if any list file read is not readable by others (the record quotes its lines), else 0644. */
function statusMode(root: string, files: readonly string[]): number {
  for (const f of files) {
    try {
      if ((statSync(hostPath(root, f)).mode & 0o004) === 0) return 0o600;
    } catch {
      return 0o600;
    }
  }
  return 0o644;
}

function logOutcome(log: Logger, outcome: Outcome): void {
  // The name comes from a list file: it may hold anything, even when it is refused as invalid.
  const o = { ...outcome, name: shown(outcome.name) };
  for (const w of o.warnings) log.log("warning", `[${o.name}] ${w}`);
  switch (o.state) {
    case "attached":
      if (o.cached)
        log.log(
          "notice",
          `[${o.name}] ${o.cached.map((p) => `'${shown(p)}'`).join(", ")} not reachable yet: attached from the cache written at attach time, checked again once mounted`,
        );
      log.log(
        "debug",
        `[${o.name}] Attached '${o.image}' from ${o.file}:${o.line}: ${o.units.join(" ")}${o.enabled ? " (enabled)" : ""}`,
      );
      break;
    case "deferred":
      log.log("notice", `[${o.name}] ${o.reason}`);
      break;
    case "failed":
      log.log("err", `[${o.name}] ${o.file}:${o.line}: ${o.reason}, ignoring`);
      break;
    case "masked":
      log.log("info", `[${o.name}] ${o.reason}`);
      break;
  }
}

export function main(argv: string[], env: NodeJS.ProcessEnv): number {
  const log = createLogger(IDENT, env);
  try {
    if (argv.length !== 1 && argv.length !== 3) {
      log.log("err", "This program takes one or three arguments (normal, early and late output directories).");
      return 1;
    }
    const outputDir = argv[0] as string;
    if (env.SYSTEMD_SCOPE === "user") return 0; // portable services are system services
    if (env.SYSTEMD_IN_INITRD === "1") return 0; // images and their units belong to the real root
    const root = (env.PORTABLE_ATTACH_ROOT ?? "").replace(/\/+$/, "");

    const words = readKernelCommandLine(root, env);
    const bad: string[] = [];
    const enabled = commandLineSwitch(words, SWITCH, bad);
    for (const w of bad) log.log("warning", `Failed to parse '${w}' on the kernel command line as a boolean, ignoring`);
    if (enabled === false) {
      log.log("notice", `Disabled by ${SWITCH}=0 on the kernel command line: no entry is attached, nothing written`);
      return 0;
    }

    const list = loadList(root);
    // An entry's own errors are said once, with its outcome below.
    for (const d of list.diagnostics) {
      if (d.severity === "warning") log.log("warning", formatDiagnostic(d));
      else if (d.entry === undefined) log.log("err", `${formatDiagnostic(d)}, ignoring`);
    }
    for (const s of list.merged.shadowed)
      log.log("debug", `[${s.entry.name}] ${s.entry.file}:${s.entry.line} is replaced by ${s.by.file}:${s.by.line}`);

    const result = runPipeline(root, list.merged, {
      architecture: hostArchitecture(env),
      debug: (m) => log.log("debug", m),
    });
    log.log(
      "debug",
      `${result.unchangedImages} image(s) not read: unchanged since attach time, their cached facts were used`,
    );
    const { systemd } = result;

    let failures: Map<string, string>;
    try {
      // systemd creates the directories; a manual or test run may not have.
      mkdirSync(outputDir, { recursive: true, mode: 0o755 });
      failures = applyPlan(outputDir, result.files);
    } catch (e) {
      for (const o of result.outcomes) logOutcome(log, o);
      log.log("err", `Failed to write to '${outputDir}': ${(e as Error).message}`);
      return 1;
    }
    const outcomes = result.outcomes.map((o): Outcome => {
      const why = failures.get(o.name);
      return why === undefined
        ? o
        : { ...o, state: "failed", units: [], reason: `Failed to write its files to '${outputDir}': ${why}` };
    });
    for (const o of outcomes) logOutcome(log, o);
    // Said only when units were written for it.
    if (systemd.version === undefined && outcomes.some((o) => o.state === "attached"))
      log.log(
        "warning",
        `Could not tell which systemd this is (${systemd.source}): wrote units as the newest portablectl we know does (systemd ${systemd.behaviour.since}+)`,
      );
    else if (systemd.version !== undefined)
      log.log("debug", `systemd ${systemd.version} (${systemd.source}): units written as its portablectl writes them`);
    try {
      // The record quotes list lines: as private as the most private list file it comes from.
      writeFileAtomic(
        `${outputDir}/${STATUS_FILE_NAME}`,
        JSON.stringify({ version: 1, lists: list.fingerprint, entries: outcomes }, null, 1) + "\n",
        statusMode(root, list.files),
      );
    } catch (e) {
      log.log("err", `Failed to write to '${outputDir}': ${(e as Error).message}`);
      return 1;
    }
    return 0;
  } finally {
    log.close();
  }
}

process.exitCode = main(process.argv.slice(2), process.env);
