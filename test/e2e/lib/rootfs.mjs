// The Debian rootfs of each guest (bookworm, trixie, sid; lib/guests.mjs): built once with mmdebstrap
// from the host's own Debian mirror, cached outside the repository under a key derived from the recipe
// (and the host's node binary, which is copied in), rebuilt when missing or when the recipe changes.
// Never written to after it is built: every boot lays an overlay over it.
import { createHash } from "node:crypto";
import {
  mkdirSync,
  readdirSync,
  rmSync,
  renameSync,
  statSync,
  writeFileSync,
  existsSync,
  symlinkSync,
  copyFileSync,
  chmodSync,
  readFileSync,
} from "node:fs";
import { join } from "node:path";
import { run } from "./util.mjs";
import { GUESTS, mirrorLines } from "./guests.mjs";

export const CACHE_DIR = process.env.PORTABLE_ATTACH_E2E_CACHE ?? "/var/cache/portable-attach-e2e";

// Everything that decides what a guest's rootfs contains. Change anything here and the cache key
// changes. (bookworm's recipe has no aptopts key, so its cache key is what it was before the suite had
// more than one guest.)
export function recipe(guest = "bookworm") {
  const g = GUESTS[guest];
  if (!g) throw new Error(`no guest ${guest}`);
  return {
    version: 3,
    suite: g.suite,
    variant: "minbase",
    // busybox-static: the one static binary our tiny test images carry (no libc needed in an image).
    include: ["systemd", "systemd-sysv", "dbus", "systemd-container", "busybox-static"],
    exclude: ["/usr/share/man/*", "/usr/share/doc/*", "/usr/share/locale/*", "/usr/share/info/*"],
    mirrors: mirrorLines(g),
    ...(g.aptopts.length ? { aptopts: g.aptopts } : {}),
    mask: [
      "apt-daily.timer",
      "apt-daily-upgrade.timer",
      "e2scrub_all.timer",
      "e2scrub_reap.service",
      "fstrim.timer",
      "dpkg-db-backup.timer",
      "systemd-tmpfiles-clean.timer",
    ],
    nodeBinary: "/usr/bin/node",
  };
}
export const RECIPE = recipe("bookworm");

function recipeKey(r) {
  const st = statSync(r.nodeBinary);
  const h = createHash("sha256");
  h.update(JSON.stringify(r));
  h.update(`node:${st.size}:${st.mtimeMs}:${process.version}`);
  return h.digest("hex").slice(0, 16);
}

// bookworm's directory keeps its old name (rootfs-KEY) so runs of older checkouts share it.
const prefixOf = (guest) => (guest === "bookworm" ? "rootfs-" : `rootfs-${guest}-`);
const isOfGuest = (name, guest) =>
  guest === "bookworm" ? /^rootfs-[0-9a-f]{16}$/.test(name) : name.startsWith(prefixOf(guest));

/** Return the path of a ready rootfs directory for a guest, building it if needed. */
export async function ensureRootfs(log = () => {}, guest = "bookworm") {
  const RECIPE = recipe(guest);
  const key = recipeKey(RECIPE);
  const dir = join(CACHE_DIR, `${prefixOf(guest)}${key}`);
  if (existsSync(join(dir, ".e2e-complete"))) return { dir, built: false };
  mkdirSync(CACHE_DIR, { recursive: true });
  const tmp = join(CACHE_DIR, `.build-${key}-${process.pid}`);
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp);
  const t0 = Date.now();
  log(`building the ${guest} rootfs (cache key ${key}) in ${CACHE_DIR}…`);
  try {
    const tar = join(tmp, "rootfs.tar");
    const args = [
      `--variant=${RECIPE.variant}`,
      "--format=tar",
      "--quiet",
      `--include=${RECIPE.include.join(",")}`,
      ...(RECIPE.aptopts ?? []).map((o) => `--aptopt=${o}`),
      ...RECIPE.exclude.map((p) => `--dpkgopt=path-exclude=${p}`),
      RECIPE.suite,
      tar,
      ...RECIPE.mirrors,
    ];
    await run("mmdebstrap", args, { timeoutMs: 480_000 });
    const root = join(tmp, "root");
    mkdirSync(root);
    await run("tar", ["-C", root, "--numeric-owner", "-xpf", tar], { timeoutMs: 120_000 });
    rmSync(tar);
    customise(root, RECIPE);
    writeFileSync(join(root, ".e2e-complete"), `${key}\n`);
    try {
      renameSync(root, dir);
    } catch (e) {
      // Another run built the same key at the same time: use theirs.
      if (!existsSync(join(dir, ".e2e-complete"))) throw e;
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  // Older recipes of the same guest are stale: drop them so the cache does not grow.
  for (const name of readdirSync(CACHE_DIR)) {
    if (isOfGuest(name, guest) && name !== `${prefixOf(guest)}${key}`)
      rmSync(join(CACHE_DIR, name), { recursive: true, force: true });
  }
  log(`rootfs built in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  return { dir, built: true };
}

function customise(root, RECIPE) {
  copyFileSync(RECIPE.nodeBinary, join(root, "usr/bin/node"));
  chmodSync(join(root, "usr/bin/node"), 0o755);
  for (const unit of RECIPE.mask) {
    const p = join(root, "etc/systemd/system", unit);
    rmSync(p, { force: true });
    symlinkSync("/dev/null", p);
  }
  mkdirSync(join(root, "var/lib/portables"), { recursive: true });
  // A stable hostname keeps the journal readable; the machine id is provided by nspawn per boot.
  writeFileSync(join(root, "etc/hostname"), "e2e\n");
  // No getty/console login noise in a container.
  for (const unit of ["console-getty.service", "getty@.service"]) {
    const p = join(root, "etc/systemd/system", unit);
    rmSync(p, { force: true });
    symlinkSync("/dev/null", p);
  }
  // os-release must be there for portablectl's BindReadOnlyPaths= and for our images' checks.
  if (!existsSync(join(root, "etc/os-release")) && !existsSync(join(root, "usr/lib/os-release"))) {
    throw new Error("rootfs has no os-release");
  }
  if (!readFileSync(join(root, "usr/lib/os-release"), "utf8").includes(RECIPE.suite))
    throw new Error(`rootfs is not ${RECIPE.suite}`);
}
