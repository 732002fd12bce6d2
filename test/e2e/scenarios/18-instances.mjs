// 18. Template instances, enabled through the list (systemctl refuses units in a generator
//     directory): foobar@a.service enabled offline with `portable-attach --root=DIR enable` is active
//     after boot; `enable --now foobar@b.service` starts it at once; `disable --now` stops it and it
//     stays off after a reload and after a reboot (a second boot with the list the first one left);
//     a unit nobody provides is refused with the list unchanged.
import { spawnSync } from "node:child_process";
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CLI } from "../lib/guest.mjs";

const TEMPLATE = `[Unit]
Description=e2e portable instance %i

[Service]
ExecStart=/usr/bin/e2e-probe foobar-%i

[Install]
WantedBy=multi-user.target
`;

/** foobar_1: the net_1 test image (busybox, probe) with a template foobar@.service. */
function foobar(ctx, dir) {
  cpSync(ctx.images.net_1, dir, { recursive: true, verbatimSymlinks: true });
  mkdirSync(join(dir, "usr/lib/systemd/system"), { recursive: true });
  spawnSync("sh", [
    "-c",
    `printf '%s' "$1" > "$2"`,
    "-",
    TEMPLATE,
    join(dir, "usr/lib/systemd/system/foobar@.service"),
  ]);
}

/** What an image builder runs: attach, then enable an instance, offline under --root. */
function listFromRoot(ctx) {
  const stage = mkdtempSync(join(tmpdir(), "pa-e2e-inst-"));
  try {
    foobar(ctx, join(stage, "var/lib/portables/foobar_1"));
    for (const args of [
      ["attach", "/var/lib/portables/foobar_1"],
      ["enable", "foobar@a.service"],
    ]) {
      const r = spawnSync(process.execPath, [CLI, `--root=${stage}`, ...args], {
        encoding: "utf8",
        env: { PATH: "/usr/bin:/bin" },
      });
      if (r.status !== 0) throw new Error(`portable-attach ${args.join(" ")}: ${r.stderr}`);
    }
    return readFileSync(join(stage, "etc/portable-attach.conf"), "utf8");
  } finally {
    rmSync(stage, { recursive: true, force: true });
  }
}

function imageFiles(ctx) {
  const stage = mkdtempSync(join(tmpdir(), "pa-e2e-inst-img-"));
  foobar(ctx, join(stage, "foobar_1"));
  return {
    files: { "var/lib/portables/foobar_1": { copyTree: join(stage, "foobar_1") } },
    cleanup: () => rmSync(stage, { recursive: true, force: true }),
  };
}

// systemctl preset is refused up to 257 at least; 262 links the generated template from /etc instead.
const presetRefused = (systemd) => systemd <= 257;
const FIRST = (systemd) =>
  String.raw`
pa() { echo "+ portable-attach $*"; portable-attach "$@"; }
check "foobar@a.service (enabled offline with --root) is active after boot" wait_state foobar@a.service active 15
l=$(wait_log foobar@a.service "^E2E-PROBE name=foobar-a " 10); expect_match "foobar@a.service runs the image's program with its instance" "$l" "portable=foobar_1"
expect "foobar@a.service is pulled in from the generator's link" "$(readlink /run/systemd/generator/multi-user.target.wants/foobar@a.service)" "../foobar@.service"
# What systemctl does with generated units (documented in portable-attach(8)):
for v in "enable foobar@c.service" "add-wants multi-user.target foobar@c.service" "reenable foobar@a.service" PRESET_REFUSED; do
  o=$(systemctl $v 2>&1); expect_match "systemctl $v is refused" "$o" "transient or generated"
done
PRESET_LINKS
expect "systemctl is-enabled says generated" "$(systemctl is-enabled foobar@a.service)" generated
check "systemctl disable foobar@a.service exits 0..." systemctl disable foobar@a.service
systemctl daemon-reload
check "... and changes nothing: the link is back after a reload" test -L /run/systemd/generator/multi-user.target.wants/foobar@a.service

check "enable --now foobar@b.service" pa enable --now foobar@b.service
check "foobar@b.service is active at once" wait_state foobar@b.service active 10
check "the list records it" grep -qx "EnableUnits=foobar@a.service foobar@b.service" /etc/portable-attach.conf
l=$(portable-attach list --no-legend); expect_match "list shows both instances enabled and active" "$l" "foobar@a.service\(enabled,active\) foobar@b.service\(enabled,active\)"

cp /etc/portable-attach.conf /run/before
o=$(portable-attach enable --now nobody@x.service 2>&1); rc=$?
expect "a unit nobody provides is refused (exit 1)" "$rc" 1
expect_match "... with a message naming it" "$o" "No attached entry provides unit nobody@x.service"
check "... and the list unchanged" cmp /etc/portable-attach.conf /run/before

check "disable --now foobar@b.service" pa disable --now foobar@b.service
expect "foobar@b.service is stopped" "$(prop foobar@b.service ActiveState)" inactive
check "the list no longer names it" grep -qx "EnableUnits=foobar@a.service" /etc/portable-attach.conf
systemctl daemon-reload
check "after a reload no link pulls foobar@b.service in" test ! -e /run/systemd/generator/multi-user.target.wants/foobar@b.service
expect "after a reload foobar@b.service is still stopped" "$(prop foobar@b.service ActiveState)" inactive
expect "foobar@a.service still runs" "$(prop foobar@a.service ActiveState)" active
cp /etc/portable-attach.conf /run/out/list
expect "the system is running (not degraded)" "$(system_state)" running
`
    .replace("PRESET_REFUSED", presetRefused(systemd) ? '"preset foobar@a.service"' : "")
    .replace(
      "PRESET_LINKS",
      presetRefused(systemd)
        ? ""
        : String.raw`
o=$(systemctl preset foobar@a.service 2>&1)
expect_match "systemctl preset links the generated template from /etc (systemd > 257)" "$o" "Created symlink '?/etc/systemd/system/multi-user.target.wants/foobar@a.service"
rm -f /etc/systemd/system/multi-user.target.wants/foobar@a.service`,
    );

const SECOND = String.raw`
check "after a reboot foobar@a.service is active" wait_state foobar@a.service active 15
expect "after a reboot foobar@b.service stays off" "$(prop foobar@b.service ActiveState)" inactive
check "after a reboot nothing pulls foobar@b.service in" test ! -e /run/systemd/generator/multi-user.target.wants/foobar@b.service
expect "the system is running (not degraded)" "$(system_state)" running
`;

export default {
  name: "18-instances",
  needs: ["generator", "cli"],
  run: async (ctx) => {
    const img = imageFiles(ctx);
    try {
      const one = await ctx.boot("boot1", {
        files: { ...img.files, "etc/portable-attach.conf": listFromRoot(ctx) },
        check: FIRST(ctx.guest?.systemd ?? 252),
      });
      const list = one.read("list");
      if (!list) return { problems: ["FAIL the first boot left no list for the second"] };
      await ctx.boot("boot2", { files: { ...img.files, "etc/portable-attach.conf": list }, check: SECOND });
      return { problems: [] };
    } finally {
      img.cleanup();
    }
  },
};
