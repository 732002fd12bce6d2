// 8. Broken entries beside good ones: a missing image, a corrupt image, an entry with a bad key.
//    The good ones run, the system is not degraded by us, and the journal says what was wrong with
//    which entry.
import { portables, GEN_LOG } from "../lib/scenario.mjs";

export default {
  name: "08-broken-entries",
  needs: ["generator"],
  spec: (ctx) => ({
    files: {
      ...portables(ctx, ["foo_1", "net_1", "corrupt_1.raw"]),
      "etc/portable-attach.conf": `[foo]
Image=/var/lib/portables/foo_1
Enable=yes

[missing]
Image=/var/lib/portables/missing_1
Enable=yes

[corrupt]
Image=/var/lib/portables/corrupt_1.raw
Enable=yes

[typo]
Imgae=/var/lib/portables/net_1
Enable=yes

[net]
Image=/var/lib/portables/net_1
Enable=yes
`,
    },
    check: String.raw`
check "good entry foo: foo.service is active" wait_state foo.service active 15
check "good entry net (after the broken ones): net.service is active" wait_state net.service active 15
expect "the system is running, not degraded" "$(system_state)" running
expect "no failed units" "$(systemctl list-units --failed --plain --no-legend | wc -l)" 0
log=$(${GEN_LOG})
echo "$log" >/run/out/generator.log
expect_match "the generator ran and logged" "$log" "portable-attach-generator"
expect_match "the journal names entry 'missing' and what is wrong (its image path)" "$(echo "$log" | grep -F missing)" "missing_1"
expect_match "the journal names entry 'corrupt' and its image" "$(echo "$log" | grep -F corrupt)" "corrupt_1.raw"
expect_match "the journal names entry 'typo' and the bad key" "$(echo "$log" | grep -F typo)" "Imgae"
expect_match "the journal gives the list file and line for the bad key" "$(echo "$log" | grep -F Imgae)" "/etc/portable-attach.conf:[0-9]+"
check "the generator logged errors at err priority or worse" sh -c 'journalctl -b -q -p err -o cat --no-pager | grep -q -e missing -e corrupt -e Imgae'
`,
  }),
};
