// 19. The many-machines path, with systemd's own delivery tools and nobody acting: the list arrives
//     in a confext image (/var/lib/confexts/fleet, merged over /etc by systemd-confext.service after
//     the generators ran) and its service is active after boot; systemd-sysupdate installs a new
//     version of the image (foobar_@v.raw into /var/lib/portables) and `portable-attach reattach
//     --now foobar` runs it. With /etc read-only, attach writes /run/portable-attach.conf and says so.
//     The recipe of portable-attach(8), EXAMPLES, on the guests that have systemd-confext and
//     systemd-sysupdate.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PROBE, service } from "../lib/fixtures.mjs";
import { mkSquashfs, rootTree } from "../lib/images.mjs";
import { portables } from "../lib/scenario.mjs";

const FLEET_LIST = `# The fleet's list, shipped in a confext image.
[foobar]
Image=foobar
Enable=yes
`;

const TRANSFER = `[Transfer]
Verify=no

[Source]
Type=regular-file
Path=/srv/updates
MatchPattern=foobar_@v.raw

[Target]
Type=regular-file
Path=/var/lib/portables
MatchPattern=foobar_@v.raw
`;

/** foobar_VERSION.raw: squashfs with foobar.service (enabled) and a marker the probe prints. */
async function foobar(ctx, dir, version) {
  const tree = join(dir, `tree-${version}`);
  rootTree(tree, ctx.rootfs, {
    units: { "foobar.service": service("foobar") },
    files: { "usr/bin/e2e-probe": { content: PROBE, mode: 0o755 }, "usr/share/foobar/marker": `v${version}\n` },
  });
  return mkSquashfs(tree, join(dir, `foobar_${version}.raw`));
}

const CHECK = String.raw`
pa() { echo "+ portable-attach $*"; portable-attach "$@"; }
check "systemd-confext merged the fleet's list over /etc" test -f /etc/portable-attach.d/50-fleet.conf
check "foobar.service, from the confext's list, is active after boot with nothing done by hand" wait_state foobar.service active 30
l=$(wait_log foobar.service "^E2E-MARKER foobar " 10); expect_match "foobar.service runs version 1" "$l" "marker=v1"
l=$(journalctl -b -q -o cat -u portable-attach-late.service --no-pager | tr '\n' ' ')
expect_match "the late pass (after systemd-confext) found the lists changed and reloaded" "$l" "Deactivated successfully"
l=$(portable-attach list --no-legend); expect_match "list: foobar attached, as the generator recorded it" "$l" "^foobar +attached +foobar +foobar.service\(enabled,active\)"

check "systemd-sysupdate update installs the new image" /usr/lib/systemd/systemd-sysupdate update
check "foobar_2.raw is in /var/lib/portables" test -f /var/lib/portables/foobar_2.raw
inv1=$(prop foobar.service InvocationID)
check "reattach --now foobar" pa reattach --now foobar
check "foobar.service is active" wait_state foobar.service active 15
expect "foobar.service now runs the new image" "$(prop foobar.service RootImage)" /var/lib/portables/foobar_2.raw
inv2=$(prop foobar.service InvocationID)
check "foobar.service was restarted" test -n "$inv2" -a "$inv2" != "$inv1"
l=$(wait_inv_log "$inv2" "^E2E-MARKER foobar " 10); expect_match "the running foobar.service is version 2's program" "$l" "marker=v2"

o=$(portable-attach attach --no-reload /var/lib/portables/bar_1.raw 2>&1); rc=$?
expect "with /etc read-only, attach still succeeds" "$rc" 0
expect_match "... says it writes /run instead" "$o" "/etc is read-only: writing /run/portable-attach.conf instead"
check "... and the entry is in /run/portable-attach.conf" grep -qx "\[bar\]" /run/portable-attach.conf
expect "the system is running (not degraded)" "$(system_state)" running
`;

// A list written early in the boot, after the generators ran, by "configuration management" (a unit
// ordered before sysinit.target): with the watcher enabled, the late pass it pulls in reloads.
const CM_WRITER = `[Unit]
Description=e2e: configuration management writes a list after the generators ran
DefaultDependencies=no
After=local-fs.target
Before=sysinit.target

[Service]
Type=oneshot
ExecStart=/bin/sh -c 'mkdir -p /etc/portable-attach.d && printf "[net]\\nImage=/var/lib/portables/net_1\\nEnable=yes\\n" >/etc/portable-attach.d/10-cm.conf'
`;

const configManagement = {
  name: "19b-list-from-configuration-management",
  needs: ["generator", "cli", "lateUnit", "pathUnit"],
  spec: (ctx) => ({
    files: {
      ...portables(ctx, ["net_1"]),
      "etc/systemd/system/e2e-cm.service": CM_WRITER,
      "etc/systemd/system/sysinit.target.wants/e2e-cm.service": { symlink: "../e2e-cm.service" },
      "etc/systemd/system/paths.target.wants/portable-attach.path": {
        symlink: "/usr/lib/systemd/system/portable-attach.path",
      },
    },
    check: String.raw`
check "the list was written after the generators ran" test -f /etc/portable-attach.d/10-cm.conf
# The watcher pulls the late pass in, unordered against multi-user.target: wait for it to finish.
n=150; while [ $n -gt 0 ] && ! { [ -e /run/portable-attach/late-pass-done ] && [ "$(prop portable-attach-late.service ActiveState)" = inactive ]; }; do sleep 0.1; n=$((n-1)); done
check "net.service from that list is active after boot, nobody acting" wait_state net.service active 30
expect "the system is running (not degraded)" "$(system_state)" running
`,
  }),
};

const fleet = {
  name: "19-fleet",
  guests: ["trixie", "sid"],
  needs: ["generator", "cli", "lateUnit"],
  timeoutMs: 90_000,
  run: async (ctx) => {
    const dir = mkdtempSync(join(tmpdir(), "pa-e2e-fleet-"));
    try {
      const v1 = await foobar(ctx, dir, 1);
      const v2 = await foobar(ctx, dir, 2);
      await ctx.boot("", {
        files: {
          ...portables(ctx, ["bar_1.raw"]),
          "var/lib/portables/foobar_1.raw": { copyFile: v1 },
          "srv/updates/foobar_2.raw": { copyFile: v2 },
          "etc/sysupdate.d/50-foobar.transfer": TRANSFER,
          "var/lib/confexts/fleet/etc/extension-release.d/extension-release.fleet": "ID=_any\n",
          "var/lib/confexts/fleet/etc/portable-attach.d/50-fleet.conf": FLEET_LIST,
          "etc/systemd/system/sysinit.target.wants/systemd-confext.service": {
            symlink: "/usr/lib/systemd/system/systemd-confext.service",
          },
        },
        check: CHECK,
      });
      return { problems: [] };
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
};

export default [fleet, configManagement];
