// Writes a plan into the generator's output directory. Each file goes to a hidden temporary name
// and is renamed into place (systemd ignores hidden files), so a generator killed half-way leaves
// no half-written unit; drop-ins go first and unit files last, as portabled orders them, so a
// reload racing with us never sees a unit without its RootDirectory=/RootImage=.
import { closeSync, fsyncSync, mkdirSync, openSync, renameSync, symlinkSync, writeSync } from "node:fs";
import { dirname } from "node:path";
import type { OutputFile } from "../plan/types.ts";

function writeOrder(f: OutputFile): number {
  if (f.path.includes(".d/")) return 0;
  if (f.kind === "file") return 1;
  return 2;
}

export function writeFileAtomic(path: string, content: Uint8Array | string, mode = 0o644, sync = false): void {
  const tmp = `${dirname(path)}/.#${path.slice(path.lastIndexOf("/") + 1)}.${process.pid}.tmp`;
  const fd = openSync(tmp, "wx", mode);
  try {
    const bytes = typeof content === "string" ? Buffer.from(content) : content;
    let off = 0;
    while (off < bytes.length) off += writeSync(fd, bytes, off, bytes.length - off);
    if (sync) fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
}

export function applyPlan(outputDir: string, files: readonly OutputFile[]): void {
  const ordered = files.map((f) => ({ f, order: writeOrder(f) })).sort((a, b) => a.order - b.order);
  const made = new Set<string>([outputDir]);
  for (const { f } of ordered) {
    const path = `${outputDir}/${f.path}`;
    const dir = dirname(path);
    if (!made.has(dir)) {
      mkdirSync(dir, { recursive: true, mode: 0o755 });
      made.add(dir);
    }
    if (f.kind === "symlink") symlinkSync(f.target, path);
    else writeFileAtomic(path, f.content);
  }
}
