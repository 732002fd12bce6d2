#!/usr/bin/env node
// Builds the Debian package with dpkg-deb: dist/portable-attach_<version>_all.deb (npm run deb,
// which builds dist/ first). The tree is what `scripts/install.mjs install --prefix=/usr` lays out,
// with #!/usr/bin/node (Debian's nodejs), gzipped man pages, and no install manifest (dpkg keeps
// the list of files). Version from package.json. Needs dpkg-deb; runs as any user.
//
// Why this builder and not debhelper: the package is architecture-independent and made from what
// `npm run build` leaves in dist/; a debian/ directory for dpkg-buildpackage would add a build
// chain (debhelper, a debian/rules that runs npm, the dev tools' Debian packages) that changes
// nothing in the result, and the tests rebuild the package on every run, as any user, with
// dpkg-deb alone. What debhelper would generate is written out instead: the maintainer scripts in
// scripts/deb/ use deb-systemd-helper and deb-systemd-invoke as dh_installsystemd does; the
// changelog (scripts/deb/changelog, Debian's format: its first entry gives the version, which must
// be package.json's, and the Maintainer) is installed gzipped; copyright is DEP-5 with the texts of
// the bundled packages' licences, read from node_modules. lintian (Debian 12's) passes it with no
// error or warning (test/packaging/deb.test.ts runs it).
//
// V8 code caches: a cache is accepted only by the V8 that made it, and the Node that runs the
// package is the target's nodejs, upgraded on its own schedule, so none is shipped. postinst makes
// them with /usr/bin/node (scripts/code-cache.mjs, installed as /usr/lib/portable-attach/
// code-cache.mjs, run on the sample images in /usr/share/portable-attach/code-cache), and a dpkg
// file trigger on /usr/bin/node (scripts/deb/triggers) remakes them whenever nodejs is upgraded.
// prerm and postrm remove them (dpkg does not own them). A missing or stale cache costs only
// start-up speed: the launcher refuses it and compiles the bundle as before.
//
//   node scripts/deb.mjs [--out=DIR]
//
// Maintainer scripts (scripts/deb/): postinst and postrm run `systemctl daemon-reload` only on a
// system booted with systemd (/run/systemd/system exists), so the generator runs (or its output
// goes) at once; in a chroot or image build they do nothing and the next boot runs the generator.
// prerm stops the optional watcher on removal. postrm purge removes the watcher's enablement
// links (deb-systemd-helper purge) and what the programs themselves created (the late-pass stamp
// in /run/portable-attach; /etc/portable-attach/cache, reserved for a unit-file cache); the attach
// lists in /etc are the administrator's and stay.
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import {
  chmodSync,
  cpSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  utimesSync,
  writeFileSync,
  lstatSync,
  realpathSync,
} from "node:fs";
import { join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";
import { install, REPO } from "./install.mjs";

export const PACKAGE = "portable-attach";

const DEB = join(REPO, "scripts/deb");
/** The sample images the package's postinst makes the code caches with (small ones). */
const CACHE_SAMPLES = ["erofs-lz4.raw", "squashfs-zstd.raw", "gpt-dps-root-erofs.raw"];
/** The packages bundled into both programs: their licences go into copyright. */
const BUNDLED = [
  { name: "ini", license: "ISC" },
  { name: "fzstd", license: "MIT" },
];

/** The first entry of a Debian changelog: version, maintainer, date (RFC 2822). */
export function changelogHead(text) {
  const head = /^([a-z0-9][a-z0-9.+-]+) \(([^)]+)\) [^;]+; urgency=\w+\n/.exec(text);
  const trailer = /^ -- (.+ <[^>]+>) {2}(.+)$/m.exec(text);
  if (!head || !trailer) throw new Error("scripts/deb/changelog: no entry in Debian's changelog format");
  return { source: head[1], version: head[2], maintainer: trailer[1], date: trailer[2] };
}

/** The licence text of a bundled package, as a DEP-5 License paragraph's body, and its copyright line. */
function bundledLicense(name) {
  const text = readFileSync(join(REPO, "node_modules", name, "LICENSE"), "utf8").trim();
  const copyright = (/^Copyright \(c\) (.+)$/m.exec(text) ?? [])[1];
  if (!copyright) throw new Error(`node_modules/${name}/LICENSE: no copyright line`);
  const version = JSON.parse(readFileSync(join(REPO, "node_modules", name, "package.json"), "utf8")).version;
  const body = text
    .split("\n")
    .map((l) => (l.trim() === "" ? " ." : ` ${l}`))
    .join("\n");
  return { copyright, version, body };
}

function copyright(year) {
  const licenses = BUNDLED.map((b) => ({ ...b, ...bundledLicense(b.name) }));
  const authors = `${year} The portable-attach authors`;
  return `Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: portable-attach

Files: *
Copyright: ${authors}
License: LGPL-2.1-or-later

Files: usr/bin/portable-attach usr/lib/systemd/system-generators/portable-attach-generator
Copyright: ${authors}
${licenses.map((l) => ` ${l.copyright}`).join("\n")}
License: LGPL-2.1-or-later and ${licenses.map((l) => l.license).join(" and ")}
Comment: Both programs bundle ${licenses.map((l) => `${l.name} ${l.version} (${l.license})`).join(" and ")}.

License: LGPL-2.1-or-later
 This package is free software; you can redistribute it and/or modify it
 under the terms of the GNU Lesser General Public License as published by
 the Free Software Foundation; either version 2.1 of the License, or (at
 your option) any later version.
 .
 On Debian systems, the full text of the GNU Lesser General Public License
 version 2.1 can be found in /usr/share/common-licenses/LGPL-2.1.
${licenses.map((l) => `\nLicense: ${l.license}\n${l.body}\n`).join("")}`;
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
  if (!/^[0-9][A-Za-z0-9.+~-]*$/.test(version))
    throw new Error(`package.json version '${version}' is not a Debian version`);
  const stage = join(outDir, `deb-${PACKAGE}`);
  rmSync(stage, { recursive: true, force: true });
  mkdirSync(stage, { recursive: true });

  const changelog = readFileSync(join(DEB, "changelog"), "utf8");
  const head = changelogHead(changelog);
  if (head.source !== PACKAGE || head.version !== version) {
    throw new Error(
      `scripts/deb/changelog: the first entry is ${head.source} ${head.version}, package.json says ${PACKAGE} ${version}: add an entry`,
    );
  }
  const epoch = sourceDateEpoch();
  const gz = (b) => gzipSync(b, { level: 9 });
  install({
    destdir: stage,
    prefix: "/usr",
    node: "/usr/bin/node",
    manifest: false,
    codeCache: false,
    gzipMan: true,
    gzip: gz,
  });
  const doc = join(stage, "usr/share/doc", PACKAGE);
  mkdirSync(doc, { recursive: true });
  writeFileSync(join(doc, "copyright"), copyright(new Date(epoch * 1000).getUTCFullYear()));
  // gzip's header holds no name and no time here (zlib's gzipSync): rebuilds match.
  writeFileSync(join(doc, "changelog.gz"), gz(Buffer.from(changelog)));
  // What postinst makes the code caches with: the producer and a few sample images.
  cpSync(join(REPO, "scripts/code-cache.mjs"), join(stage, "usr/lib/portable-attach/code-cache.mjs"));
  const samples = join(stage, "usr/share/portable-attach/code-cache");
  mkdirSync(samples, { recursive: true });
  for (const f of CACHE_SAMPLES) cpSync(join(REPO, "test/fixtures/images", f), join(samples, f));

  const files = walk(stage);
  const md5 = files
    .filter((p) => lstatSync(p).isFile())
    .map((p) => `${createHash("md5").update(readFileSync(p)).digest("hex")}  ${relative(stage, p)}\n`)
    .join("");
  const installedKiB = Math.ceil(files.reduce((n, p) => n + (lstatSync(p).isFile() ? statSync(p).size : 0), 0) / 1024);

  const debian = join(stage, "DEBIAN");
  mkdirSync(debian);
  writeFileSync(
    join(debian, "control"),
    `Package: ${PACKAGE}
Version: ${version}
Architecture: all
Maintainer: ${head.maintainer}
Installed-Size: ${installedKiB}
Depends: nodejs (>= 18.3), systemd (>= 252)
Suggests: systemd-container
Section: admin
Priority: optional
Description: attach systemd portable service images declaratively at boot
 A systemd generator reads an attach list (/etc/portable-attach.conf and
 drop-in directories) at every boot and daemon-reload, and loads the units
 of the listed portable service images as portablectl attach would: no
 daemon, no D-Bus, no mounting. The portable-attach command edits the list,
 inspects images and shows their status.
`,
  );
  writeFileSync(join(debian, "md5sums"), md5);
  for (const name of ["postinst", "prerm", "postrm", "triggers"]) {
    cpSync(join(DEB, name), join(debian, name));
    chmodSync(join(debian, name), name === "triggers" ? 0o644 : 0o755);
  }
  // Directories 0755 whatever the umask; one timestamp for every file, so rebuilds match.
  for (const p of walk(stage)) {
    if (lstatSync(p).isDirectory()) chmodSync(p, 0o755);
    utimesSync(p, epoch, epoch);
  }
  chmodSync(stage, 0o755);

  mkdirSync(outDir, { recursive: true });
  const out = join(outDir, `${PACKAGE}_${version}_all.deb`);
  const r = spawnSync("dpkg-deb", ["--root-owner-group", "-Zxz", "--build", stage, out], {
    encoding: "utf8",
    env: { ...process.env, SOURCE_DATE_EPOCH: String(epoch) },
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
