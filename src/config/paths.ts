// Where things live on the booted system. Every reader takes a root prefix on top of these
// (PORTABLE_ATTACH_ROOT for the generator, --root for the CLI); what is *written into* units is
// always the path as the booted system sees it.

/** Attach-list locations, highest precedence first. */
export const LIST_LEVELS = [
  { main: "/etc/portable-attach.conf", dropins: "/etc/portable-attach.d" },
  { main: "/run/portable-attach.conf", dropins: "/run/portable-attach.d" },
  { main: undefined, dropins: "/usr/local/lib/portable-attach.d" },
  { main: undefined, dropins: "/usr/lib/portable-attach.d" },
] as const;

/** portablectl's image search path, in order. */
export const PORTABLE_DIRS = [
  "/etc/portables",
  "/run/portables",
  "/var/lib/portables",
  "/usr/local/lib/portables",
  "/usr/lib/portables",
];

/** Profile search path; our own shipped profiles come after these. */
export const PROFILE_DIRS = [
  "/etc/systemd/portable/profile",
  "/run/systemd/portable/profile",
  "/usr/local/lib/systemd/portable/profile",
  "/usr/lib/systemd/portable/profile",
  "/lib/systemd/portable/profile",
];
/** Where the package installs our profiles (used when the host has no systemd-container). */
export const OWN_PROFILE_DIR = "/usr/lib/portable-attach/profile";

/** Host unit directories checked for conflicts (systemd 252's system search path minus generator dirs, which are ours or rebuilt). */
export const HOST_UNIT_DIRS = [
  "/etc/systemd/system.control",
  "/run/systemd/system.control",
  "/run/systemd/transient",
  "/etc/systemd/system",
  "/etc/systemd/system.attached",
  "/run/systemd/system",
  "/run/systemd/system.attached",
  "/usr/local/lib/systemd/system",
  "/usr/lib/systemd/system",
  "/lib/systemd/system",
];

/** Unit directories searched inside an image, in portablectl's precedence order. */
export const IMAGE_UNIT_DIRS = [
  "/etc/systemd/system.control",
  "/run/systemd/system.control",
  "/run/systemd/transient",
  "/run/systemd/generator.early",
  "/etc/systemd/system",
  "/etc/systemd/system.attached",
  "/run/systemd/system",
  "/run/systemd/system.attached",
  "/run/systemd/generator",
  "/usr/local/lib/systemd/system",
  "/usr/lib/systemd/system",
  "/lib/systemd/system",
  "/run/systemd/generator.late",
];

/** Unit-file and release-file caches written by the CLI, read when an image is not reachable at boot. */
export const CACHE_DIRS = [
  "/etc/portable-attach/cache",
  "/run/portable-attach/cache",
  "/usr/lib/portable-attach/cache",
];

/** Created by portable-attach-late.service once the late pass has run in this boot. */
export const LATE_PASS_STAMP = "/run/portable-attach/late-pass-done";

/** The generator's record of each entry's outcome, read by `portable-attach status`. */
export const STATUS_FILE_NAME = ".portable-attach-status.json";
export const GENERATOR_NORMAL_DIR = "/run/systemd/generator";
