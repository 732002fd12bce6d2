// is-attached NAME|IMAGE: prints a state word as portablectl does (detached, attached,
// attached-runtime, enabled, enabled-runtime, running, running-runtime, plus our deferred, failed
// and pending: in a list the generator has not read yet) and exits 0 only if the entry's units
// are attached (or waiting for their image).
import { loadList } from "../io/load-list.ts";
import { activeStates, isRunning } from "../io/systemctl.ts";
import { CliError, type Context } from "./context.ts";
import { findEntry } from "./entries.ts";
import { planHere, readStatusRecord } from "./outcomes.ts";
import { notTalkingReason } from "./system.ts";

export function isAttached(ctx: Context): number {
  const [arg, ...rest] = ctx.opts.args;
  if (arg === undefined || rest.length > 0) throw new CliError("is-attached: expected one NAME or IMAGE argument.", 2);
  const list = loadList(ctx.opts.root);
  const entry = findEntry(list, arg);
  let word = "detached";
  let attachedOrWaiting = false;
  if (entry?.attach) {
    const record = readStatusRecord(ctx);
    const recorded = record?.find((o) => o.name === entry.name && o.file === entry.file);
    // The generator ran but has not seen this entry (added since, or merged over /etc by a confext
    // after it): its units are not loaded, whatever the plan says. Offline, the plan is all there is.
    const o =
      recorded ??
      (record
        ? { state: "pending" as const, units: [], enabled: false }
        : planHere(ctx, { entries: [entry] }).outcomes[0]);
    const suffix = entry.file.startsWith("/run/") ? "-runtime" : "";
    attachedOrWaiting = o?.state === "attached" || o?.state === "deferred";
    if (o?.state === "attached") {
      const states = notTalkingReason(ctx) ? new Map<string, string>() : activeStates(o.units, ctx.env);
      word = (o.units.some((u) => isRunning(states.get(u))) ? "running" : o.enabled ? "enabled" : "attached") + suffix;
    } else if (o) {
      word = o.state;
    }
  }
  if (!ctx.opts.quiet) ctx.out(word);
  return attachedOrWaiting ? 0 : 1;
}
