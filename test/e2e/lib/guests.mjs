// The Debian guests the suite boots, one systemd version each. Every scenario runs on every guest
// unless it exports `guests: [...]`; E2E_GUESTS=bookworm,trixie restricts a run.
//
//   suite      systemd  notes
//   bookworm   252      the first supported version; cgroup v1 as nspawn gives it on this host
//   trixie     257      unified cgroup hierarchy (what a trixie machine runs; 257 still boots on v1)
//   sid        newest   the mirror's sid Release is past its Valid-Until: apt must not check it;
//                       systemd >= 258 refuses the legacy (v1/hybrid) cgroup hierarchy
import { existsSync, readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";

export const GUESTS = {
  bookworm: {
    suite: "bookworm",
    pockets: ["bookworm", "bookworm-updates"],
    security: "bookworm-security",
    aptopts: [],
    unifiedCgroup: false,
  },
  trixie: { suite: "trixie", pockets: ["trixie"], aptopts: [], unifiedCgroup: true },
  sid: { suite: "sid", pockets: ["sid"], aptopts: ['Acquire::Check-Valid-Until "false"'], unifiedCgroup: true },
};

/** The guests to boot, in order: E2E_GUESTS (comma-separated) or all of them. */
export function selectedGuests(env = process.env) {
  const names = (env.E2E_GUESTS ?? "")
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
  for (const n of names)
    if (!GUESTS[n]) throw new Error(`E2E_GUESTS: no guest '${n}' (have: ${Object.keys(GUESTS).join(", ")})`);
  return names.length ? names : Object.keys(GUESTS);
}

/**
 * The Debian mirror the host's own apt uses (deb822 .sources or one-line .list), so a rootfs comes from
 * where this machine's packages come from; deb.debian.org when nothing is configured.
 */
export function hostMirrors() {
  const found = { debian: null, security: null };
  const files = [];
  if (existsSync("/etc/apt/sources.list")) files.push("/etc/apt/sources.list");
  if (existsSync("/etc/apt/sources.list.d"))
    for (const f of readdirSync("/etc/apt/sources.list.d").sort())
      if (/\.(list|sources)$/.test(f)) files.push(join("/etc/apt/sources.list.d", f));
  for (const f of files) {
    const text = readFileSync(f, "utf8");
    const uris = f.endsWith(".sources")
      ? [...text.matchAll(/^URIs:\s*(.+)$/gim)].flatMap((m) => m[1].trim().split(/\s+/))
      : [...text.matchAll(/^deb\s+(?:\[[^\]]*\]\s+)?(\S+)/gm)].map((m) => m[1]);
    for (const u of uris.map((x) => x.replace(/\/+$/, ""))) {
      if (/\/debian-security$/.test(u)) found.security ??= u;
      else if (/\/debian$/.test(u)) found.debian ??= u;
    }
  }
  return {
    debian: found.debian ?? "http://deb.debian.org/debian",
    security: found.security ?? "http://deb.debian.org/debian-security",
  };
}

/** mmdebstrap's mirror lines for a guest. */
export function mirrorLines(g, m = hostMirrors()) {
  return [
    ...g.pockets.map((p) => `deb ${m.debian} ${p} main`),
    ...(g.security ? [`deb ${m.security} ${g.security} main`] : []),
  ];
}

/** The systemd of a built rootfs: { version: "257.13-1", major: 257 } from its dpkg database. */
export function systemdOf(rootfs) {
  const status = readFileSync(join(rootfs, "var/lib/dpkg/status"), "utf8");
  const m = /^Package: systemd\n(?:[^\n]+\n)*?Version: (\S+)/m.exec(status);
  if (!m) throw new Error(`${rootfs}: systemd is not installed`);
  return { version: m[1], major: Number.parseInt(m[1], 10) };
}
