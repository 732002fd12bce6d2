// 4. The nonetwork and strict profiles: the service has no network, checked from inside the service
//    (its own view of the network interfaces, and an AF_INET socket); a default-profile service in
//    the same boot sees the container's veth, so the check can tell the difference.
import { portables } from "../lib/scenario.mjs";

export default {
  name: "04-profiles-no-network",
  needs: ["generator"],
  spec: (ctx) => ({
    files: {
      ...portables(ctx, ["net_1", "nonet_1", "strict_1"]),
      "etc/portable-attach.conf": `[net]
Image=/var/lib/portables/net_1
Enable=yes

[nonet]
Image=/var/lib/portables/nonet_1
Profile=nonetwork
Enable=yes

[strict]
Image=/var/lib/portables/strict_1
Profile=strict
Enable=yes
`,
    },
    check: String.raw`
for u in net nonet strict; do check "$u.service is active" wait_state $u.service active 15; done
expect "nonet.service links the nonetwork profile" "$(readlink -f /run/systemd/generator/nonet.service.d/10-profile.conf)" /usr/lib/systemd/portable/profile/nonetwork/service.conf
expect "strict.service links the strict profile" "$(readlink -f /run/systemd/generator/strict.service.d/10-profile.conf)" /usr/lib/systemd/portable/profile/strict/service.conf
expect "net.service: PrivateNetwork= (default profile)" "$(prop net.service PrivateNetwork)" no
expect "nonet.service: PrivateNetwork=" "$(prop nonet.service PrivateNetwork)" yes
expect "strict.service: PrivateNetwork=" "$(prop strict.service PrivateNetwork)" yes
expect "strict.service: TasksMax= (strict profile)" "$(prop strict.service TasksMax)" 4
expect "strict.service: RestrictAddressFamilies=" "$(prop strict.service RestrictAddressFamilies)" AF_UNIX
# From inside each service:
l=$(wait_log net.service "^E2E-NET net " 10);      expect_match "net.service sees the container's network (control)" "$l" "ifaces=.*host0"
l=$(wait_log nonet.service "^E2E-NET nonet " 10);  expect_match "nonet.service sees only loopback" "$l" "ifaces=lo, inet="
expect_match "nonet.service cannot open an AF_INET socket" "$l" "inet=.*(not supported|Address family)"
l=$(wait_log strict.service "^E2E-NET strict " 10); expect_match "strict.service sees only loopback" "$l" "ifaces=lo, inet="
expect_match "strict.service cannot open an AF_INET socket" "$l" "inet=.*(not supported|Address family)"
expect "the system is running (not degraded)" "$(system_state)" running
`,
  }),
};
