// 16. An image whose [Install] section reaches for the host (test/hostile/README.md): Alias= of a
//     host unit (systemd-hostnamed.service) and of default.target, and an instance of a host
//     template (getty@tty1.service), with Enable=yes and Force=yes. Before, the alias replaced the
//     host's hostnamed and the boot target became the image's; now no link takes a host unit's
//     name, the boot target stays the host's, and the good entry beside it runs.
import { portables, GEN_LOG } from "../lib/scenario.mjs";

const OS = "ID=debian\nVERSION_ID=12\n";
const SYSTEM = "var/lib/portables/reach_1/usr/lib/systemd/system";

export default {
  name: "16-host-conflicts",
  needs: ["generator"],
  spec: (ctx) => ({
    files: {
      ...portables(ctx, ["foo_1"]),
      "var/lib/portables/reach_1/etc/os-release": OS,
      [`${SYSTEM}/reach.service`]: "[Service]\nExecStart=/bin/true\n[Install]\nAlias=systemd-hostnamed.service\n",
      [`${SYSTEM}/reach.target`]: "[Unit]\nDescription=not the boot target\n[Install]\nAlias=default.target\n",
      "var/lib/portables/tty_1/etc/os-release": OS,
      "var/lib/portables/tty_1/usr/lib/systemd/system/getty@tty1.service": "[Service]\nExecStart=/bin/true\n",
      "etc/portable-attach.conf": `[foo]
Image=/var/lib/portables/foo_1
Enable=yes

[reach]
Image=/var/lib/portables/reach_1
Enable=yes
Force=yes

[tty]
Image=/var/lib/portables/tty_1
Prefixes=getty
`,
    },
    check: String.raw`
check "good entry foo: foo.service is active" wait_state foo.service active 15
expect "the system is running, not degraded" "$(system_state)" running
expect "the boot target is the host's (no Alias=default.target link)" "$(systemctl get-default)" "$(basename "$(readlink -f /usr/lib/systemd/system/default.target)")"
check "no link named default.target in the generator directory" test ! -e /run/systemd/generator/default.target
check "no link named systemd-hostnamed.service in the generator directory" test ! -e /run/systemd/generator/systemd-hostnamed.service
expect_match "systemd-hostnamed.service is the host's unit" "$(systemctl show -P FragmentPath systemd-hostnamed.service)" "^/(usr/)?lib/systemd/system/systemd-hostnamed.service$"
check "hostnamectl answers (the host's hostnamed runs)" timeout 20 hostnamectl
expect "reach.service itself is attached" "$(systemctl show -P LoadState reach.service)" loaded
check "getty@tty1.service is not attached from the image" test ! -e /run/systemd/generator/getty@tty1.service
st=/run/systemd/generator/.portable-attach-status.json
cp $st /run/out/ 2>/dev/null
expect_match "status record: entry 'tty' failed, its unit is an instance of the host's getty@.service" "$(node -e 'const s=JSON.parse(require("fs").readFileSync(process.argv[1],"utf8"));const e=s.entries.find(x=>x.name==="tty");console.log(e.state+" "+e.warnings.join(" "))' $st)" "^failed .*getty@tty1.service' is an instance of 'getty@.service', which exists on the host already"
systemctl daemon-reload
log=$(${GEN_LOG})
echo "$log" >/run/out/generator.log
expect_match "the journal says the alias of a host unit was not linked" "$(echo "$log" | grep -F '[reach]')" "not linking 'systemd-hostnamed.service'"
expect_match "the journal says default.target was not linked" "$(echo "$log" | grep -F '[reach]')" "not linking 'default.target'"
`,
  }),
};
