#!/usr/bin/env node
// The system tools the tests run (npm test runs this first): image builders for the fixtures and
// hostile images, decompressors and systemd's own tools as oracles, man page renderers, python3
// (the stdio tests' slow reader), lintian for the package, nspawn and mmdebstrap for the tests
// that boot a guest. Any missing: as root on a
// machine with apt-get, install them all in one apt-get run (once: the next run finds them);
// otherwise name them and the one command that installs them, and fail. Never a silent skip.
//
//   node scripts/test-deps.mjs [--check]     (--check: name what is missing, install nothing)
import { spawnSync } from "node:child_process";
import { accessSync, constants } from "node:fs";
import { delimiter, join } from "node:path";

/** Debian package → the commands of it the tests run. */
export const TOOLS = {
  "squashfs-tools": ["mksquashfs", "unsquashfs"],
  "erofs-utils": ["mkfs.erofs", "dump.erofs"],
  e2fsprogs: ["mkfs.ext4", "debugfs"],
  fdisk: ["sfdisk"],
  "cryptsetup-bin": ["veritysetup"],
  "xz-utils": ["xz"],
  zstd: ["zstd"],
  lzop: ["lzop"],
  lz4: ["lz4"],
  mandoc: ["mandoc"],
  "groff-base": ["groff"],
  "man-db": ["man"],
  openssl: ["openssl"],
  systemd: ["systemctl", "systemd-analyze", "systemd-id128", "journalctl"],
  "systemd-repart": ["systemd-repart"],
  "systemd-container": ["systemd-nspawn", "portablectl"],
  mmdebstrap: ["mmdebstrap"],
  "util-linux": ["unshare", "losetup", "setpriv", "prlimit"],
  mount: ["mount", "umount"],
  git: ["git"],
  python3: ["python3"],
  lintian: ["lintian"],
};

/** A package that older releases do not have, → the one holding its commands there (Debian 12). */
const BEFORE_SPLIT = { "systemd-repart": "systemd" };

// systemctl, portablectl… live in /usr/sbin or /usr/lib/systemd on some systems; look there too.
const DIRS = [...(process.env.PATH ?? "").split(delimiter), "/usr/sbin", "/sbin", "/usr/bin", "/bin"];

export function have(cmd) {
  for (const dir of DIRS) {
    try {
      accessSync(join(dir, cmd), constants.X_OK);
      return true;
    } catch {}
  }
  return false;
}

export function missing() {
  return Object.entries(TOOLS)
    .filter(([, cmds]) => !cmds.every(have))
    .map(([pkg, cmds]) => ({ pkg, cmds: cmds.filter((c) => !have(c)) }));
}

function main() {
  const checkOnly = process.argv.includes("--check");
  let gone = missing();
  if (gone.length === 0) return 0;
  const pkgs = gone.map((m) => m.pkg);
  const command = `apt-get install --no-install-recommends ${pkgs.join(" ")}`;
  const names = gone.map((m) => `${m.cmds.join(", ")} (${m.pkg})`).join("; ");
  const canInstall = !checkOnly && process.getuid?.() === 0 && have("apt-get");
  if (!canInstall) {
    const split = pkgs.filter((p) => p in BEFORE_SPLIT).map((p) => `${p} is part of ${BEFORE_SPLIT[p]}`);
    const older = split.length ? `\n(Before Debian 13, ${split.join(", ")}.)` : "";
    console.error(
      `The tests need tools that are not installed: ${names}.\nInstall them as root with:\n  ${command}${older}`,
    );
    return 1;
  }
  console.error(`Installing the tools the tests need: ${names}`);
  const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
  const apt = (args) => {
    const r = spawnSync("apt-get", args, { stdio: ["ignore", "ignore", "inherit"], env });
    if (r.status === 0) return true;
    console.error(
      `Failed to run apt-get ${args[0]} (exit status ${r.status ?? r.signal}); run as root:\n  apt-get update && ${command}`,
    );
    return false;
  };
  if (!apt(["update", "-qq"])) return 1;
  // After the update, apt knows whether this release has split a tool into a package of its own.
  const known = (pkg) => spawnSync("apt-cache", ["show", "--no-all-versions", pkg], { stdio: "ignore" }).status === 0;
  const install = [...new Set(pkgs.map((p) => (p in BEFORE_SPLIT && !known(p) ? BEFORE_SPLIT[p] : p)))];
  if (!apt(["install", "-y", "-qq", "--no-install-recommends", ...install])) return 1;
  gone = missing();
  if (gone.length) {
    console.error(`Still missing after apt-get: ${gone.map((m) => m.cmds.join(", ")).join("; ")}`);
    return 1;
  }
  return 0;
}

if (import.meta.url === `file://${process.argv[1]}`) process.exitCode = main();
