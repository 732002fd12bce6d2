// 17. portable_attach=0 on the kernel command line (in a container: PID 1's arguments) turns the
//     generator off for that boot: nothing attached, no outcome record, and the journal says why.
import { portables, GEN_LOG } from "../lib/scenario.mjs";

export default {
  name: "17-kernel-switch",
  needs: ["generator"],
  spec: (ctx) => ({
    initArgs: ["portable-attach=off"],
    files: {
      ...portables(ctx, ["foo_1"]),
      "etc/portable-attach.conf": "[foo]\nImage=/var/lib/portables/foo_1\nEnable=yes\n",
    },
    check: String.raw`
expect "the system is running" "$(system_state)" running
expect_match "PID 1 got the switch" "$(tr '\0' ' ' </proc/1/cmdline)" "portable-attach=off"
expect "foo.service is not there" "$(systemctl show -P LoadState foo.service)" not-found
check "no outcome record was written" test ! -e /run/systemd/generator/.portable-attach-status.json
systemctl daemon-reload
log=$(${GEN_LOG})
echo "$log" >/run/out/generator.log
expect_match "the journal says the generator was turned off" "$log" "Disabled by portable_attach=0 on the kernel command line"
`,
  }),
};
