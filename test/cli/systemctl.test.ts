// The "booted" paths (reload, start, stop, restart) against a fake systemctl on PATH: a real
// systemd cannot run on this machine (the e2e suite boots one for that). The fake records every
// call, keeps an active set, and does what daemon-reload does for us: wipes the generator
// directory and runs the real generator bundle. It runs in a private mount namespace with a
// fresh tmpfs on /run holding /run/systemd/system, so the CLI believes it is booted while the
// host's /run stays untouched; lists go to /run with --runtime, images come from a scratch tree.
import { spawnSync } from "node:child_process";
import { appendFileSync, chmodSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { skipName } from "../helpers/skip-reporter.ts";
import { CLI, GENERATOR, makeTree } from "./helpers.ts";

const canUnshare = spawnSync("unshare", ["-m", "sh", "-c", "mount -t tmpfs tmpfs /run"]).status === 0;
const roots: string[] = [];
afterAll(() => {
  for (const r of roots) rmSync(r, { recursive: true, force: true });
});

const FAKE = `#!/bin/sh
echo "$*" >> "$FAKE_DIR/calls"
active="$FAKE_DIR/active"; touch "$active"
verb=$1; shift
[ "$1" = "--no-block" ] && shift
[ "$1" = "--" ] && shift
case "$verb" in
  daemon-reload)
    rm -rf /run/systemd/generator && mkdir -p /run/systemd/generator
    exec "$NODE" "$GENERATOR" /run/systemd/generator /run/systemd/generator /run/systemd/generator 2>>"$FAKE_DIR/generator.log" ;;
  is-active)
    rc=0; for u; do if grep -qx "$u" "$active"; then echo active; else echo inactive; rc=3; fi; done; exit $rc ;;
  start|restart)
    for u; do grep -qx "$u" "$active" || echo "$u" >> "$active"; done ;;
  show)
    # What a Type=simple service whose sandbox failed looks like just after its start job succeeded.
    shift; [ "$1" = "--" ] && shift
    first=1; for u; do
      [ $first = 1 ] || echo; first=0
      if grep -qx "$u" "$FAKE_DIR/failing" 2>/dev/null; then
        printf 'Id=%s\nActiveState=failed\nSubState=failed\nResult=exit-code\nMainPID=0\nExecMainCode=1\nExecMainStatus=226\n' "$u"
      else
        printf 'Id=%s\nActiveState=active\nSubState=running\nResult=success\nMainPID=0\nExecMainCode=0\nExecMainStatus=0\n' "$u"
      fi
    done ;;
  stop)
    for u; do grep -vx "$u" "$active" > "$active.new"; mv "$active.new" "$active"; done ;;
esac
`;

/** Runs CLI steps in one private namespace with the fake systemctl; units in `failing` fail right after their start. */
function runSteps(steps: string[][], failing: string[] = [], setup?: (tree: string) => void) {
  const tree = makeTree();
  roots.push(tree);
  setup?.(tree);
  const bin = join(tree, "bin");
  mkdirSync(bin);
  writeFileSync(join(bin, "systemctl"), FAKE);
  chmodSync(join(bin, "systemctl"), 0o755);
  writeFileSync(join(tree, "failing"), failing.map((u) => u + "\n").join(""));
  const args = steps.map((s) => s.map((a) => a.replace("IMG:", `${tree}/var/lib/portables/`)));
  // One shell in the namespace runs every step, each separated by a marker in the call log.
  const script = args
    .map(
      (s, i) =>
        `echo "== ${i}" >> "$FAKE_DIR/calls"; "$NODE" "$CLI" ${s.map((a) => `'${a}'`).join(" ")} >"$FAKE_DIR/out.${i}" 2>"$FAKE_DIR/err.${i}"; echo $? >"$FAKE_DIR/rc.${i}"`,
    )
    .join("\n");
  const r = spawnSync(
    "unshare",
    ["-m", "sh", "-c", `mount -t tmpfs tmpfs /run && mkdir -p /run/systemd/system && ${script}`],
    {
      encoding: "utf8",
      env: {
        PATH: `${bin}:/usr/bin:/bin`,
        FAKE_DIR: tree,
        NODE: process.execPath,
        CLI,
        GENERATOR,
        SYSTEMD_ARCHITECTURE: "x86-64",
      },
    },
  );
  expect(r.status, r.stderr).toBe(0);
  const at = (i: number) => ({
    rc: Number(readFileSync(join(tree, `rc.${i}`), "utf8")),
    out: readFileSync(join(tree, `out.${i}`), "utf8"),
    err: readFileSync(join(tree, `err.${i}`), "utf8"),
  });
  const calls = readFileSync(join(tree, "calls"), "utf8")
    .split("== ")
    .slice(1)
    .map((c) =>
      c
        .split("\n")
        .slice(1)
        .filter((l) => l !== ""),
    );
  return { at, calls };
}

const show = (u: string) =>
  `show --property=Id,ActiveState,SubState,Result,MainPID,ExecMainCode,ExecMainStatus -- ${u}`;

describe.skipIf(!canUnshare)(
  skipName(
    "talking to PID 1 through systemctl (fake systemctl, private /run)",
    canUnshare ? undefined : "no private mount namespace here (unshare -m needs root)",
  ),
  () => {
    it("attach --now, reattach (restart / stop / start), detach --now, reload --if-changed", () => {
      const steps: string[][] = [
        ["attach", "--runtime", "--now", "IMG:foo_1"],
        ["is-attached", "foo"],
        ["reattach", "foo", "IMG:foo_2"],
        ["reattach", "--now", "foo", "IMG:bar_1"],
        ["list", "--no-legend"],
        ["reload", "--if-changed"],
        ["detach", "--now", "foo"],
        ["is-attached", "foo"],
      ];
      const { at, calls } = runSteps(steps);
      for (let i = 0; i < steps.length; i++)
        if (i !== 7) expect(at(i).rc, `${steps[i]?.join(" ")}: ${at(i).err}`).toBe(0);

      expect(calls[0]).toEqual(["daemon-reload", "start -- foo.service", show("foo.service")]);
      expect(at(0).err).toContain("Started foo.service.");
      expect(at(1).out).toBe("running-runtime\n");
      // Same unit in the new image: one restart, not stop + start.
      expect(calls[2]).toEqual([
        "is-active -- foo.service",
        "daemon-reload",
        "restart -- foo.service",
        show("foo.service"),
      ]);
      // foo.service vanished (stopped), bar.service is new (started with --now).
      expect(calls[3]).toEqual([
        "is-active -- foo.service",
        "daemon-reload",
        "stop -- foo.service",
        "start -- bar.service",
        show("bar.service"),
      ]);
      expect(at(4).out).toMatch(
        /^foo\s+attached\s+\/.*bar_1\s+bar\.service\(active\)\s+\/run\/portable-attach\.conf:1$/m,
      );
      // The path unit's run after our own edit: nothing to do.
      expect(calls[5]).toEqual([]);
      expect(at(5).err).toContain("Lists unchanged");
      // Stop first, then remove and reload.
      expect(calls[6]).toEqual(["stop -- bar.service", "daemon-reload"]);
      expect(at(7)).toMatchObject({ rc: 1, out: "detached\n" });
    }, 60_000);

    it("a unit that fails right after its start or restart job: exit 1, named with its status, never 'Started'", () => {
      const steps: string[][] = [
        ["attach", "--runtime", "--now", "--enable", "IMG:foo_1"],
        ["reattach", "--now", "foo", "IMG:foo_2"],
        ["reload", "--now"],
      ];
      const { at, calls } = runSteps(steps, ["foo.service"]);
      const said =
        "Failed to start foo.service: it is failed (Result=exit-code, status=226/NAMESPACE) right after its start job.";
      expect(at(0)).toMatchObject({ rc: 1 });
      expect(at(0).err).toContain(said);
      expect(at(0).err).not.toContain("Started");
      expect(calls[0]).toEqual(["daemon-reload", "start -- foo.service", show("foo.service")]);
      // The fake keeps it in its active set, so reattach restarts it: the restart is checked the same way.
      expect(at(1).rc).toBe(1);
      expect(at(1).err).toContain(
        "Failed to restart foo.service: it is failed (Result=exit-code, status=226/NAMESPACE) right after its restart job.",
      );
      expect(at(1).err).not.toContain("Restarted");
      expect(at(2).rc, at(2).err).toBe(0); // is-active says it runs: reload --now starts nothing

      // reload --now starting an enabled unit that is not running.
      const wanted = (tree: string) =>
        appendFileSync(
          join(tree, "var/lib/portables/foo_1/usr/lib/systemd/system/foo.service"),
          "\n[Install]\nWantedBy=multi-user.target\n",
        );
      const second = runSteps(
        [
          ["attach", "--runtime", "--enable", "IMG:foo_1"],
          ["reload", "--now"],
        ],
        ["foo.service"],
        wanted,
      );
      expect(second.at(0).rc, second.at(0).err).toBe(0);
      expect(second.calls[1]).toEqual([
        "daemon-reload",
        "is-active -- foo.service",
        "start -- foo.service",
        show("foo.service"),
      ]);
      expect(second.at(1).rc).toBe(1);
      expect(second.at(1).err).toContain(said);
    }, 60_000);
  },
);
