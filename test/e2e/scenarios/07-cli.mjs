// 7. The CLI, as an administrator types it: attach --now, reattach --now from version 1 to version 2
//    of an image (units that stay are restarted, vanished ones stopped, new ones started), detach --now.
//    Command syntax follows portablectl's (IMAGE as a path; the entry is named after the image).
//    Each --now must leave the units active: a unit that fails right after its start job (226 on a
//    newer systemd) fails the scenario here, whatever the command printed.
import { portables } from "../lib/scenario.mjs";

export default {
  name: "07-cli-attach-reattach-detach",
  needs: ["generator", "cli"],
  spec: (ctx) => ({
    files: portables(ctx, ["foo_1", "foo_2"]),
    check: String.raw`
pa() { echo "+ portable-attach $*"; portable-attach "$@"; }
check "attach --now foo_1" pa attach --now /var/lib/portables/foo_1
check "the CLI wrote the list" grep -q foo_1 /etc/portable-attach.conf
check "after attach --now: foo.service is active" wait_state foo.service active 10
check "after attach --now: foo-old.service is active" wait_state foo-old.service active 10
expect "foo.service runs version 1" "$(prop foo.service RootDirectory)" /var/lib/portables/foo_1
inv1=$(prop foo.service InvocationID)

# PID 1 at debug level names every job it installs: a restart must be one restart job, not stop+start.
systemd-analyze log-level debug
cur=$(journalctl -b -n 0 --show-cursor -q | sed -n 's/^-- cursor: //p')
check "reattach --now to foo_2" pa reattach --now /var/lib/portables/foo_2
jobs=$(journalctl -b -q -o cat --no-pager --after-cursor="$cur" _PID=1 | grep -oE "Installed new job foo\.service/[a-z-]+" | sed 's/.*\///' | sort -u | tr '\n' ' ')
systemd-analyze log-level info
expect "reattach: foo.service got one kind of job, a restart (not stop+start)" "$jobs" "restart "
check "after reattach: foo.service is active" wait_state foo.service active 10
expect "after reattach: foo.service runs version 2" "$(prop foo.service RootDirectory)" /var/lib/portables/foo_2
inv2=$(prop foo.service InvocationID)
check "after reattach: foo.service was restarted (new invocation)" test -n "$inv2" -a "$inv2" != "$inv1"
l=$(wait_inv_log "$inv2" '^E2E-PROBE' 10); expect_match "after reattach: the running foo.service is version 2's program" "$l" "portable=foo_2"
check "after reattach: foo-new.service (new in version 2) is active" wait_state foo-new.service active 10
expect "after reattach: foo-old.service (gone in version 2) is stopped" "$(prop foo-old.service ActiveState)" inactive
expect "after reattach: foo-old.service is no longer loaded" "$(prop foo-old.service LoadState)" not-found
check "the list names foo_2, not foo_1" sh -c 'grep -q foo_2 /etc/portable-attach.conf && ! grep -q foo_1 /etc/portable-attach.conf'

check "detach --now" pa detach --now foo
expect "after detach: foo.service is stopped" "$(prop foo.service ActiveState)" inactive
expect "after detach: foo.service is gone" "$(prop foo.service LoadState)" not-found
expect "after detach: foo-new.service is stopped" "$(prop foo-new.service ActiveState)" inactive
expect "after detach: foo.socket is stopped" "$(prop foo.socket ActiveState)" inactive
check "after detach: nothing of foo left in the generator output" sh -c '! ls /run/systemd/generator | grep -q "^foo"'
expect "the system is running (not degraded)" "$(system_state)" running
`,
  }),
};
