// The one small interface in front of every image format. A reader (directory, or a file system
// found inside a raw image) answers questions about *physical* paths: absolute paths inside the
// image whose components contain no symlinks, except possibly the last one. Symlink resolution is
// done once, for every format, by src/image/resolve.ts, confined to the image root.

export type EntryKind = "file" | "dir" | "symlink" | "other";

export interface Stat {
  kind: EntryKind;
  /** Size in bytes for files; symlink target length for symlinks; 0 otherwise. */
  size: number;
  /** Permission bits (mode & 0o7777). */
  mode: number;
}

export interface DirEntry {
  name: string;
  kind: EntryKind;
}

export interface ImageTree {
  /** Where the image lives on the host, for messages. */
  readonly source: string;
  /** Portablectl's image type: decides RootDirectory= vs RootImage=. */
  readonly type: "directory" | "raw";
  /** What was found, e.g. "directory", "squashfs (gzip)", "gpt: root-x86-64 erofs". */
  readonly description: string;
  /** dm-verity and signature state of a raw image; undefined means unprotected (directories). */
  readonly protection?: Protection;
  /** undefined when the path does not exist. Does not follow a final symlink. */
  lstat(path: string): Stat | undefined;
  /** Entries of a directory, without "." and "..", in no particular order. */
  readdir(path: string): DirEntry[];
  readlink(path: string): string;
  /** Whole file content; throws ImageError LIMIT if the file is larger than maxBytes. */
  readFile(path: string, maxBytes: number): Uint8Array;
  /** Releases file descriptors. Safe to call twice. */
  close(): void;
}

export const IMAGE_ERROR_CODES = [
  "TRUNCATED",
  "BAD_MAGIC",
  "CORRUPT",
  "UNSUPPORTED",
  "LIMIT",
  "IO",
  "NOT_FOUND",
  "LOOP",
] as const;
export type ImageErrorCode = (typeof IMAGE_ERROR_CODES)[number];

/** The only error an image reader throws for anything an image (or its absence) can cause. */
export class ImageError extends Error {
  constructor(
    readonly code: ImageErrorCode,
    message: string,
    readonly format?: string,
    readonly offset?: number,
  ) {
    super(message);
    this.name = "ImageError";
  }
}

/**
 * A file system inside a raw image (naked, or in a partition), with the same physical-path
 * contract as ImageTree. raw.ts probes the magics, opens the right one and mounts it as / or /usr.
 */
export interface FileSystem {
  /** e.g. "squashfs (xz)", "erofs", "ext4". */
  readonly fsType: string;
  lstat(path: string): Stat | undefined;
  readdir(path: string): DirEntry[];
  readlink(path: string): string;
  readFile(path: string, maxBytes: number): Uint8Array;
}

export type ProtectionLevel = "signed" | "verity" | "unprotected";

export interface Protection {
  /** The weakest of the image's file systems. */
  level: ProtectionLevel;
  /** One line per file system, e.g. "root-x86-64: signed (root hash from …, certificate /etc/verity.d/a.crt)". */
  details: string[];
  /** Said at debug level: a signature nobody could check. */
  notes: string[];
  /** A signature is present but was not checked (no certificates configured). */
  unchecked: boolean;
}
