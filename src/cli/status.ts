// status [NAME]: the generator's last outcome per entry, as it recorded it: what PID 1 has loaded
// now, which may differ from the list if it was edited without a reload.
//
// --json: the generator's Outcome records: [{name, file, line, state, reason?, image?, extensions?,
//          units, enabled, enabledUnits?, warnings}] (src/plan/types.ts), filtered to NAME if given.
import { CliError, printJson, type Context } from "./context.ts";
import { readStatusRecord, statusFile } from "./outcomes.ts";

export function status(ctx: Context): number {
  const [name, ...rest] = ctx.opts.args;
  if (rest.length > 0) throw new CliError("status: expected at most one NAME.", 2);
  const record = readStatusRecord(ctx);
  if (!record)
    throw new CliError(
      `No generator record at ${statusFile(ctx)}: portable-attach-generator has not run since boot (or the system was not booted with it).`,
    );
  const outcomes = name === undefined ? record : record.filter((o) => o.name === name);
  if (name !== undefined && outcomes.length === 0)
    throw new CliError(`Entry '${name}' was not seen by the generator's last run.`);
  if (ctx.opts.json) {
    printJson(ctx, outcomes);
    return 0;
  }
  const blocks = outcomes.map((o) => {
    const lines = [`[${o.name}] ${o.state}${o.reason ? `: ${o.reason}` : ""}`, `    Source: ${o.file}:${o.line}`];
    if (o.image) lines.push(`     Image: ${o.image}${o.extensions ? ` + ${o.extensions.join(" ")}` : ""}`);
    if (o.units.length > 0) lines.push(`     Units: ${o.units.join(" ")}${o.enabled ? " (Enable=yes)" : ""}`);
    if (o.enabledUnits && o.enabledUnits.length > 0) lines.push(`   Enabled: ${o.enabledUnits.join(" ")}`);
    for (const w of o.warnings) lines.push(`   Warning: ${w}`);
    return lines.join("\n");
  });
  if (blocks.length === 0) ctx.note("No entries.");
  else ctx.out(blocks.join("\n\n"));
  return outcomes.some((o) => o.state === "failed") ? 1 : 0;
}
