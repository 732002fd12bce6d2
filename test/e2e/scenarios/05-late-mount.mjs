// 5. The image lives on a file system that is mounted only after the generators ran (here a bind
//    mount unit for /var/lib/portables, pulled in by local-fs.target like a /var from fstab). The entry
//    has no cache (a hand edit), so the generator defers it and the late pass attaches it: its service
//    is still active in the same boot.
import { lateMountedPortables } from "../lib/scenario.mjs";

export default {
  name: "05-late-mount",
  needs: ["generator", "lateUnit"],
  spec: (ctx) => ({
    files: {
      ...lateMountedPortables(ctx, ["foo_1"]),
      "etc/portable-attach.conf": "[foo]\nImage=/var/lib/portables/foo_1\nEnable=yes\n",
    },
    check: String.raw`
check "the image's file system is mounted" wait_state var-lib-portables.mount active 10
ls -lR /run/systemd/generator >/run/out/generator-dir.txt 2>&1
systemctl list-jobs >/run/out/jobs.txt 2>&1
check "foo.service is active in the same boot" wait_state foo.service active 20
expect "foo.service: RootDirectory=" "$(prop foo.service RootDirectory)" /var/lib/portables/foo_1
check "foo-old.service (also enabled) is active" wait_state foo-old.service active 10
check "foo.socket (sockets.target) is active" wait_state foo.socket active 10
l=$(wait_log foo.service "^E2E-PROBE name=foo " 10); expect_match "foo.service runs its image's program" "$l" "^E2E-PROBE name=foo portable=foo_1 uid=[1-9]"
# Once done and no longer wanted, the late unit is garbage-collected (its properties reset), so ask
# the journal and the stamp it leaves rather than systemctl show.
first=$(journalctl -b -q -o cat _PID=1 --no-pager | grep -E "^(Started foo.service|Starting portable-attach-late.service)" | head -1)
expect_match "foo.service started only with the late pass (deferred)" "$first" "^Starting portable-attach-late.service"
check "the late pass ran (the image was not reachable while generators ran)" test -e /run/portable-attach/late-pass-done
check "the late pass succeeded" sh -c 'journalctl -b -q -o cat -u portable-attach-late.service --no-pager | grep -q "Deactivated successfully"'
check "the late pass did not fail" sh -c '! journalctl -b -q -o cat -u portable-attach-late.service --no-pager | grep -qi "failed with result"'
st=/run/systemd/generator/.portable-attach-status.json
expect "status record after the late pass: foo attached" "$(node -e 'const s=JSON.parse(require("fs").readFileSync(process.argv[1],"utf8"));const e=s.entries.find(x=>x.name==="foo");console.log(e?e.state:"absent")' $st)" attached
expect "the system is running (not degraded)" "$(system_state)" running
`,
  }),
};
