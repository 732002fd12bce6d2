// Writes the facts cache (src/io/facts-cache.ts) for an entry the CLI has just checked and written,
// so the generator can attach it at the next boot even before its image's file system is mounted,
// and skip re-reading a raw image that did not change. The cache sits beside the list file that
// holds the entry: /etc/portable-attach/cache for /etc lists, /run/portable-attach/cache for /run.
// A failure to write it costs speed and first-pass completeness, never the attach: a warning says so.
import { strerror } from "../io/strerror.ts";
import { mkdirSync } from "node:fs";
import type { Entry } from "../config/attach-list.ts";
import { CACHE_DIRS } from "../config/paths.ts";
import { removeStaleTemporariesIn, replaceFileAtomic } from "../io/atomic-file.ts";
import {
  cacheFileName,
  cacheRecord,
  identityOf,
  type ImageIdentity,
  removeCacheFiles,
  settledIdentity,
} from "../io/facts-cache.ts";
import { lookupImage } from "../io/image-lookup.ts";
import { inRoot, shownInRoot } from "../io/root-path.ts";
import { matchesFor } from "../portable/matches.ts";
import type { EntryFacts } from "../plan/types.ts";
import { hostArchitecture } from "../portable/architecture.ts";
import { VERSION } from "../version.ts";
import type { Context } from "./context.ts";

const [ETC_CACHE, RUN_CACHE] = CACHE_DIRS as [string, string, string];
/** The cache directories the CLI writes (the /usr one is the image builder's). */
export const WRITABLE_CACHE_DIRS = [ETC_CACHE, RUN_CACHE];

export interface ImagesSeen {
  paths: (string | undefined)[];
  identities: (ImageIdentity | undefined)[];
}

/** Where each of the entry's images is and what it is now: taken before the images are read. */
export function imagesSeen(ctx: Context, entry: Entry): ImagesSeen {
  const paths = [entry.image, ...entry.extensions].map((image) => {
    try {
      const lookup = lookupImage(ctx.opts.root, image);
      return "found" in lookup ? lookup.found : undefined;
    } catch {
      return undefined;
    }
  });
  return { paths, identities: paths.map((p) => (p === undefined ? undefined : identityOf(ctx.opts.root, p))) };
}

/**
 * Records `facts` (read between `before` and now) for `entry`, which lives in `listFile`. An image
 * that changed while it was read, or just before, is recorded without an identity: the generator
 * then reads it whenever it is reachable, and uses the record only while it is not.
 */
export function writeEntryCache(
  ctx: Context,
  entry: Entry,
  listFile: string,
  facts: EntryFacts | undefined,
  before: ImagesSeen,
): void {
  if (facts?.kind !== "read" || facts.unverified) return;
  const images = [facts.root, ...facts.extensions];
  if (images.some((img, i) => img.path !== before.paths[i])) return; // moved under us: record nothing
  const dir = listFile.startsWith("/run/") ? RUN_CACHE : ETC_CACHE;
  const now = Date.now();
  const record = cacheRecord(
    entry,
    { version: VERSION, architecture: hostArchitecture(ctx.env), matches: matchesFor(entry) },
    images.map((img, i) => ({
      facts: img,
      identity: settledIdentity(before.identities[i], identityOf(ctx.opts.root, img.path), now),
    })),
  );
  let hostDir = shownInRoot(ctx.opts.root, dir);
  try {
    hostDir = inRoot(ctx.opts.root, dir); // never out of the tree through a symlink in it
    mkdirSync(hostDir, { recursive: true, mode: 0o755 });
    // A run killed mid-write left its temporary file here; no later write of that entry may come.
    // Only files of dead processes go, so a writer under another list directory's lock is safe.
    removeStaleTemporariesIn(hostDir);
    replaceFileAtomic(ctx.opts.root, `${dir}/${cacheFileName(entry.name)}`, record);
  } catch (e) {
    ctx.warn(
      `Warning: Failed to write the cache for [${entry.name}] in '${hostDir}': ${strerror(e)}; an image not reachable at boot will be attached by the late pass instead.`,
    );
    return;
  }
  // A record in the other directory is for an older state of this entry.
  removeCacheFiles(
    ctx.opts.root,
    entry.name,
    WRITABLE_CACHE_DIRS.filter((d) => d !== dir),
  );
}
