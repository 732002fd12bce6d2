import { describe, expect, it } from "vitest";
import { decodeIniValue, encodeIniValue, parseIni } from "../../src/config/ini.ts";

describe("ini adapter", () => {
  it("keeps dots in section names instead of nesting them", () => {
    const doc = parseIni("[foo.bar.raw]\nImage=/x/foo.bar.raw\n", "l.conf");
    expect(doc.sections.map((s) => s.name)).toEqual(["foo.bar.raw"]);
    expect(doc.sections[0]?.keys).toEqual([{ key: "Image", value: "/x/foo.bar.raw", line: 2 }]);
  });

  it("gives every key its line, counting comments and blank lines", () => {
    const doc = parseIni("# c\n\n[a]\n; note\nImage = /a\n\n[b]\r\nImage=/b\r\n", "l.conf");
    expect(doc.sections.map((s) => [s.name, s.line, s.keys.map((k) => k.line), s.endLine])).toEqual([
      ["a", 3, [5], 6],
      ["b", 7, [8], 8],
    ]);
  });

  it("keeps repeated sections and keys apart (the schema decides what they mean)", () => {
    const doc = parseIni("[a]\nK=1\nK=2\n[a]\nK=3\n", "l.conf");
    expect(doc.sections).toHaveLength(2);
    expect(doc.sections[0]?.keys.map((k) => k.value)).toEqual(["1", "2"]);
  });

  it("does not coerce true/false/null into other types", () => {
    const doc = parseIni("[a]\nEnable=true\nX=null\nBare=\n", "l.conf");
    expect(doc.sections[0]?.keys.map((k) => k.value)).toEqual(["true", "null", ""]);
  });

  it.each([
    ["/a/b ; a comment", "/a/b"],
    ["/a/b # a comment", "/a/b"],
    ["/a\\;b", "/a;b"],
    ['"/a;b#c"', "/a;b#c"],
    ["  spaced  ", "spaced"],
  ])("decodes %j as %j", (raw, value) => {
    expect(decodeIniValue(raw)).toBe(value);
  });

  it.each(["/plain/path", "/a;b", "#x", "a=b", '"quoted"', " lead", "%d and space", ""])("encodes %j so that it decodes back", (value) => {
    expect(decodeIniValue(encodeIniValue(value))).toBe(value);
  });

  it("reports a line that is neither a section, an assignment nor a comment", () => {
    const doc = parseIni("[a]\nImage=/x\nnonsense here\n", "/etc/l.conf");
    expect(doc.diagnostics).toEqual([expect.objectContaining({ severity: "error", file: "/etc/l.conf", line: 3, entry: "a" })]);
  });

  it("reports an assignment before any section", () => {
    const doc = parseIni("Image=/x\n[a]\n", "/etc/l.conf");
    expect(doc.diagnostics[0]).toMatchObject({ line: 1, message: expect.stringContaining("outside of any [NAME] section") });
  });
});
