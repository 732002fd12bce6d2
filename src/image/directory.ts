// A directory tree used as an image. Paths given to it are physical (see types.ts): the resolver
// never hands us a path with a symlink in a middle component, so joining them to the root cannot
// leave the tree; a final symlink is only ever lstat()ed or readlink()ed, never opened.
import {
  closeSync,
  constants,
  lstatSync,
  opendirSync,
  openSync,
  readlinkSync,
  type Dir,
  type Dirent,
  type Stats,
} from "node:fs";
import { chargeRead } from "./budget.ts";
import { MAX_DIR_ENTRIES, MAX_SYMLINK_BYTES } from "./limits.ts";
import { readRegularFile } from "./read-at-most.ts";
import { ImageError, type DirEntry, type EntryKind, type ImageTree, type Stat } from "./types.ts";

function kindOf(s: Stats | Dirent): EntryKind {
  if (s.isFile()) return "file";
  if (s.isDirectory()) return "dir";
  if (s.isSymbolicLink()) return "symlink";
  return "other";
}

function ioError(e: unknown, what: string): ImageError {
  const code = (e as NodeJS.ErrnoException).code;
  return new ImageError(code === "ENOENT" ? "NOT_FOUND" : "IO", `${what}: ${(e as Error).message}`, "directory");
}

export class DirectoryImage implements ImageTree {
  readonly type = "directory";
  readonly description = "directory";
  constructor(readonly source: string) {}

  private host(path: string): string {
    return this.source.replace(/\/+$/, "") + path;
  }

  lstat(path: string): Stat | undefined {
    try {
      // Most paths asked for do not exist (the unit and release directories an image may have):
      // an exception per missing path costs more than the stat.
      const s = lstatSync(this.host(path), { throwIfNoEntry: false });
      if (s === undefined) return undefined;
      return { kind: kindOf(s), size: Number(s.size), mode: s.mode & 0o7777 };
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === "ENOENT" || code === "ENOTDIR") return undefined;
      throw ioError(e, `Failed to stat '${path}' in ${this.source}`);
    }
  }

  readdir(path: string): DirEntry[] {
    // Read entry by entry and stop at the limit: a directory of a million entries costs the
    // limit's worth of time and memory, not the whole listing's.
    const entries: DirEntry[] = [];
    let dir: Dir;
    try {
      dir = opendirSync(this.host(path), { bufferSize: 256 });
    } catch (e) {
      throw ioError(e, `Failed to list '${path}' in ${this.source}`);
    }
    try {
      for (let d = dir.readSync(); d !== null; d = dir.readSync()) {
        if (entries.length >= MAX_DIR_ENTRIES)
          throw new ImageError(
            "LIMIT",
            `Directory '${path}' in ${this.source} has more than ${MAX_DIR_ENTRIES} entries`,
            "directory",
          );
        entries.push({ name: d.name, kind: kindOf(d) });
      }
    } catch (e) {
      if (e instanceof ImageError) throw e;
      throw ioError(e, `Failed to list '${path}' in ${this.source}`);
    } finally {
      dir.closeSync();
    }
    return entries;
  }

  readlink(path: string): string {
    try {
      const target = readlinkSync(this.host(path));
      if (target.length > MAX_SYMLINK_BYTES)
        throw new ImageError("LIMIT", `Symlink '${path}' in ${this.source} is too long`, "directory");
      return target;
    } catch (e) {
      if (e instanceof ImageError) throw e;
      throw ioError(e, `Failed to read symlink '${path}' in ${this.source}`);
    }
  }

  readFile(path: string, maxBytes: number): Uint8Array {
    let fd: number;
    try {
      // O_NOFOLLOW: the resolver already followed symlinks inside the image; a final symlink that
      // appears now (a race) must not lead us onto the host.
      fd = openSync(this.host(path), constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
    } catch (e) {
      throw ioError(e, `Failed to open '${path}' in ${this.source}`);
    }
    try {
      const file = readRegularFile(fd, maxBytes, chargeRead);
      if (file.kind === "read") return file.bytes;
      if (file.kind === "too-large")
        throw new ImageError("LIMIT", `'${path}' in ${this.source} is larger than ${maxBytes} bytes`, "directory");
      throw new ImageError("CORRUPT", `'${path}' in ${this.source} is not a regular file`, "directory");
    } catch (e) {
      if (e instanceof ImageError) throw e;
      throw ioError(e, `Failed to read '${path}' in ${this.source}`);
    } finally {
      closeSync(fd);
    }
  }

  close(): void {}
}
