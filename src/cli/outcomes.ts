// What an entry amounts to: the generator's record of its last run (what PID 1 has loaded), or the
// same plan() computed here (before writing an entry, and offline where no generator ran).
import { readFileSync, readdirSync } from "node:fs";
import type { Entry } from "../config/attach-list.ts";
import { GENERATOR_NORMAL_DIR, STATUS_FILE_NAME } from "../config/paths.ts";
import { RunBudget } from "../image/budget.ts";
import { verityTrust } from "../image/verity-trust.ts";
import { readAllFacts } from "../io/facts.ts";
import { FactsCache } from "../io/facts-cache.ts";
import { readHostFacts } from "../io/host.ts";
import { hostArchitecture } from "../portable/architecture.ts";
import { plan } from "../plan/plan.ts";
import type { EntryFacts, Outcome } from "../plan/types.ts";
import { VERSION } from "../version.ts";
import { inRoot, inRootOrUndefined } from "../io/root-path.ts";
import type { Context } from "./context.ts";

export function statusFile(ctx: Context): string {
  const path = `${GENERATOR_NORMAL_DIR}/${STATUS_FILE_NAME}`;
  return inRootOrUndefined(ctx.opts.root, path) ?? `${ctx.opts.root}${path}`;
}

export interface StatusRecord {
  /** The fingerprint of the list files the generator read (see loadList()). */
  lists: string | undefined;
  entries: Outcome[];
}

/** The generator's record of its last run, or undefined if it has not run (or the record is unreadable). */
export function readStatus(ctx: Context): StatusRecord | undefined {
  try {
    const record = JSON.parse(
      readFileSync(inRoot(ctx.opts.root, `${GENERATOR_NORMAL_DIR}/${STATUS_FILE_NAME}`), "utf8"),
    ) as { version?: number; lists?: unknown; entries?: Outcome[] };
    if (record.version !== 1 || !Array.isArray(record.entries)) return undefined;
    return { lists: typeof record.lists === "string" ? record.lists : undefined, entries: record.entries };
  } catch {
    return undefined;
  }
}

/** The generator's last outcomes, or undefined if it has not run (or the record is unreadable). */
export function readStatusRecord(ctx: Context): Outcome[] | undefined {
  return readStatus(ctx)?.entries;
}

export interface ComputeOptions {
  /** Attach=no entries, reported as masked. */
  masked?: Entry[];
  /** An entry whose images are read whatever the facts cache says (the one being attached, whose cache is about to be written). */
  fresh?: string;
  /** Filled with the facts read, for a caller that writes them to the cache. */
  facts?: Map<string, EntryFacts>;
}

/**
 * plan() over these entries, as the generator would after the late pass: images are read now, or
 * taken from the facts cache where the generator would take them.
 */
export function computeOutcomes(ctx: Context, entries: Entry[], options: ComputeOptions = {}): Outcome[] {
  const { masked = [], fresh, facts = new Map<string, EntryFacts>() } = options;
  const architecture = hostArchitecture(ctx.env);
  const root = ctx.opts.root;
  const cache = new FactsCache(root);
  const budget = new RunBudget();
  // Read verity.d once for the run, as the generator does, not once per image.
  const trust = verityTrust(root);
  const read = readAllFacts(entries, (entry) => ({
    root,
    architecture,
    latePassDone: true,
    version: VERSION,
    budget,
    trust,
    ...(entry.name !== fresh && { cache }),
  }));
  for (const [name, f] of read) facts.set(name, f);
  return plan({ entries, masked, facts, host: readHostFacts(root, architecture) }).outcomes;
}

/** Units the generator pulled in through .wants/.requires/.upholds links (Enable=yes at work). */
export function pulledInUnits(ctx: Context): Set<string> {
  const units = new Set<string>();
  let dir: string;
  let names: string[];
  try {
    dir = inRoot(ctx.opts.root, GENERATOR_NORMAL_DIR);
    names = readdirSync(dir);
  } catch {
    return units;
  }
  for (const n of names) {
    if (!/\.(wants|requires|upholds)$/.test(n)) continue;
    try {
      for (const u of readdirSync(`${dir}/${n}`)) units.add(u);
    } catch {
      /* not a directory */
    }
  }
  return units;
}

/** Units that can be started by name (a template needs an instance). */
export function startable(units: readonly string[]): string[] {
  return units.filter((u) => !/@\.[a-z]+$/.test(u));
}
