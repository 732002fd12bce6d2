// reattach NAME|IMAGE [NEW-IMAGE]: the upgrade path. Swaps the entry's image (the one given, or the
// newest version of the current one beside it), after the same checks as attach; reloads; then
// restarts the units that were running and still exist (a restart, so a service is down for one
// restart, not for a stop, a reload and a start), stops those that vanished, and with --now
// starts the new ones.
import { readdirSync } from "node:fs";
import { dirname } from "node:path";
import { loadList } from "../io/load-list.ts";
import { inRoot } from "../io/root-path.ts";
import { imageBaseName, lastComponent } from "../portable/unit-name.ts";
import { compareVersions } from "../common/version-order.ts";
import { parseVersionedName } from "../portable/version.ts";
import { activeStates, isRunning } from "../io/systemctl.ts";
import { entryFromKeys, entryKeys, precheck } from "./attach.ts";
import { imagesSeen, writeEntryCache } from "./cache.ts";
import { CliError, type Context } from "./context.ts";
import { changeEntry } from "./enable.ts";
import { requireEntry } from "./entries.ts";
import { imageArgument } from "./image-arg.ts";
import { readStatusRecord, startable } from "./outcomes.ts";
import { notTalkingReason, reload, unitJob } from "./system.ts";

/** The newest NAME_VERSION(.raw) next to an image path; the path itself if none is newer. */
export function newestBeside(root: string, image: string): string {
  if (!image.startsWith("/")) return image; // a bare name: the generator picks the newest itself
  const name = imageBaseName(image);
  const raw = image.endsWith(".raw");
  const current = parseVersionedName(lastComponent(image).name, name, raw ? ".raw" : "");
  if (current === undefined) return image;
  let best = { file: lastComponent(image).name, version: current };
  let names: string[];
  try {
    names = readdirSync(inRoot(root, dirname(image)));
  } catch {
    return image;
  }
  for (const file of names) {
    const v = parseVersionedName(file, name, raw ? ".raw" : "");
    if (v !== undefined && compareVersions(v, best.version) > 0) best = { file, version: v };
  }
  return `${dirname(image)}/${best.file}`;
}

export function reattach(ctx: Context): number {
  const [arg, newImage, ...rest] = ctx.opts.args;
  if (arg === undefined || rest.length > 0) throw new CliError("reattach: expected NAME|IMAGE [NEW-IMAGE].", 2);
  const list = loadList(ctx.opts.root);
  const entry = requireEntry(list, arg);
  if (!entry.attach)
    throw new CliError(`Entry [${entry.name}] is masked by Attach=no in ${entry.file}, refusing to reattach it.`);

  const image = newImage !== undefined ? imageArgument(ctx, newImage) : newestBeside(ctx.opts.root, entry.image);
  const extensions =
    ctx.opts.extensions.length > 0
      ? ctx.opts.extensions.map((e) => imageArgument(ctx, e))
      : entry.extensions.map((e) => newestBeside(ctx.opts.root, e));
  const keys = entryKeys({
    ...entry,
    image,
    extensions,
    profile: entry.profile === "default" ? undefined : entry.profile,
  }).filter(([k]) => k === "Image" || k === "Extensions");
  const next = entryFromKeys(
    entry.name,
    entry.file,
    entryKeys({ ...entry, image, extensions, profile: entry.profile }),
  );
  const seen = imagesSeen(ctx, next);
  const { units: newUnits, facts } = precheck(ctx, next, "reattach");

  // What runs now, asked before the swap while PID 1 still has the old units loaded.
  const before = readStatusRecord(ctx)?.find((o) => o.name === entry.name)?.units ?? [];
  const states = notTalkingReason(ctx) ? new Map<string, string>() : activeStates(before, ctx.env);
  const running = before.filter((u) => isRunning(states.get(u)));

  let file = entry.file;
  if (image === entry.image && extensions.join(" ") === entry.extensions.join(" ")) {
    ctx.note(
      `Entry [${entry.name}] already uses '${image}'${entry.image.startsWith("/") ? "" : " (a bare name: the newest version is picked at every reload)"}.`,
    );
  } else {
    file = changeEntry(ctx, entry, keys);
    ctx.note(`Entry [${entry.name}] in ${file}: '${entry.image}' → '${image}'.`);
  }
  // Also when the image path stayed: an image replaced in place is what reattach is run for.
  writeEntryCache(ctx, next, file, facts, seen);
  const reloaded = reload(ctx);
  const after = (reloaded ? readStatusRecord(ctx)?.find((o) => o.name === entry.name)?.units : undefined) ?? newUnits;
  let ok = unitJob(
    ctx,
    "stop",
    running.filter((u) => !after.includes(u)),
    true,
  );
  ok =
    unitJob(
      ctx,
      "restart",
      running.filter((u) => after.includes(u)),
      reloaded,
    ) && ok;
  if (ctx.opts.now) ok = unitJob(ctx, "start", startable(after.filter((u) => !before.includes(u))), reloaded) && ok;
  return ok ? 0 : 1;
}
