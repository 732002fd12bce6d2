import { describe, expect, it } from "vitest";
import { unsafe } from "ini";
import { decodeIniValue, encodeIniValue, parseIni } from "../../src/config/ini.ts";
import { rng } from "../helpers/random.ts";

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

  it.each(["/plain/path", "/a;b", "#x", "a=b", '"quoted"', " lead", "%d and space", ""])(
    "encodes %j so that it decodes back",
    (value) => {
      expect(decodeIniValue(encodeIniValue(value))).toBe(value);
    },
  );

  it("reports a line that is neither a section, an assignment nor a comment", () => {
    const doc = parseIni("[a]\nImage=/x\nnonsense here\n", "/etc/l.conf");
    expect(doc.diagnostics).toEqual([
      expect.objectContaining({ severity: "error", file: "/etc/l.conf", line: 3, entry: "a" }),
    ]);
  });

  it("reports an assignment before any section", () => {
    const doc = parseIni("Image=/x\n[a]\n", "/etc/l.conf");
    expect(doc.diagnostics[0]).toMatchObject({
      line: 1,
      message: expect.stringContaining("outside of any [NAME] section"),
    });
  });
});

describe("ini adapter: the pattern-free paths read every line as the patterns do", () => {
  // The tokenizer as it was: every line through the three patterns, every value through unsafe().
  const SECTION = /^\s*\[([^\]]*)\]\s*(?:[;#].*)?$/;
  const COMMENT = /^\s*([;#].*)?$/;
  const KEY = /^\s*([^=\s;#[][^=]*?)\s*=(.*)$/;
  function reference(text: string): { lines: string[]; read: unknown[] } {
    const lines = text.split(/\r?\n|\r$/);
    if (lines.length > 0 && lines[lines.length - 1] === "") lines.pop();
    const read = lines.map((raw) => {
      if (COMMENT.test(raw)) return "comment";
      const section = SECTION.exec(raw);
      if (section) return ["section", (section[1] as string).trim()];
      const kv = KEY.exec(raw);
      return kv ? ["key", (kv[1] as string).trim(), unsafe((kv[2] as string).trim())] : "invalid";
    });
    return { lines, read };
  }
  /** What parseIni made of each line (the text starts with a section, so no key is outside one). */
  function actual(text: string): { lines: string[]; read: unknown[] } {
    const doc = parseIni(text, "f");
    const invalid = new Set(doc.diagnostics.map((d) => d.line));
    const read = doc.lines.map((_, i) => {
      const section = doc.sections.find((s) => s.line === i + 1);
      const key = doc.sections.flatMap((s) => s.keys).find((k) => k.line === i + 1);
      return section
        ? ["section", section.name]
        : key
          ? ["key", key.key, key.value]
          : invalid.has(i + 1)
            ? "invalid"
            : "comment";
    });
    return { lines: doc.lines, read };
  }
  const pieces = [
    "a",
    "Image",
    "=",
    "==",
    ";",
    "#",
    "[",
    "]",
    "[a]",
    " ",
    "\t",
    "\r",
    "\r\n",
    "\n",
    "\u2028",
    "\u00a0",
    "\ufeff",
    "\\",
    '"',
    "'",
    "/x",
    "é",
    "\0",
  ];

  it("on random lines made of the characters that matter", () => {
    const random = rng(7);
    for (let n = 0; n < 5000; n++) {
      let text = "[s]\n";
      const count = 1 + Math.floor(random() * 8);
      for (let i = 0; i < count; i++) text += pieces[Math.floor(random() * pieces.length)];
      expect(actual(text), JSON.stringify(text)).toEqual(reference(text));
    }
  });
});
