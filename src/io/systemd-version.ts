// Which systemd the units are written for. A generator is told no version, so:
//   1. on the running system (not in a chroot), the libsystemd-shared-NNN.so that PID 1 has mapped (/proc/1/maps):
//      the systemd that will load our units, even if a newer package is installed but not re-executed;
//   2. otherwise (not root, PID 1 not systemd, or a --root tree) the libsystemd-shared-NNN.so
//      installed in the tree;
//   3. nothing found: the newest behaviour we know, whose output is safe on older systemd too
//      (without the os-release bind, a 252 service only lacks /run/host/os-release).
// What PID 1 provides overrides the version where it can be seen: a staged
// /run/systemd/propagate/.os-release-stage/ (255+) or /run/systemd/propagate/os-release (254)
// means PID 1 gives services /run/host/os-release itself, and our bind would collide with it.
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { behaviourFor, type PortableBehaviour } from "../portable/systemd-features.ts";
import { inRootOrUndefined } from "./root-path.ts";
import { inChroot } from "./systemctl.ts";

export interface DetectedSystemd {
  /** The major version, or undefined if nothing said. */
  version: number | undefined;
  /** Where the version came from, for logs. */
  source: string;
  behaviour: PortableBehaviour;
}

const LIB = /\/libsystemd-shared-(\d+)[^/\s]*\.so\b/;
const LIB_DIRS = ["/usr/lib/systemd", "/usr/lib64/systemd", "/lib/systemd", "/lib64/systemd"];

function readOr(path: string): string | undefined {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return undefined;
  }
}

function fromRunningPid1(): { version: number; source: string } | undefined {
  if (inChroot()) return undefined; // PID 1 is the build host's, not this tree's
  const m = LIB.exec(readOr("/proc/1/maps") ?? "");
  return m ? { version: Number(m[1]), source: `PID 1 maps ${m[0].slice(1)}` } : undefined;
}

/** The highest libsystemd-shared-NNN.so under the tree's library directories (multiarch ones too). */
function fromInstalled(root: string): { version: number; source: string } | undefined {
  const dirs = [...LIB_DIRS];
  // Inside the tree, as every path under a root: a link out of it says nothing of its systemd.
  const usrLib = inRootOrUndefined(root, "/usr/lib");
  try {
    if (usrLib !== undefined)
      for (const d of readdirSync(usrLib)) if (d.includes("-linux-")) dirs.push(`/usr/lib/${d}/systemd`);
  } catch {
    /* no /usr/lib: nothing installed */
  }
  let best: { version: number; source: string } | undefined;
  for (const dir of dirs) {
    const host = inRootOrUndefined(root, dir);
    if (host === undefined || !existsSync(host)) continue;
    let names: string[];
    try {
      names = readdirSync(host);
    } catch {
      continue;
    }
    for (const name of names) {
      const m = LIB.exec("/" + name);
      if (m && (!best || Number(m[1]) > best.version)) best = { version: Number(m[1]), source: `${dir}/${name}` };
    }
  }
  return best;
}

/** True if the running PID 1 provides /run/host/os-release itself (254+), as far as can be seen. */
function pid1ProvidesHostOsRelease(): boolean {
  return existsSync("/run/systemd/propagate/.os-release-stage") || existsSync("/run/systemd/propagate/os-release");
}

/** The systemd of the tree at `root` ("" = the running system) and what its portablectl writes. */
export function detectSystemd(root: string): DetectedSystemd {
  const found = (root === "" ? fromRunningPid1() : undefined) ?? fromInstalled(root);
  const behaviour = behaviourFor(found?.version);
  if (root === "" && behaviour.bindHostOsRelease && !inChroot() && pid1ProvidesHostOsRelease()) {
    return {
      version: found?.version,
      source: `${found?.source}, but PID 1 provides /run/host/os-release`,
      behaviour: { ...behaviour, bindHostOsRelease: false },
    };
  }
  return { version: found?.version, source: found?.source ?? "no libsystemd-shared-NNN.so found", behaviour };
}
