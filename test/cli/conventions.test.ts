// systemctl's conventions, which scripts rely on: --no-legend prints rows only; bad usage exits 1;
// failures read "Failed to …: <strerror text>", never Node's error text; SYSTEMD_LOG_LEVEL decides
// which messages reach stderr. The built CLI on a scratch --root, no mocks.
import { rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { makeTree, runCli, writeList } from "./helpers.ts";

const roots: string[] = [];
afterAll(() => {
  for (const r of roots) rmSync(r, { recursive: true, force: true });
});
const tree = () => {
  const r = makeTree("pa-conventions-");
  roots.push(r);
  return r;
};

describe("CLI conventions", () => {
  it("--no-legend: one line per entry, no reason lines and no footer, even for a failed entry", () => {
    const root = tree();
    writeList(root, "[foo]\nImage=/var/lib/portables/foo_1\n\n[gone]\nImage=/var/lib/portables/nothing_1\n");
    const full = runCli(root, ["list"]);
    expect(full.stdout).toMatch(/^ {2}\[gone\] /m); // the legend's reason line, to show what --no-legend drops
    const rows = runCli(root, ["list", "--no-legend"]);
    expect(rows.status, rows.stderr).toBe(0);
    const lines = rows.stdout.trimEnd().split("\n");
    expect(lines.map((l) => l.split(/\s+/, 1)[0])).toEqual(["foo", "gone"]);
    expect(rows.stdout).not.toMatch(/^\s|entries listed/m);
  });

  it("failures name the operation and the C library's text for the error", () => {
    const root = tree();
    writeFileSync(join(root, "etc"), "a file where the directory should be\n");
    const r = runCli(root, ["attach", join(root, "var/lib/portables/foo_1")]);
    expect(r.status).toBe(1);
    expect(r.stderr).toBe(`Failed to create directory '${root}/etc': File exists\n`);
  });

  it("SYSTEMD_LOG_LEVEL: err drops notes and warnings but not failures; info (the default) shows notes", () => {
    const root = tree();
    const img = join(root, "var/lib/portables/foo_1");
    expect(runCli(root, ["attach", img]).stderr).toContain("Written ");
    expect(runCli(root, ["detach", "foo"], { SYSTEMD_LOG_LEVEL: "err" }).stderr).toBe("");
    expect(runCli(root, ["attach", img], { SYSTEMD_LOG_LEVEL: "3" })).toMatchObject({ status: 0, stderr: "" });
    expect(runCli(root, ["detach", "nope"], { SYSTEMD_LOG_LEVEL: "err" })).toMatchObject({
      status: 1,
      stderr: "No entry 'nope' in any attach list.\n",
    });
    expect(runCli(root, ["detach", "nope"], { SYSTEMD_LOG_LEVEL: "emerg" })).toMatchObject({ status: 1, stderr: "" });
    expect(runCli(root, ["frobnicate"], { SYSTEMD_LOG_LEVEL: "crit" })).toMatchObject({ status: 1, stderr: "" });
  });
});
