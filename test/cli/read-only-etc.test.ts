// /etc read-only (a confext merged over it, a read-only root): a new entry goes to
// /run/portable-attach.conf, and the command says so. In a private mount namespace with a read-only
// bind mount of /etc and a fresh /run, so the host is never touched; needs root (skips otherwise).
import { spawnSync } from "node:child_process";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { afterAll, expect, it } from "vitest";
import { CLI, makeTree } from "./helpers.ts";

const root = makeTree("pa-roetc-");
afterAll(() => rmSync(root, { recursive: true, force: true }));
const canUnshare =
  spawnSync("unshare", ["-m", "sh", "-c", "mount -t tmpfs tmpfs /run && mount --bind -o ro /etc /etc"]).status === 0;

it.skipIf(!canUnshare)("falls back to /run when /etc is read-only, and says so", () => {
  const script = `/bin/mount -t tmpfs tmpfs /run && /bin/mount --bind /etc /etc && /bin/mount -o remount,bind,ro /etc && "$NODE" "$CLI" attach "$IMG"; echo "rc=$?"; /bin/cat /run/portable-attach.conf; test -e /etc/portable-attach.conf && echo "etc written"`;
  const r = spawnSync("/usr/bin/unshare", ["-m", "/bin/sh", "-c", script], {
    encoding: "utf8",
    env: {
      PATH: "/usr/bin:/bin",
      NODE: process.execPath,
      CLI,
      IMG: join(root, "var/lib/portables/bar_1"),
      SYSTEMD_ARCHITECTURE: "x86-64",
    },
  });
  expect(r.stdout, r.stderr).toContain("rc=0\n");
  expect(r.stdout).toContain(`[bar]\nImage=${join(root, "var/lib/portables/bar_1")}\n`);
  expect(r.stdout).not.toContain("etc written");
  expect(r.stderr).toContain("/etc is read-only: writing /run/portable-attach.conf instead, which is gone at reboot");
});
