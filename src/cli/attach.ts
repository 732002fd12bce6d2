// attach IMAGE [PREFIX…]: adds or replaces an entry, after checking that its units would really be
// attached (so a typo is refused now, with the reason, not found at the next boot), then reloads
// and with --now starts the entry's units.
import { parseAttachList, type Entry } from "../config/attach-list.ts";
import { setKeys, type KeyChange } from "../config/edit.ts";
import { encodeIniValue } from "../config/ini.ts";
import { loadList } from "../io/load-list.ts";
import { imageBaseName } from "../portable/unit-name.ts";
import { CliError, type Context } from "./context.ts";
import { imageArgument } from "./image-arg.ts";
import { editListFile, isEditable, targetFile } from "./list-file.ts";
import { computeOutcomes, readStatusRecord, startable } from "./outcomes.ts";
import { reload, unitJob } from "./system.ts";

/** The keys an entry is made of, in the order a new section lists them; undefined removes a key. */
export function entryKeys(e: { image: string; extensions: string[]; prefixes: string[] | undefined; profile: string | undefined; enable: boolean; force: boolean }): KeyChange[] {
  return [
    ["Image", e.image],
    ["Extensions", e.extensions.length > 0 ? e.extensions.join(" ") : undefined],
    ["Prefixes", e.prefixes && e.prefixes.length > 0 ? e.prefixes.join(" ") : undefined],
    ["Profile", e.profile],
    ["Enable", e.enable ? "yes" : undefined],
    ["Force", e.force ? "yes" : undefined],
    ["Attach", undefined],
  ];
}

/** The Entry the list will hold after the edit, parsed from the lines we would write. */
export function entryFromKeys(name: string, file: string, keys: KeyChange[]): Entry {
  const text = [`[${name}]`, ...keys.filter(([, v]) => v !== undefined).map(([k, v]) => `${k}=${encodeIniValue(v as string)}`)].join("\n") + "\n";
  const { entries } = parseAttachList(text, file);
  return entries[0] as Entry;
}

/** Refuses an entry whose units would not be attached; returns the units it would attach. */
export function precheck(ctx: Context, entry: Entry, verb: string): string[] {
  if (entry.errors.length > 0) throw new CliError(`Failed to ${verb} '${entry.image}': ${entry.errors.map((e) => e.message).join("; ")}`);
  const [outcome] = computeOutcomes(ctx, [entry]);
  if (!outcome || outcome.state !== "attached") throw new CliError(`Failed to ${verb} '${entry.image}': ${outcome?.reason ?? "no outcome"}`);
  const conflicts = outcome.warnings.filter((w) => w.includes("exists on the host already"));
  if (conflicts.length > 0) {
    const units = conflicts.map((w) => /'([^']+)'/.exec(w)?.[1]).join(", ");
    throw new CliError(`Failed to ${verb} '${entry.image}': unit file ${units} exists on the host already, refusing (use --force to attach it anyway).`);
  }
  for (const w of outcome.warnings) ctx.warn(`Warning: ${w}`);
  return outcome.units;
}

export function attach(ctx: Context): number {
  const { opts } = ctx;
  const [imageArg, ...prefixes] = opts.args;
  if (imageArg === undefined) throw new CliError("attach: expected an IMAGE argument.", 2);
  const image = imageArgument(ctx, imageArg);
  const name = opts.name ?? imageBaseName(image);
  if (name === "") throw new CliError(`Failed to derive an attachment name from '${imageArg}'; use --name=.`, 2);

  const list = loadList(opts.root);
  const existing = [...list.merged.entries, ...list.merged.masked].find((e) => e.name === name);
  let file = targetFile(ctx);
  if (existing && isEditable(existing.file)) {
    if (opts.runtime && !existing.file.startsWith("/run/")) throw new CliError(`Entry [${name}] is defined in ${existing.file}, which takes precedence over ${file}; refusing.`);
    file = existing.file;
  }
  const keys = entryKeys({
    image,
    extensions: opts.extensions.map((e) => imageArgument(ctx, e)),
    prefixes: prefixes.length > 0 ? prefixes : undefined,
    profile: opts.profile,
    enable: opts.enable,
    force: opts.force,
  });
  const entry = entryFromKeys(name, file, keys);
  const units = precheck(ctx, entry, "attach");

  editListFile(ctx, file, (text) => setKeys(text, name, keys));
  ctx.note(`${existing ? "Replaced" : "Added"} entry [${name}] in ${file}: ${units.join(" ")}${opts.enable ? " (enabled)" : ""}.`);

  const reloaded = reload(ctx);
  let ok = true;
  let loaded = units;
  if (reloaded) {
    const outcome = readStatusRecord(ctx)?.find((o) => o.name === name);
    if (outcome && outcome.state !== "attached") {
      ctx.warn(`Entry [${name}] is ${outcome.state} after reload: ${outcome.reason ?? ""}`);
      ok = false;
    }
    if (outcome) loaded = outcome.units;
  }
  if (opts.now) ok = unitJob(ctx, "start", startable(loaded), reloaded) && ok;
  return ok ? 0 : 1;
}
