// list: every entry of every list file (shadowed and masked ones too, so a person can see why an
// entry does not count), with what the generator made of it in its last run (what PID 1 has loaded)
// and, where the lists changed since, what the next reload or boot will make of it: nobody is told
// "attached" about units that are not loaded. Units carry whether they are enabled and, when PID 1
// can be asked, their active state.
//
// --json: [{name, file, line, image, extensions, enabled, enableUnits, state, next?, reason?,
//           shadowedBy?, source, units: [{name, enabled, active}]}]
//   state: attached | deferred | failed | masked (the generator's last run), shadowed, or pending
//   (the generator has not seen this entry: added since its last run, or --root); next: what the
//   next reload makes of it, present when that differs from state; source: "generator" when the
//   row is the generator's record, "computed" when planned here; active: systemd's ActiveState,
//   or null when PID 1 cannot be asked or the unit is not loaded yet.
import { loadList } from "../io/load-list.ts";
import { isTemplate } from "../portable/unit-name.ts";
import { activeStates } from "../io/systemctl.ts";
import type { Outcome } from "../plan/types.ts";
import { printJson, type Context } from "./context.ts";
import { planHere, readStatus, startable } from "./outcomes.ts";
import { notTalkingReason } from "./system.ts";
import { formatTable } from "./table.ts";

export interface ListRow {
  name: string;
  file: string;
  line: number;
  image: string;
  extensions: string[];
  enabled: boolean;
  enableUnits: string[];
  state: Outcome["state"] | "shadowed" | "pending";
  next?: Outcome["state"];
  reason?: string;
  shadowedBy?: string;
  source: "generator" | "computed";
  units: { name: string; enabled: boolean; active: string | null }[];
}

/** The same as far as anyone can see: state, file, units and what is enabled. */
function sameOutcome(a: Outcome, b: Outcome): boolean {
  const key = (o: Outcome) =>
    JSON.stringify([o.state, o.file, o.line, o.image, o.extensions, o.units, o.enabledUnits ?? [], o.reason]);
  return key(a) === key(b);
}

function unitsOf(o: Outcome | undefined): ListRow["units"] {
  const enabled = new Set(o?.enabledUnits ?? []);
  const names = [...new Set([...(o?.units ?? []), ...enabled])].sort();
  return names.map((name) => ({
    name,
    enabled: enabled.has(name) || (o?.enabled === true && !isTemplate(name)),
    active: null,
  }));
}

export function listRows(ctx: Context): ListRow[] {
  const list = loadList(ctx.opts.root);
  const record = readStatus(ctx);
  const fromRecord = new Map((record?.entries ?? []).map((o) => [o.name, o]));
  const current = [...list.merged.entries, ...list.merged.masked];
  // The generator read other lists than there are now (an edit, a confext merged over /etc since,
  // --root): plan them here, once over all entries, as the generator would.
  const changed = !record || record.lists !== list.fingerprint;
  const computed = new Map(changed ? planHere(ctx, list.merged).outcomes.map((o) => [o.name, o]) : []);
  const rows: ListRow[] = [];
  const loaded = new Set<string>();
  for (const e of current) {
    const r = fromRecord.get(e.name);
    const c = computed.get(e.name);
    const fresh = r !== undefined && (c === undefined || sameOutcome(r, c));
    const o = fresh ? r : c;
    const row: ListRow = {
      name: e.name,
      file: e.file,
      line: e.line,
      image: e.image,
      extensions: e.extensions,
      enabled: e.enable,
      enableUnits: e.enableUnits,
      state: r?.state ?? "pending",
      source: fresh ? "generator" : "computed",
      units: unitsOf(o),
    };
    if (!fresh) row.next = c?.state ?? "failed";
    if (o?.reason !== undefined) row.reason = o.reason;
    if (r?.state === "attached") for (const u of [...r.units, ...(r.enabledUnits ?? [])]) loaded.add(u);
    rows.push(row);
  }
  for (const s of list.merged.shadowed) {
    rows.push({
      name: s.entry.name,
      file: s.entry.file,
      line: s.entry.line,
      image: s.entry.image,
      extensions: s.entry.extensions,
      enabled: s.entry.enable,
      enableUnits: s.entry.enableUnits,
      state: "shadowed",
      shadowedBy: `${s.by.file}:${s.by.line}`,
      reason: `Replaced by ${s.by.file}:${s.by.line}`,
      source: "computed",
      units: [],
    });
  }
  if (!notTalkingReason(ctx)) {
    // A template has no state, and naming one makes systemctl is-active fail for all the others.
    const states = activeStates(startable([...loaded]), ctx.env);
    for (const r of rows) for (const u of r.units) u.active = states.get(u.name) ?? null;
  }
  return rows;
}

/** The STATE cell: what PID 1 has, and what the next reload changes it to. */
function stateCell(r: ListRow): string {
  if (r.next === undefined) return r.state;
  return r.state === "pending" ? "pending" : `${r.state} (changed)`;
}

/** Why a row is not simply attached, in a line under the table. */
function hint(r: ListRow): string | undefined {
  const why = r.reason ? `: ${r.reason}` : "";
  if (r.state === "pending")
    return `[${r.name}] not loaded yet; the next reload or boot makes it ${r.next}${r.next === "attached" ? "" : why}`;
  if (r.next !== undefined)
    return `[${r.name}] changed since the generator's last run; the next reload or boot ${r.next === r.state ? "applies the change" : `makes it ${r.next}`}${r.next === "attached" ? "" : why}`;
  if (r.reason && r.state !== "attached") return `[${r.name}] ${r.reason}`;
  return undefined;
}

export function list(ctx: Context): number {
  const rows = listRows(ctx);
  if (ctx.opts.json) {
    printJson(ctx, rows);
    return 0;
  }
  if (rows.length === 0) {
    if (!ctx.opts.noLegend) ctx.note("No entries.");
    return 0;
  }
  const table = rows.map((r) => [
    r.name,
    stateCell(r),
    r.image,
    r.units
      .map((u) => {
        const notes = [...(u.enabled ? ["enabled"] : []), ...(u.active ? [u.active] : [])];
        return notes.length > 0 ? `${u.name}(${notes.join(",")})` : u.name;
      })
      .join(" ") || "-",
    `${r.file}:${r.line}`,
  ]);
  ctx.out(formatTable(["NAME", "STATE", "IMAGE", "UNITS", "FILE"], table, !ctx.opts.noLegend));
  // --no-legend is rows only, one per line, for scripts: no hint lines, no footer.
  if (!ctx.opts.noLegend) {
    for (const r of rows) {
      const h = hint(r);
      if (h !== undefined && !ctx.opts.quiet) ctx.out(`  ${h}`);
    }
    if (rows.some((r) => r.next !== undefined) && ctx.opts.root === "" && !ctx.opts.quiet)
      ctx.out("\nThe lists changed since the generator last ran: 'portable-attach reload' applies them.");
    ctx.out(`\n${rows.length} entries listed.`);
  }
  return 0;
}
