// plan() on plain data: the properties the golden trees do not single out.
import { describe, expect, it } from "vitest";
import { parseAttachList } from "../../src/config/attach-list.ts";
import { plan } from "../../src/plan/plan.ts";
import type { EntryFacts, HostFacts, ImageFacts } from "../../src/plan/types.ts";
import { behaviourFor } from "../../src/portable/systemd-features.ts";

const enc = new TextEncoder();
const host: HostFacts = {
  unitNames: new Set(),
  profileFile: (p, t) => `/usr/lib/systemd/portable/profile/${p}/${t}.conf`,
  architecture: "x86-64",
  osReleasePath: "/etc/os-release",
  portable: behaviourFor(252),
  latePassUnit: "/usr/lib/systemd/system/portable-attach-late.service",
  confextEnabled: false,
};
function image(path: string, units: Record<string, string>): ImageFacts {
  return {
    path,
    type: "directory",
    releaseText: "ID=debian\n",
    units: Object.entries(units).map(([name, text]) => ({ name, content: enc.encode(text) })),
    warnings: [],
  };
}
function run(list: string, facts: Record<string, EntryFacts>) {
  const { entries } = parseAttachList(list, "/etc/portable-attach.conf");
  return plan({ entries, masked: [], facts: new Map(Object.entries(facts)), host });
}

describe("plan", () => {
  it("reads an image's os-release by the host systemd's rules (a comment ending in '\\' goes on over the next line up to 253)", () => {
    const facts: EntryFacts = {
      kind: "read",
      root: {
        ...image("/i/foo_1", { "foo.service": "[Service]\nExecStart=/x\n" }),
        releaseText: "ID=debian\n# only for a other \\\nPORTABLE_PREFIXES=other\n",
      },
      extensions: [],
    };
    const list = parseAttachList("[foo]\nImage=/i/foo_1\n", "/etc/portable-attach.conf").entries;
    const under = (version: number) =>
      plan({
        entries: list,
        masked: [],
        facts: new Map([["foo", facts]]),
        host: { ...host, portable: behaviourFor(version) },
      }).outcomes[0];
    expect(under(252)?.state).toBe("attached");
    expect(under(254)).toMatchObject({
      state: "failed",
      reason: expect.stringMatching(/acceptable prefix matches are: other$/),
    });
  });

  it("never lets one entry's Alias= replace another entry's unit file", () => {
    const r = run("[a]\nImage=/i/a_1\nEnable=yes\n[b]\nImage=/i/b_1\n", {
      a: {
        kind: "read",
        root: image("/i/a_1", { "a.service": "[Service]\nExecStart=/x\n[Install]\nAlias=b.service\n" }),
        extensions: [],
      },
      b: { kind: "read", root: image("/i/b_1", { "b.service": "[Service]\nExecStart=/y\n" }), extensions: [] },
    });
    const b = r.files.filter((f) => f.path === "b.service");
    expect(b).toEqual([expect.objectContaining({ kind: "file" })]);
  });

  it("is independent of the order of the facts map and gives the same files twice", () => {
    const a: EntryFacts = {
      kind: "read",
      root: image("/i/a_1", { "a.service": "[Service]\nExecStart=/x\n" }),
      extensions: [],
    };
    const b: EntryFacts = {
      kind: "read",
      root: image("/i/b_1", { "b.service": "[Service]\nExecStart=/y\n" }),
      extensions: [],
    };
    const one = run("[a]\nImage=/i/a_1\n[b]\nImage=/i/b_1\n", { a, b });
    const two = run("[b]\nImage=/i/b_1\n[a]\nImage=/i/a_1\n", { b, a });
    expect(two.files.map((f) => f.path)).toEqual(one.files.map((f) => f.path));
    expect(two.outcomes.map((o) => o.name)).toEqual(["a", "b"]);
  });

  it("refuses the second entry that provides the same unit, naming the first", () => {
    const img = image("/i/x_1", { "x.service": "[Service]\nExecStart=/x\n" });
    const r = run("[one]\nImage=/i/x_1\n[two]\nImage=/i/x_1\nPrefixes=x\n", {
      one: { kind: "read", root: img, extensions: [] },
      two: { kind: "read", root: img, extensions: [] },
    });
    expect(r.outcomes.map((o) => [o.name, o.state])).toEqual([
      ["one", "attached"],
      ["two", "failed"],
    ]);
    expect(r.outcomes[1]?.reason).toContain("already provided by entry [one]");
    expect(r.outcomes[1]?.conflicts).toEqual([{ unit: "x.service", with: { entry: "one" } }]);
    expect(r.outcomes[0]?.conflicts).toBeUndefined();
  });
});

describe("plan: units enabled one by one (EnableUnits=)", () => {
  const TEMPLATE =
    "[Service]\nExecStart=/x %i\n[Install]\nWantedBy=multi-user.target\nRequiredBy=foo.target\nUpheldBy=up.target\nAlso=foo-helper.service\n";
  const img = image("/i/foo_1", {
    "foo@.service": TEMPLATE,
    "foo.service": "[Service]\nExecStart=/x\n[Install]\nWantedBy=multi-user.target\n",
    "foo-helper.service": "[Service]\nExecStart=/x\n[Install]\nWantedBy=timers.target\n",
    "foo-def@.service": "[Service]\nExecStart=/x\n[Install]\nWantedBy=multi-user.target\nDefaultInstance=main\n",
  });
  const facts = { foo: { kind: "read", root: img, extensions: [] } as EntryFacts };
  const links = (r: ReturnType<typeof run>) =>
    r.files
      .filter((f) => f.kind === "symlink" && !f.path.includes(".d/"))
      .map((f) => `${f.path} -> ${f.kind === "symlink" ? f.target : ""}`);

  it("links an instance from its template's [Install], as systemctl enable foo@a.service does", () => {
    const r = run("[foo]\nImage=/i/foo_1\nEnableUnits=foo@a.service foo@b.service\n", facts);
    expect(links(r)).toEqual([
      "foo.target.requires/foo@a.service -> ../foo@.service",
      "foo.target.requires/foo@b.service -> ../foo@.service",
      "multi-user.target.wants/foo@a.service -> ../foo@.service",
      "multi-user.target.wants/foo@b.service -> ../foo@.service",
      "timers.target.wants/foo-helper.service -> ../foo-helper.service",
      "up.target.upholds/foo@a.service -> ../foo@.service",
      "up.target.upholds/foo@b.service -> ../foo@.service",
    ]);
    expect(r.outcomes[0]).toMatchObject({
      state: "attached",
      enabled: false,
      enabledUnits: ["foo-helper.service", "foo@a.service", "foo@b.service"],
    });
  });

  it("enables nothing else: not foo.service, and no instance without a name", () => {
    const r = run("[foo]\nImage=/i/foo_1\nEnableUnits=foo-def@.service\n", facts);
    expect(links(r)).toEqual(["multi-user.target.wants/foo-def@main.service -> ../foo-def@.service"]);
  });

  it("adds instances to Enable=yes, once each", () => {
    const r = run("[foo]\nImage=/i/foo_1\nEnable=yes\nEnableUnits=foo@a.service foo.service\n", facts);
    expect(r.outcomes[0]?.enabledUnits).toEqual([
      "foo-def@main.service",
      "foo-helper.service",
      "foo.service",
      "foo@a.service",
    ]);
    expect(r.outcomes[0]?.warnings).toEqual([]);
  });

  it("warns about a unit the entry does not provide and attaches the rest", () => {
    const r = run("[foo]\nImage=/i/foo_1\nEnableUnits=bar@a.service foo@a.service\n", facts);
    expect(r.outcomes[0]?.state).toBe("attached");
    expect(r.outcomes[0]?.warnings).toEqual([
      "EnableUnits= names 'bar@a.service', which this entry does not provide, ignoring",
    ]);
    expect(r.outcomes[0]?.enabledUnits).toContain("foo@a.service");
  });
});

describe("plan: the late pass for lists a confext brings", () => {
  it("is pulled in when systemd-confext.service is enabled, without mounts to wait for", () => {
    const { entries } = parseAttachList("[a]\nImage=/i/a_1\n", "/etc/portable-attach.conf");
    const facts = new Map<string, EntryFacts>([
      ["a", { kind: "read", root: image("/i/a_1", { "a.service": "[Service]\nExecStart=/x\n" }), extensions: [] }],
    ]);
    const paths = (confextEnabled: boolean) =>
      plan({ entries, masked: [], facts, host: { ...host, confextEnabled } })
        .files.map((f) => f.path)
        .filter((p) => p.includes("late"));
    expect(paths(true)).toEqual(["multi-user.target.wants/portable-attach-late.service"]);
    expect(paths(false)).toEqual([]);
  });
});
