// What the generator needs to know about the host, read once per run under a root prefix.
import { existsSync, lstatSync, readdirSync } from "node:fs";
import { HOST_UNIT_DIRS, OWN_PROFILE_DIR, PROFILE_DIRS } from "../config/paths.ts";
import type { HostFacts } from "../plan/types.ts";

export const LATE_PASS_UNIT = "/usr/lib/systemd/system/portable-attach-late.service";

function names(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

export function readHostFacts(root: string, architecture: string): HostFacts {
  const unitNames = new Set(HOST_UNIT_DIRS.flatMap((d) => names(root + d)));
  const profileCache = new Map<string, string | undefined>();
  return {
    unitNames,
    profileFile(profile, unitType) {
      const key = `${profile}/${unitType}.conf`;
      if (!profileCache.has(key)) {
        // Existence without following a final symlink, as portabled checks it (portable-spec §2.1).
        const dir = [...PROFILE_DIRS, OWN_PROFILE_DIR].find((d) => {
          try {
            lstatSync(`${root}${d}/${key}`);
            return true;
          } catch {
            return false;
          }
        });
        profileCache.set(key, dir && `${dir}/${key}`);
      }
      return profileCache.get(key);
    },
    architecture,
    osReleasePath: existsSync(root + "/etc/os-release") ? "/etc/os-release" : "/usr/lib/os-release",
    latePassUnit: LATE_PASS_UNIT,
  };
}
