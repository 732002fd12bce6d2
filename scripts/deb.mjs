#!/usr/bin/env node
// Builds the Debian package with dpkg-deb: dist/portable-attach_<version>_all.deb (npm run deb,
// which builds dist/ first). The tree is what `scripts/install.mjs install --prefix=/usr` lays out,
// with #!/usr/bin/node (Debian's nodejs), gzipped man pages, and no install manifest (dpkg keeps
// the list of files). Version from package.json. Needs dpkg-deb; runs as any user.
//
// No V8 code caches (scripts/install.mjs): a cache is accepted only by the V8 that made it, and
// the Node that runs the package is whichever nodejs (>= 18) the target has, upgraded on its own
// schedule; one made here by the building Node would be refused there. Making one in postinst
// would need the producer and its sample images shipped, a file in /usr that dpkg does not own
// (the generator runs before /var is mounted), and a trigger to remake it on every nodejs upgrade;
// that is left out. Without a cache the programs compile their bundle as before they had one:
// the launcher finds no file at /usr/lib/portable-attach/<program>.v8cache and goes on.
//
//   node scripts/deb.mjs [--out=DIR]
//
// Maintainer scripts: postinst and postrm run `systemctl daemon-reload` only on a system booted
// with systemd (/run/systemd/system exists), so the generator runs (or its output goes) at once;
// in a chroot or image build they do nothing and the next boot runs the generator. prerm stops the
// optional watcher on removal. postrm purge removes what the programs themselves created (the
// late-pass stamp in /run/portable-attach; /etc/portable-attach/cache is reserved for the unit-file
// cache of the design, not written yet) and an enablement link of
// the watcher; the attach lists in /etc are the administrator's and stay.
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { chmodSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync, lstatSync, realpathSync } from "node:fs";
import { join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";
import { install, REPO } from "./install.mjs";

export const PACKAGE = "portable-attach";

const POSTINST = `#!/bin/sh
set -e
# Run the generator now when booted with systemd; a chroot or an image build waits for the boot.
if [ "$1" = configure ] && [ -d /run/systemd/system ]; then
    systemctl daemon-reload || true
fi
exit 0
`;

const PRERM = `#!/bin/sh
set -e
# The optional hand-edit watcher (systemctl enable --now portable-attach.path) goes with the package.
if [ "$1" = remove ] && [ -d /run/systemd/system ]; then
    systemctl stop portable-attach.path portable-attach-reload.service >/dev/null 2>&1 || true
fi
exit 0
`;

const POSTRM = `#!/bin/sh
set -e
if [ "$1" = remove ] || [ "$1" = purge ]; then
    # The generator is gone: a reload drops what it had attached (running services keep running).
    if [ -d /run/systemd/system ]; then
        systemctl daemon-reload || true
    fi
fi
if [ "$1" = purge ]; then
    # What portable-attach itself created; the attach lists are the administrator's and stay.
    rm -rf /etc/portable-attach/cache /run/portable-attach
    rmdir /etc/portable-attach 2>/dev/null || true
    rm -f /etc/systemd/system/paths.target.wants/portable-attach.path
    rmdir /etc/systemd/system/paths.target.wants 2>/dev/null || true
fi
exit 0
`;

function copyright() {
  return `Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: portable-attach

Files: *
License: LGPL-2.1-or-later
 On Debian systems, the full text of the GNU Lesser General Public License
 version 2.1 can be found in /usr/share/common-licenses/LGPL-2.1.

Files: usr/bin/portable-attach usr/lib/systemd/system-generators/portable-attach-generator
Comment: both programs bundle these packages
Copyright: Isaac Z. Schlueter and Contributors (ini 7.0.0)
 Arjun Barrett (fzstd 0.1.1)
License: ISC and MIT
`;
}

function walk(dir, out = []) {
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    out.push(p);
    if (lstatSync(p).isDirectory()) walk(p, out);
  }
  return out;
}

function sourceDateEpoch() {
  if (process.env.SOURCE_DATE_EPOCH) return Number(process.env.SOURCE_DATE_EPOCH);
  const r = spawnSync("git", ["-C", REPO, "log", "-1", "--format=%ct"], { encoding: "utf8" });
  return r.status === 0 && r.stdout.trim() ? Number(r.stdout.trim()) : Math.floor(Date.now() / 1000);
}

/** Build the package; returns its path. */
export function buildDeb({ outDir = join(REPO, "dist"), say = () => {} } = {}) {
  const pkg = JSON.parse(readFileSync(join(REPO, "package.json"), "utf8"));
  const version = pkg.version;
  if (!/^[0-9][A-Za-z0-9.+~-]*$/.test(version)) throw new Error(`package.json version '${version}' is not a Debian version`);
  const stage = join(outDir, `deb-${PACKAGE}`);
  rmSync(stage, { recursive: true, force: true });
  mkdirSync(stage, { recursive: true });

  install({ destdir: stage, prefix: "/usr", node: "/usr/bin/node", manifest: false, codeCache: false, gzipMan: true, gzip: (b) => gzipSync(b, { level: 9 }) });
  const doc = join(stage, "usr/share/doc", PACKAGE);
  mkdirSync(doc, { recursive: true });
  writeFileSync(join(doc, "copyright"), copyright());

  const files = walk(stage);
  const md5 = files.filter((p) => lstatSync(p).isFile())
    .map((p) => `${createHash("md5").update(readFileSync(p)).digest("hex")}  ${relative(stage, p)}\n`).join("");
  const installedKiB = Math.ceil(files.reduce((n, p) => n + (lstatSync(p).isFile() ? statSync(p).size : 0), 0) / 1024);

  const debian = join(stage, "DEBIAN");
  mkdirSync(debian);
  writeFileSync(join(debian, "control"), `Package: ${PACKAGE}
Version: ${version}
Architecture: all
Maintainer: portable-attach developers <portable-attach@localhost>
Installed-Size: ${installedKiB}
Depends: nodejs (>= 18), systemd (>= 252)
Suggests: systemd-container
Section: admin
Priority: optional
Description: attach systemd portable service images declaratively at boot
 A systemd generator reads an attach list (/etc/portable-attach.conf and
 drop-in directories) at every boot and daemon-reload, and loads the units
 of the listed portable service images as portablectl attach would: no
 daemon, no D-Bus, no mounting. The portable-attach command edits the list,
 inspects images and shows their status.
`);
  writeFileSync(join(debian, "md5sums"), md5);
  for (const [name, text] of [["postinst", POSTINST], ["prerm", PRERM], ["postrm", POSTRM]]) {
    writeFileSync(join(debian, name), text);
    chmodSync(join(debian, name), 0o755);
  }
  // Directories 0755 whatever the umask; one timestamp for every file, so rebuilds match.
  const epoch = sourceDateEpoch();
  for (const p of walk(stage)) {
    if (lstatSync(p).isDirectory()) chmodSync(p, 0o755);
    utimesSync(p, epoch, epoch);
  }
  chmodSync(stage, 0o755);

  mkdirSync(outDir, { recursive: true });
  const out = join(outDir, `${PACKAGE}_${version}_all.deb`);
  const r = spawnSync("dpkg-deb", ["--root-owner-group", "-Zxz", "--build", stage, out], {
    encoding: "utf8", env: { ...process.env, SOURCE_DATE_EPOCH: String(epoch) },
  });
  if (r.error) throw new Error(`dpkg-deb: ${r.error.message} (apt-get install dpkg)`);
  if (r.status !== 0) throw new Error(`dpkg-deb failed: ${r.stderr}`);
  rmSync(stage, { recursive: true, force: true });
  say(`built ${relative(process.cwd(), out) || out}`);
  return out;
}

if (process.argv[1] && realpathSync(process.argv[1]) === fileURLToPath(import.meta.url)) {
  try {
    let outDir;
    for (const a of process.argv.slice(2)) {
      const m = /^--out=(.+)$/.exec(a);
      if (m) outDir = resolve(m[1]);
      else throw new Error(`unknown argument '${a}' (usage: deb.mjs [--out=DIR])`);
    }
    buildDeb({ outDir, say: (s) => console.log(s) });
  } catch (e) {
    console.error(`deb.mjs: ${e.message}`);
    process.exitCode = 1;
  }
}
