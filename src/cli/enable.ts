// enable / disable NAME: the Enable= key. A vendor entry is copied whole into /etc (or /run) with
// the change, since a higher list's section replaces the lower one whole. --now starts what the
// generator now pulls in (enable) or stops the entry's units (disable).
import { appendLines, sectionLines, setKeys } from "../config/edit.ts";
import type { Entry } from "../config/attach-list.ts";
import { loadList } from "../io/load-list.ts";
import { CliError, type Context } from "./context.ts";
import { requireEntry } from "./entries.ts";
import { editListFile, isEditable, readListText, targetFile } from "./list-file.ts";
import { pulledInUnits, readStatusRecord, startable } from "./outcomes.ts";
import { reload, unitJob } from "./system.ts";
import type { KeyChange } from "../config/edit.ts";

/** Changes keys of an entry where it lives, or in an override copy if it lives under /usr. */
export function changeEntry(ctx: Context, entry: Entry, changes: KeyChange[]): string {
  if (isEditable(entry.file)) {
    editListFile(ctx, entry.file, (text) => setKeys(text, entry.name, changes));
    return entry.file;
  }
  const file = targetFile(ctx);
  // Damage elsewhere in a vendor file is not ours to fix; a copy of a damaged section would be.
  const vendor = readListText(ctx, entry.file);
  let lines: string[];
  try {
    lines = sectionLines(vendor.text, entry.name, vendor.unreadable) ?? [`[${entry.name}]`];
  } catch (e) {
    throw new CliError(`Refusing to copy [${entry.name}] from ${entry.file}: ${(e as Error).message}`);
  }
  editListFile(ctx, file, (text) => setKeys(appendLines(text, [`# Copied from ${entry.file} by portable-attach.`, ...lines]), entry.name, changes));
  return file;
}

export function setEnabled(ctx: Context, enable: boolean): number {
  const verb = enable ? "enable" : "disable";
  const [arg] = ctx.opts.args;
  if (arg === undefined || ctx.opts.args.length > 1) throw new CliError(`${verb}: expected one NAME argument.`, 2);
  const list = loadList(ctx.opts.root);
  const entry = requireEntry(list, arg);
  if (!entry.attach) throw new CliError(`Entry [${entry.name}] is masked by Attach=no in ${entry.file}, refusing to ${verb} it.`);
  let ok = true;
  if (!enable && ctx.opts.now) {
    const units = readStatusRecord(ctx)?.find((o) => o.name === entry.name)?.units ?? [];
    ok = unitJob(ctx, "stop", startable(units), true);
  }
  if (entry.enable === enable) {
    ctx.note(`Entry [${entry.name}] is already ${enable ? "enabled" : "disabled"}.`);
  } else {
    const file = changeEntry(ctx, entry, [["Enable", enable ? "yes" : "no"]]);
    ctx.note(`${enable ? "Enabled" : "Disabled"} entry [${entry.name}] in ${file}.`);
  }
  const reloaded = reload(ctx);
  if (enable && ctx.opts.now) {
    const units = readStatusRecord(ctx)?.find((o) => o.name === entry.name)?.units ?? [];
    const pulled = pulledInUnits(ctx);
    ok = unitJob(ctx, "start", units.filter((u) => pulled.has(u)), reloaded) && ok;
  }
  return ok ? 0 : 1;
}
