// enable / disable UNIT…: units and template instances recorded in EnableUnits=, on a --root tree
// with the built CLI and generator (no mocks): what the list says, and the links the generator makes.
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readlinkSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { cliEnv, GENERATOR, makeTree, readList, runCli, writeList } from "./helpers.ts";

const roots: string[] = [];
afterAll(() => {
  for (const r of roots) rmSync(r, { recursive: true, force: true });
});

const TEMPLATE =
  "[Unit]\nDescription=foo %i\n\n[Service]\nExecStart=/usr/bin/foo %i\n\n[Install]\nWantedBy=multi-user.target\n";

/** The CLI test tree, with a template foo@.service in foo_1 and foo_2. */
function tree(): string {
  const root = makeTree("pa-inst-");
  roots.push(root);
  for (const v of ["foo_1", "foo_2"])
    writeFileSync(join(root, `var/lib/portables/${v}/usr/lib/systemd/system/foo@.service`), TEMPLATE);
  return root;
}

function generate(root: string): string {
  const out = join(root, "run/systemd/generator");
  rmSync(out, { recursive: true, force: true });
  mkdirSync(out, { recursive: true });
  const r = spawnSync(process.execPath, [GENERATOR, out], {
    encoding: "utf8",
    env: { ...cliEnv(), PORTABLE_ATTACH_ROOT: root },
  });
  expect(r.status, r.stderr).toBe(0);
  return out;
}

describe("enable / disable UNIT", () => {
  it("records instances of an attached template and the generator links them to the template", () => {
    const root = tree();
    expect(runCli(root, ["attach", "/var/lib/portables/foo_1"]).status).toBe(0);
    const r = runCli(root, ["enable", "foo@a.service", "foo@b.service"]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toContain(
      "Enabled foo@a.service foo@b.service in /etc/portable-attach.conf (EnableUnits=foo@a.service foo@b.service).",
    );
    expect(readList(root)).toBe("[foo]\nImage=/var/lib/portables/foo_1\nEnableUnits=foo@a.service foo@b.service\n");
    const out = generate(root);
    expect(readlinkSync(join(out, "multi-user.target.wants/foo@a.service"))).toBe("../foo@.service");
    expect(readlinkSync(join(out, "multi-user.target.wants/foo@b.service"))).toBe("../foo@.service");
    // Only what was named: not foo.service, whose entry has no Enable=yes.
    expect(existsSync(join(out, "multi-user.target.wants/foo.service"))).toBe(false);
    const list = JSON.parse(runCli(root, ["list", "--json=short"]).stdout) as {
      state: string;
      next?: string;
      enableUnits: string[];
      units: { name: string; enabled: boolean }[];
    }[];
    expect(list[0]).toMatchObject({ state: "attached", enableUnits: ["foo@a.service", "foo@b.service"] });
    expect(list[0]?.next).toBeUndefined();
    expect(list[0]?.units.filter((u) => u.enabled).map((u) => u.name)).toEqual(["foo@a.service", "foo@b.service"]);
    expect(runCli(root, ["status"]).stdout).toContain("   Enabled: foo@a.service foo@b.service");
  });

  it("refuses a unit nobody provides, leaving the list byte for byte, even beside a good one", () => {
    const root = tree();
    writeList(root, "# mine\n[foo]\nImage=/var/lib/portables/foo_1 ; v1\n");
    const before = readList(root);
    for (const args of [
      ["enable", "bar@x.service"],
      ["enable", "foo@a.service", "nope.service"],
      ["disable", "--now", "nope@.service"],
    ]) {
      const r = runCli(root, args);
      expect(r.status).toBe(1);
      expect(r.stderr).toMatch(/^No attached entry provides unit (bar@x|nope|nope@)\.service.*nothing was changed/);
      expect(readList(root)).toBe(before);
    }
    expect(runCli(root, ["enable", "foo"]).status).toBe(0); // an entry name works as before
    expect(readList(root)).toBe("# mine\n[foo]\nImage=/var/lib/portables/foo_1 ; v1\nEnable=yes\n");
  });

  it("disables one unit of an Enable=yes entry by enabling the others one by one", () => {
    const root = tree();
    writeList(root, "[foo]\nImage=/var/lib/portables/foo_1\nEnable=yes\nEnableUnits=foo@a.service\n");
    expect(runCli(root, ["disable", "foo.service"]).status).toBe(0);
    expect(readList(root)).toBe("[foo]\nImage=/var/lib/portables/foo_1\nEnable=no\nEnableUnits=foo@a.service\n");
    expect(existsSync(join(generate(root), "multi-user.target.wants/foo.service"))).toBe(false);
    // A template stands for all its instances, as with systemctl disable.
    expect(runCli(root, ["enable", "foo@b.service"]).status).toBe(0);
    expect(runCli(root, ["disable", "foo@.service"]).status).toBe(0);
    expect(readList(root)).toBe("[foo]\nImage=/var/lib/portables/foo_1\nEnable=no\n");
  });

  it("disable NAME clears EnableUnits= too; a vendor entry is copied into /etc with the change", () => {
    const root = tree();
    writeList(root, "[foo]\nImage=/var/lib/portables/foo_1\nEnable=yes\nEnableUnits=foo@a.service\n");
    expect(runCli(root, ["disable", "foo"]).status).toBe(0);
    expect(readList(root)).toBe("[foo]\nImage=/var/lib/portables/foo_1\nEnable=no\n");
    const vendor = tree();
    writeList(vendor, "[foo]\nImage=foo\n", "usr/lib/portable-attach.d/50-vendor.conf");
    expect(runCli(vendor, ["enable", "foo@v.service"]).status).toBe(0);
    expect(readList(vendor)).toBe(
      "# Copied from /usr/lib/portable-attach.d/50-vendor.conf by portable-attach.\n[foo]\nImage=foo\nEnableUnits=foo@v.service\n",
    );
  });
});
