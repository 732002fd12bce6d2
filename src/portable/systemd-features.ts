// What portablectl attach writes into 20-portable.conf, and how an image's release files are read,
// by systemd version: the one place that knows. Each row is the first version with a change, read
// from systemd's own src/portable/portable.c (install_chroot_dropin) and src/basic/env-file.c at
// that tag; a version takes the last row at or below it. Detecting which systemd runs is
// src/io/systemd-version.ts's job.

export interface PortableBehaviour {
  /** The first systemd version that writes this way. */
  since: number;
  /**
   * `BindReadOnlyPaths=<host os-release>:/run/host/os-release`. Up to 253 portablectl binds it; since
   * 254 PID 1 provides /run/host/os-release to every RootDirectory=/RootImage= service itself, and
   * since 255 as a symlink into a staged directory, where a second bind fails the service with
   * 226/NAMESPACE ("File exists").
   */
  bindHostOsRelease: boolean;
  /**
   * Since 254: `LogExtraFields=PORTABLE_NAME_AND_VERSION=ID_VERSION` from the image's os-release;
   * with extensions `PORTABLE_ROOT=` (Environment= and LogExtraFields=),
   * `PORTABLE_ROOT_NAME_AND_VERSION=`, and per extension `PORTABLE_EXTENSION=` and
   * `PORTABLE_EXTENSION_NAME_AND_VERSION=` (a blank line before each extension's group).
   */
  releaseLogFields: boolean;
  /** Since 255: the extension's CONFEXT_ fields give a second PORTABLE_EXTENSION_NAME_AND_VERSION=. */
  confextLogFields: boolean;
  /** Since 260: every service gets the ExtensionImages=/ExtensionDirectories= lines, not only those found in an extension. */
  extensionsOnEveryService: boolean;
  /** Since 260: RootImagePolicy=/ExtensionImagePolicy= pin each raw image to what was found in it. */
  pinImagePolicy: boolean;
  /**
   * How the image's os-release/extension-release is read (src/basic/env-file.c): up to 253 a
   * comment line ending in '\' goes on over the next line, which is lost; since 254 that line is read.
   */
  commentContinues: boolean;
}

export const PORTABLE_BEHAVIOURS: readonly PortableBehaviour[] = [
  {
    since: 252,
    bindHostOsRelease: true,
    releaseLogFields: false,
    confextLogFields: false,
    extensionsOnEveryService: false,
    pinImagePolicy: false,
    commentContinues: true,
  },
  {
    since: 254,
    bindHostOsRelease: false,
    releaseLogFields: true,
    confextLogFields: false,
    extensionsOnEveryService: false,
    pinImagePolicy: false,
    commentContinues: false,
  },
  {
    since: 255,
    bindHostOsRelease: false,
    releaseLogFields: true,
    confextLogFields: true,
    extensionsOnEveryService: false,
    pinImagePolicy: false,
    commentContinues: false,
  },
  {
    since: 260,
    bindHostOsRelease: false,
    releaseLogFields: true,
    confextLogFields: true,
    extensionsOnEveryService: true,
    pinImagePolicy: true,
    commentContinues: false,
  },
];

/** The oldest systemd we support; older ones get its behaviour. */
export const OLDEST_SUPPORTED = 252;

/** The behaviour of a systemd version; undefined (not detected) gets the newest row. */
export function behaviourFor(version: number | undefined): PortableBehaviour {
  const rows = PORTABLE_BEHAVIOURS;
  if (version === undefined) return rows[rows.length - 1] as PortableBehaviour;
  let found = rows[0] as PortableBehaviour;
  for (const row of rows) if (row.since <= version) found = row;
  return found;
}
