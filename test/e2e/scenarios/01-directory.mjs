// 1. A directory image with Enable=yes: its units are active after boot, with the default profile's
//    sandbox in effect. Also: a bare image name is looked up in /var/lib/portables, and an entry
//    without Enable=yes is loaded but not started.
import { portables, codename } from "../lib/scenario.mjs";

// portablectl up to 254 binds the host's os-release into the service; from 255 PID 1 provides
// /run/host/os-release itself and a bind there fails with 226/NAMESPACE (EEXIST).
const hostOsRelease = (ctx) =>
  ctx.guest.systemd < 255
    ? `expect_match "foo.service: host os-release bound" "$(prop foo.service BindReadOnlyPaths)" "/etc/os-release:/run/host/os-release"`
    : `check "foo.service: no bind to /run/host/os-release (systemd ${ctx.guest.systemd} provides it)" sh -c '! systemctl show -P BindReadOnlyPaths foo.service | grep -q /run/host/os-release'`;

export default {
  name: "01-directory-enable",
  needs: ["generator"],
  spec: (ctx) => ({
    files: {
      ...portables(ctx, ["foo_1", "net_1"]),
      "etc/portable-attach.conf": `# e2e scenario 1
[foo]
Image=/var/lib/portables/foo_1
Profile=default
Enable=yes

[net]
Image=net
`,
    },
    check: String.raw`
check "foo.service is active after boot" wait_state foo.service active 15
check "foo-old.service is active after boot" wait_state foo-old.service active 15
check "foo.socket is active after boot" wait_state foo.socket active 15
expect "foo.service: RootDirectory=" "$(prop foo.service RootDirectory)" /var/lib/portables/foo_1
expect "foo.service: comes from the generator" "$(prop foo.service FragmentPath)" /run/systemd/generator/foo.service
expect_match "foo.service: profile drop-in 10-profile.conf is loaded" "$(prop foo.service DropInPaths)" "/run/systemd/generator/foo.service.d/10-profile.conf"
expect "foo.service: 10-profile.conf links the default profile" "$(readlink -f /run/systemd/generator/foo.service.d/10-profile.conf)" /usr/lib/systemd/portable/profile/default/service.conf
expect "foo.service: DynamicUser=" "$(prop foo.service DynamicUser)" yes
expect "foo.service: ProtectSystem=" "$(prop foo.service ProtectSystem)" strict
expect "foo.service: PrivateUsers=" "$(prop foo.service PrivateUsers)" yes
expect "foo.service: RestrictAddressFamilies=" "$(prop foo.service RestrictAddressFamilies)" "AF_INET AF_INET6 AF_NETLINK AF_UNIX"
expect "foo.service: Environment=" "$(prop foo.service Environment)" "PORTABLE=foo_1"
expect_match "foo.service: LogExtraFields= (257 adds PORTABLE_NAME_AND_VERSION=; scenario 09 compares all)" "$(prop foo.service LogExtraFields)" "^PORTABLE=foo_1( |$)"
${hostOsRelease(ctx)}
expect "foo.service: enabled through multi-user.target" "$(prop foo.service WantedBy)" multi-user.target
expect "foo.socket: no profile, no root (portablectl writes only the marker for sockets)" "$(prop foo.socket RootDirectory)$(prop foo.socket DynamicUser)" "no"
# What the running service itself sees:
l=$(wait_log foo.service "^E2E-PROBE name=foo " 10) ; expect_match "foo.service runs its image's program as a dynamic user" "$l" "^E2E-PROBE name=foo portable=foo_1 uid=[0-9]+$"
expect_match "foo.service: uid is not root" "$(echo "$l" | sed 's/.*uid=//')" "^[1-9][0-9]*$"
l=$(wait_log foo.service "^E2E-WRITE foo " 10) ; expect "foo.service: /usr is read-only inside (ProtectSystem=strict)" "$l" "E2E-WRITE foo usr=readonly"
l=$(wait_log foo.service "^E2E-HOSTOS foo " 10) ; expect "foo.service: sees the host's os-release at /run/host/os-release" "$l" "E2E-HOSTOS foo VERSION_CODENAME=${codename(ctx)}"
u=$(stat -c %u /proc/$(prop foo.service MainPID)); check "foo.service's process runs with a uid from the DynamicUser= range (got $u)" test "$u" -ge 61184 -a "$u" -le 65519
# Bare name + no Enable=: loaded, not started.
expect "net.service (bare image name) is loaded" "$(prop net.service LoadState)" loaded
expect "net.service: RootDirectory= resolved from the bare name" "$(prop net.service RootDirectory)" /var/lib/portables/net_1
expect "net.service (no Enable=) is not started" "$(prop net.service ActiveState)" inactive
expect "the system is running (not degraded)" "$(system_state)" running
`,
  }),
};
