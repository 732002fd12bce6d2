// Reads what plan() needs to know about one entry's images. Every failure becomes data
// ({kind: "failed"} or "unreachable"), so one bad image never stops the others.
import type { Entry } from "../config/attach-list.ts";
import { RunBudget, withImageBudget } from "../image/budget.ts";
import { openImage, rememberingTree } from "../image/open.ts";
import { verityTrust, type Trust } from "../image/verity-trust.ts";
import { ImageError, type ImageTree } from "../image/types.ts";
import { discoverUnits } from "../portable/discover.ts";
import { imagePolicyPin } from "../portable/image-policy.ts";
import { findExtensionRelease, findOsRelease, ReleaseError } from "../portable/release.ts";
import { lastComponent } from "../portable/unit-name.ts";
import { parseVersionedName } from "../portable/version.ts";
import { checkPath } from "../unit/escape.ts";
import { matchesFor, Refusal } from "../portable/matches.ts";
import type { EntryFacts, ImageFacts } from "../plan/types.ts";
import { type CachedEntry, type FactsCache, identityOf, sameIdentity } from "./facts-cache.ts";
import { imageHostPath, lookupImage } from "./image-lookup.ts";
import { hostPath, unroot } from "./root-path.ts";

export interface FactsOptions {
  /** Prefix for every host path read (PORTABLE_ATTACH_ROOT / --root); "" for the real root. */
  root: string;
  architecture: string;
  /** false until the late pass ran in this boot: a missing image may be on a file system not mounted yet. */
  latePassDone: boolean;
  /** The host tree under `root`, shared by every entry of one run (see lookupImage). */
  hostTree?: ImageTree;
  /** Facts the CLI cached at attach time (see facts-cache.ts); the CLI itself reads every image. */
  cache?: FactsCache;
  /** The running version, which a cache record must have been written by. */
  version?: string;
  /** Certificates for dm-verity signatures, shared by a run; default: read under `root` when first needed. */
  trust?: Trust;
  /** Debug-level messages (a signature nobody could check). */
  debug?: (message: string) => void;
  /** What all images of this run may still cost (budget.ts); a fresh one per call if unset. */
  budget?: RunBudget;
}

/** The image's facts, and whether a signature in it went unchecked (no certificates configured). */
function readImage(
  options: FactsOptions,
  path: string,
  matches: readonly string[],
  role: "root" | "extension",
  relaxed: boolean,
): { facts: ImageFacts; unchecked: boolean } {
  return withImageBudget(options.budget ?? new RunBudget(), path, () => {
    let tree: ImageTree | undefined;
    try {
      tree = rememberingTree(
        openImage(imageHostPath(options.root, path), {
          architecture: options.architecture,
          trust: options.trust ?? verityTrust((p) => hostPath(options.root, p)),
        }),
      );
      for (const note of tree.protection?.notes ?? []) options.debug?.(unroot(note, options.root));
      const level = tree.protection?.level;
      const name = lastComponent(path).name.replace(/\.raw$/, "");
      const release = role === "root" ? findOsRelease(tree) : findExtensionRelease(tree, name, relaxed);
      const { units, warnings } = discoverUnits(tree, matches);
      const pin = imagePolicyPin(tree);
      const facts: ImageFacts = {
        path,
        type: tree.type,
        releaseText: release?.text,
        units,
        ...(pin !== undefined && { pin }),
        warnings: warnings.map((w) => unroot(w, options.root)),
        ...(level !== undefined && level !== "unprotected" && { protection: level }),
      };
      return { facts, unchecked: tree.protection?.unchecked ?? false };
    } finally {
      tree?.close();
    }
  });
}

export function readEntryFacts(entry: Entry, options: FactsOptions): EntryFacts {
  const configured = [entry.image, ...entry.extensions];
  const located: (string | undefined)[] = [];
  const missing: string[] = [];
  for (const image of configured) {
    let lookup;
    try {
      lookup = lookupImage(options.root, image, options.hostTree);
    } catch (e) {
      // A symlink loop or an absurdly deep path on the way to the image fails this entry only.
      if (e instanceof ImageError) return { kind: "failed", reason: unroot(e.message, options.root) };
      throw e;
    }
    // A symlink to / found by a fresh lookup (plan() checks the rest of the path when it writes it).
    if ("found" in lookup && lookup.found === "/")
      return { kind: "failed", reason: `Image '${image}' resolves to the host's root directory, not an image` };
    located.push("found" in lookup ? lookup.found : undefined);
    if ("missing" in lookup) missing.push(lookup.missing);
  }
  // After the late pass, local file systems are mounted: a missing image is really missing.
  if (missing.length > 0 && options.latePassDone) return { kind: "failed", reason: missing.join("; ") };
  try {
    // The record is read only where it can serve: an image not reachable yet, or a raw image (a
    // regular file, which has an identity). A reachable directory image is always read itself.
    const identities = options.cache
      ? located.map((path) => (path === undefined ? undefined : identityOf(options.root, path)))
      : [];
    let cached = missing.length > 0 || identities.some((id) => id !== undefined) ? cacheFor(entry, options) : undefined;
    // A record stands in for an unreachable image only where its path passes a fresh lookup's checks.
    const forged =
      cached &&
      located
        .map((path, i) =>
          path === undefined
            ? cachedPathProblem(configured[i] as string, (cached as CachedEntry).image(i).facts)
            : undefined,
        )
        .find((w) => w !== undefined);
    if (forged) cached = undefined;
    if (missing.length > 0 && !cached) {
      const paths = configured.filter((p) => p.startsWith("/"));
      const ignored = forged ? `; its cached facts are ignored: the image ${forged}` : "";
      return {
        kind: "unreachable",
        paths,
        reason: `${missing.join("; ")}${ignored}; deferred until local file systems are mounted`,
      };
    }
    const matches = matchesFor(entry);
    const unverified: string[] = [];
    const images = located.map((path, i): ImageFacts => {
      const record = cached?.image(i);
      if (path === undefined) {
        // Not reachable yet: what was read at attach time stands in until the late pass checks it.
        const facts = (record as { facts: ImageFacts }).facts;
        unverified.push(facts.path);
        return facts;
      }
      // A protected image is always read again: its signature is checked against today's verity.d.
      if (
        record &&
        record.facts.path === path &&
        !record.facts.protection &&
        sameIdentity(record.identity, identities[i])
      ) {
        if (options.cache) options.cache.unchangedImages++;
        return record.facts;
      }
      const { facts: fresh, unchecked } = readImage(
        options,
        path,
        matches,
        i === 0 ? "root" : "extension",
        entry.force,
      );
      // Whoever can rewrite an image can also strip its verity data or signature; the record of
      // attach time tells. (A signature left unchecked because verity.d is empty is not stripped.)
      const was = record?.facts.path === path ? record.facts.protection : undefined;
      if (was && STRENGTH[was] > (unchecked ? STRENGTH.signed : STRENGTH[fresh.protection ?? "unprotected"])) {
        throw new Refusal(
          `Image '${path}' was ${was === "signed" ? "signed" : "protected by dm-verity"} when it was attached and is now ${fresh.protection === "verity" ? "only protected by dm-verity" : "unprotected"}, refusing (attach it again if that is intended)`,
        );
      }
      return fresh;
    });
    const refused = policyRefusal(entry, images);
    if (refused) return { kind: "failed", reason: refused };
    const [root, ...extensions] = images as [ImageFacts, ...ImageFacts[]];
    return unverified.length > 0 ? { kind: "read", root, extensions, unverified } : { kind: "read", root, extensions };
  } catch (e) {
    if (e instanceof ImageError || e instanceof ReleaseError || e instanceof Refusal)
      return { kind: "failed", reason: unroot(e.message, options.root) };
    throw e;
  }
}

const STRENGTH = { signed: 2, verity: 1, unprotected: 0 } as const;

/** Why ImagePolicy= refuses one of the images (cached ones too), or undefined. */
function policyRefusal(entry: Entry, images: readonly ImageFacts[]): string | undefined {
  const policy = entry.imagePolicy;
  if (!policy) return undefined;
  for (const image of images) {
    const level = image.protection ?? "unprotected";
    if (policy.includes(level)) continue;
    const what = {
      signed: "signed",
      verity: "protected by dm-verity but not signed by a trusted key",
      unprotected: "not protected by dm-verity",
    }[level];
    return `Image '${image.path}' is ${what}, and ImagePolicy=${policy.join("+")} (${entry.file}:${entry.line}) does not allow that`;
  }
  return undefined;
}

/** Why a recorded image path cannot be one a lookup finds (those pass these checks, here or in plan()). */
function imagePathProblem(path: string, type: "raw" | "directory"): string | undefined {
  const why = checkPath(path);
  if (why) return `has an unusable path: ${why}`;
  if (path === "/") return "resolves to the host's root directory, not an image";
  if (type === "raw" && !path.endsWith(".raw")) return `resolves to '${path}', which is not a '.raw' file`;
  return undefined;
}

/**
 * Why a cached record cannot stand in for an image not reachable now: its path must pass the checks
 * of a fresh lookup and be one the configured value can name (the same file name, or a version of
 * it). A record that fails is ignored: the entry is deferred as if there were none.
 */
function cachedPathProblem(configured: string, facts: ImageFacts): string | undefined {
  const why = imagePathProblem(facts.path, facts.type);
  if (why) return why;
  const file = lastComponent(facts.path).name;
  const name = lastComponent(configured)
    .name.replace(/(\.raw)?\.v$/, "")
    .replace(/\.raw$/, "");
  const suffix = facts.type === "raw" ? ".raw" : "";
  if (file === `${name}${suffix}` || parseVersionedName(file, name, suffix) !== undefined) return undefined;
  return `resolves to '${facts.path}', which is not an image '${configured}' names`;
}

/**
 * Facts for every entry without errors. Each entry's reading is isolated: a bug (an internal
 * error) fails that entry with its stack, the others are read as usual.
 */
export function readAllFacts(
  entries: readonly Entry[],
  options: (entry: Entry) => FactsOptions,
): Map<string, EntryFacts> {
  const facts = new Map<string, EntryFacts>();
  for (const entry of entries) {
    if (entry.errors.length > 0) continue;
    try {
      facts.set(entry.name, readEntryFacts(entry, options(entry)));
    } catch (e) {
      facts.set(entry.name, { kind: "failed", reason: `Internal error: ${(e as Error)?.stack ?? String(e)}` });
    }
  }
  return facts;
}

function cacheFor(entry: Entry, options: FactsOptions): CachedEntry | undefined {
  let matches: string[];
  try {
    matches = matchesFor(entry);
  } catch {
    return undefined; // refused below, when the entry is read
  }
  return options.cache?.lookup(entry, { version: options.version ?? "", architecture: options.architecture, matches });
}
