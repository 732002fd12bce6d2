// 11. As 05, the image lives on a file system mounted only after the generators ran, but this entry
//     was attached with the CLI (by an image builder, `--root`), so it has its facts cache: the
//     generator attaches it in the first pass, from the cache, and still pulls in the late pass,
//     which reads the image once mounted and finds it the same.
import { spawnSync } from "node:child_process";
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CLI } from "../lib/guest.mjs";
import { lateMountedPortables } from "../lib/scenario.mjs";

/** What `portable-attach --root=… attach --enable` writes for the image: the list and the cache. */
function attachedByTheCli(ctx) {
  const stage = mkdtempSync(join(tmpdir(), "pa-e2e-cache-"));
  try {
    mkdirSync(join(stage, "var/lib/portables"), { recursive: true });
    cpSync(ctx.images.foo_1, join(stage, "var/lib/portables/foo_1"), { recursive: true, verbatimSymlinks: true });
    const r = spawnSync(process.execPath, [CLI, `--root=${stage}`, "attach", "--enable", "/var/lib/portables/foo_1"], {
      encoding: "utf8",
      env: { PATH: "/usr/bin:/bin" },
    });
    if (r.status !== 0) throw new Error(`portable-attach attach: ${r.stderr}`);
    return {
      "etc/portable-attach.conf": readFileSync(join(stage, "etc/portable-attach.conf"), "utf8"),
      "etc/portable-attach/cache/foo.json": readFileSync(join(stage, "etc/portable-attach/cache/foo.json"), "utf8"),
    };
  } finally {
    rmSync(stage, { recursive: true, force: true });
  }
}

export default {
  name: "11-late-mount-cached",
  needs: ["generator", "cli", "lateUnit"],
  spec: (ctx) => ({
    files: {
      ...lateMountedPortables(ctx, ["foo_1"]),
      ...attachedByTheCli(ctx),
    },
    check: String.raw`
check "the image's file system is mounted" wait_state var-lib-portables.mount active 10
check "foo.service is active" wait_state foo.service active 20
expect "foo.service: RootDirectory=" "$(prop foo.service RootDirectory)" /var/lib/portables/foo_1
check "foo.socket (sockets.target) is active" wait_state foo.socket active 10
l=$(wait_log foo.service "^E2E-PROBE name=foo " 10); expect_match "foo.service runs its image's program" "$l" "^E2E-PROBE name=foo portable=foo_1 uid=[1-9]"
# nspawn gives no /dev/kmsg, so the boot-time generator is not heard; PID 1's order of events tells.
first=$(journalctl -b -q -o cat _PID=1 --no-pager | grep -E "^(Started foo.service|Starting portable-attach-late.service)" | head -1)
expect_match "the first pass attached foo from the cache: foo.service started before the late pass" "$first" "^Started foo.service"
check "the late pass ran all the same, to check the image" test -e /run/portable-attach/late-pass-done
check "the late pass succeeded" sh -c 'journalctl -b -q -o cat -u portable-attach-late.service --no-pager | grep -q "Deactivated successfully"'
st=/run/systemd/generator/.portable-attach-status.json
expect "after the late pass, foo is attached from its image (no longer from the cache)" "$(node -e 'const s=JSON.parse(require("fs").readFileSync(process.argv[1],"utf8"));const e=s.entries.find(x=>x.name==="foo");console.log(e?e.state+(e.cached?" cached":""):"absent")' $st)" attached
expect "the system is running (not degraded)" "$(system_state)" running
`,
  }),
};
