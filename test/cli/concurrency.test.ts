// The lock and the atomic write, measured: 20 attach runs started at once on one list all land;
// attach killed with SIGKILL at random moments 200 times always leaves a list that parses and
// holds the old entry or the new one, never a torn file, and a lock left by a killed run never
// blocks the next.
import { cpSync, readdirSync, renameSync, rmSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { parseAttachList } from "../../src/config/attach-list.ts";
import { makeTree, readList, runCli, startCli, writeList } from "./helpers.ts";

const roots: string[] = [];
afterAll(() => {
  for (const r of roots) rmSync(r, { recursive: true, force: true });
});

const HAND_WRITTEN = "# hand-written\n[keep]   ; must survive\nImage=keep ; a bare name\nX-Note = stays\n";

function exitOf(
  child: ReturnType<typeof startCli>,
): Promise<{ code: number | null; signal: string | null; stderr: string }> {
  let stderr = "";
  child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve) => child.on("close", (code, signal) => resolve({ code, signal, stderr })));
}

describe("concurrent and interrupted runs", () => {
  it("20 attach runs at once: all 20 entries are there and the file parses", async () => {
    const root = makeTree();
    roots.push(root);
    const portables = join(root, "var/lib/portables");
    for (let i = 1; i <= 20; i++) {
      const n = `c${String(i).padStart(2, "0")}`;
      cpSync(join(portables, "foo_1"), join(portables, `${n}_1`), { recursive: true });
      const units = join(portables, `${n}_1/usr/lib/systemd/system`);
      renameSync(join(units, "foo.service"), join(units, `${n}.service`));
    }
    writeList(root, HAND_WRITTEN);
    const runs = [];
    for (let i = 1; i <= 20; i++)
      runs.push(exitOf(startCli(root, ["attach", `/var/lib/portables/c${String(i).padStart(2, "0")}_1`])));
    const results = await Promise.all(runs);
    for (const r of results) expect(r.code, r.stderr).toBe(0);
    const text = readList(root);
    const parsed = parseAttachList(text, "/etc/portable-attach.conf");
    expect(parsed.diagnostics.filter((d) => d.severity === "error")).toEqual([]);
    expect(parsed.entries.map((e) => e.name).sort()).toEqual(
      ["keep", ...Array.from({ length: 20 }, (_, i) => `c${String(i + 1).padStart(2, "0")}`)].sort(),
    );
    expect(text.startsWith(HAND_WRITTEN)).toBe(true);
    // Nothing left behind: no lock, no temporary file; one facts cache file per entry.
    expect(readdirSync(join(root, "etc")).sort()).toEqual(["portable-attach", "portable-attach.conf"]);
    expect(readdirSync(join(root, "etc/portable-attach/cache")).sort()).toEqual(
      Array.from({ length: 20 }, (_, i) => `c${String(i + 1).padStart(2, "0")}.json`),
    );
  }, 120_000);

  it("two concurrent attaches of images with the same unit: exactly one wins", async () => {
    const root = makeTree();
    roots.push(root);
    const results = await Promise.all([
      exitOf(startCli(root, ["attach", "/var/lib/portables/foo_1", "--name=one"])),
      exitOf(startCli(root, ["attach", "/var/lib/portables/foo_2", "--name=two"])),
    ]);
    expect(results.map((r) => r.code).sort()).toEqual([0, 1]);
    expect(results.find((r) => r.code === 1)?.stderr).toMatch(/already provides foo.service|already provided by entry/);
    expect(parseAttachList(readList(root), "x").entries).toHaveLength(1);
  }, 60_000);

  it("SIGKILL at random moments, 200 times: the list is always the old or the new one", async () => {
    const root = makeTree();
    roots.push(root);
    writeList(root, `${HAND_WRITTEN}\n[foo]\nImage=/var/lib/portables/foo_1\n`);
    // How long one run takes here, so the kills spread over all of it (start-up, check, write).
    const t0 = Date.now();
    expect(runCli(root, ["attach", "/var/lib/portables/foo_2", "--name=foo"]).status).toBe(0);
    expect(runCli(root, ["attach", "/var/lib/portables/foo_1", "--name=foo"]).status).toBe(0);
    const span = (Date.now() - t0) / 2;
    const seen = { old: 0, new: 0 };
    let expected = "/var/lib/portables/foo_1";
    for (let i = 0; i < 200; i++) {
      const next = expected.endsWith("foo_1") ? "/var/lib/portables/foo_2" : "/var/lib/portables/foo_1";
      const child = startCli(root, ["attach", next, "--name=foo"]);
      const done = exitOf(child);
      await new Promise((r) => setTimeout(r, Math.random() * span * 1.6));
      child.kill("SIGKILL");
      await done;
      const text = readList(root);
      const parsed = parseAttachList(text, "x");
      expect(
        parsed.diagnostics.filter((d) => d.severity === "error"),
        text,
      ).toEqual([]);
      expect(parsed.entries.map((e) => e.name).sort()).toEqual(["foo", "keep"]);
      expect(text.startsWith(HAND_WRITTEN)).toBe(true);
      const image = parsed.entries.find((e) => e.name === "foo")?.image;
      expect([expected, next]).toContain(image);
      if (image === next) {
        seen.new++;
        expected = next;
      } else seen.old++;
    }
    // Both sides were hit, or the test proved nothing.
    expect(seen.old).toBeGreaterThan(0);
    expect(seen.new).toBeGreaterThan(0);
    // A lock left by a killed run does not block the next one.
    const after = runCli(root, ["attach", "/var/lib/portables/foo_2", "--name=foo"]);
    expect(after.status, after.stderr).toBe(0);
    // …and cleans up the temporary files killed runs left behind.
    expect(readdirSync(join(root, "etc")).filter((n) => n.startsWith(".#"))).toEqual([]);
    console.log(
      `SIGKILL test: ${seen.old} kills left the old entry, ${seen.new} the new one (span ${span.toFixed(0)} ms)`,
    );
  }, 300_000);
});
