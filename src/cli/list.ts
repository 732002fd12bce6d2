// list: every entry of every list file (shadowed and masked ones too, so a person can see why an
// entry does not count), with its state (the generator's record when it has seen this entry, else
// computed now), its units and, when PID 1 can be asked, their active state.
//
// --json: [{name, file, line, image, extensions, enabled, state, reason?, shadowedBy?, source,
//           units: [{name, active}]}]
//   state: attached | deferred | failed | masked | shadowed; source: "generator" | "computed";
//   active: systemd's ActiveState, or null when PID 1 cannot be asked.
import { loadList } from "../io/load-list.ts";
import { activeStates } from "../io/systemctl.ts";
import type { Outcome } from "../plan/types.ts";
import { printJson, type Context } from "./context.ts";
import { computeOutcomes, readStatusRecord } from "./outcomes.ts";
import { notTalkingReason } from "./system.ts";
import { formatTable } from "./table.ts";

export interface ListRow {
  name: string;
  file: string;
  line: number;
  image: string;
  extensions: string[];
  enabled: boolean;
  state: Outcome["state"] | "shadowed";
  reason?: string;
  shadowedBy?: string;
  source: "generator" | "computed";
  units: { name: string; active: string | null }[];
}

export function listRows(ctx: Context): ListRow[] {
  const list = loadList(ctx.opts.root);
  const record = readStatusRecord(ctx);
  const fromRecord = new Map((record ?? []).map((o) => [o.name, o]));
  const current = [...list.merged.entries, ...list.merged.masked];
  // Entries the generator has not seen as they are now are computed (one plan over all of them, so
  // two entries claiming one unit are judged as the generator judges them).
  const stale = current.filter((e) => {
    const o = fromRecord.get(e.name);
    return !o || o.file !== e.file || o.line !== e.line;
  });
  const computed = new Map(stale.length > 0 ? computeOutcomes(ctx, list.merged.entries, list.merged.masked).map((o) => [o.name, o]) : []);
  const rows: ListRow[] = [];
  for (const e of current) {
    const fresh = !stale.includes(e);
    const o = fresh ? fromRecord.get(e.name) : computed.get(e.name);
    const row: ListRow = { name: e.name, file: e.file, line: e.line, image: e.image, extensions: e.extensions, enabled: e.enable, state: o?.state ?? "failed", source: fresh ? "generator" : "computed", units: (o?.units ?? []).map((u) => ({ name: u, active: null })) };
    if (o?.reason !== undefined) row.reason = o.reason;
    rows.push(row);
  }
  for (const s of list.merged.shadowed) {
    rows.push({ name: s.entry.name, file: s.entry.file, line: s.entry.line, image: s.entry.image, extensions: s.entry.extensions, enabled: s.entry.enable, state: "shadowed", shadowedBy: `${s.by.file}:${s.by.line}`, reason: `Replaced by ${s.by.file}:${s.by.line}`, source: "computed", units: [] });
  }
  if (!notTalkingReason(ctx)) {
    const states = activeStates(rows.flatMap((r) => r.units.map((u) => u.name)), ctx.env);
    for (const r of rows) for (const u of r.units) u.active = states.get(u.name) ?? null;
  }
  return rows;
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
    r.state,
    r.image,
    r.units.map((u) => (u.active ? `${u.name}(${u.active})` : u.name)).join(" ") || "-",
    `${r.file}:${r.line}`,
  ]);
  ctx.out(formatTable(["NAME", "STATE", "IMAGE", "UNITS", "FILE"], table, !ctx.opts.noLegend));
  for (const r of rows) if (r.reason && r.state !== "attached" && !ctx.opts.quiet) ctx.out(`  [${r.name}] ${r.reason}`);
  if (!ctx.opts.noLegend) ctx.out(`\n${rows.length} entries listed.`);
  return 0;
}
