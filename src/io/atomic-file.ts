// Replaces a file so that a reader, or a crash at any instant, sees the old content or the new,
// never a mix: the new text goes to a temporary file in the same directory (rename() is atomic
// only within one file system), is fsync'ed, gets the old file's mode (and owner, when we may),
// is renamed over the old name, and the directory is fsync'ed so the rename itself survives a
// power cut. A symlinked file is written through to its target, so the link stays a link; under a
// root the target is looked up inside the root. The temporary name is random and created with
// O_EXCL|O_NOFOLLOW: whoever can write the directory cannot plant a symlink there that we would
// write through, and a name taken already is drawn again. Math.random, not node:crypto: O_EXCL is
// the protection, the name need only be hard to guess, and node:crypto loads Node's stream modules
// (~10 ms of every CLI run that edits a list, BENCHMARKS.md).
import {
  closeSync,
  constants,
  fchmodSync,
  fchownSync,
  fsyncSync,
  lstatSync,
  openSync,
  readdirSync,
  renameSync,
  unlinkSync,
  writeSync,
} from "node:fs";
import { basename, dirname } from "node:path";
import { checkInRoot, inRoot } from "./root-path.ts";

const CREATE = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;

export interface ReplaceOptions {
  /** Mode of a file that does not exist yet (an existing file keeps its own, unless keepMode is false). */
  mode?: number;
  keepMode?: boolean;
  /** false: no fsync of file and directory (a tmpfs, or a file rebuilt at every boot anyway). */
  sync?: boolean;
}

/**
 * Replaces `path` (as the system under `root` sees it; root "" for this system) with `content`.
 * A symlink at `path` is chased inside root, and its target replaced.
 */
/** Creates PREFIX + 12 random hex digits with O_EXCL; a name that exists is drawn again (10 tries). */
function createTemporary(prefix: string, mode: number): { tmp: string; fd: number } {
  for (let attempt = 1; ; attempt++) {
    const tmp = prefix + randomHex() + randomHex();
    try {
      return { tmp, fd: openSync(tmp, CREATE, mode) };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST" || attempt === 10) throw e;
    }
  }
}

const randomHex = (): string =>
  Math.floor(Math.random() * 0x1000000)
    .toString(16)
    .padStart(6, "0");

export function replaceFileAtomic(
  root: string,
  path: string,
  content: string | Uint8Array,
  options: ReplaceOptions = {},
): void {
  // With no root only a symlink at `path` itself needs chasing (the kernel follows the directories).
  let st = root === "" ? lstatSync(path, { throwIfNoEntry: false }) : undefined;
  const real = root === "" && st?.isSymbolicLink() !== true ? path : inRoot(root, path);
  if (real !== path) st = lstatSync(real, { throwIfNoEntry: false });
  const dir = dirname(real);
  const sync = options.sync ?? true;
  let mode = options.mode ?? 0o644;
  let owner: { uid: number; gid: number } | undefined;
  if (st?.isFile()) {
    if (options.keepMode ?? true) mode = st.mode & 0o7777;
    owner = { uid: st.uid, gid: st.gid };
  }
  // Hidden, so neither a .d directory scan nor a person listing the directory takes it for a list;
  // the pid lets removeStaleTemporariesIn() tell a dead writer's file from a live one's.
  const { tmp, fd } = createTemporary(`${dir}/.#${basename(real)}.${process.pid}.`, mode);
  try {
    try {
      checkInRoot(root, fd, path);
      const bytes = typeof content === "string" ? Buffer.from(content, "utf8") : content;
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
      if (sync) fsyncSync(fd);
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
  if (sync) syncDirectory(dir);
}

function syncDirectory(dir: string): void {
  const fd = openSync(dir, constants.O_RDONLY | constants.O_DIRECTORY);
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
export function removeStaleTemporaries(root: string, path: string): void {
  const real = inRoot(root, path);
  removeStaleTemporariesIn(dirname(real), `.#${basename(real)}.`);
}

/**
 * Removes the temporary files (`.#NAME.PID.RANDOM`, named by replaceFileAtomic) in the host
 * directory `dir` whose writer is gone and whose name starts with `prefix`. The same lock rule as
 * above applies. Only unlink() touches them, which never follows a symlink.
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
