// Table tests for unit-name rules; expected values follow systemd's unit-name.c / path-util.c and
// portablectl's own behaviour.
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import {
  imageBaseName,
  instanceOf,
  isHiddenOrBackup,
  isPortableUnitType,
  isTemplate,
  isValidUnitName,
  matchesPrefixes,
  prefixFromImage,
  prefixOf,
  templateOf,
  unitType,
  withInstance,
} from "../../src/portable/unit-name.ts";

function table<I, O>(name: string, fn: (input: I) => O, cases: [I, O][]): void {
  describe(name, () => {
    for (const [input, expected] of cases) {
      it(`${JSON.stringify(input)} → ${JSON.stringify(expected)}`, () => expect(fn(input)).toEqual(expected));
    }
  });
}

table("isValidUnitName", isValidUnitName, [
  ["foo.service", true],
  ["foo@.service", true],
  ["foo@bar.service", true],
  ["foo@a@b.service", true],
  ["foo-bar_baz:x\\x2d.socket", true],
  ["a.b.c.timer", true],
  ["x.mount", true],
  ["@foo.service", false],
  ["foo", false],
  [".service", false],
  ["foo.conf", false],
  ["foo.Service", false],
  ["foo bar.service", false],
  ["foo/bar.service", false],
  ["föö.service", false],
  ["", false],
  ["a".repeat(247) + ".service", true],
  ["a".repeat(248) + ".service", false],
]);

// systemctl takes a valid name as it is and reports it missing; anything else it mangles
// (appends ".service", escapes) or refuses, so the message tells us what systemd thinks.
const haveSystemctl = spawnSync("systemctl", ["--version"]).status === 0;
describe.skipIf(!haveSystemctl)("isValidUnitName agrees with systemctl", () => {
  const root = mkdtempSync(join(tmpdir(), "unit-name-test-"));
  afterAll(() => rmSync(root, { recursive: true, force: true }));
  const names = [
    "foo.service",
    "foo@.service",
    "foo@bar.service",
    "foo@a@b.service",
    "a:b_c\\x2d.socket",
    "x.mount",
    "@foo.service",
    "foo",
    "foo.conf",
    "foo.Service",
    "foo bar.service",
    "föö.service",
    "a".repeat(247) + ".service",
    "a".repeat(248) + ".service",
    "foo.timer@.service",
    "-.slice",
    "foo..service",
    "foo.service.service",
  ];
  for (const name of names) {
    it(name.length > 40 ? `${name.length} characters` : name, () => {
      const r = spawnSync("systemctl", [`--root=${root}`, "enable", "--", name], { encoding: "utf8" });
      // "unit X does not exist" (systemd 252), "Unit X does not exist" (257).
      const missing = new RegExp(`\\b[Uu]nit ${name.replace(/[\\^$.*+?()[\]{}|]/g, "\\$&")} does not exist`);
      expect(isValidUnitName(name)).toBe(missing.test(r.stderr));
    });
  }
});

table("unitType", unitType, [
  ["foo.service", "service"],
  ["foo@.timer", "timer"],
  ["foo.bar.path", "path"],
  ["foo.conf", undefined],
  ["foo", undefined],
]);

table("isPortableUnitType", isPortableUnitType, [
  ["a.service", true],
  ["a.socket", true],
  ["a.target", true],
  ["a.timer", true],
  ["a.path", true],
  ["a.mount", false],
  ["a.slice", false],
  ["a.conf", false],
]);

table("templateOf", templateOf, [
  ["foo@bar.service", "foo@.service"],
  ["foo@a@b.socket", "foo@.socket"],
  ["foo@.service", undefined],
  ["foo.service", undefined],
]);

table("instanceOf", instanceOf, [
  ["foo@bar.service", "bar"],
  ["foo@a@b.service", "a@b"],
  ["foo@.service", undefined],
  ["foo.service", undefined],
]);

table("prefixOf", prefixOf, [
  ["foo@bar.service", "foo"],
  ["foo.bar.service", "foo.bar"],
  ["nope", undefined],
]);

table("isTemplate", isTemplate, [
  ["foo@.service", true],
  ["foo@x.service", false],
  ["foo.service", false],
]);

table("withInstance", ([t, i]: [string, string]) => withInstance(t, i), [
  [["foo@.service", "x"], "foo@x.service"],
  [["foo@y.service", "x"], "foo@x.service"],
  [["foo.service", "x"], undefined],
  [["foo@.service", "a b"], undefined],
]);

table("isHiddenOrBackup", isHiddenOrBackup, [
  ["foo.service", false],
  [".foo.service", true],
  [".#foo.service", true],
  ["foo.service~", true],
  ["foo.service.rpmnew", true],
  ["foo.service.dpkg-old", true],
  ["foo.service.dpkg-backup", true],
  ["foo.service.ucf-dist", true],
  ["foo.service.swp", true],
  ["foo.bak", true],
  ["lost+found", true],
  ["foo.service.orig", false],
  ["new", false],
]);

table("matchesPrefixes", ([u, p]: [string, string[]]) => matchesPrefixes(u, p), [
  [["anything.service", []], true],
  [["app.service", ["app"]], true],
  [["app-x.service", ["app"]], true],
  [["app@.service", ["app"]], true],
  [["app.foo.service", ["app"]], true],
  [["app0.service", ["app"]], false],
  [["xapp.service", ["app"]], false],
  [["minimal-app0.service", ["minimal-app0.service"]], true],
  [["minimal-app0.socket", ["minimal-app0.service"]], false],
  [["b-1.timer", ["a", "b"]], true],
]);

table("prefixFromImage", prefixFromImage, [
  ["foobar_0.7.23.raw", "foobar"],
  ["/tmp/minimal_0", "minimal"],
  ["app1.v/", "app1"],
  ["/x/app1.raw.v/", "app1"],
  ["foo.bar.raw", "foo.bar"],
  ["foo.raw", "foo"],
  ["/srv/rootdir", "rootdir"],
  ["foo.v", "foo"],
  ["_foo.raw", undefined],
  ["foo+bar_1.raw", undefined],
  ["foo:bar.raw", undefined],
  ["..raw", undefined],
  ["", undefined],
]);

table("imageBaseName", imageBaseName, [
  ["/var/lib/portables/foobar_0.7.23.raw", "foobar"],
  ["app0_1.0.raw", "app0"],
  ["/tmp/app0", "app0"],
  ["app10.raw", "app10"],
  ["foo.sysext.raw", "foo"],
  ["foo.confext.raw", "foo"],
  ["foo+3-0.raw", "foo"],
  ["/dir/foo.raw/", "foo.raw"],
  ["/tmp/minimal_0/", "minimal"],
  ["_1.raw", ""],
]);
