// [Install] parsing and enablement symlinks: table tests, then every case again through the real
// `systemctl --root=R enable`, which works offline and shows exactly which links systemd creates.
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readlinkSync, rmSync, writeFileSync } from "node:fs";
import { readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { describe, expect, it } from "vitest";
import { type InstallInfo, installSymlinks, parseInstallSection } from "../../src/unit/install.ts";

const EMPTY: InstallInfo = {
  wantedBy: [],
  requiredBy: [],
  upheldBy: [],
  alias: [],
  also: [],
  defaultInstance: undefined,
};

describe("parseInstallSection", () => {
  const cases: [string, string, Partial<InstallInfo>][] = [
    ["simple", "[Unit]\nDescription=x\n[Install]\nWantedBy=multi-user.target\n", { wantedBy: ["multi-user.target"] }],
    [
      "lists accumulate",
      "[Install]\nWantedBy=a.target b.target\nWantedBy=c.target\n",
      { wantedBy: ["a.target", "b.target", "c.target"] },
    ],
    [
      "empty assignment resets",
      "[Install]\nWantedBy=a.target\nWantedBy=\nWantedBy=b.target\n",
      { wantedBy: ["b.target"] },
    ],
    [
      "other sections ignored",
      "[Service]\nWantedBy=x.target\n[Install]\nAlias=y.service\n[X-Foo]\nWantedBy=z.target\n",
      { alias: ["y.service"] },
    ],
    [
      "sections merge",
      "[Install]\nWantedBy=a.target\n[Unit]\n[Install]\nWantedBy=b.target\n",
      { wantedBy: ["a.target", "b.target"] },
    ],
    ["keys are case-sensitive", "[Install]\nwantedby=a.target\n[install]\nWantedBy=b.target\n", {}],
    [
      "comments",
      "[Install]\n# WantedBy=a.target\n  ; WantedBy=b.target\nWantedBy=c.target # not a comment\n",
      { wantedBy: ["c.target", "#", "not", "a", "comment"] },
    ],
    [
      "continuation",
      "[Install]\nWantedBy=a.target \\\n  b.target\nRequiredBy=c.target\\\nd.target\n",
      { wantedBy: ["a.target", "b.target"], requiredBy: ["c.target", "d.target"] },
    ],
    [
      "comment inside continuation",
      "[Install]\nWantedBy=a.target \\\n# x.target\n b.target\n",
      { wantedBy: ["a.target", "b.target"] },
    ],
    [
      "quotes",
      '[Install]\nWantedBy="a.target" \'b.target\' c"d".target\n',
      { wantedBy: ["a.target", "b.target", "cd.target"] },
    ],
    ["whitespace around key and value", "[Install]\n  WantedBy  =  a.target  \n", { wantedBy: ["a.target"] }],
    [
      "all keys",
      "[Install]\nRequiredBy=r.target\nUpheldBy=u.target\nAlias=al.service\nAlso=x.socket y.timer\nDefaultInstance=inst\n",
      {
        requiredBy: ["r.target"],
        upheldBy: ["u.target"],
        alias: ["al.service"],
        also: ["x.socket", "y.timer"],
        defaultInstance: "inst",
      },
    ],
    ["DefaultInstance reset", "[Install]\nDefaultInstance=a\nDefaultInstance=\n", {}],
    ["CRLF", "[Install]\r\nWantedBy=a.target\r\n", { wantedBy: ["a.target"] }],
    ["no = sign", "[Install]\nWantedBy\nAlias=a.service\n", { alias: ["a.service"] }],
    ["malformed header", "[Install\nWantedBy=a.target\n", {}],
    ["continuation at end of file", "[Install]\nWantedBy=a.target \\", { wantedBy: ["a.target"] }],
  ];
  for (const [name, text, expected] of cases)
    it(name, () => expect(parseInstallSection(text)).toEqual({ ...EMPTY, ...expected }));
});

type Case = [string, string, string, { link: string; target: string }[], number];
/** [name, unit name, [Install] body, expected links, number of errors]. */
const CASES: Case[] = [
  [
    "wanted",
    "foo.service",
    "WantedBy=multi-user.target",
    [{ link: "multi-user.target.wants/foo.service", target: "../foo.service" }],
    0,
  ],
  [
    "required and upheld",
    "foo.service",
    "RequiredBy=a.target\nUpheldBy=b.target",
    [
      { link: "a.target.requires/foo.service", target: "../foo.service" },
      { link: "b.target.upholds/foo.service", target: "../foo.service" },
    ],
    0,
  ],
  ["alias", "foo.service", "Alias=bar.service", [{ link: "bar.service", target: "foo.service" }], 0],
  [
    "alias and wants",
    "foo.socket",
    "Alias=bar.socket\nWantedBy=sockets.target",
    [
      { link: "bar.socket", target: "foo.socket" },
      { link: "sockets.target.wants/foo.socket", target: "../foo.socket" },
    ],
    0,
  ],
  ["self alias ignored", "foo.service", "Alias=foo.service", [], 0],
  ["alias of another type refused", "foo.service", "Alias=foo.socket", [], 1],
  ["template alias for plain unit refused", "foo.service", "Alias=bar@.service", [], 1],
  [
    "template with DefaultInstance",
    "foo@.service",
    "WantedBy=multi-user.target\nDefaultInstance=x",
    [{ link: "multi-user.target.wants/foo@x.service", target: "../foo@.service" }],
    0,
  ],
  ["template without DefaultInstance", "foo@.service", "WantedBy=multi-user.target", [], 0],
  [
    "template alias",
    "foo@.service",
    "Alias=bar@.service\nDefaultInstance=x\nWantedBy=m.target",
    [
      { link: "bar@.service", target: "foo@.service" },
      { link: "m.target.wants/foo@x.service", target: "../foo@.service" },
    ],
    0,
  ],
  ["plain alias for template refused", "foo@.service", "Alias=bar.service", [], 1],
  [
    "instance",
    "foo@bar.service",
    "WantedBy=m.target\nDefaultInstance=x",
    [{ link: "m.target.wants/foo@bar.service", target: "../foo@.service" }],
    0,
  ],
  [
    "specifiers",
    "foo-bar.service",
    "WantedBy=%p-x.target %N.target %j.target\nAlias=%n-alias.service",
    [
      { link: "foo-bar.service-alias.service", target: "foo-bar.service" },
      { link: "foo-bar-x.target.wants/foo-bar.service", target: "../foo-bar.service" },
      { link: "foo-bar.target.wants/foo-bar.service", target: "../foo-bar.service" },
      { link: "bar.target.wants/foo-bar.service", target: "../foo-bar.service" },
    ],
    0,
  ],
  [
    "instance specifiers",
    "foo@.service",
    "DefaultInstance=inst\nWantedBy=%i.target %p@%i.target",
    [
      { link: "inst.target.wants/foo@inst.service", target: "../foo@.service" },
      { link: "foo@inst.target.wants/foo@inst.service", target: "../foo@.service" },
    ],
    0,
  ],
  ["escaped-instance specifiers", "foo@.service", "DefaultInstance=a-b\nWantedBy=x%I.target", [], 1],
  ["percent", "foo.service", "WantedBy=a%%b.target", [], 1],
  [
    "duplicates collapse",
    "foo.service",
    "WantedBy=a.target a.target",
    [{ link: "a.target.wants/foo.service", target: "../foo.service" }],
    0,
  ],
  ["invalid target", "foo.service", "WantedBy=not-a-unit", [], 1],
];

describe("installSymlinks", () => {
  for (const [name, unit, body, links, errors] of CASES) {
    it(name, () => {
      const result = installSymlinks(unit, parseInstallSection(`[Install]\n${body}\n`));
      expect(result.links).toEqual(links);
      expect(result.errors).toHaveLength(errors);
    });
  }
  it("refuses host specifiers", () => {
    const r = installSymlinks("foo.service", parseInstallSection("[Install]\nWantedBy=%H.target\n"));
    expect(r.links).toEqual([]);
    expect(r.errors).toEqual([
      "foo.service: WantedBy=%H.target: specifier '%H' is not supported in [Install] of a generated unit, ignoring",
    ]);
  });
  it("returns Also= names", () => {
    expect(installSymlinks("foo.service", parseInstallSection("[Install]\nAlso=foo.socket %p.timer bad\n"))).toEqual({
      links: [],
      errors: ["foo.service: Also=bad is not a valid unit name, ignoring"],
      also: ["foo.socket", "foo.timer"],
    });
  });
  it("refuses an invalid unit name", () => expect(installSymlinks("foo", EMPTY).errors).toHaveLength(1));
});

const haveSystemctl = spawnSync("systemctl", ["--version"]).status === 0;

/** What `systemctl --root enable` creates: link (relative to /etc/systemd/system) → target basename. */
function systemctlEnable(unit: string, body: string): { links: Map<string, string>; upheldByKnown: boolean } {
  const root = mkdtempSync(join(tmpdir(), "install-test-"));
  try {
    const file = unit.includes("@") ? unit.replace(/@[^.]*\./, "@.") : unit;
    mkdirSync(join(root, "usr/lib/systemd/system"), { recursive: true });
    writeFileSync(
      join(root, "usr/lib/systemd/system", file),
      `[Unit]\nDescription=t\n[Service]\nExecStart=/bin/true\n[Install]\n${body}\n`,
    );
    const r = spawnSync("systemctl", [`--root=${root}`, "enable", unit], { encoding: "utf8" });
    const links = new Map<string, string>();
    const etc = join(root, "etc/systemd/system");
    const walk = (dir: string, rel: string): void => {
      for (const e of readdirSync(dir, { withFileTypes: true })) {
        if (e.isDirectory()) walk(join(dir, e.name), rel + e.name + "/");
        else if (e.isSymbolicLink()) links.set(rel + e.name, basename(readlinkSync(join(dir, e.name))));
      }
    };
    try {
      walk(etc, "");
    } catch {
      // nothing enabled
    }
    return { links, upheldByKnown: !r.stderr.includes("Unknown key 'UpheldBy'") };
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

describe.skipIf(!haveSystemctl)("installSymlinks agrees with systemctl --root enable", () => {
  for (const [name, unit, body] of CASES) {
    it(name, () => {
      const ours = installSymlinks(unit, parseInstallSection(`[Install]\n${body}\n`));
      const theirs = systemctlEnable(unit, body);
      // systemctl < 254 does not know UpheldBy= (and PID 1 252 ignores .upholds/ directories).
      const upholds = theirs.upheldByKnown ? ours.links : ours.links.filter((l) => !l.link.includes(".upholds/"));
      expect(new Map(upholds.map((l) => [l.link, basename(l.target)]))).toEqual(theirs.links);
    });
  }
});
