// The "booted" paths (reload, start, stop, restart) against a fake systemctl on PATH: a real
// systemd cannot run on this machine (the e2e suite boots one for that). The fake records every
// call, keeps an active set, and does what daemon-reload does for us: wipes the generator
// directory and runs the real generator bundle. It runs in a private mount namespace with a
// fresh tmpfs on /run holding /run/systemd/system, so the CLI believes it is booted while the
// host's /run stays untouched; lists go to /run with --runtime, images come from a scratch tree.
import { spawnSync } from "node:child_process";
import { chmodSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
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
  stop)
    for u; do grep -vx "$u" "$active" > "$active.new"; mv "$active.new" "$active"; done ;;
esac
`;

describe.skipIf(!canUnshare)("talking to PID 1 through systemctl (fake systemctl, private /run)", () => {
  it("attach --now, reattach (restart / stop / start), detach --now, reload --if-changed", () => {
    const tree = makeTree();
    roots.push(tree);
    const bin = join(tree, "bin");
    mkdirSync(bin);
    writeFileSync(join(bin, "systemctl"), FAKE);
    chmodSync(join(bin, "systemctl"), 0o755);
    const img = (n: string) => `${tree}/var/lib/portables/${n}`;
    const steps: string[][] = [
      ["attach", "--runtime", "--now", img("foo_1")],
      ["is-attached", "foo"],
      ["reattach", "foo", img("foo_2")],
      ["reattach", "--now", "foo", img("bar_1")],
      ["list", "--no-legend"],
      ["reload", "--if-changed"],
      ["detach", "--now", "foo"],
      ["is-attached", "foo"],
    ];
    // One shell in the namespace runs every step, each separated by a marker in the call log.
    const script = steps.map((s, i) => `echo "== ${i}" >> "$FAKE_DIR/calls"; "$NODE" "$CLI" ${s.map((a) => `'${a}'`).join(" ")} >"$FAKE_DIR/out.${i}" 2>"$FAKE_DIR/err.${i}"; echo $? >"$FAKE_DIR/rc.${i}"`).join("\n");
    const r = spawnSync("unshare", ["-m", "sh", "-c", `mount -t tmpfs tmpfs /run && mkdir -p /run/systemd/system && ${script}`], {
      encoding: "utf8",
      env: { PATH: `${bin}:/usr/bin:/bin`, FAKE_DIR: tree, NODE: process.execPath, CLI, GENERATOR, SYSTEMD_ARCHITECTURE: "x86-64" },
    });
    expect(r.status, r.stderr).toBe(0);
    const at = (i: number) => ({ rc: Number(readFileSync(join(tree, `rc.${i}`), "utf8")), out: readFileSync(join(tree, `out.${i}`), "utf8"), err: readFileSync(join(tree, `err.${i}`), "utf8") });
    const calls = readFileSync(join(tree, "calls"), "utf8").split("== ").slice(1).map((c) => c.split("\n").slice(1).filter((l) => l !== ""));
    for (let i = 0; i < steps.length; i++) if (i !== 7) expect(at(i).rc, `${steps[i]?.join(" ")}: ${at(i).err}`).toBe(0);

    expect(calls[0]).toEqual(["daemon-reload", "start -- foo.service"]);
    expect(at(1).out).toBe("running-runtime\n");
    // Same unit in the new image: one restart, not stop + start.
    expect(calls[2]).toEqual(["is-active -- foo.service", "daemon-reload", "restart -- foo.service"]);
    // foo.service vanished (stopped), bar.service is new (started with --now).
    expect(calls[3]).toEqual(["is-active -- foo.service", "daemon-reload", "stop -- foo.service", "start -- bar.service"]);
    expect(at(4).out).toMatch(/^foo\s+attached\s+\/.*bar_1\s+bar\.service\(active\)\s+\/run\/portable-attach\.conf:1$/m);
    // The path unit's run after our own edit: nothing to do.
    expect(calls[5]).toEqual([]);
    expect(at(5).err).toContain("Lists unchanged");
    // Stop first, then remove and reload.
    expect(calls[6]).toEqual(["stop -- bar.service", "daemon-reload"]);
    expect(at(7)).toMatchObject({ rc: 1, out: "detached\n" });
  }, 60_000);
});
