// Serializes CLI runs that edit the same list file. Node has no flock(), so the lock is a file
// created with O_EXCL that holds the owner's pid. A holder killed with SIGKILL cannot remove it,
// so a lock whose pid no longer runs is stale and is broken; breaking is itself serialized by a
// second O_EXCL file, and the breaker checks again under it that the lock still names the same
// dead pid, so two waiters cannot both break it (and the second delete a fresh lock). A lock file
// that is still empty (its creator has not written the pid yet) counts as held for a grace period.
// Chosen over mkdir locks because the pid inside makes staleness decidable, and over spawning
// flock(1) because it needs nothing outside Node.
import { closeSync, openSync, readFileSync, statSync, unlinkSync, writeSync } from "node:fs";

const EMPTY_GRACE_MS = 5000;

export class LockError extends Error {}

function sleep(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

function tryCreate(path: string): boolean {
  let fd: number;
  try {
    fd = openSync(path, "wx", 0o600);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "EEXIST") return false;
    throw e;
  }
  try {
    writeSync(fd, `${process.pid}\n`);
  } finally {
    closeSync(fd);
  }
  return true;
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
  let text: string;
  let mtime: number;
  try {
    text = readFileSync(path, "utf8");
    mtime = statSync(path).mtimeMs;
  } catch {
    return undefined; // released meanwhile
  }
  const pid = Number.parseInt(text, 10);
  if (Number.isInteger(pid) && pid > 0) return alive(pid) && pid !== process.pid ? undefined : text;
  return Date.now() - mtime > EMPTY_GRACE_MS ? text : undefined;
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
    if (stale !== undefined && stale === readFileSync(path, "utf8")) unlinkSync(path);
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
    if (Date.now() > deadline) throw new LockError(`Failed to take lock '${path}': held by another run (${readFileSync(path, "utf8").trim() || "?"}) for too long`);
    sleep(delay + Math.random() * delay);
    delay = Math.min(delay * 2, 50);
  }
  return {
    release() {
      try {
        if (readFileSync(path, "utf8") === `${process.pid}\n`) unlinkSync(path);
      } catch {
        /* already gone */
      }
    },
  };
}
