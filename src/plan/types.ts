// The data plan() works on: what the shells found out (entries, image facts, host facts) and what
// plan() decides (files to write, and each entry's outcome). Plain data, no IO.
import type { Entry } from "../config/attach-list.ts";
import type { UnitFile } from "../portable/discover.ts";
import type { PortableBehaviour } from "../portable/systemd-features.ts";

export interface ImageFacts {
  /** The image path as the booted system sees it (symlinks and versions resolved). */
  path: string;
  type: "directory" | "raw";
  /**
   * The os-release (root) or extension-release (extension) text as found; undefined if the image
   * has none. plan() parses it as the host's systemd would: how differs by version.
   */
  releaseText: string | undefined;
  units: UnitFile[];
  /** The image policy that pins a raw image to what was found (src/portable/image-policy.ts), if known. */
  pin?: string;
  /** Non-fatal findings while reading the image. */
  warnings: string[];
  /** dm-verity state of a raw image ("signed", "verity"); absent: unprotected. Checked against ImagePolicy=. */
  protection?: "signed" | "verity";
}

/** An image's facts with its release file parsed (by plan(), by the host systemd's rules). */
export interface ParsedImage extends ImageFacts {
  release: Record<string, string> | undefined;
}

export type EntryFacts =
  /** `unverified`: images not reachable yet, whose facts come from the cache the CLI wrote at attach time. */
  | { kind: "read"; root: ImageFacts; extensions: ImageFacts[]; unverified?: string[] }
  /** An image is not there yet (e.g. on a /var not mounted at generator time): try again later in this boot. */
  | { kind: "unreachable"; paths: string[]; reason: string }
  | { kind: "failed"; reason: string };

export interface HostFacts {
  /** Unit names present in the host's unit directories (not counting generator output). */
  unitNames: ReadonlySet<string>;
  /** The profile drop-in for a profile name and unit type ("service"), as a booted-system path. */
  profileFile(profile: string, unitType: string): string | undefined;
  /** systemd architecture name, for extension-release ARCHITECTURE=. */
  architecture: string;
  /** The host's os-release path, bound into services as /run/host/os-release where `portable` says so. */
  osReleasePath: string;
  /** What the host's systemd's portablectl writes into 20-portable.conf (src/portable/systemd-features.ts). */
  portable: PortableBehaviour;
  /** The unit that runs the late pass for deferred entries, as a booted-system path. */
  latePassUnit: string;
  /**
   * systemd-confext.service is enabled: it merges /etc after the generators ran, so lists it
   * brings are read by the late pass, which then reloads (the generator cannot see them yet).
   */
  confextEnabled?: boolean;
}

/** `entry`: the entry it belongs to (none for the late pass), so that writing one entry's files can fail alone. */
export type OutputFile =
  | { path: string; kind: "file"; content: Uint8Array | string; entry?: string }
  | { path: string; kind: "symlink"; target: string; entry?: string };

export type EntryState = "attached" | "deferred" | "failed" | "masked";

/** A unit an entry could not provide because someone else does: the host, or an entry planned before it. */
export interface Conflict {
  unit: string;
  with: "host" | { entry: string };
}

export interface Outcome {
  name: string;
  file: string;
  line: number;
  state: EntryState;
  /** Why it is deferred or failed. */
  reason?: string;
  image?: string;
  extensions?: string[];
  /** Units this entry provides, sorted. */
  units: string[];
  /** Images not reachable yet, attached from the cache the CLI wrote at attach time (checked again by the late pass). */
  cached?: string[];
  /** Enable=yes: every unit is enabled per its [Install]. */
  enabled: boolean;
  /**
   * The units the generator's .wants/.requires/.upholds links pull in, instances by their own
   * name ("foo@a.service"): from Enable=yes and EnableUnits=. Only for attached entries.
   */
  enabledUnits?: string[];
  /** Units left out or refused because the host or another entry has them (the warnings and reason say it in words). */
  conflicts?: Conflict[];
  warnings: string[];
}

export interface PlanInput {
  entries: Entry[];
  masked: Entry[];
  facts: ReadonlyMap<string, EntryFacts>;
  host: HostFacts;
}

export interface Plan {
  /** Paths relative to the generator's normal output directory, sorted. */
  files: OutputFile[];
  /** One per entry and masked entry, sorted by name. */
  outcomes: Outcome[];
}
