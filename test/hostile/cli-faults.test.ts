// The CLI (the built bundle) under real faults: a full file system while it writes the list (a
// small tmpfs mounted on the root's /etc, filled up), a list that is a directory, and a booted
// system without systemctl (a private mount namespace with /run/systemd/system on a fresh tmpfs
// and no systemctl on PATH). Each must end in a clear message, with the list as it was (or with
// the completed edit), and nothing left behind but the list.
import { execFileSync, spawnSync } from "node:child_process";
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { skipName } from "../helpers/skip-reporter.ts";

const REPO = join(import.meta.dirname, "..", "..");
const CLI = join(REPO, "dist/portable-attach");
const FOO = join(REPO, "test/golden/01-one-service/input/var/lib/portables/foo_1");
const scratch = mkdtempSync(join(tmpdir(), "pa-hostile-cli-"));
const mounts: string[] = [];
afterAll(() => {
  for (const m of mounts.reverse()) spawnSync("umount", [m]);
  rmSync(scratch, { recursive: true, force: true });
});

const HAND = "# hand-written\n[keep]\nImage=keep\n";

function tree(name: string): string {
  const root = join(scratch, name);
  for (const n of ["foo", "bar"]) {
    const dir = join(root, `var/lib/portables/${n}_1`);
    cpSync(FOO, dir, { recursive: true });
    if (n !== "foo")
      renameSync(join(dir, "usr/lib/systemd/system/foo.service"), join(dir, `usr/lib/systemd/system/${n}.service`));
  }
  return root;
}

function cli(root: string, args: string[]) {
  return spawnSync(process.execPath, [CLI, `--root=${root}`, ...args], {
    encoding: "utf8",
    env: { PATH: "/usr/bin:/bin", SYSTEMD_ARCHITECTURE: "x86-64" },
  });
}

const canMount = (() => {
  const probe = join(scratch, "probe");
  mkdirSync(probe);
  const ok = spawnSync("mount", ["-t", "tmpfs", "-o", "size=64k", "tmpfs", probe]).status === 0;
  if (ok) spawnSync("umount", [probe]);
  return ok;
})();

let fullDiskLeftovers: string[] | undefined;

describe("CLI faults", () => {
  it.skipIf(!canMount)(
    skipName(
      "a full disk while the list is written: a clear error, the list as it was, no temporary file; then it works",
      canMount ? undefined : "cannot mount a tmpfs here (needs root)",
    ),
    () => {
      const root = tree("full");
      const etc = join(root, "etc");
      mkdirSync(etc);
      execFileSync("mount", ["-t", "tmpfs", "-o", "size=64k,nr_inodes=64", "tmpfs", etc]);
      mounts.push(etc);
      // A list that nearly fills the file system, then a filler for the rest.
      const big = `${HAND}\n${"# padding, as a person might keep notes here\n".repeat(600)}`;
      writeFileSync(join(etc, "portable-attach.conf"), big);
      try {
        execFileSync("dd", ["if=/dev/zero", `of=${join(etc, "filler")}`, "bs=4k"], { stdio: "ignore" });
      } catch {
        /* ENOSPC is the point */
      }
      const r = cli(root, ["attach", "/var/lib/portables/bar_1"]);
      expect(r.status, r.stdout + r.stderr).toBe(1);
      expect(r.stderr).toMatch(/ENOSPC|No space left/);
      expect(r.stderr).toContain("portable-attach.conf");
      expect(r.stderr).not.toMatch(/\n\s+at /);
      expect(readFileSync(join(etc, "portable-attach.conf"), "utf8")).toBe(big);
      // No temporary list file is left, and no lock (see the test below).
      expect(
        readdirSync(etc).filter((n) => n.startsWith(".#")),
        r.stderr,
      ).toEqual([]);
      fullDiskLeftovers = readdirSync(etc).sort();
      rmSync(join(etc, "filler"));
      const again = cli(root, ["attach", "/var/lib/portables/bar_1"]);
      expect(again.status, again.stderr).toBe(0);
      expect(readFileSync(join(etc, "portable-attach.conf"), "utf8")).toBe(
        `${big}\n[bar]\nImage=/var/lib/portables/bar_1\n`,
      );
    },
  );

  // Regression: the lock file used to be created empty and then written, so ENOSPC left an empty
  // lock that made every later run wait; now the pid is written privately and linked in whole.
  (canMount ? it : it.skip)("a full disk leaves no lock file behind", () => {
    expect(fullDiskLeftovers).toEqual(["filler", "portable-attach.conf"]);
  });

  it("a list that is a directory: a clear error naming it, nothing written", () => {
    const root = tree("dir");
    mkdirSync(join(root, "etc/portable-attach.conf"), { recursive: true });
    const r = cli(root, ["attach", "/var/lib/portables/bar_1"]);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/portable-attach\.conf.*(directory|EISDIR)/i);
    expect(r.stderr).not.toMatch(/\n\s+at /);
    expect(readdirSync(join(root, "etc"))).toEqual(["portable-attach.conf"]);
    expect(readdirSync(join(root, "etc/portable-attach.conf"))).toEqual([]);
  });

  const canUnshare = spawnSync("unshare", ["-m", "sh", "-c", "mount -t tmpfs tmpfs /run"]).status === 0;
  it.skipIf(!canUnshare)(
    skipName(
      "a booted system without systemctl: the edit is made and kept, and the message says systemctl is missing",
      canUnshare ? undefined : "no private mount namespace here (unshare -m needs root)",
    ),
    () => {
      const root = tree("nosystemctl");
      // In a private mount namespace: /run is a fresh tmpfs that says "booted"; the list goes to
      // /run/portable-attach.conf (--runtime); PATH has no systemctl.
      const script = `/bin/mount -t tmpfs tmpfs /run && /bin/mkdir -p /run/systemd/system && "$NODE" "$CLI" attach --runtime "$IMG"; echo "rc=$?"; /bin/cat /run/portable-attach.conf; /bin/ls -A /run`;
      const r = spawnSync("/usr/bin/unshare", ["-m", "/bin/sh", "-c", script], {
        encoding: "utf8",
        env: {
          PATH: join(scratch, "empty-bin"),
          NODE: process.execPath,
          CLI,
          IMG: join(root, "var/lib/portables/bar_1"),
          SYSTEMD_ARCHITECTURE: "x86-64",
        },
      });
      const out = r.stdout;
      expect(out, r.stderr).toMatch(/rc=[01]\n/);
      expect(out).toContain(`[bar]\nImage=${join(root, "var/lib/portables/bar_1")}\n`);
      expect(r.stderr).toMatch(/systemctl/);
      expect(r.stderr).not.toMatch(/\n\s+at /);
      expect(out.trim().split("\n").pop()).toBe("portable-attach.conf\nsystemd".split("\n").pop());
      console.log(`no systemctl: ${out.match(/rc=\d/)?.[0]}; ${r.stderr.trim().split("\n").join(" | ")}`);
    },
  );
});
