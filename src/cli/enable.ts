// enable / disable NAME|UNIT…: what `systemctl enable` would do, recorded in the list, since
// systemctl refuses units in a generator directory ("transient or generated"). An entry name sets
// Enable= (disable also clears EnableUnits=: nothing of the entry stays enabled); a unit name, an
// instance of an attached template included, is found in the entry that provides it and recorded in
// its EnableUnits=. Every argument is resolved before anything is written: one unknown unit leaves
// every list as it was. A vendor entry is copied whole into /etc (or /run) with the change, since a
// higher list's section replaces the lower one whole. --now starts (enable) or stops (disable).
import { appendLines, sectionLines, setKeys } from "../config/edit.ts";
import type { Entry } from "../config/attach-list.ts";
import { loadList, type LoadedList } from "../io/load-list.ts";
import { isTemplate, isValidUnitName, templateOf } from "../portable/unit-name.ts";
import type { Outcome } from "../plan/types.ts";
import { CliError, type Context } from "./context.ts";
import { findEntry } from "./entries.ts";
import { editListFile, isEditable, readListText, targetFile } from "./list-file.ts";
import { planHere, pulledInUnits, readStatus, startable } from "./outcomes.ts";
import { reload, unitJob } from "./system.ts";
import type { KeyChange } from "../config/edit.ts";

/** Changes keys of an entry where it lives, or in an override copy if it lives under /usr. */
export function changeEntry(ctx: Context, entry: Entry, changes: KeyChange[]): string {
  if (isEditable(entry.file)) {
    editListFile(ctx, entry.file, (text) => setKeys(text, entry.name, changes));
    return entry.file;
  }
  const file = targetFile(ctx);
  // Damage elsewhere in a vendor file is not ours to fix; a copy of a damaged section would be.
  const vendor = readListText(ctx, entry.file);
  let lines: string[];
  try {
    lines = sectionLines(vendor.text, entry.name, vendor.unreadable) ?? [`[${entry.name}]`];
  } catch (e) {
    throw new CliError(`Refusing to copy [${entry.name}] from ${entry.file}: ${(e as Error).message}`);
  }
  editListFile(ctx, file, (text) =>
    setKeys(appendLines(text, [`# Copied from ${entry.file} by portable-attach.`, ...lines]), entry.name, changes),
  );
  return file;
}

/** What the generator makes of every entry: its record if it read the lists as they are now, else computed. */
function currentOutcomes(ctx: Context, list: LoadedList): Outcome[] {
  const record = readStatus(ctx);
  if (record && record.lists === list.fingerprint) return record.entries;
  return planHere(ctx, list.merged).outcomes;
}

/** The attached entry whose units include `unit`, or its template. */
function provider(outcomes: Outcome[], unit: string): Outcome | undefined {
  const template = templateOf(unit);
  return outcomes.find(
    (o) => o.state === "attached" && (o.units.includes(unit) || (template !== undefined && o.units.includes(template))),
  );
}

interface Change {
  entry: Entry;
  outcome: Outcome | undefined;
  enable: boolean;
  enableUnits: string[];
  /** The units named on the command line, started or stopped with --now. */
  units: string[];
  /** The entry itself was named: --now acts on all its units. */
  wholeEntry: boolean;
}

/** Applies one unit argument to its entry's planned change. */
function changeUnit(ctx: Context, c: Change, unit: string, enable: boolean): void {
  const o = c.outcome;
  const covered = (u: string): boolean =>
    c.enable && (o?.units.includes(u) === true || o?.enabledUnits?.includes(u) === true);
  // A template stands for all its instances, as with systemctl disable.
  const matches = (u: string): boolean => u === unit || (isTemplate(unit) && templateOf(u) === unit);
  if (enable) {
    if (c.enableUnits.includes(unit) || covered(unit))
      ctx.note(`Unit ${unit} is already enabled by entry [${c.entry.name}].`);
    else c.enableUnits.push(unit);
  } else {
    const wasCovered = covered(unit);
    if (wasCovered) {
      // Enable=yes covers every unit: keep the others enabled one by one.
      c.enable = false;
      c.enableUnits.push(...(o?.enabledUnits ?? []).filter((u) => !c.enableUnits.includes(u)));
    }
    const before = c.enableUnits.length;
    c.enableUnits = c.enableUnits.filter((u) => !matches(u));
    if (before === c.enableUnits.length && !wasCovered)
      ctx.note(`Unit ${unit} is not enabled by entry [${c.entry.name}].`);
  }
  c.units.push(unit);
}

export function setEnabled(ctx: Context, enable: boolean): number {
  const verb = enable ? "enable" : "disable";
  if (ctx.opts.args.length === 0) throw new CliError(`${verb}: expected NAME or UNIT arguments.`, 2);
  const list = loadList(ctx.opts.root);
  const all = [...list.merged.entries, ...list.merged.masked];
  let outcomes: Outcome[] | undefined;
  const changes = new Map<string, Change>();
  const planned = (entry: Entry): Change => {
    if (!entry.attach)
      throw new CliError(`Entry [${entry.name}] is masked by Attach=no in ${entry.file}, refusing to ${verb} it.`);
    outcomes ??= currentOutcomes(ctx, list);
    let c = changes.get(entry.name);
    if (!c) {
      c = {
        entry,
        outcome: outcomes.find((o) => o.name === entry.name),
        enable: entry.enable,
        enableUnits: [...entry.enableUnits],
        units: [],
        wholeEntry: false,
      };
      changes.set(entry.name, c);
    }
    return c;
  };
  // Resolve every argument first: nothing is written unless all of them name something.
  for (const arg of ctx.opts.args) {
    const byName = all.find((e) => e.name === arg);
    if (!byName && isValidUnitName(arg)) {
      outcomes ??= currentOutcomes(ctx, list);
      const o = provider(outcomes, arg);
      const entry = o && list.merged.entries.find((e) => e.name === o.name);
      if (!entry) {
        const template = templateOf(arg);
        throw new CliError(
          `No attached entry provides unit ${arg}${template ? ` (nor its template ${template})` : ""}; nothing was changed. 'portable-attach list' shows the entries and their units.`,
        );
      }
      changeUnit(ctx, planned(entry), arg, enable);
      continue;
    }
    const entry = byName ?? findEntry(list, arg);
    if (!entry) throw new CliError(`No entry or unit '${arg}' in any attach list; nothing was changed.`);
    const c = planned(entry);
    c.wholeEntry = true;
    if (c.enable === enable && (enable || c.enableUnits.length === 0))
      ctx.note(`Entry [${entry.name}] is already ${enable ? "enabled" : "disabled"}.`);
    c.enable = enable;
    if (!enable) c.enableUnits = [];
  }

  let ok = true;
  if (!enable && ctx.opts.now) {
    const stop = [...changes.values()].flatMap((c) =>
      c.wholeEntry ? [...(c.outcome?.units ?? []), ...(c.outcome?.enabledUnits ?? [])] : c.units,
    );
    ok = unitJob(ctx, "stop", startable([...new Set(stop)]), true);
  }
  for (const c of changes.values()) {
    const edits: KeyChange[] = [];
    if (c.enable !== c.entry.enable) edits.push(["Enable", c.enable ? "yes" : "no"]);
    if (c.enableUnits.join(" ") !== c.entry.enableUnits.join(" "))
      edits.push(["EnableUnits", c.enableUnits.length > 0 ? c.enableUnits.join(" ") : undefined]);
    if (edits.length === 0) continue;
    const file = changeEntry(ctx, c.entry, edits);
    const what = edits.map(([k, v]) => `${k}=${v ?? ""}`).join(", ");
    ctx.note(
      `${enable ? "Enabled" : "Disabled"} ${c.wholeEntry ? `entry [${c.entry.name}]` : c.units.join(" ")} in ${file} (${what}).`,
    );
  }
  const reloaded = reload(ctx);
  if (enable && ctx.opts.now) {
    const record = readStatus(ctx)?.entries ?? [];
    const pulled = pulledInUnits(ctx);
    const start = [...changes.values()].flatMap((c) => {
      if (!c.wholeEntry) return c.units;
      const o = record.find((r) => r.name === c.entry.name);
      return [...(o?.enabledUnits ?? []), ...(o?.units ?? [])].filter((u) => pulled.has(u));
    });
    ok = unitJob(ctx, "start", startable([...new Set(start)]), reloaded) && ok;
  }
  return ok ? 0 : 1;
}
