// 8. Broken entries beside good ones: a missing image, a corrupt image, an entry with a bad key.
//    The good ones run, the system is not degraded by us, and the journal says what was wrong with
//    which entry (and so does the generator's status record).
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
# The generator's record of each entry's outcome, for the CLI's status.
st=/run/systemd/generator/.portable-attach-status.json
check "the generator left its status record" test -s $st
cp $st /run/out/ 2>/dev/null
for e in missing corrupt typo; do
  expect "status record: entry '$e' failed" "$(node -e 'const s=JSON.parse(require("fs").readFileSync(process.argv[1],"utf8"));const e=s.entries.find(x=>x.name===process.argv[2]);console.log(e?e.state:"absent")' $st $e)" failed
done
for e in foo net; do
  expect "status record: entry '$e' attached" "$(node -e 'const s=JSON.parse(require("fs").readFileSync(process.argv[1],"utf8"));const e=s.entries.find(x=>x.name===process.argv[2]);console.log(e?e.state:"absent")' $st $e)" attached
done
# In a container there is no /dev/kmsg (nspawn withholds it), so the boot-time run of any generator
# can only be heard once journald listens: reload once, then read the journal.
if test -f /dev/kmsg; then cp /dev/kmsg /run/out/dev-kmsg.txt; fail "the generator created a regular file /dev/kmsg (it must open /dev/kmsg without O_CREAT; what it wrote there: dev-kmsg.txt)"; fi
systemctl daemon-reload
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
