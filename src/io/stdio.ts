// Output to stdout and stderr with write(2), not process.stdout/process.stderr: the first touch of
// those builds a stream (node:stream, and node:net for a pipe), several ms of every short run, and
// a stream may still hold output when the process exits. Each call here is written when it returns.
import { writeSync } from "node:fs";

/** Writes all of `text` to `fd`; waits out a non-blocking descriptor that is full; true if written. */
export function writeFd(fd: number, text: string): boolean {
  const bytes = Buffer.from(text, "utf8");
  let off = 0;
  while (off < bytes.length) {
    try {
      off += writeSync(fd, bytes, off, bytes.length - off);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      // A descriptor inherited with O_NONBLOCK (shared with the parent) and a full pipe: its
      // reader is behind, not gone.
      if (code === "EAGAIN") Atomics.wait(pause, 0, 0, 1);
      // EPIPE and the rest: nobody reads this any more (`portable-attach list | head -1`) or it
      // cannot be written; what was shown stays shown, the command's own result is unchanged.
      else return false;
    }
  }
  return true;
}

const pause = new Int32Array(new SharedArrayBuffer(4));

export const writeStdout = (text: string): boolean => writeFd(1, text);
export const writeStderr = (text: string): boolean => writeFd(2, text);
