// The CLI's side of talking to PID 1: one daemon-reload per run, then start/stop/restart jobs.
// Whatever cannot be done (--root, --no-reload, no systemd) is said, not failed.
import { loadList } from "../io/load-list.ts";
import { failedAfterStart, offlineReason, systemctl } from "../io/systemctl.ts";
import type { Context } from "./context.ts";
import { readStatus } from "./outcomes.ts";

/** Why PID 1 will not be told anything in this run, or undefined. */
export function notTalkingReason(ctx: Context): string | undefined {
  if (ctx.opts.root !== "") return "--root given, the tree is edited offline";
  return offlineReason(ctx.env);
}

/** daemon-reload (re-runs the generator); false if it was not done, with a note saying so. */
export function reload(ctx: Context): boolean {
  if (ctx.opts.noReload) {
    ctx.note("Not reloading (--no-reload): the change takes effect at the next 'systemctl daemon-reload' or boot.");
    return false;
  }
  const why = notTalkingReason(ctx);
  if (why) {
    ctx.note(`Not reloading: ${why}; the change takes effect at the next boot.`);
    return false;
  }
  const r = systemctl(["daemon-reload"], ctx.env);
  if (!r.ok) {
    ctx.warn(`Failed to reload the service manager: ${r.error}`);
    return false;
  }
  return true;
}

/**
 * True when a reload would change nothing: the generator's last run read exactly the lists there
 * are now, and left nothing for later (no deferred entry, none attached from the facts cache).
 * The path unit fires for the CLI's own edits too: this keeps it from reloading a second time
 * (and from starting units an `attach --enable` without --now deliberately left stopped).
 */
export function nothingToReload(ctx: Context): boolean {
  const record = readStatus(ctx);
  if (!record || record.lists === undefined) return false;
  if (record.entries.some((o) => o.state === "deferred" || o.cached)) return false;
  return record.lists === loadList(ctx.opts.root).fingerprint;
}

/**
 * Runs `systemctl VERB units…` if PID 1 has the current list loaded (`reloaded`); returns false on
 * failure. Not being able to talk to PID 1 is a note, not a failure.
 */
export function unitJob(
  ctx: Context,
  verb: "start" | "stop" | "restart",
  units: readonly string[],
  reloaded: boolean,
): boolean {
  if (units.length === 0) return true;
  const what = `${verb === "stop" ? "Not stopping" : verb === "start" ? "Not starting" : "Not restarting"} ${units.join(" ")}`;
  const why = notTalkingReason(ctx);
  if (why) {
    ctx.note(`${what}: ${why}.`);
    return true;
  }
  if (!reloaded && verb !== "stop") {
    ctx.note(`${what}: the service manager was not reloaded.`);
    return true;
  }
  const r = systemctl([verb, ...(ctx.opts.noBlock && verb !== "stop" ? ["--no-block"] : []), "--", ...units], ctx.env);
  if (!r.ok) {
    ctx.warn(`Failed to ${verb} ${units.join(" ")}: ${r.error}`);
    return false;
  }
  const past = verb === "stop" ? "Stopped" : verb === "start" ? "Started" : "Restarted";
  if (ctx.opts.noBlock && verb !== "stop") {
    ctx.note(`Queued ${verb} of ${units.join(" ")}.`);
    return true;
  }
  // The job's success is not the unit's: a service whose sandbox cannot be set up fails just after.
  const failed = verb === "stop" ? [] : failedAfterStart(units, ctx.env);
  const fine = units.filter((u) => !failed.some((f) => f.unit === u));
  if (fine.length > 0) ctx.note(`${past} ${fine.join(" ")}.`);
  for (const f of failed)
    ctx.warn(
      `Failed to ${verb} ${f.unit}: it is ${f.why} right after its ${verb} job. See 'systemctl status ${f.unit}' and 'journalctl -u ${f.unit}'.`,
    );
  return failed.length === 0;
}
