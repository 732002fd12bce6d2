// Serializes CLI runs that edit the same list file. Node has no flock(), so the lock is a file
// created with O_EXCL that holds the owner's pid. A holder killed with SIGKILL cannot remove it,
// so a lock whose pid no longer runs is stale and is broken; breaking is itself serialized by a
// second O_EXCL file, and the breaker checks again under it that the lock still names the same
// dead pid, so two waiters cannot both break it (and the second delete a fresh lock). The pid is
// written to a private file first and hard-linked to the lock name, so a lock file never exists
// without its pid (a full disk fails before the lock is taken, and leaves nothing behind).
// Chosen over mkdir locks because the pid inside makes staleness decidable, and over spawning
// flock(1) because it needs nothing outside Node. Whoever can write the directory (the owner of a
// --root tree) may plant symlinks under these names: every file is created with O_EXCL|O_NOFOLLOW
// and read with O_NOFOLLOW, so a root-owned run never writes or reads through one.
import {
  closeSync,
  constants,
  fstatSync,
  linkSync,
  openSync,
  readdirSync,
  readSync,
  unlinkSync,
  writeSync,
} from "node:fs";
import { basename, dirname } from "node:path";

export class LockError extends Error {}

function sleep(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

function privateName(path: string, pid: number): string {
  return `${path}.${pid}.tmp`;
}

const CREATE = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;

/** Creates our private file; one already there (planted, or a dead run's with our pid) is removed first. */
function createPrivate(mine: string): number {
  for (let tries = 0; ; tries++) {
    try {
      return openSync(mine, CREATE, 0o600);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
      if (tries === 2) throw new LockError(`Failed to create '${mine}': it keeps coming back`);
    }
    try {
      unlinkSync(mine); // removes a symlink itself, never its target
    } catch {
      /* gone meanwhile */
    }
  }
}

/**
 * The lock file's text; "" for a symlink or anything but a regular file (not a lock of ours, so
 * it is broken); undefined if it is gone or cannot be read (a lock we may not read is respected).
 */
function readLock(path: string): string | undefined {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK | constants.O_NOCTTY);
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "ELOOP" ? "" : undefined;
  }
  try {
    if (!fstatSync(fd).isFile()) return "";
    const buf = Buffer.alloc(32);
    const n = readSync(fd, buf, 0, buf.length, 0);
    return buf.subarray(0, n).toString("latin1");
  } catch {
    return "";
  } finally {
    closeSync(fd);
  }
}

function tryCreate(path: string): boolean {
  const mine = privateName(path, process.pid);
  let created = false;
  try {
    const fd = createPrivate(mine);
    created = true;
    try {
      writeSync(fd, `${process.pid}\n`);
    } finally {
      closeSync(fd);
    }
    linkSync(mine, path);
    return true;
  } catch (e) {
    if (created && (e as NodeJS.ErrnoException).code === "EEXIST") return false;
    throw e;
  } finally {
    try {
      if (created) unlinkSync(mine);
    } catch {
      /* gone */
    }
  }
}

/** Private pid files of runs killed between writing and linking them. */
function removeDeadPrivateFiles(path: string): void {
  const prefix = `${basename(path)}.`;
  for (const name of readdirSync(dirname(path))) {
    const m = name.startsWith(prefix) ? /^(?:break\.)?(\d+)\.tmp$/.exec(name.slice(prefix.length)) : null;
    if (m && !alive(Number(m[1]))) {
      try {
        unlinkSync(`${dirname(path)}/${name}`);
      } catch {
        /* someone else did */
      }
    }
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM"; // exists, someone else's
  }
}

/** The lock's content if it is stale (its holder is gone), else undefined. */
function staleContent(path: string): string | undefined {
  const text = readLock(path);
  if (text === undefined) return undefined; // released meanwhile
  const pid = Number.parseInt(text, 10);
  // A lock without a pid cannot come from us (it is linked complete): not a lock, break it.
  if (!Number.isInteger(pid) || pid <= 0) return text;
  return alive(pid) && pid !== process.pid ? undefined : text;
}

function breakStale(path: string): void {
  const breaker = `${path}.break`;
  if (!tryCreate(breaker)) {
    if (staleContent(breaker) !== undefined) {
      try {
        unlinkSync(breaker); // a breaker killed in its few microseconds of work
      } catch {
        /* someone else did */
      }
    }
    return;
  }
  try {
    const stale = staleContent(path);
    if (stale !== undefined && stale === readLock(path)) unlinkSync(path);
  } catch {
    /* gone already */
  } finally {
    unlinkSync(breaker);
  }
}

export interface Lock {
  release(): void;
}

/** Takes the lock at `path`, waiting up to timeoutMs for another run to finish. */
export function acquireLock(path: string, timeoutMs = 30_000): Lock {
  const deadline = Date.now() + timeoutMs;
  let delay = 2;
  while (!tryCreate(path)) {
    if (staleContent(path) !== undefined) {
      breakStale(path);
      continue;
    }
    if (Date.now() > deadline)
      throw new LockError(
        `Failed to take lock '${path}': held by another run (pid ${Number.parseInt(readLock(path) ?? "", 10) || "?"}) for too long`,
      );
    sleep(delay + Math.random() * delay);
    delay = Math.min(delay * 2, 50);
  }
  removeDeadPrivateFiles(path);
  return {
    release() {
      try {
        if (readLock(path) === `${process.pid}\n`) unlinkSync(path);
      } catch {
        /* already gone */
      }
    },
  };
}
