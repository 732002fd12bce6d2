// Replaces a file so that a reader, or a crash at any instant, sees the old content or the new,
// never a mix: the new text goes to a temporary file in the same directory (rename() is atomic
// only within one file system), is fsync'ed, gets the old file's mode (and owner, when we may),
// is renamed over the old name, and the directory is fsync'ed so the rename itself survives a
// power cut. A symlinked list file is written through to its target, so the link stays a link.
import { closeSync, fchmodSync, fchownSync, fsyncSync, openSync, readdirSync, realpathSync, renameSync, statSync, unlinkSync, writeSync } from "node:fs";
import { basename, dirname } from "node:path";

/** The file a write to `path` really replaces: the symlink's target, if `path` is a symlink. */
function target(path: string): string {
  try {
    return realpathSync(path);
  } catch {
    return path; // does not exist yet (or dangling): create it under this name
  }
}

export function replaceFileAtomic(path: string, content: string, newFileMode = 0o644): void {
  const real = target(path);
  const dir = dirname(real);
  let mode = newFileMode;
  let owner: { uid: number; gid: number } | undefined;
  try {
    const st = statSync(real);
    mode = st.mode & 0o7777;
    owner = { uid: st.uid, gid: st.gid };
  } catch {
    /* a new file */
  }
  // Hidden, so neither a .d directory scan nor a person listing the directory takes it for a list.
  const tmp = `${dir}/.#${basename(real)}.${process.pid}.${Math.random().toString(36).slice(2, 8)}`;
  const fd = openSync(tmp, "wx", mode);
  try {
    try {
      const bytes = Buffer.from(content, "utf8");
      let off = 0;
      while (off < bytes.length) off += writeSync(fd, bytes, off, bytes.length - off);
      fchmodSync(fd, mode); // openSync's mode is cut by the umask
      if (owner && (owner.uid !== process.getuid?.() || owner.gid !== process.getgid?.())) {
        try {
          fchownSync(fd, owner.uid, owner.gid);
        } catch {
          /* not root: the file becomes ours, as with any editor */
        }
      }
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, real);
  } catch (e) {
    try {
      unlinkSync(tmp);
    } catch {
      /* already renamed or gone */
    }
    throw e;
  }
  syncDirectory(dir);
}

function syncDirectory(dir: string): void {
  const fd = openSync(dir, "r");
  try {
    fsyncSync(fd);
  } catch {
    /* some file systems refuse fsync on a directory; the rename is done either way */
  } finally {
    closeSync(fd);
  }
}

/**
 * Removes temporary files that runs killed mid-write left beside `path` (their pid is gone).
 * Call it only while holding the file's lock, so no live writer's file can be mistaken for one.
 */
export function removeStaleTemporaries(path: string): void {
  const real = target(path);
  removeStaleTemporariesIn(dirname(real), `.#${basename(real)}.`);
}

/**
 * Removes the temporary files (`.#NAME.PID.RANDOM`, named by replaceFileAtomic) in `dir` whose
 * writer is gone and whose name starts with `prefix`. The same lock rule as above applies.
 */
export function removeStaleTemporariesIn(dir: string, prefix = ".#"): void {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return;
  }
  for (const n of names) {
    if (!n.startsWith(prefix)) continue;
    // NAME may hold dots itself: the pid is the second field from the end.
    const fields = n.split(".");
    const pidText = fields[fields.length - 2] ?? "";
    const pid = /^[1-9][0-9]*$/.test(pidText) ? Number(pidText) : Number.NaN;
    if (!Number.isSafeInteger(pid) || pid === process.pid) continue;
    try {
      process.kill(pid, 0);
      continue; // still running: not ours to judge
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "EPERM") continue;
    }
    try {
      unlinkSync(`${dir}/${n}`);
    } catch {
      /* gone */
    }
  }
}
