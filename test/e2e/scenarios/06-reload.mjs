// 6. A hand edit of the list plus `systemctl daemon-reload`: the new entry's service appears, the
//    removed one is gone. And with portable-attach.path enabled, the same happens with no command.
import { portables } from "../lib/scenario.mjs";

const LIST1 = `[foo]
Image=/var/lib/portables/foo_1
Enable=yes
`;
// foo removed, net added (written the way an editor does: a new file renamed over the old one)
const EDIT = String.raw`
cat >/etc/portable-attach.conf.new <<'LIST'
# edited by hand
[net]
Image=/var/lib/portables/net_1
Enable=yes
LIST
mv /etc/portable-attach.conf.new /etc/portable-attach.conf
`;
const BEFORE = String.raw`
check "before the edit: foo.service is active" wait_state foo.service active 15
expect "before the edit: net.service does not exist" "$(prop net.service LoadState)" not-found
`;
const AFTER = (how) => String.raw`
expect "${how}: net.service is loaded from the generator" "$(prop net.service FragmentPath)" /run/systemd/generator/net.service
expect "${how}: net.service runs in its image" "$(prop net.service RootDirectory)" /var/lib/portables/net_1
check "${how}: net.service starts" systemctl start net.service
check "${how}: net.service is active" wait_state net.service active 10
expect "${how}: foo.service's unit file is gone" "$(prop foo.service FragmentPath)" ""
expect_match "${how}: foo.service is no longer loaded" "$(prop foo.service LoadState)" "not-found"
check "${how}: /run/systemd/generator/foo.service is gone" test ! -e /run/systemd/generator/foo.service
`;

export default [
  {
    name: "06a-hand-edit-daemon-reload",
    needs: ["generator"],
    spec: (ctx) => ({
      files: { ...portables(ctx, ["foo_1", "net_1"]), "etc/portable-attach.conf": LIST1 },
      check:
        BEFORE +
        EDIT +
        `
systemctl daemon-reload
systemctl stop foo.service 2>/dev/null   # a running unit whose file went away stays loaded until stopped
` +
        AFTER("after daemon-reload"),
    }),
  },
  {
    name: "06b-hand-edit-path-unit",
    needs: ["generator", "pathUnit"],
    spec: (ctx) => ({
      files: {
        ...portables(ctx, ["foo_1", "net_1"]),
        "etc/portable-attach.conf": LIST1,
        // enabled as `systemctl enable portable-attach.path` would (its [Install] is WantedBy=paths.target or multi-user)
        "etc/systemd/system/paths.target.wants/portable-attach.path": {
          symlink: "/usr/lib/systemd/system/portable-attach.path",
        },
        "etc/systemd/system/multi-user.target.wants/portable-attach.path": {
          symlink: "/usr/lib/systemd/system/portable-attach.path",
        },
      },
      check:
        BEFORE +
        String.raw`
check "portable-attach.path is active" wait_state portable-attach.path active 10
sleep 0.5
` +
        EDIT +
        String.raw`
# no command typed: wait for the path unit to re-run the generators
n=100; while [ $n -gt 0 ] && [ "$(prop net.service LoadState)" != loaded ]; do sleep 0.1; n=$((n-1)); done
check "the path unit reloaded systemd within 10 s" test "$(prop net.service LoadState)" = loaded
n=50; while [ $n -gt 0 ] && [ "$(prop foo.service ActiveState)" = active ]; do sleep 0.1; n=$((n-1)); done
` +
        AFTER("via portable-attach.path"),
    }),
  },
];
