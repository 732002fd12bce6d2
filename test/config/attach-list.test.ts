import { describe, expect, it } from "vitest";
import { parseAttachList } from "../../src/config/attach-list.ts";
import { mergeLists } from "../../src/config/merge.ts";

const parse = (text: string, file = "/etc/portable-attach.conf") => parseAttachList(text, file);

describe("attach list", () => {
  it("reads every key of the design's example", () => {
    const { entries, diagnostics } = parse(
      "[foobar]\nImage=/var/lib/portables/foobar_0.7.23.raw ; or a bare name\nExtensions=/x/a.raw  /x/b\nPrefixes=foobar foobar-waldo\nProfile=strict\nEnable=yes\nForce=on\n",
    );
    expect(diagnostics).toEqual([]);
    expect(entries[0]).toMatchObject({
      name: "foobar",
      line: 1,
      attach: true,
      image: "/var/lib/portables/foobar_0.7.23.raw",
      extensions: ["/x/a.raw", "/x/b"],
      prefixes: ["foobar", "foobar-waldo"],
      profile: "strict",
      enable: true,
      force: true,
      errors: [],
    });
  });

  it("ImagePolicy= takes systemd's protection words joined by '+'", () => {
    expect(parse("[a]\nImage=a\nImagePolicy=signed+verity+signed\n").entries[0]).toMatchObject({
      imagePolicy: ["signed", "verity"],
      errors: [],
    });
    expect(parse("[a]\nImage=a\n").entries[0]?.imagePolicy).toBeUndefined();
  });

  it("defaults: profile default, not enabled, prefixes derived later", () => {
    expect(parse("[a]\nImage=a\n").entries[0]).toMatchObject({
      profile: "default",
      enable: false,
      force: false,
      prefixes: undefined,
    });
  });

  it.each([
    ["[a]\nImage=relative/path\n", 2, "must be an absolute path or a bare image name"],
    ["[a]\n", 1, "has no Image="],
    ["[a]\nImage=\n", 2, "is empty"],
    ["[a]\nImage=/x\nEnable=maybe\n", 3, "expected a boolean"],
    ["[a]\nImage=/x\nForce=constructor\n", 3, "expected a boolean"],
    ["[a]\nImage=/x\nEnable=__proto__\n", 3, "expected a boolean"],
    ["[a]\nImage=/x\nProfile=../../x\n", 3, "Unit profile name not valid"],
    ["[a b]\nImage=/x\n", 1, "Invalid attachment name"],
    ["[a]\nImage=/x\nPrefixes=ok bad/prefix\n", 3, "Invalid prefix 'bad/prefix'"],
    ["[a]\nImage=/x\nImagePolicy=signed+sealed\n", 3, "Failed to parse ImagePolicy='signed+sealed'"],
    ["[a]\nImage=/x\nImagePolicy=\n", 3, "Failed to parse ImagePolicy=''"],
    ["[a]\nImage=/x\nImagePolicy=root=signed\n", 3, "expected signed, verity or unprotected"],
  ])("refuses %j at line %i", (text, line, message) => {
    const { entries } = parse(text);
    expect(entries[0]?.errors).toEqual([expect.objectContaining({ line, message: expect.stringContaining(message) })]);
  });

  it("warns about unknown and repeated keys without failing the entry", () => {
    const { entries, diagnostics } = parse("[a]\nImage=/x\nColour=blue\nImage=/y\n");
    expect(entries[0]?.errors).toEqual([]);
    expect(entries[0]?.image).toBe("/y");
    expect(diagnostics.map((d) => [d.severity, d.line])).toEqual([
      ["warning", 3],
      ["warning", 4],
    ]);
  });

  it("refuses both copies of a section defined twice in one file, naming both lines", () => {
    const { entries } = parse("[a]\nImage=/x\n\n[a]\nImage=/y\n");
    expect(entries).toHaveLength(1);
    expect(entries[0]?.errors[0]?.message).toContain("lines 1 and 4");
  });

  it("masks with Attach=no without needing Image=", () => {
    const { entries } = parse("[a]\nAttach=no\n");
    expect(entries[0]).toMatchObject({ attach: false, errors: [] });
  });
});

describe("precedence", () => {
  const etc = parse("[a]\nImage=/etc-a\n[m]\nAttach=no\n", "/etc/portable-attach.conf").entries;
  const vendor = parse(
    "[a]\nImage=/usr-a\nEnable=yes\n[b]\nImage=/usr-b\n[m]\nImage=/usr-m\n",
    "/usr/lib/portable-attach.d/v.conf",
  ).entries;

  it("lets the higher file replace a section whole, and masks", () => {
    const merged = mergeLists([etc, vendor]);
    expect(merged.entries.map((e) => [e.name, e.image, e.enable])).toEqual([
      ["a", "/etc-a", false],
      ["b", "/usr-b", false],
    ]);
    expect(merged.masked.map((e) => e.name)).toEqual(["m"]);
    expect(merged.shadowed.map((s) => [s.entry.file, s.entry.name])).toEqual([
      ["/usr/lib/portable-attach.d/v.conf", "a"],
      ["/usr/lib/portable-attach.d/v.conf", "m"],
    ]);
  });

  it("does not depend on the order within a precedence level beyond it", () => {
    expect(mergeLists([vendor]).entries.map((e) => e.name)).toEqual(["a", "b", "m"]);
  });

  it("keeps a broken higher entry in place, so it does not resurrect the lower one", () => {
    const broken = parse("[a]\nImage=rel/ative\n").entries;
    const merged = mergeLists([broken, vendor]);
    expect(merged.entries.find((e) => e.name === "a")?.errors).toHaveLength(1);
  });
});

describe("';' and '#' inside a value", () => {
  it("glued to the text before it: the entry is refused with file and line, not silently cut (regression)", () => {
    const { entries, diagnostics } = parse(
      "[app]\nImage=/var/lib/portables/app#2\n\n[other]\nImage=/var/lib/portables/o_1\nProfile=strict;trusted\n\n[ok]\nImage=/var/lib/portables/ok_1\n",
    );
    expect(diagnostics.map((d) => [d.line, d.severity, d.entry, d.message])).toEqual([
      [
        2,
        "error",
        "app",
        "'#' right after text in Image= starts a comment, cutting the value to '/var/lib/portables/app': write \\# to keep it in the value, or a space before a comment",
      ],
      [
        6,
        "error",
        "other",
        "';' right after text in Profile= starts a comment, cutting the value to 'strict': write \\; to keep it in the value, or a space before a comment",
      ],
    ]);
    expect(entries.map((e) => [e.name, e.errors.length])).toEqual([
      ["app", 1],
      ["other", 1],
      ["ok", 0],
    ]);
  });

  it.each([
    ["/var/lib/portables/app\\#2", "/var/lib/portables/app#2"],
    ['"/var/lib/portables/app#2"', "/var/lib/portables/app#2"],
    ["/var/lib/portables/app ; a comment", "/var/lib/portables/app"],
    ["/var/lib/portables/app\t# a comment", "/var/lib/portables/app"],
  ])("%j is read as %j without a word", (raw, image) => {
    const { entries, diagnostics } = parse(`[app]\nImage=${raw}\n`);
    expect(diagnostics).toEqual([]);
    expect(entries[0]?.image).toBe(image);
  });
});

describe("lines that cannot be read", () => {
  it("are skipped with a warning; the section holding one is refused, the others are not", () => {
    const { entries, diagnostics } = parseAttachList("[a]\nImage=/a\n\n[b]\nImage=/b\n\uFFFD\n", "/etc/l.conf", [6]);
    expect(diagnostics.map((d) => [d.line, d.severity, d.message])).toEqual([
      [6, "warning", "Line cannot be read (NUL bytes or invalid UTF-8), skipping it"],
      [6, "error", "Section [b] holds a line that cannot be read, refusing the entry"],
    ]);
    expect(entries.map((e) => [e.name, e.errors.length])).toEqual([
      ["a", 0],
      ["b", 1],
    ]);
  });

  it("before any section: only the warning", () => {
    const { entries, diagnostics } = parseAttachList("\0\0\n[a]\nImage=/a\n", "/etc/l.conf", [1]);
    expect(diagnostics.map((d) => [d.line, d.severity])).toEqual([[1, "warning"]]);
    expect(entries.map((e) => e.errors)).toEqual([[]]);
  });
});

describe("EnableUnits=", () => {
  it("takes unit names, instances and templates; the later line wins as for every key", () => {
    const { entries } = parse("[a]\nImage=a\nEnableUnits=a@x.service  a.service\nEnableUnits=a@y.service a@.service\n");
    expect(entries[0]?.enableUnits).toEqual(["a@y.service", "a@.service"]);
    expect(entries[0]?.errors).toEqual([]);
  });
  it("refuses a word that is no unit name, with its line", () => {
    const { entries } = parse("[a]\nImage=a\nEnableUnits=a@x\n");
    expect(entries[0]?.errors.map((e) => [e.line, e.message])).toEqual([
      [3, "Invalid unit name 'a@x' in EnableUnits="],
    ]);
  });
  it("points Enable=UNIT at EnableUnits=", () => {
    const { entries } = parse("[a]\nImage=a\nEnable=a@x.service\n");
    expect(entries[0]?.errors[0]?.message).toContain("enabled one by one with EnableUnits=");
    expect(parse("[a]\nImage=a\nEnable=maybe\n").entries[0]?.errors[0]?.message).toBe(
      "Failed to parse Enable='maybe': expected a boolean (yes/no)",
    );
  });
});
