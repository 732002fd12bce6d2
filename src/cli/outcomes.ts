// What an entry amounts to: the generator's record of its last run (what PID 1 has loaded), or the
// same plan() computed here (before writing an entry, and offline where no generator ran).
import { readFileSync, readdirSync } from "node:fs";
import type { Entry } from "../config/attach-list.ts";
import { GENERATOR_NORMAL_DIR, STATUS_FILE_NAME } from "../config/paths.ts";
import { hostArchitecture } from "../portable/architecture.ts";
import { isTemplate } from "../portable/unit-name.ts";
import type { Outcome } from "../plan/types.ts";
import { type PipelineOptions, type PipelineResult, runPipeline } from "../io/pipeline.ts";
import { inRoot, inRootOrUndefined, shownInRoot } from "../io/root-path.ts";
import type { Context } from "./context.ts";

export function statusFile(ctx: Context): string {
  const path = `${GENERATOR_NORMAL_DIR}/${STATUS_FILE_NAME}`;
  return inRootOrUndefined(ctx.opts.root, path) ?? shownInRoot(ctx.opts.root, path);
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

/**
 * The pipeline over these entries, as the generator runs it after the late pass: images are read
 * now, or taken from the facts cache where the generator would take them.
 */
export function planHere(
  ctx: Context,
  list: { entries: Entry[]; masked?: Entry[] },
  options: Pick<PipelineOptions, "fresh" | "systemd"> = {},
): PipelineResult {
  const { entries, masked = [] } = list;
  return runPipeline(
    ctx.opts.root,
    { entries, masked },
    { architecture: hostArchitecture(ctx.env), latePassDone: true, ...options },
  );
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
  return units.filter((u) => !isTemplate(u));
}
