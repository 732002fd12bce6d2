// The one way from list entries to a plan, shared by the generator and every CLI verb that asks
// what an entry amounts to: image facts per entry (isolated, budgeted, from the facts cache where
// it serves), host facts, then plan(). Callers only load the list and say what to do with the result.
import type { Entry } from "../config/attach-list.ts";
import { LATE_PASS_STAMP } from "../config/paths.ts";
import { RunBudget } from "../image/budget.ts";
import { verityTrust } from "../image/verity-trust.ts";
import { existsSync } from "node:fs";
import { plan } from "../plan/plan.ts";
import type { EntryFacts, OutputFile, Outcome } from "../plan/types.ts";
import { VERSION } from "../version.ts";
import { readAllFacts } from "./facts.ts";
import { FactsCache } from "./facts-cache.ts";
import { readHostFacts } from "./host.ts";
import { hostTree } from "./image-lookup.ts";
import { hostPath } from "./root-path.ts";
import { type DetectedSystemd, detectSystemd } from "./systemd-version.ts";

export interface PipelineOptions {
  /** The systemd architecture name of the host (hostArchitecture()). */
  architecture: string;
  /**
   * false while local file systems may still be unmounted: a missing image defers its entry.
   * Default: whether this boot's late pass has run (its stamp exists under the root).
   */
  latePassDone?: boolean;
  /** An entry whose images are read whatever the facts cache says (one whose cache is about to be written). */
  fresh?: string;
  /** Debug-level messages, each prefixed with the entry it is about. */
  debug?: (message: string) => void;
  /** Which systemd the units are written for; default: detectSystemd(root). */
  systemd?: DetectedSystemd;
}

export interface PipelineResult {
  /** Paths relative to the generator's normal output directory, sorted. */
  files: OutputFile[];
  /** One per entry and masked entry, sorted by name. */
  outcomes: Outcome[];
  /** What was read of each entry's images (entries with errors have none). */
  facts: Map<string, EntryFacts>;
  systemd: DetectedSystemd;
  /** Raw images taken from the facts cache because they did not change since attach time. */
  unchangedImages: number;
}

/** True once portable-attach-late.service has run in this boot. */
export function latePassRan(root: string): boolean {
  return existsSync(hostPath(root, LATE_PASS_STAMP));
}

/** plan() over `entries` (+ the Attach=no ones, reported as masked) of the tree at `root` ("" = this system). */
export function runPipeline(
  root: string,
  list: { entries: Entry[]; masked: Entry[] },
  options: PipelineOptions,
): PipelineResult {
  const { architecture, fresh, debug } = options;
  const latePassDone = options.latePassDone ?? latePassRan(root);
  // One view of the host for every lookup: the portables directories are read once, not once per entry.
  const shared = hostTree(root);
  const cache = new FactsCache(root);
  // verity.d is read once for the run, not once per image.
  const trust = verityTrust((p) => hostPath(root, p));
  const budget = new RunBudget();
  const facts = readAllFacts(list.entries, (entry) => ({
    root,
    architecture,
    latePassDone,
    hostTree: shared,
    version: VERSION,
    trust,
    budget,
    ...(entry.name !== fresh && { cache }),
    ...(debug && { debug: (m: string) => debug(`[${entry.name}] ${m}`) }),
  }));
  const systemd = options.systemd ?? detectSystemd(root);
  const { files, outcomes } = plan({
    entries: list.entries,
    masked: list.masked,
    facts,
    host: readHostFacts(root, architecture, systemd),
  });
  return { files, outcomes, facts, systemd, unchangedImages: cache.unchangedImages };
}
