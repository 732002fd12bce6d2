// attach IMAGE [PREFIX…]: adds or replaces an entry, after checking that its units would really be
// attached (so a typo is refused now, with the reason, not found at the next boot), then reloads
// and with --now starts the entry's units.
import { parseAttachList, type Entry } from "../config/attach-list.ts";
import { setKeys, type KeyChange } from "../config/edit.ts";
import { encodeIniValue } from "../config/ini.ts";
import { loadList } from "../io/load-list.ts";
import { imageBaseName } from "../portable/unit-name.ts";
import type { EntryFacts, Outcome } from "../plan/types.ts";
import { imagesSeen, writeEntryCache } from "./cache.ts";
import { CliError, type Context } from "./context.ts";
import { imageArgument } from "./image-arg.ts";
import { editListFile, isEditable, targetFile } from "./list-file.ts";
import { planHere, readStatusRecord, startable } from "./outcomes.ts";
import { reload, unitJob } from "./system.ts";

/** The keys an entry is made of, in the order a new section lists them; undefined removes a key. */
export function entryKeys(e: {
  image: string;
  extensions: string[];
  prefixes: string[] | undefined;
  profile: string | undefined;
  enable: boolean;
  force: boolean;
}): KeyChange[] {
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
  const text =
    [
      `[${name}]`,
      ...keys.filter(([, v]) => v !== undefined).map(([k, v]) => `${k}=${encodeIniValue(v as string)}`),
    ].join("\n") + "\n";
  const { entries } = parseAttachList(text, file);
  return entries[0] as Entry;
}

/**
 * Refuses an entry whose units would not be attached; returns the units it would attach and the
 * facts read of its images (for its cache). Planned together with the rest of the list, so a unit
 * another entry already provides is caught too.
 */
export function precheck(ctx: Context, entry: Entry, verb: string): { units: string[]; facts: EntryFacts | undefined } {
  if (entry.errors.length > 0)
    throw new CliError(`Failed to ${verb} '${entry.image}': ${entry.errors.map((e) => e.message).join("; ")}`);
  const list = loadList(ctx.opts.root).merged;
  const others = list.entries.filter((e) => e.name !== entry.name);
  const entries = [...others, entry].sort((a, b) => (a.name < b.name ? -1 : 1));
  const masked = list.masked.filter((e) => e.name !== entry.name);
  const { outcomes, facts } = planHere(ctx, { entries, masked }, { fresh: entry.name });
  const outcome = outcomes.find((o) => o.name === entry.name);
  if (outcome?.state !== "attached")
    throw new CliError(`Failed to ${verb} '${entry.image}': ${outcome?.reason ?? "no outcome"}`);
  const clashesWith = (o: Outcome): boolean =>
    o.conflicts?.some((c) => c.with !== "host" && c.with.entry === entry.name) === true;
  const victim = outcomes.find(clashesWith);
  if (victim)
    throw new CliError(
      `Failed to ${verb} '${entry.image}': entry [${victim.name}] (${victim.file}:${victim.line}) already provides ${outcome.units.join(" ")}, refusing to provide it twice`,
    );
  const onHost = (outcome.conflicts ?? []).filter((c) => c.with === "host").map((c) => `'${c.unit}'`);
  if (onHost.length > 0) {
    throw new CliError(
      `Failed to ${verb} '${entry.image}': unit file ${onHost.join(", ")} exists on the host already, refusing (use --force to attach it anyway).`,
    );
  }
  for (const w of outcome.warnings) ctx.warn(`Warning: ${w}`);
  return { units: outcome.units, facts: facts.get(entry.name) };
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
    if (opts.runtime && !existing.file.startsWith("/run/"))
      throw new CliError(
        `Entry [${name}] is defined in ${existing.file}, which takes precedence over ${file}; refusing.`,
      );
    file = existing.file;
  }
  // Replacing an entry replaces what attach is about (image, extensions, prefixes); its Enable=,
  // Profile= and Force= stay unless given: attach never silently disables an entry or drops it to
  // a weaker security profile.
  const kept = existing?.attach ? existing : undefined;
  const keys = entryKeys({
    image,
    extensions: opts.extensions.map((e) => imageArgument(ctx, e)),
    prefixes: prefixes.length > 0 ? prefixes : undefined,
    profile: opts.profile ?? (kept && kept.profile !== "default" ? kept.profile : undefined),
    enable: opts.enable || (kept?.enable ?? false),
    force: opts.force || (kept?.force ?? false),
  }).filter(
    ([key]) =>
      !kept ||
      (key === "Profile" && opts.profile !== undefined) ||
      (key === "Enable" && opts.enable) ||
      (key === "Force" && opts.force) ||
      !["Profile", "Enable", "Force"].includes(key),
  );
  const entry = entryFromKeys(
    name,
    file,
    entryKeys({
      image,
      extensions: opts.extensions.map((e) => imageArgument(ctx, e)),
      prefixes: prefixes.length > 0 ? prefixes : undefined,
      profile: opts.profile ?? kept?.profile,
      enable: opts.enable || (kept?.enable ?? false),
      force: opts.force || (kept?.force ?? false),
    }),
  );
  // Checked under the list's lock, so two concurrent attaches cannot both claim one unit.
  let units: string[] = [];
  editListFile(ctx, file, (text) => {
    const seen = imagesSeen(ctx, entry);
    const checked = precheck(ctx, entry, "attach");
    units = checked.units;
    writeEntryCache(ctx, entry, file, checked.facts, seen);
    return setKeys(text, name, keys);
  });
  ctx.note(
    `${existing ? "Replaced" : "Added"} entry [${name}] in ${file}: ${units.join(" ")}${entry.enable ? " (enabled)" : ""}.`,
  );

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
