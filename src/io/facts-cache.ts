// The facts cache: what the CLI read from an entry's images when it attached them, so
// that the generator can (1) attach an entry whose image is not reachable yet (an image on a /var
// that is not mounted while generators run) in the first pass, and (2) skip reading a raw image
// that has not changed since. A stale cache never wins over a readable image: a reachable image is
// used from the cache only if it is a regular file whose identity (inode, size, mtime and ctime to
// the nanosecond) is the one recorded, and the record was taken at least RACY_MS after the image's
// last change; anything else is read afresh. A cache used for an unreachable image is checked
// again once the image is mounted (plan() pulls in the late pass for it).
//
// One JSON file per entry, `CACHE_DIR/NAME.json`, looked up in CACHE_DIRS order. A record applies
// only to the entry configuration it was read for (images, prefixes, Force=, host architecture)
// and only to this version of portable-attach (a newer reader may see an image differently).
import { closeSync, constants, openSync, readdirSync, statSync, unlinkSync } from "node:fs";
import type { Entry } from "../config/attach-list.ts";
import { CACHE_DIRS } from "../config/paths.ts";
import { readRegularFile } from "../image/read-at-most.ts";
import type { ImageFacts } from "../plan/types.ts";
import { hostPath, inRootOrUndefined } from "./root-path.ts";

/** Where a file's content could have changed with no visible change of its time stamps (coarse clocks, 1–2 s on some file systems). */
const RACY_MS = 2000;
/** 2: release files kept as text, which plan() parses by the host systemd's rules. */
const FORMAT = 2;
/** A cache file is small (unit files and release files); anything bigger is not ours. */
const MAX_CACHE_BYTES = 16 << 20;

export interface ImageIdentity {
  ino: string;
  size: string;
  mtimeNs: string;
  ctimeNs: string;
}

interface CachedImage {
  /** As written in Image=/Extensions=. */
  configured: string;
  /** Facts as read, with `path` the image as the booted system sees it; unit contents in base64. */
  facts: Omit<ImageFacts, "units"> & { units: { name: string; content: string }[] };
  /** undefined: not to be trusted for a reachable image (a directory, or changed just before it was read). */
  identity: ImageIdentity | undefined;
}

interface CacheRecord {
  format: number;
  version: string;
  architecture: string;
  matches: string[];
  force: boolean;
  images: CachedImage[];
}

/** What an entry's cached facts are looked up by. */
export interface CacheKey {
  version: string;
  architecture: string;
  matches: readonly string[];
}

/** The identity of the file at `path` under `root` now; undefined if it is not a regular file there (or gone). */
export function identityOf(root: string, path: string): ImageIdentity | undefined {
  const host = inRootOrUndefined(root, path);
  if (host === undefined) return undefined;
  let st;
  try {
    st = statSync(host, { bigint: true });
  } catch {
    return undefined;
  }
  if (!st.isFile()) return undefined;
  return { ino: String(st.ino), size: String(st.size), mtimeNs: String(st.mtimeNs), ctimeNs: String(st.ctimeNs) };
}

export function sameIdentity(a: ImageIdentity | undefined, b: ImageIdentity | undefined): boolean {
  return (
    a !== undefined &&
    b !== undefined &&
    a.ino === b.ino &&
    a.size === b.size &&
    a.mtimeNs === b.mtimeNs &&
    a.ctimeNs === b.ctimeNs
  );
}

/** An identity seen before and after reading, old enough that a change after it would show: trustworthy. */
export function settledIdentity(
  before: ImageIdentity | undefined,
  after: ImageIdentity | undefined,
  nowMs = Date.now(),
): ImageIdentity | undefined {
  if (!sameIdentity(before, after)) return undefined;
  return Number(BigInt((after as ImageIdentity).ctimeNs) / 1_000_000n) + RACY_MS <= nowMs ? after : undefined;
}

export function cacheFileName(name: string): string {
  return `${name}.json`;
}

/** The record to write for an entry whose images were read as `images` (same order as Image=, Extensions=). */
export function cacheRecord(
  entry: Entry,
  key: CacheKey,
  images: { facts: ImageFacts; identity: ImageIdentity | undefined }[],
): string {
  const record: CacheRecord = {
    format: FORMAT,
    version: key.version,
    architecture: key.architecture,
    matches: [...key.matches],
    force: entry.force,
    images: images.map(({ facts, identity }, i) => ({
      configured: [entry.image, ...entry.extensions][i] as string,
      facts: {
        ...facts,
        units: facts.units.map((u) => ({ name: u.name, content: Buffer.from(u.content).toString("base64") })),
      },
      identity,
    })),
  };
  return JSON.stringify(record) + "\n";
}

function decodeFacts(f: CachedImage["facts"]): ImageFacts {
  return {
    ...f,
    units: f.units.map((u) => ({ name: u.name, content: new Uint8Array(Buffer.from(u.content, "base64")) })),
  };
}

function applies(r: CacheRecord, entry: Entry, key: CacheKey): boolean {
  const configured = [entry.image, ...entry.extensions];
  return (
    r.format === FORMAT &&
    r.version === key.version &&
    r.architecture === key.architecture &&
    r.force === entry.force &&
    Array.isArray(r.matches) &&
    r.matches.join("\n") === key.matches.join("\n") &&
    Array.isArray(r.images) &&
    r.images.length === configured.length &&
    r.images.every((img, i) => img.configured === configured[i] && wellFormed(img))
  );
}

/** The cache is ours, but a file may still be cut short or edited by hand: check its shape before trusting it. */
function wellFormed(img: CachedImage): boolean {
  const f = img?.facts;
  const strings = (xs: unknown) => Array.isArray(xs) && xs.every((x) => typeof x === "string");
  return (
    typeof f?.path === "string" &&
    (f.type === "raw" || f.type === "directory") &&
    (f.releaseText === undefined || typeof f.releaseText === "string") &&
    strings(f.warnings) &&
    (f.pin === undefined || (typeof f.pin === "string" && /^[a-z0-9=:+-]+$/.test(f.pin))) &&
    Array.isArray(f.units) &&
    f.units.every((u) => typeof u?.name === "string" && typeof u.content === "string") &&
    (img.identity === undefined ||
      (img.identity !== null &&
        strings([img.identity.ino, img.identity.size, img.identity.mtimeNs, img.identity.ctimeNs])))
  );
}

export interface CachedEntry {
  /** Facts for image i (Image= first), whoever reads them decides whether to trust them. */
  image(i: number): { facts: ImageFacts; identity: ImageIdentity | undefined };
}

/**
 * The cache under `root` (one generator run, or one CLI command): each cache directory is listed
 * once, and a file is read only for an entry that has one. Unreadable or malformed files are
 * skipped, as if absent: the cache only ever saves work.
 */
export class FactsCache {
  private readonly names: Set<string>[];
  /** Images whose record was used because they are unchanged, instead of being read (logged at debug). */
  unchangedImages = 0;

  constructor(private readonly root: string) {
    this.names = CACHE_DIRS.map((dir) => {
      try {
        return new Set(readdirSync(hostPath(root, dir)));
      } catch {
        return new Set<string>();
      }
    });
  }

  /** The first record, in CACHE_DIRS order, that was written for this very configuration. */
  lookup(entry: Entry, key: CacheKey): CachedEntry | undefined {
    const file = cacheFileName(entry.name);
    for (const [i, dir] of CACHE_DIRS.entries()) {
      if (!this.names[i]?.has(file)) continue;
      const host = inRootOrUndefined(this.root, `${dir}/${file}`);
      const text = host === undefined ? undefined : readCacheFile(host);
      let record: CacheRecord;
      try {
        record = JSON.parse(text ?? "") as CacheRecord;
      } catch {
        continue;
      }
      if (record === null || typeof record !== "object" || !applies(record, entry, key)) continue;
      return {
        image: (n) => ({
          facts: decodeFacts((record.images[n] as CachedImage).facts),
          identity: (record.images[n] as CachedImage).identity,
        }),
      };
    }
    return undefined;
  }
}

/** A regular file's text, read without blocking (a FIFO put there must not hang the boot) and bounded. */
function readCacheFile(path: string): string | undefined {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY);
  } catch {
    return undefined;
  }
  try {
    const file = readRegularFile(fd, MAX_CACHE_BYTES);
    if (file.kind !== "read") return undefined;
    return Buffer.from(file.bytes.buffer, file.bytes.byteOffset, file.bytes.length).toString("utf8");
  } catch {
    return undefined;
  } finally {
    closeSync(fd);
  }
}

/** Removes an entry's cache files from these cache directories under `root` (symlinks chased inside it). */
export function removeCacheFiles(root: string, name: string, dirs: readonly string[]): void {
  for (const dir of dirs) {
    const host = inRootOrUndefined(root, dir);
    if (host === undefined) continue;
    try {
      unlinkSync(`${host}/${cacheFileName(name)}`);
    } catch {
      /* none there */
    }
  }
}
