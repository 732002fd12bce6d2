// Helpers for writing scenarios.
import { readFileSync } from "node:fs";
import { join } from "node:path";

/** The guest's VERSION_CODENAME (what a service reads from /run/host/os-release): bookworm, trixie, forky… */
export function codename(ctx) {
  const m = /^VERSION_CODENAME=(.*)$/m.exec(readFileSync(join(ctx.rootfs, "usr/lib/os-release"), "utf8"));
  return m ? m[1].replace(/"/g, "") : "";
}

/** Payload files that put the named test images into /var/lib/portables (or `dir`). */
export function portables(ctx, names, dir = "var/lib/portables") {
  const files = {};
  for (const n of names) {
    const p = ctx.images[n];
    if (!p) throw new Error(`no test image ${n}`);
    files[`${dir}/${n}`] = n.endsWith(".raw") ? { copyFile: p } : { copyTree: p };
  }
  return files;
}

/**
 * Payload files that put the named test images on a file system mounted only after the generators
 * ran: a bind mount unit for /var/lib/portables, pulled in by local-fs.target like a /var from fstab.
 */
export function lateMountedPortables(ctx, names) {
  return {
    ...portables(ctx, names, "usr/share/e2e-store"),
    "etc/systemd/system/var-lib-portables.mount": `[Unit]
Description=e2e: the file system that holds the images, mounted after the generators ran

[Mount]
What=/usr/share/e2e-store
Where=/var/lib/portables
Type=none
Options=bind

[Install]
WantedBy=local-fs.target
`,
    "etc/systemd/system/local-fs.target.wants/var-lib-portables.mount": { symlink: "../var-lib-portables.mount" },
  };
}

/** The guest-side dump helpers (dump_tree, dump_units) for parity. */
export const DUMP_SH = readFileSync(new URL("../guest/dump.sh", import.meta.url), "utf8");

/** Shell: the generator's own messages this boot (to /dev/kmsg when run by systemd, so in the journal). */
export const GEN_LOG = `journalctl -b --no-pager -o short -t portable-attach-generator`;

/** Shell snippet: check that a service runs, in its image, under the default profile. */
export function activeInImage(unit, { rootProp, rootValue, name }) {
  return `
check "${unit} is active" wait_state ${unit} active 15
expect "${unit}: ${rootProp}" "$(prop ${unit} ${rootProp})" "${rootValue}"
check "${unit}: the service ran its image's program (probe output)" wait_log ${unit} "^E2E-PROBE name=${name} " 10
`;
}

/**
 * Payload files that make the guest's /run/host look like a real machine's: nspawn mounts it read-only
 * with its own os-release in it. A service whose profile binds all of /run (trusted: BindPaths=/run)
 * then sees that directory, and systemd >= 255, which links /run/host/os-release there for the
 * service, fails with 226/NAMESPACE — under the guest's own portablectl as well (measured on 257 and
 * 262). Before any service starts, a writable copy without os-release is bound over it.
 */
export function writableRunHost() {
  return {
    "etc/systemd/system/e2e-run-host.service": `[Unit]
Description=e2e: a writable /run/host without nspawn's os-release, as on a machine
DefaultDependencies=no
Before=sysinit.target

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/bin/sh -c 'mkdir -p /run/e2e-host && cp -a /run/host/. /run/e2e-host/ && rm -f /run/e2e-host/os-release && mount --bind /run/e2e-host /run/host'
`,
    "etc/systemd/system/sysinit.target.wants/e2e-run-host.service": { symlink: "../e2e-run-host.service" },
  };
}
