// detach NAME|IMAGE: with --now stops the entry's units first (while PID 1 still knows them), then
// removes the entry and reloads. A vendor entry (/usr) cannot be removed: it is masked with
// Attach=no in /etc (or /run). An entry that hides a same-named entry of a lower file becomes a
// mask too, or detaching it would bring the hidden one back.
import { appendSection, removeSection } from "../config/edit.ts";
import { loadList } from "../io/load-list.ts";
import { removeCacheFiles } from "../io/facts-cache.ts";
import { WRITABLE_CACHE_DIRS } from "./cache.ts";
import { CliError, type Context } from "./context.ts";
import { requireEntry } from "./entries.ts";
import { editListFile, isEditable, targetFile } from "./list-file.ts";
import { readStatusRecord, startable } from "./outcomes.ts";
import { reload, unitJob } from "./system.ts";

export function detach(ctx: Context): number {
  const [arg] = ctx.opts.args;
  if (arg === undefined || ctx.opts.args.length > 1)
    throw new CliError("detach: expected one NAME or IMAGE argument.", 2);
  const list = loadList(ctx.opts.root);
  const entry = requireEntry(list, arg);
  if (!entry.attach) throw new CliError(`Entry [${entry.name}] is already masked by Attach=no in ${entry.file}.`);
  const units = readStatusRecord(ctx)?.find((o) => o.name === entry.name)?.units ?? [];

  let ok = true;
  if (ctx.opts.now) ok = unitJob(ctx, "stop", startable(units), true);

  const hidesOthers = list.merged.shadowed.some((s) => s.by === entry);
  const mask = (text: string): string => appendSection(text, entry.name, [["Attach", "no"]]);
  if (isEditable(entry.file)) {
    editListFile(ctx, entry.file, (text) =>
      hidesOthers ? mask(removeSection(text, entry.name)) : removeSection(text, entry.name),
    );
    ctx.note(
      hidesOthers
        ? `Masked entry [${entry.name}] in ${entry.file} (it hid a same-named entry of a lower list).`
        : `Removed entry [${entry.name}] from ${entry.file}.`,
    );
  } else {
    const file = targetFile(ctx);
    editListFile(ctx, file, (text) => mask(removeSection(text, entry.name)));
    ctx.note(`Masked vendor entry [${entry.name}] of ${entry.file} with Attach=no in ${file}.`);
  }
  // The cached facts served an attached entry only; a mask, or nothing, needs none.
  removeCacheFiles(ctx.opts.root, entry.name, WRITABLE_CACHE_DIRS);
  reload(ctx);
  return ok ? 0 : 1;
}
