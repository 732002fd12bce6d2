// reload: daemon-reload (the generator re-reads every list), and with --now start the units that
// enabled entries pull in but that are not running: what the path unit runs after a hand edit.
import { activeStates, isRunning } from "../io/systemctl.ts";
import { CliError, type Context } from "./context.ts";
import { pulledInUnits, readStatusRecord } from "./outcomes.ts";
import { nothingToReload, reload, unitJob } from "./system.ts";

export function reloadVerb(ctx: Context): number {
  if (ctx.opts.args.length > 0) throw new CliError("reload: takes no arguments.", 2);
  if (ctx.opts.ifChanged && nothingToReload(ctx)) {
    ctx.note("Lists unchanged since the generator last read them, and nothing deferred: not reloading.");
    return 0;
  }
  const reloaded = reload(ctx);
  if (!reloaded) return 0;
  let ok = true;
  const outcomes = readStatusRecord(ctx) ?? [];
  for (const o of outcomes)
    if (o.state === "failed") ctx.warn(`Entry [${o.name}] (${o.file}:${o.line}) failed: ${o.reason ?? ""}`);
  if (ctx.opts.now) {
    const pulled = pulledInUnits(ctx);
    const wanted = outcomes
      .filter((o) => o.state === "attached")
      .flatMap((o) => (o.enabledUnits ?? []).filter((u) => pulled.has(u)));
    const states = activeStates(wanted, ctx.env);
    ok = unitJob(
      ctx,
      "start",
      wanted.filter((u) => !isRunning(states.get(u))),
      reloaded,
    );
  }
  return ok ? 0 : 1;
}
