// The test images, built once per content change into test/e2e/.work/images/.
//   foo_1/, foo_2/  directory images (foo.service, foo.socket + foo@.service; v2 drops foo-old.service, adds foo-new.service)
//   bar_1.raw       squashfs (bar.service)
//   baz_1.raw       erofs in GPT (baz.service)        qux_1.raw  naked ext4 (qux.service)
//   foo-ext/        directory extension of foo (foo-ext.service, /usr/share/foo-ext/marker)
//   bar-ext.raw     squashfs extension of bar (bar-ext.service, /usr/share/bar-ext/marker)
//   net_1/, nonet_1/, strict_1/  more directory images (net.service, nonet.service, strict.service)
//   corrupt_1.raw   garbage with a .raw name
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { rootTree, extensionTree, mkSquashfs, mkErofsGpt, mkExt4, OS_RELEASE_DEBIAN12 } from "./images.mjs";
import { REPO } from "./guest.mjs";

export const WORK = join(REPO, "test/e2e/.work");

// The service program inside every image: report what the service sees, then stay up.
// Written for TasksMax=4 (the strict profile): no pipelines, shell builtins where possible.
export const PROBE = `#!/bin/sh
echo "E2E-PROBE name=$1 portable=\${PORTABLE:-} uid=$(id -u)"
ifs=
while read -r l; do case $l in *:*) ifs="$ifs\${l%%:*},";; esac; done </proc/net/dev
echo "E2E-NET $1 ifaces=$ifs inet=$(nc -w 1 127.0.0.1 9 </dev/null 2>&1)"
for m in /usr/share/*/marker; do [ -f "$m" ] && read -r v <"$m" && echo "E2E-MARKER $1 $m=$v"; done
if touch /usr/e2e-probe 2>/dev/null; then echo "E2E-WRITE $1 usr=writable"; else echo "E2E-WRITE $1 usr=readonly"; fi
v=none; while read -r l; do case $l in VERSION_CODENAME=*) v=$l;; esac; done </run/host/os-release
echo "E2E-HOSTOS $1 $v"
exec sleep infinity
`;

export function service(name, { after = "", wantedBy = "multi-user.target", extra = "" } = {}) {
  return `[Unit]
Description=e2e portable service ${name}
${after}
[Service]
ExecStart=/usr/bin/e2e-probe ${name}
${extra}
[Install]
WantedBy=${wantedBy}
`;
}

const SOCKET = `[Unit]
Description=e2e portable socket foo

[Socket]
ListenStream=/run/foo.sock
Accept=yes

[Install]
WantedBy=sockets.target
`;

// The per-connection service of foo.socket (Accept=yes): a template, as parity must cover them too.
const SOCKET_SERVICE = `[Unit]
Description=e2e portable per-connection service foo@%i

[Service]
ExecStart=/usr/bin/e2e-probe foo-conn
StandardInput=socket
`;

const probeFile = { "usr/bin/e2e-probe": { content: PROBE, mode: 0o755 } };

const DEFS = {
  foo_1: {
    kind: "dir",
    units: {
      "foo.service": service("foo"),
      "foo.socket": SOCKET,
      "foo@.service": SOCKET_SERVICE,
      "foo-old.service": service("foo-old"),
    },
    files: { ...probeFile, "usr/share/foo/version": "1\n" },
  },
  foo_2: {
    kind: "dir",
    units: {
      "foo.service": service("foo"),
      "foo.socket": SOCKET,
      "foo@.service": SOCKET_SERVICE,
      "foo-new.service": service("foo-new"),
    },
    files: { ...probeFile, "usr/share/foo/version": "2\n" },
    osRelease: "ID=debian\nVERSION_ID=12\nIMAGE_VERSION=2\n",
  },
  "bar_1.raw": { kind: "squashfs", units: { "bar.service": service("bar") }, files: probeFile },
  "baz_1.raw": { kind: "erofs-gpt", units: { "baz.service": service("baz") }, files: probeFile },
  "qux_1.raw": { kind: "ext4", units: { "qux.service": service("qux") }, files: probeFile },
  net_1: { kind: "dir", units: { "net.service": service("net") }, files: probeFile },
  nonet_1: { kind: "dir", units: { "nonet.service": service("nonet") }, files: probeFile },
  strict_1: { kind: "dir", units: { "strict.service": service("strict") }, files: probeFile },
  // A service that fails right after its start job succeeded (203/EXEC: no such program).
  bad_1: {
    kind: "dir",
    units: { "bad.service": service("bad").replace("/usr/bin/e2e-probe bad", "/usr/bin/e2e-no-such-program") },
    files: probeFile,
  },
  "foo-ext": {
    kind: "ext-dir",
    units: { "foo-ext.service": service("foo-ext") },
    files: { "usr/share/foo-ext/marker": "from-foo-ext\n" },
  },
  "bar-ext.raw": {
    kind: "ext-squashfs",
    units: { "bar-ext.service": service("bar-ext") },
    files: { "usr/share/bar-ext/marker": "from-bar-ext\n" },
  },
};

// Read once at load, so the key always describes the DEFS this process builds from (a file edited
// while a run waits for the boot lock must not stamp images made from the old definitions).
const SRC = ["images.mjs", "fixtures.mjs"].map((f) => readFileSync(new URL(f, import.meta.url), "utf8")).join("\0");

/**
 * Build (or reuse) all images, with the busybox of the given rootfs, into .work/images (bookworm) or
 * .work/images-GUEST; returns { name: absolute path on the host }.
 */
export async function ensureImages(rootfs, guest = "bookworm") {
  const dir = join(WORK, guest === "bookworm" ? "images" : `images-${guest}`);
  const key = createHash("sha256").update(SRC).update(rootfs).digest("hex").slice(0, 16);
  const paths = Object.fromEntries(
    Object.keys(DEFS)
      .concat(["corrupt_1.raw"])
      .map((n) => [n, join(dir, n)]),
  );
  if (existsSync(join(dir, ".stamp")) && readFileSync(join(dir, ".stamp"), "utf8") === key) return paths;
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const trees = join(dir, ".trees");
  for (const [name, d] of Object.entries(DEFS)) {
    const out = join(dir, name);
    const tree = d.kind === "dir" || d.kind === "ext-dir" ? out : join(trees, name);
    const stem = name.replace(/\.raw$/, "");
    if (d.kind.startsWith("ext-")) extensionTree(tree, stem, { units: d.units, files: d.files });
    else rootTree(tree, rootfs, { units: d.units, files: d.files, osRelease: d.osRelease ?? OS_RELEASE_DEBIAN12 });
    if (d.kind === "squashfs" || d.kind === "ext-squashfs") await mkSquashfs(tree, out);
    if (d.kind === "erofs-gpt") await mkErofsGpt(tree, out);
    if (d.kind === "ext4") await mkExt4(tree, out);
  }
  rmSync(trees, { recursive: true, force: true });
  // A .raw file that is no file system at all.
  writeFileSync(
    paths["corrupt_1.raw"],
    Buffer.concat([Buffer.from("this is not a file system\n"), Buffer.alloc(65536, 0x5a)]),
  );
  writeFileSync(join(dir, ".stamp"), key);
  return paths;
}
