// 13. `--now` must not read as success when a unit fails right after its start job: a Type=simple
//     service's job ends at fork, before the sandbox is set up and the program runs, so a 203/EXEC
//     (here: the image names a program it does not have) or a 226/NAMESPACE comes after the job.
//     attach --now and reload --now exit non-zero and name the unit; a good entry beside it runs.
import { portables } from "../lib/scenario.mjs";

export default {
  name: "13-now-reports-failed-unit",
  needs: ["generator", "cli"],
  spec: (ctx) => ({
    files: portables(ctx, ["bad_1", "net_1"]),
    check: String.raw`
out=$(portable-attach attach --now /var/lib/portables/net_1 2>&1); rc=$?
expect "attach --now of a good image exits 0" "$rc" 0
check "net.service is active" wait_state net.service active 10
out=$(portable-attach attach --now /var/lib/portables/bad_1 2>&1); rc=$?
echo "$out" >/run/out/attach-bad.txt
check "attach --now of an image whose service fails exits non-zero (got $rc)" test "$rc" -ne 0
expect_match "attach --now says bad.service failed (not just 'Started')" "$(echo "$out" | grep -i fail)" "bad\.service"
check "bad.service ends failed" wait_state bad.service failed 10
portable-attach enable bad >/dev/null 2>&1
out=$(portable-attach reload --now 2>&1); rc=$?
echo "$out" >/run/out/reload-bad.txt
check "reload --now with a failing enabled unit exits non-zero (got $rc)" test "$rc" -ne 0
expect_match "reload --now says bad.service failed" "$(echo "$out" | grep -i fail)" "bad\.service"
expect "net.service is still active" "$(prop net.service ActiveState)" active
`,
  }),
};
