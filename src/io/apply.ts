// Writes a plan into the generator's output directory. systemd gives every run an empty directory
// and reads it only once every generator has exited, so nothing can see a file while it is being
// written; what remains is what a generator killed half-way (or a full /run) leaves behind:
// * a file of at most one page is created with O_EXCL and written in place, with one write(): the
//   kernel gives a kill or a full file system no point at which it is half there (empty at
//   worst), and a failed write removes it (systemd's own generators write in place, too);
// * a larger file, always from an image, goes to a hidden temporary name (systemd ignores hidden
//   files) and is renamed into place, so no unit is ever cut short.
// Drop-ins go first and unit files last, as portabled orders them, so a unit never appears
// without its RootDirectory=/RootImage=.
import {
  closeSync,
  constants,
  fsyncSync,
  mkdirSync,
  openSync,
  renameSync,
  symlinkSync,
  unlinkSync,
  writeSync,
} from "node:fs";
import type { OutputFile } from "../plan/types.ts";

/** The smallest page size Linux has: a write of at most this much at offset 0 is one page. */
const PAGE = 4096;
// libuv adds O_CLOEXEC itself.
const CREATE = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL;

function writeAll(fd: number, bytes: Uint8Array, sync: boolean): void {
  let off = 0;
  while (off < bytes.length) off += writeSync(fd, bytes, off, bytes.length - off);
  if (sync) fsyncSync(fd);
}

/** Creates `path` (it must not exist) with `bytes`; on failure it is not left behind. */
function createFile(path: string, bytes: Uint8Array): void {
  const fd = openSync(path, CREATE, 0o644);
  try {
    writeAll(fd, bytes, false);
  } catch (e) {
    closeSync(fd);
    try {
      unlinkSync(path);
    } catch {
      /* gone already */
    }
    throw e;
  }
  closeSync(fd);
}

export function writeFileAtomic(path: string, content: Uint8Array | string, mode = 0o644, sync = false): void {
  const slash = path.lastIndexOf("/");
  const tmp = `${path.slice(0, slash + 1)}.#${path.slice(slash + 1)}.${process.pid}.tmp`;
  const fd = openSync(tmp, "wx", mode);
  try {
    writeAll(fd, typeof content === "string" ? Buffer.from(content) : content, sync);
  } catch (e) {
    closeSync(fd);
    unlinkSync(tmp); // a full /run must not keep half a unit under a hidden name
    throw e;
  }
  closeSync(fd);
  try {
    renameSync(tmp, path);
  } catch (e) {
    unlinkSync(tmp);
    throw e;
  }
}

function writeOrder(f: OutputFile): number {
  if (f.path.includes(".d/")) return 0;
  if (f.kind === "file") return 1;
  return 2;
}

/**
 * Writes the plan. Files of no entry (the late pass) go first and any failure there throws; the
 * files of each entry are written as a group, and a failure (ENOSPC, EEXIST, anything) removes
 * what the group wrote and costs that entry alone. Returns why each failed entry failed.
 */
export function applyPlan(outputDir: string, files: readonly OutputFile[]): Map<string, string> {
  const groups = new Map<string, OutputFile[]>();
  const shared: OutputFile[] = [];
  for (const f of files) {
    if (f.entry === undefined) shared.push(f);
    else {
      let g = groups.get(f.entry);
      if (!g) groups.set(f.entry, (g = []));
      g.push(f);
    }
  }
  const made = new Set<string>();
  writeGroup(outputDir, shared, made, []);
  const failures = new Map<string, string>();
  for (const [entry, group] of groups) {
    const written: string[] = [];
    try {
      writeGroup(outputDir, group, made, written);
    } catch (e) {
      for (const path of written.reverse()) {
        try {
          unlinkSync(path);
        } catch {
          /* gone already */
        }
      }
      failures.set(entry, (e as Error)?.message ?? String(e));
    }
  }
  return failures;
}

function writeGroup(outputDir: string, files: readonly OutputFile[], made: Set<string>, written: string[]): void {
  const ordered = files.map((f) => ({ f, order: writeOrder(f) })).sort((a, b) => a.order - b.order);
  for (const { f } of ordered) {
    const path = `${outputDir}/${f.path}`;
    // Plan paths are relative and normalized: the directory is what precedes the last '/', if any.
    const slash = f.path.lastIndexOf("/");
    if (slash > 0) {
      const dir = f.path.slice(0, slash);
      if (!made.has(dir)) {
        mkdirSync(`${outputDir}/${dir}`, { recursive: true, mode: 0o755 });
        made.add(dir);
      }
    }
    if (f.kind === "symlink") {
      symlinkSync(f.target, path);
      written.push(path);
      continue;
    }
    const bytes = typeof f.content === "string" ? Buffer.from(f.content) : f.content;
    if (bytes.length <= PAGE) createFile(path, bytes);
    else writeFileAtomic(path, bytes);
    written.push(path);
  }
}
