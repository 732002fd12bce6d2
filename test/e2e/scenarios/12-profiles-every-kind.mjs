// 12. Every profile with every kind of image, one boot per profile: a directory image with a
//     directory extension, a squashfs image with a squashfs extension, erofs in GPT, ext4. Every
//     service is active and runs its own image's program; its 10-profile.conf is the guest's own
//     systemd profile (the host's profiles win over ours), and the settings that profile gives
//     (BindLogSockets= from 257 on, TasksMax=, PrivateNetwork=, …) are what systemd shows; from
//     inside, the network is what the profile allows, and /run/host/os-release is the guest's.
//     trusted binds all of /run: its boot gets a /run/host as on a machine (see writableRunHost).
import { portables, codename, writableRunHost } from "../lib/scenario.mjs";

const PROFILES = ["default", "nonetwork", "strict", "trusted"];
const LIST = (p) => `[foo]
Image=/var/lib/portables/foo_1
Extensions=/var/lib/portables/foo-ext
Profile=${p}
Enable=yes

[bar]
Image=/var/lib/portables/bar_1.raw
Extensions=/var/lib/portables/bar-ext.raw
Profile=${p}
Enable=yes

[baz]
Image=/var/lib/portables/baz_1.raw
Profile=${p}
Enable=yes

[qux]
Image=/var/lib/portables/qux_1.raw
Profile=${p}
Enable=yes
`;
// unit → [probe name, the PORTABLE= it sees, what it is]
const UNITS = {
  "foo.service": ["foo", "foo_1", "directory"],
  "foo-ext.service": ["foo-ext", "foo-ext", "directory extension"],
  "bar.service": ["bar", "bar_1.raw", "squashfs"],
  "bar-ext.service": ["bar-ext", "bar-ext.raw", "squashfs extension"],
  "baz.service": ["baz", "baz_1.raw", "erofs in GPT"],
  "qux.service": ["qux", "qux_1.raw", "ext4"],
};
// Settings whose `systemctl show` text is the profile's own text: compared with the guest's profile.
const SAME_TEXT = [
  "MountAPIVFS",
  "BindLogSockets",
  "DynamicUser",
  "RemoveIPC",
  "PrivateTmp",
  "PrivateDevices",
  "PrivateUsers",
  "PrivateNetwork",
  "ProtectSystem",
  "ProtectHome",
  "ProtectKernelTunables",
  "ProtectKernelModules",
  "ProtectControlGroups",
  "LockPersonality",
  "NoNewPrivileges",
  "MemoryDenyWriteExecute",
  "RestrictRealtime",
  "TasksMax",
  "SystemCallArchitectures",
];

const check = (ctx, p) =>
  String.raw`
profile=/usr/lib/systemd/portable/profile/${p}/service.conf
check "the guest has its own ${p} profile" test -f $profile
for u in ${Object.keys(UNITS).join(" ")}; do
  check "$u is active (${p})" wait_state $u active 20
  expect "$u: 10-profile.conf is the guest's own ${p} profile" "$(readlink -f /run/systemd/generator/$u.d/10-profile.conf)" "$profile"
  for k in ${SAME_TEXT.join(" ")}; do
    v=$(sed -n "s/^$k=//p" $profile | tail -n 1)
    [ -n "$v" ] && expect "$u: $k= as the ${p} profile says" "$(prop $u $k)" "$v"
  done
done
` +
  Object.entries(UNITS)
    .map(
      ([u, [n, portable, kind]]) => String.raw`
if [ "$(prop ${u} ActiveState)" != active ]; then fail "${u} (${kind}): not active, so nothing to see from inside"; else
l=$(wait_log ${u} "^E2E-PROBE name=${n} " 10); expect_match "${u} (${kind}) runs its image's program as ${p === "trusted" ? "root" : "a dynamic user"}" "$l" "^E2E-PROBE name=${n} portable=${portable} uid=${p === "trusted" ? "0" : "[1-9][0-9]*"}$"
l=$(wait_log ${u} "^E2E-NET ${n} " 10); expect_match "${u}: network as the ${p} profile allows" "$l" "${p === "nonetwork" || p === "strict" ? "ifaces=lo, inet=.*(not supported|Address family)" : "ifaces=.*host0"}"
l=$(wait_log ${u} "^E2E-HOSTOS ${n} " 10); expect "${u}: /run/host/os-release is the guest's" "$l" "E2E-HOSTOS ${n} VERSION_CODENAME=${codename(ctx)}"
fi
`,
    )
    .join("") +
  String.raw`
for e in foo-ext bar-ext; do
  [ "$(prop $e.service ActiveState)" = active ] || continue
  l=$(wait_log $e.service "^E2E-MARKER $e " 10); expect "$e.service sees its extension's files" "$l" "E2E-MARKER $e /usr/share/$e/marker=from-$e"
done
expect "the system is running (not degraded)" "$(system_state)" running
`;

export default PROFILES.map((p, i) => ({
  name: `12${"abcd"[i]}-profile-${p}-every-kind`,
  needs: ["generator", "raw"],
  spec: (ctx) => ({
    files: {
      ...portables(ctx, ["foo_1", "foo-ext", "bar_1.raw", "bar-ext.raw", "baz_1.raw", "qux_1.raw"]),
      ...(p === "trusted" ? writableRunHost() : {}),
      "etc/portable-attach.conf": LIST(p),
    },
    check: check(ctx, p),
  }),
}));
