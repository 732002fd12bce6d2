// The heart: from the attach list, what the images hold and what the host has, decide every file
// the generator writes and each entry's outcome. Pure and deterministic: the same input gives the
// same files in the same order, byte for byte. Checks follow portablectl's order; where portablectl would refuse the whole attach, we refuse the entry and go on.
import type { Entry } from "../config/attach-list.ts";
import type { UnitFile } from "../portable/discover.ts";
import { checkExtensionCompatible, parseEnvFile } from "../portable/release.ts";
import { MAX_ENTRY_OUTPUT_BYTES, MAX_RUN_OUTPUT_BYTES } from "../image/limits.ts";
import { matchesPrefixes, templateOf, unitType } from "../portable/unit-name.ts";
import { checkPath, quoteWord } from "../unit/escape.ts";
import { installSymlinks, parseInstallSection, type InstallLink } from "../unit/install.ts";
import { matchesFor, Refusal } from "../portable/matches.ts";
import { renderPortableDropIn } from "./render.ts";
import type {
  Conflict,
  EntryFacts,
  HostFacts,
  ImageFacts,
  Outcome,
  OutputFile,
  ParsedImage,
  Plan,
  PlanInput,
} from "./types.ts";

function refuse(message: string): never {
  throw new Refusal(message);
}

const decoder = new TextDecoder();

function checkImagePath(image: ImageFacts, role: string): void {
  const why = checkPath(image.path);
  if (why) refuse(`Cannot write ${role} path '${image.path}' into a unit file: ${why}`);
  // ExtensionImages= and the marker use ':' as a separator.
  if (role !== "image" && image.path.includes(":"))
    refuse(`Cannot write ${role} path '${image.path}' into a unit file: it contains ':'`);
}

interface Chosen {
  unit: UnitFile;
  from: ParsedImage;
}

/** The image's release file read as the host's systemd reads it. */
function parsed(image: ImageFacts, host: HostFacts): ParsedImage {
  const text = image.releaseText;
  return { ...image, release: text === undefined ? undefined : parseEnvFile(text, host.portable) };
}

/** Validates an entry's images and picks its units; throws Refusal with portablectl-like messages. */
function chooseUnits(entry: Entry, root: ParsedImage, extensions: ParsedImage[], host: HostFacts): Chosen[] {
  const matches = matchesFor(entry);
  checkImagePath(root, "image");
  for (const ext of extensions) checkImagePath(ext, "extension");
  if (!root.release) refuse(`Image '${root.path}' lacks os-release data`);
  if (!root.release.ID) refuse(`Image '${root.path}' os-release metadata lacks the ID field`);
  for (const ext of extensions) {
    if (!ext.release) refuse(`Image '${ext.path}' lacks extension-release data`);
    const why = checkExtensionCompatible(root.release, ext.release, host.architecture);
    if (why) refuse(`Image '${ext.path}' extension-release metadata does not match the root's: ${why}`);
  }
  const declared = [root, ...extensions].filter((i) => i.release?.PORTABLE_PREFIXES !== undefined);
  if (declared.length > 0) {
    const allowed = new Set(
      declared.flatMap((i) => (i.release?.PORTABLE_PREFIXES ?? "").split(/\s+/).filter((w) => w !== "")),
    );
    const bad = matches.filter((m) => !allowed.has(m));
    if (bad.length > 0) {
      refuse(
        `Selected matches ${bad.map((m) => `'${m}'`).join(", ")} are not compatible with portable service image '${root.path}', acceptable prefix matches are: ${[...allowed].sort().join(" ")}`,
      );
    }
  }
  const chosen = new Map<string, Chosen>();
  for (const image of [root, ...extensions]) {
    for (const unit of image.units) {
      if (!chosen.has(unit.name) && matchesPrefixes(unit.name, matches)) chosen.set(unit.name, { unit, from: image });
    }
  }
  if (chosen.size === 0) {
    const exts =
      extensions.length > 0 ? ` or any of its extensions ${extensions.map((e) => `'${e.path}'`).join(", ")}` : "";
    refuse(`Couldn't find any matching unit files in image '${root.path}'${exts}`);
  }
  return [...chosen.values()].sort((a, b) => (a.unit.name < b.unit.name ? -1 : 1));
}

/**
 * Why the host's unit stands in the way of `name`, or undefined: the host has a unit of that name,
 * or, for an instance, its template (portablectl refuses getty@tty1.service where the host has
 * getty@.service: "exists on the host already").
 */
function hostConflict(host: HostFacts, name: string): string | undefined {
  if (host.unitNames.has(name)) return `'${name}' exists on the host already`;
  const template = templateOf(name);
  if (template !== undefined && host.unitNames.has(template))
    return `'${name}' is an instance of '${template}', which exists on the host already`;
  return undefined;
}

/** Names an image never provides, as a unit file or a link, whatever Force= says: it must not choose the boot target. */
const HOSTS_ONLY = new Set(["default.target"]);

/** Warnings kept per entry: a hostile image can make thousands, a log and a status file need a few. */
const MAX_ENTRY_WARNINGS = 100;

function capWarnings(warnings: string[]): string[] {
  if (warnings.length <= MAX_ENTRY_WARNINGS) return warnings;
  return [...warnings.slice(0, MAX_ENTRY_WARNINGS), `${warnings.length - MAX_ENTRY_WARNINGS} more warnings not shown`];
}

function outputBytes(files: readonly OutputFile[]): number {
  let n = 0;
  for (const f of files) n += f.path.length + (f.kind === "file" ? f.content.length : f.target.length);
  return n;
}

const MIB = 1024 * 1024;

interface EntryPlan {
  outcome: Outcome;
  files: OutputFile[];
  /** Mounts the late pass must wait for. */
  deferred: readonly string[];
}

export function plan(input: PlanInput): Plan {
  const files: OutputFile[] = [];
  const outcomes: Outcome[] = [];
  const owners = new Map<string, string>();
  const deferredPaths: string[] = [];
  let written = 0;

  for (const entry of input.entries) {
    const base: Outcome = {
      name: entry.name,
      file: entry.file,
      line: entry.line,
      state: "failed",
      image: entry.image,
      units: [],
      enabled: entry.enable,
      warnings: [],
    };
    if (entry.extensions.length > 0) base.extensions = entry.extensions;
    let planned: EntryPlan;
    try {
      planned = planEntry(entry, base, input, owners);
    } catch (e) {
      // A bug costs this entry, not the run (plan() is pure: nothing of the entry was kept).
      planned = {
        outcome: { ...base, reason: `Internal error: ${(e as Error)?.stack ?? String(e)}` },
        files: [],
        deferred: [],
      };
    }
    const { outcome } = planned;
    outcome.warnings = capWarnings(outcome.warnings);
    if (outcome.state === "attached") {
      const bytes = outputBytes(planned.files);
      const why =
        bytes > MAX_ENTRY_OUTPUT_BYTES
          ? `it would write ${bytes} bytes, more than the ${MAX_ENTRY_OUTPUT_BYTES / MIB} MiB one entry may write`
          : written + bytes > MAX_RUN_OUTPUT_BYTES
            ? `it would write ${bytes} bytes, past the ${MAX_RUN_OUTPUT_BYTES / MIB} MiB all entries together may write`
            : undefined;
      if (why) {
        outcomes.push({ ...base, warnings: outcome.warnings, reason: `Entry is over budget: ${why}` });
        continue;
      }
      written += bytes;
      for (const u of outcome.units) owners.set(u, entry.name);
      for (const f of planned.files) files.push({ ...f, entry: entry.name });
    }
    for (const p of planned.deferred) deferredPaths.push(p);
    outcomes.push(outcome);
  }

  for (const entry of input.masked) {
    outcomes.push({
      name: entry.name,
      file: entry.file,
      line: entry.line,
      state: "masked",
      reason: `Masked by Attach=no in ${entry.file}:${entry.line}`,
      units: [],
      enabled: false,
      warnings: [],
    });
  }

  if (deferredPaths.length > 0 || input.host.confextEnabled)
    for (const f of planLatePass(input.host, deferredPaths)) files.push(f);

  outcomes.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return { files: dedupeSymlinks(files).sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0)), outcomes };
}

/** One entry's files and outcome; `owners` (units of the entries before) is read, not changed. */
function planEntry(entry: Entry, base: Outcome, input: PlanInput, owners: ReadonlyMap<string, string>): EntryPlan {
  const facts: EntryFacts | undefined = input.facts.get(entry.name);
  const conflicts: Conflict[] = [];
  const failed = (reason: string, warnings: string[] = []): EntryPlan => ({
    outcome: { ...base, reason, warnings, ...(conflicts.length > 0 && { conflicts }) },
    files: [],
    deferred: [],
  });
  if (entry.errors.length > 0) {
    // Said with its line, since the section header is where the outcome points.
    return failed(
      entry.errors
        .map((e) => (e.line !== undefined && e.line !== entry.line ? `line ${e.line}: ${e.message}` : e.message))
        .join("; "),
    );
  }
  if (!facts || facts.kind === "failed") return failed(facts?.reason ?? "No image facts were collected");
  if (facts.kind === "unreachable")
    return { outcome: { ...base, state: "deferred", reason: facts.reason }, files: [], deferred: facts.paths };
  const root = parsed(facts.root, input.host);
  const extensions = facts.extensions.map((e) => parsed(e, input.host));
  const warnings = [...root.warnings, ...extensions.flatMap((e) => e.warnings)];
  let chosen: Chosen[];
  try {
    chosen = chooseUnits(entry, root, extensions, input.host);
  } catch (e) {
    if (!(e instanceof Refusal)) throw e;
    return failed(e.message, warnings);
  }
  const clash = chosen.find((c) => owners.has(c.unit.name));
  if (clash) {
    const owner = owners.get(clash.unit.name) as string;
    conflicts.push({ unit: clash.unit.name, with: { entry: owner } });
    return failed(
      `Unit '${clash.unit.name}' is already provided by entry [${owner}], refusing to provide it twice`,
      warnings,
    );
  }
  const attached: Chosen[] = [];
  for (const c of chosen) {
    if (HOSTS_ONLY.has(c.unit.name)) {
      warnings.push(`Unit file '${c.unit.name}' is the host's to choose, skipping it (Force=yes does not change this)`);
      continue;
    }
    const conflict = hostConflict(input.host, c.unit.name);
    if (conflict && !entry.force) {
      conflicts.push({ unit: c.unit.name, with: "host" });
      warnings.push(`Unit file ${conflict}, skipping it (set Force=yes to attach it anyway)`);
      continue;
    }
    attached.push(c);
  }
  if (attached.length === 0) return failed("Every matching unit exists on the host already", warnings);
  const entryFiles: OutputFile[] = [];
  const names = new Set(attached.map((c) => c.unit.name));
  for (const { unit, from } of attached) {
    entryFiles.push({ path: unit.name, kind: "file", content: unit.content });
    const profile = input.host.profileFile(entry.profile, unitType(unit.name) ?? "");
    if (profile) entryFiles.push({ path: `${unit.name}.d/10-profile.conf`, kind: "symlink", target: profile });
    const dropIn = renderPortableDropIn({
      unitName: unit.name,
      sourcePath: entry.file,
      root,
      extensions,
      from,
      hostOsRelease: input.host.osReleasePath,
      behaviour: input.host.portable,
      relaxExtensionCheck: entry.force,
    });
    entryFiles.push({ path: `${unit.name}.d/20-portable.conf`, kind: "file", content: dropIn });
  }
  const enabledUnits = new Set<string>();
  for (const link of enableLinks(entry, attached, warnings)) {
    if (names.has(link.link) || owners.has(link.link)) {
      // systemctl enable would refuse too: a link never replaces a unit file.
      warnings.push(`${link.unit}: not linking '${link.link}', a unit file of that name is attached already`);
      continue;
    }
    // The unit a link names (an Alias=, a DefaultInstance= instance): never one the host has,
    // even with Force=yes, which lets an image's own unit files replace the host's, not links.
    const named = link.link.slice(link.link.lastIndexOf("/") + 1);
    const hostHas =
      named === link.unit || named === templateOf(link.unit)
        ? undefined
        : HOSTS_ONLY.has(named)
          ? `'${named}' is the host's to choose`
          : hostConflict(input.host, named);
    if (hostHas) {
      warnings.push(`${link.unit}: not linking '${link.link}': ${hostHas} (Force=yes does not change this)`);
      continue;
    }
    entryFiles.push({ path: link.link, kind: "symlink", target: link.target });
    if (/\.(wants|requires|upholds)\//.test(link.link)) enabledUnits.add(named);
  }
  if (
    entry.profile !== "default" &&
    !attached.some((c) => input.host.profileFile(entry.profile, unitType(c.unit.name) ?? ""))
  ) {
    warnings.push(`Profile '${entry.profile}' was not found, no profile drop-in written`);
  }
  const outcome: Outcome = {
    ...base,
    state: "attached",
    units: [...names].sort(),
    ...(enabledUnits.size > 0 && { enabledUnits: [...enabledUnits].sort() }),
    warnings,
    ...(conflicts.length > 0 && { conflicts }),
    ...(facts.unverified && { cached: facts.unverified }),
  };
  // Taken from the attach-time cache while not reachable: the late pass checks them once mounted.
  return { outcome, files: entryFiles, deferred: facts.unverified ?? [] };
}

/**
 * The links `systemctl enable` would make for what the entry enables: every unit with Enable=yes,
 * and each unit of EnableUnits= — an instance ("foo@a.service") linked from its template's
 * [Install] with that instance, a template by its DefaultInstance=. Also= of a unit named in
 * EnableUnits= enables those units too, if this entry provides them (Enable=yes covers them anyway).
 */
function enableLinks(entry: Entry, attached: Chosen[], warnings: string[]): (InstallLink & { unit: string })[] {
  const files = new Map(attached.map((c) => [c.unit.name, c.unit]));
  const queue = entry.enable ? attached.map((c) => c.unit.name) : [];
  const fromAll = queue.length;
  for (const u of entry.enableUnits) queue.push(u);
  const links: (InstallLink & { unit: string })[] = [];
  const done = new Set<string>();
  for (let i = 0; i < queue.length; i++) {
    const name = queue[i] as string;
    if (done.has(name)) continue;
    done.add(name);
    const file = files.get(name) ?? files.get(templateOf(name) ?? "");
    if (!file) {
      warnings.push(
        i < fromAll + entry.enableUnits.length
          ? `EnableUnits= names '${name}', which this entry does not provide, ignoring`
          : `Also=${name} is not provided by this entry, not enabling it`,
      );
      continue;
    }
    const install = installSymlinks(name, parseInstallSection(decoder.decode(file.content)));
    for (const err of install.errors) warnings.push(`${name}: ${err}`);
    if (i >= fromAll) for (const u of install.also) queue.push(u);
    for (const link of install.links) links.push({ ...link, unit: name });
  }
  return links;
}

/** Pull in the late pass, ordered after the mounts the deferred images live on. */
function planLatePass(host: HostFacts, paths: string[]): OutputFile[] {
  const unit = host.latePassUnit.slice(host.latePassUnit.lastIndexOf("/") + 1);
  const mounts = [...new Set(paths)].sort().filter((p) => checkPath(p) === undefined);
  const wants: OutputFile = { path: `multi-user.target.wants/${unit}`, kind: "symlink", target: host.latePassUnit };
  if (mounts.length === 0) return [wants];
  const dropIn = [
    `# Automatically generated by portable-attach-generator.`,
    "",
    "[Unit]",
    `RequiresMountsFor=${mounts.map(quoteWord).join(" ")}`,
    "",
  ].join("\n");
  return [wants, { path: `${unit}.d/50-deferred.conf`, kind: "file", content: dropIn }];
}

/**
 * Two enabled units may want the same link (an Alias= twice, the same .wants/ link): keep the
 * first. A link never replaces a unit file (an Alias= naming another entry's unit): files win.
 */
function dedupeSymlinks(files: OutputFile[]): OutputFile[] {
  const unitFiles = new Set(files.filter((f) => f.kind === "file").map((f) => f.path));
  const seen = new Set<string>();
  return files.filter((f) => {
    if (seen.has(f.path) || (f.kind === "symlink" && unitFiles.has(f.path))) return false;
    seen.add(f.path);
    return true;
  });
}
