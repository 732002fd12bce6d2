// 10. The Debian package, as an administrator uses it: `apt-get install ./portable-attach_*.deb`
//     into the guest's rootfs (with Debian's own nodejs, installed first from .debs fetched on the
//     host): postinst has made both programs' V8 code caches, which the installed programs use; a
//     nodejs upgrade (simulated: the caches replaced by another Node's, then nodejs's .deb unpacked
//     again) fires the package's file trigger on /usr/bin/node, which remakes them. Then a reboot:
//     a listed image's enabled service is active; the installed CLI works; `apt-get purge` leaves
//     no file behind (the file tree, listed before the install and after the purge, is the same:
//     the caches too) and drops what the generator attached.
//
// "Reboot": the first boot's overlay upper directory (the installed package, dpkg's database)
// becomes a lower layer of the second boot: lowerdir = payload2 : upper1 : rootfs. This scenario
// drives its boots itself for that (the harness's ctx.boot has no way to carry a boot's changes
// into the next one).
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { portables } from "../lib/scenario.mjs";
import { makePayload } from "../lib/guest.mjs";
import { boot, keepForInspection } from "../lib/boot.mjs";
import { WORK } from "../lib/fixtures.mjs";
import { run, runSync, which } from "../lib/util.mjs";
import { GUESTS, mirrorLines } from "../lib/guests.mjs";

const DEB_DIR = "var/tmp/pa-deb";
const STATUS = "${Status}"; // dpkg-query's format, not a template placeholder
const NODEJS_VERSION = "${Version}";

// Everything but the package's own effect can change between the two listings: the kernel's and
// systemd's file systems, logs, caches, dpkg's and apt's state, systemd's state, and the harness's
// own files (/usr/lib/e2e, the .debs it brings), and the inside of the directory images (a running
// service with RootDirectory= gets mount points such as /lib/modules created in its image).
const TREE = String.raw`
tree() {
  find / -xdev \( -path /proc -o -path /sys -o -path /dev -o -path /run -o -path /tmp -o -path /var/tmp \
    -o -path /var/log -o -path /var/cache -o -path /var/lib/dpkg -o -path /var/lib/apt -o -path /var/lib/systemd \
    -o -path /usr/lib/e2e -o -path '/var/lib/portables/*/*' -o -path /var/lib/private -o -path /etc/ld.so.cache \) -prune -o -print | LC_ALL=C sort
}
`;

/**
 * Debian's nodejs and what it needs beyond the rootfs, downloaded on the host (cached). bookworm's come
 * from the host's own apt lists; another guest's from its suite's lists, fetched into a private apt
 * state under .work (the host's apt state is not touched). Also used by test/packaging/quickstart.test.ts.
 */
export async function nodejsDebs(rootfs, guest = "bookworm") {
  const dir = join(WORK, guest === "bookworm" ? "debs-nodejs" : `debs-nodejs-${guest}`);
  const have = existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith(".deb")) : [];
  if (have.some((f) => f.startsWith("nodejs_"))) return dir;
  mkdirSync(join(dir, "partial"), { recursive: true });
  const opts = ["-o", "Debug::NoLocking=1"];
  if (guest !== "bookworm") {
    const apt = join(WORK, `apt-${guest}`);
    for (const d of ["lists/partial", "parts"]) mkdirSync(join(apt, d), { recursive: true });
    writeFileSync(join(apt, "sources.list"), mirrorLines(GUESTS[guest]).join("\n") + "\n");
    opts.push(
      "-o",
      `Dir::Etc::SourceList=${join(apt, "sources.list")}`,
      "-o",
      `Dir::Etc::SourceParts=${join(apt, "parts")}`,
      "-o",
      `Dir::State::Lists=${join(apt, "lists")}`,
      "-o",
      "Dir::Cache::pkgcache=",
      "-o",
      "Dir::Cache::srcpkgcache=",
      ...GUESTS[guest].aptopts.flatMap((o) => ["-o", o.replace(/ "(.*)"$/, "=$1")]),
    );
    await run("apt-get", ["-qq", ...opts, "update"], { timeoutMs: 300_000 });
  }
  // Resolved against the rootfs's dpkg database (run apt-get update first for bookworm's).
  await run(
    "apt-get",
    [
      "-qq",
      ...opts,
      "-o",
      `Dir::State::status=${join(rootfs, "var/lib/dpkg/status")}`,
      "-o",
      `Dir::Cache::archives=${dir}`,
      "install",
      "-y",
      "--download-only",
      "--no-install-recommends",
      "nodejs",
    ],
    { timeoutMs: 300_000 },
  );
  return dir;
}

function results(res) {
  const read = (f) => (existsSync(join(res.out, f)) ? readFileSync(join(res.out, f), "utf8") : "");
  const lines = read("results").split("\n").filter(Boolean);
  const problems = lines.filter((l) => l.startsWith("FAIL"));
  if (res.timedOut) problems.push("FAIL boot timed out");
  else if (!read("done")) problems.push("FAIL the check did not finish (no /run/out/done)");
  if (!lines.some((l) => l.startsWith("PASS"))) problems.push("FAIL no check passed");
  return { read, lines, problems };
}

const LIST = `# e2e scenario 10: written before the package is installed
[foo]
Image=/var/lib/portables/foo_1
Enable=yes
`;

const INSTALL_CHECK =
  TREE +
  String.raw`
cd /${DEB_DIR}
check "Debian's nodejs installs from its .debs (the package's dependency)" apt-get install -y -q --no-install-recommends ./deps/*.deb
tree >/run/out/tree-before
check "apt-get install ./portable-attach_*.deb" apt-get install -y -q ./portable-attach_*.deb
expect "dpkg: the package is installed" "$(dpkg-query -W -f='${STATUS}' portable-attach)" "install ok installed"
expect "the generator's #! is /usr/bin/node --no-opt" "$(head -n 1 /usr/lib/systemd/system-generators/portable-attach-generator)" "#!/usr/bin/node --no-opt"
expect "the CLI's #! is /usr/bin/node --no-opt" "$(head -n 1 /usr/bin/portable-attach)" "#!/usr/bin/node --no-opt"
check "the late-pass unit is installed" test -f /usr/lib/systemd/system/portable-attach-late.service
check "the default profile is installed" test -f /usr/lib/portable-attach/profile/default/service.conf
expect "node is Debian's nodejs" "$(node -p 'process.versions.node.split(".")[0]')" "$(dpkg-query -W -f='${NODEJS_VERSION}' nodejs | cut -d. -f1)"
# What each installed program, run by its #! line, did with its code cache.
cache_state() { PORTABLE_ATTACH_DEBUG_CODE_CACHE=1 "$1" --version --version 2>&1 >/dev/null | sed -n 's/.* code cache .*: //p'; }
gen=/usr/lib/systemd/system-generators/portable-attach-generator
expect "postinst made the generator's code cache, and the generator uses it" "$(cache_state $gen)" accepted
expect "postinst made the CLI's code cache, and the CLI uses it" "$(cache_state /usr/bin/portable-attach)" accepted
for c in /usr/lib/portable-attach/portable-attach-generator.v8cache /usr/lib/portable-attach/portable-attach.v8cache; do
  printf 'a cache made by another Node' >"$c"
done
check "a stale cache costs only speed: the CLI runs" portable-attach --version
check "nodejs upgraded (its .deb unpacked again): dpkg runs the package's trigger on /usr/bin/node" sh -c 'dpkg -i ./deps/nodejs_*.deb >/run/out/nodejs-reinstall.log 2>&1'
expect "the trigger remade the generator's code cache" "$(cache_state $gen)" accepted
expect "the trigger remade the CLI's code cache" "$(cache_state /usr/bin/portable-attach)" accepted
# postinst reloaded the manager (booted with systemd), so the generator has run once already.
expect "postinst's daemon-reload ran the generator: foo.service is loaded" "$(prop foo.service LoadState)" loaded
expect "foo.service comes from the generator" "$(prop foo.service FragmentPath)" /run/systemd/generator/foo.service
`;

const REBOOT_CHECK =
  TREE +
  String.raw`
check "after the reboot: foo.service (listed, Enable=yes) is active" wait_state foo.service active 15
expect "foo.service: RootDirectory=" "$(prop foo.service RootDirectory)" /var/lib/portables/foo_1
check "foo.service ran its image's program" wait_log foo.service "^E2E-PROBE name=foo " 10
check "portable-attach status names foo as attached" sh -c 'portable-attach status --no-legend | grep -E "foo.*attached"'
check "portable-attach attach --enable --now (the installed CLI)" portable-attach attach --enable --now /var/lib/portables/net_1
check "net.service is active after attach --now" wait_state net.service active 15
expect "the system is running (not degraded)" "$(system_state)" running
check "apt-get purge portable-attach" apt-get purge -y -q portable-attach
expect "dpkg: the package is gone" "$(dpkg-query -W -f='${STATUS}' portable-attach 2>/dev/null || echo none)" "none"
expect "after purge: the generator's units are gone (postrm reloaded)" "$(prop foo.service LoadState)" not-found
check "after purge: the generator's output is gone" sh -c '! ls -A /run/systemd/generator | grep -q "^foo"'
check "after purge: no code cache is left" sh -c '! ls /usr/lib/portable-attach/*.v8cache 2>/dev/null'
tree >/run/out/tree-after
d=$(diff /usr/lib/e2e/tree-before /run/out/tree-after)
expect "after purge: the file tree is what it was before the install" "$d" ""
`;

export default {
  name: "10-deb-install-reboot-purge",
  needs: ["generator", "cli"],
  timeoutMs: 180_000,
  run: async (ctx) => {
    if (!which("dpkg-deb") || !which("apt-get"))
      return { problems: ["FAIL dpkg-deb and apt-get are needed on the host"] };
    const { buildDeb } = await import(join(ctx.repo, "scripts/deb.mjs"));
    const tmp = mkdtempSync("/tmp/pa-e2e-deb-");
    const boots = [];
    const problems = [];
    try {
      const deb = buildDeb({ outDir: tmp });
      const deps = await nodejsDebs(ctx.rootfs, ctx.guest.suite);
      const images = portables(ctx, ["foo_1", "net_1"]);
      const depFiles = {};
      for (const f of readdirSync(deps).filter((f) => f.endsWith(".deb")))
        depFiles[`${DEB_DIR}/deps/${f}`] = { copyFile: join(deps, f) };

      // Boot 1: install.
      const p1 = join(tmp, "payload1");
      makePayload(p1, {
        ours: false,
        check: INSTALL_CHECK,
        files: {
          ...images,
          ...depFiles,
          "etc/portable-attach.conf": LIST,
          [`${DEB_DIR}/${deb.split("/").pop()}`]: { copyFile: deb },
        },
      });
      const b1 = await boot({
        rootfs: ctx.rootfs,
        payload: p1,
        timeoutMs: 180_000,
        name: `${ctx.name}.install`,
        unifiedCgroup: ctx.guest.unifiedCgroup,
      });
      boots.push(b1);
      const r1 = results(b1);
      problems.push(...r1.problems.map((p) => `install boot: ${p}`));
      const before = r1.read("tree-before");
      if (r1.problems.length === 0 && before) {
        // Unmount boot 1 (its upper directory stays) and boot again on top of it.
        runSync("umount", [join(b1.upper, "..", "root")], { check: false });
        const p2 = join(tmp, "payload2");
        makePayload(p2, {
          ours: false,
          check: REBOOT_CHECK,
          files: { ...images, "etc/portable-attach.conf": LIST, "usr/lib/e2e/tree-before": before },
        });
        if (!statSync(b1.upper).isDirectory()) throw new Error("boot 1 left no upper directory");
        const b2 = await boot({
          rootfs: ctx.rootfs,
          payload: `${p2}:${b1.upper}`,
          timeoutMs: 120_000,
          name: `${ctx.name}.reboot`,
          unifiedCgroup: ctx.guest.unifiedCgroup,
        });
        boots.push(b2);
        const r2 = results(b2);
        problems.push(...r2.problems.map((p) => `reboot boot: ${p}`));
        if (r2.problems.some((p) => p.includes("file tree"))) {
          problems.push(
            `tree diff (before install, after purge):\n${runSync("diff", [join(b1.out, "tree-before"), join(b2.out, "tree-after")], { check: false }).stdout}`,
          );
        }
      } else if (!before) {
        problems.push("FAIL install boot: no tree listing");
      }
      const passes = boots.reduce((n, b) => n + results(b).lines.filter((l) => l.startsWith("PASS")).length, 0);
      // The harness counts the checks of its own boots only: say how many of this scenario's passed.
      const total = (INSTALL_CHECK + REBOOT_CHECK).split("\n").filter((l) => /^(check|expect) /.test(l)).length;
      console.log(`    10-deb: ${passes} of ${total} checks passed`);
      return { problems, passes };
    } catch (e) {
      problems.push(`FAIL ${e.stack ?? e}`);
      return { problems };
    } finally {
      for (const b of boots) {
        if (problems.length) console.log(`    ${b.name}: kept in ${keepForInspection(b, WORK)}`);
        else rmSync(join(WORK, b.name), { recursive: true, force: true });
      }
      for (const b of boots.reverse()) await b.cleanup();
      rmSync(tmp, { recursive: true, force: true });
    }
  },
};
