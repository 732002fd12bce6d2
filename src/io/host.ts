// What the generator needs to know about the host, read once per run under a root prefix.
import { existsSync, lstatSync, readdirSync, readlinkSync } from "node:fs";
import { hostPath, inRootOrUndefined } from "./root-path.ts";
import { HOST_UNIT_DIRS, OWN_PROFILE_DIR, PROFILE_DIRS } from "../config/paths.ts";
import type { HostFacts } from "../plan/types.ts";
import { detectSystemd, type DetectedSystemd } from "./systemd-version.ts";

export const LATE_PASS_UNIT = "/usr/lib/systemd/system/portable-attach-late.service";

/** Where `systemctl enable systemd-confext.service` (or a preset, or a vendor) puts its link. */
const CONFEXT_WANTS = [
  "/etc/systemd/system",
  "/run/systemd/system",
  "/usr/local/lib/systemd/system",
  "/usr/lib/systemd/system",
  "/lib/systemd/system",
];

const PROFILE_SEARCH = [...PROFILE_DIRS, OWN_PROFILE_DIR];

function addNames(dir: string | undefined, to: Set<string>): void {
  // Several of these directories do not exist on most hosts: ask first rather than catch (an
  // exception costs a stack capture at every boot).
  if (dir === undefined || !existsSync(dir)) return;
  try {
    for (const name of readdirSync(dir)) to.add(name);
  } catch {
    /* unreadable: nothing to conflict with */
  }
}

/**
 * True if /lib is the merged-/usr symlink to usr/lib: then /lib/systemd/system holds what
 * /usr/lib/systemd/system holds, and reading it again would only cost time (some 250 names).
 * Under a root prefix only the relative link says so ("/usr/lib" would be the build host's).
 */
function libIsUsrLib(root: string): boolean {
  try {
    const lib = hostPath(root, "/lib", false);
    if (lstatSync(lib, { throwIfNoEntry: false })?.isSymbolicLink() !== true) return false;
    const target = readlinkSync(lib);
    return target === "usr/lib" || (root === "" && target === "/usr/lib");
  } catch {
    return false;
  }
}

/** Exists, without following a final symlink, as portabled checks it. */
function exists(path: string): boolean {
  try {
    return lstatSync(path, { throwIfNoEntry: false }) !== undefined;
  } catch {
    return false;
  }
}

/** `path` exists under `root`, a final symlink as itself (as portabled checks) unless `followLast`. */
function existsIn(root: string, path: string, followLast = false): boolean {
  const host = inRootOrUndefined(root, path, followLast);
  return host !== undefined && (followLast ? existsSync(host) : exists(host));
}

export function readHostFacts(
  root: string,
  architecture: string,
  systemd: DetectedSystemd = detectSystemd(root),
): HostFacts {
  const unitNames = new Set<string>();
  const skipLib = libIsUsrLib(root);
  // Under a root every directory is looked up inside it: a link out of the tree names no host unit.
  for (const d of HOST_UNIT_DIRS)
    if (!(skipLib && d === "/lib/systemd/system")) addNames(inRootOrUndefined(root, d), unitNames);
  const profileCache = new Map<string, string | undefined>();
  return {
    unitNames,
    profileFile(profile, unitType) {
      const key = `${profile}/${unitType}.conf`;
      let found = profileCache.get(key);
      if (found === undefined && !profileCache.has(key)) {
        const dir = PROFILE_SEARCH.find((d) => {
          const host = inRootOrUndefined(root, `${d}/${profile}`); // inside the root, as everything under it
          return host !== undefined && exists(`${host}/${unitType}.conf`);
        });
        found = dir && `${dir}/${key}`;
        profileCache.set(key, found);
      }
      return found;
    },
    architecture,
    osReleasePath: existsIn(root, "/etc/os-release", true) ? "/etc/os-release" : "/usr/lib/os-release",
    portable: systemd.behaviour,
    latePassUnit: LATE_PASS_UNIT,
    confextEnabled: CONFEXT_WANTS.some((d) => existsIn(root, `${d}/sysinit.target.wants/systemd-confext.service`)),
  };
}
