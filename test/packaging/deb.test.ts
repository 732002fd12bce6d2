// The Debian package (scripts/deb.mjs, npm run deb), checked with dpkg-deb itself: control fields,
// the file list, the #! lines, gzipped man pages, maintainer scripts; then lintian (Debian 12's:
// apt-get install lintian; npm test installs it). Installing, rebooting, a nodejs upgrade (the
// code-cache trigger) and purging under a real systemd is test/e2e/scenarios/10-deb.mjs.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { skipName } from "../helpers/skip-reporter.ts";

const REPO = join(import.meta.dirname, "..", "..");
const pkg = JSON.parse(readFileSync(join(REPO, "package.json"), "utf8")) as { version: string };
const haveDpkg = spawnSync("dpkg-deb", ["--version"]).status === 0;
const lintianMissing =
  spawnSync("lintian", ["--version"]).status === 0 ? undefined : "lintian is not installed (apt-get install lintian)";
const scratch = mkdtempSync(join(tmpdir(), "pa-deb-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

const dpkgDeb = (...args: string[]) => {
  const r = spawnSync("dpkg-deb", args, { encoding: "utf8" });
  expect(r.stderr).toBe("");
  return r.stdout;
};

describe.skipIf(!haveDpkg)("the .deb", () => {
  const deb = join(scratch, `portable-attach_${pkg.version}_all.deb`);
  const tree = join(scratch, "x");

  beforeAll(() => {
    const r = spawnSync(process.execPath, [join(REPO, "scripts/deb.mjs"), `--out=${scratch}`], { encoding: "utf8" });
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    dpkgDeb("-x", deb, tree);
  });

  it("has the control fields: version from package.json, depends on nodejs >= 18.3 and systemd", () => {
    expect(dpkgDeb("-f", deb, "Package", "Version", "Architecture", "Depends")).toBe(
      `Package: portable-attach\nVersion: ${pkg.version}\nArchitecture: all\nDepends: nodejs (>= 18.3), systemd (>= 252)\n`,
    );
    // The changelog's first entry names the maintainer; a mail host lintian accepts.
    expect(dpkgDeb("-f", deb, "Maintainer")).toMatch(/^[^<]+ <[^@>]+@[a-z0-9-]+(\.[a-z0-9-]+)+>\n$/);
    expect(dpkgDeb("-f", deb, "Maintainer")).not.toContain("localhost");
  });

  it("has a changelog whose first entry is package.json's version, and DEP-5 copyright with the bundled licences' texts", () => {
    const changelog = gunzipSync(readFileSync(join(tree, "usr/share/doc/portable-attach/changelog.gz"))).toString(
      "utf8",
    );
    expect(changelog.split("\n", 1)[0]).toBe(`portable-attach (${pkg.version}) unstable; urgency=medium`);
    const copyright = readFileSync(join(tree, "usr/share/doc/portable-attach/copyright"), "utf8");
    expect(copyright.split("\n", 1)[0]).toBe(
      "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/",
    );
    for (const [name, license] of [
      ["ini", "ISC"],
      ["fzstd", "MIT"],
    ] as const) {
      expect(copyright).toContain(`\nLicense: ${license}\n`);
      // Every line of the licence's text, as a DEP-5 continuation line.
      for (const line of readFileSync(join(REPO, "node_modules", name, "LICENSE"), "utf8")
        .trim()
        .split("\n")) {
        expect(copyright).toContain(line.trim() === "" ? "\n .\n" : `\n ${line}\n`);
      }
    }
  });

  it.skipIf(lintianMissing !== undefined)(skipName("lintian reports no error and no warning", lintianMissing), () => {
    const r = spawnSync("lintian", ["--no-cfg", "--fail-on", "none", deb], { encoding: "utf8" });
    expect(r.error).toBeUndefined();
    const lines = r.stdout.split("\n").filter((l) => /^[EW]: /.test(l));
    expect(lines).toEqual([]);
  });

  it("holds exactly the installed files, owned by root, and no install manifest", () => {
    const listing = dpkgDeb("-c", deb).trim().split("\n");
    const files = listing
      .filter((l) => !l.startsWith("d"))
      .map((l) => l.split(/\s+/).pop())
      .sort();
    expect(files).toEqual(
      [
        "./usr/bin/portable-attach",
        "./usr/lib/portable-attach/code-cache.mjs",
        ...["erofs-lz4", "gpt-dps-root-erofs", "squashfs-zstd"].map(
          (f) => `./usr/share/portable-attach/code-cache/${f}.raw`,
        ),
        "./usr/share/doc/portable-attach/changelog.gz",
        ...["default", "nonetwork", "strict", "trusted"].map(
          (p) => `./usr/lib/portable-attach/profile/${p}/service.conf`,
        ),
        "./usr/lib/systemd/system-generators/portable-attach-generator",
        "./usr/lib/systemd/system/portable-attach-dirs.service",
        "./usr/lib/systemd/system/portable-attach-late.service",
        "./usr/lib/systemd/system/portable-attach-reload.service",
        "./usr/lib/systemd/system/portable-attach.path",
        "./usr/share/bash-completion/completions/portable-attach",
        "./usr/share/doc/portable-attach/copyright",
        "./usr/share/man/man5/portable-attach.conf.5.gz",
        "./usr/share/man/man8/portable-attach-generator.8.gz",
        "./usr/share/man/man8/portable-attach.8.gz",
      ].sort(),
    );
    expect(listing.every((l) => l.includes(" root/root "))).toBe(true);
    expect(listing.some((l) => l.startsWith("d") && l.endsWith("./usr/lib/portable-attach.d/"))).toBe(true);
  });

  it("runs its programs with /usr/bin/node (Debian's nodejs), and ships no code cache (postinst makes them)", () => {
    for (const p of ["usr/lib/systemd/system-generators/portable-attach-generator", "usr/bin/portable-attach"]) {
      const text = readFileSync(join(tree, p), "utf8");
      expect(text.split("\n", 1)[0]).toBe("#!/usr/bin/node --no-opt");
      // Where postinst puts the cache it makes with the installed nodejs (scripts/deb.mjs says why).
      expect(text).toContain(`const CODE_CACHE = "/usr/lib/portable-attach/${p.split("/").pop()}.v8cache";`);
    }
    expect(dpkgDeb("-c", deb)).not.toContain(".v8cache");
    expect(dpkgDeb("-c", deb)).toMatch(
      /^-rwxr-xr-x root\/root .* \.\/usr\/lib\/systemd\/system-generators\/portable-attach-generator$/m,
    );
  });

  it("man pages are gzipped copies of man/", () => {
    const gz = readFileSync(join(tree, "usr/share/man/man8/portable-attach-generator.8.gz"));
    expect(gunzipSync(gz).toString("utf8")).toBe(readFileSync(join(REPO, "man/portable-attach-generator.8"), "utf8"));
    expect(gz.readUInt32LE(4)).toBe(0); // no timestamp in the gzip header (gzip -n)
  });

  it("maintainer scripts are valid sh and reload only when booted with systemd", () => {
    const ctl = join(scratch, "control");
    dpkgDeb("-e", deb, ctl);
    for (const s of ["postinst", "prerm", "postrm"]) {
      expect(spawnSync("sh", ["-n", join(ctl, s)]).status).toBe(0);
      const text = readFileSync(join(ctl, s), "utf8");
      if (text.includes("systemctl ")) expect(text).toContain("[ -d /run/systemd/system ]");
    }
    // Without systemd as PID 1 (a chroot, an image build, this test) postinst does nothing and succeeds.
    const r = spawnSync("/bin/sh", [join(ctl, "postinst"), "configure"], {
      encoding: "utf8",
      env: { PATH: "/nonexistent" },
    });
    if (spawnSync("test", ["-d", "/run/systemd/system"]).status !== 0) expect(r.status).toBe(0);
  });

  it("remakes the code caches when /usr/bin/node changes (a dpkg file trigger, not awaited)", () => {
    const ctl = join(scratch, "control-triggers");
    dpkgDeb("-e", deb, ctl);
    expect(readFileSync(join(ctl, "triggers"), "utf8")).toBe("interest-noawait /usr/bin/node\n");
    const postinst = readFileSync(join(ctl, "postinst"), "utf8");
    expect(postinst).toMatch(/^ {4}triggered\)\n {8}make_code_caches$/m);
    for (const s of ["prerm", "postrm"])
      expect(readFileSync(join(ctl, s), "utf8")).toContain(
        "rm -f /usr/lib/portable-attach/portable-attach-generator.v8cache /usr/lib/portable-attach/portable-attach.v8cache",
      );
  });

  it("builds byte for byte the same twice", () => {
    const again = join(scratch, "again");
    expect(spawnSync(process.execPath, [join(REPO, "scripts/deb.mjs"), `--out=${again}`]).status).toBe(0);
    expect(readFileSync(join(again, `portable-attach_${pkg.version}_all.deb`)).equals(readFileSync(deb))).toBe(true);
  });
});
