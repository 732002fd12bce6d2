// Regressions for bugs the hostile corpus and the list fuzzer found in the list code, each named
// after what it proves.
import { describe, expect, it } from "vitest";
import { parseAttachList } from "../../src/config/attach-list.ts";
import { setKeys } from "../../src/config/edit.ts";
import { decodeIniValue, encodeIniValue } from "../../src/config/ini.ts";

const image = (text: string, name: string) => parseAttachList(text, "/l").entries.find((e) => e.name === name);

describe("list editing regressions", () => {
  it.each(["/a\\;b", "/a\\\\b", "/a\\#b", "/a\\", "/a\\x2db", "/a;b#c", "/\\\\\\;"])(
    "a value with backslashes (%s) reads back exactly as the editor wrote it",
    (value) => {
      expect(decodeIniValue(encodeIniValue(value))).toBe(value);
      expect(image(setKeys("", "x", [["Image", value]]), "x")?.image).toBe(value);
    },
  );

  it("an ordinary backslash (systemd's \\x2d) is written as is, not doubled", () => {
    expect(encodeIniValue("/var/lib/portables/foo\\x2dbar.raw")).toBe("/var/lib/portables/foo\\x2dbar.raw");
  });

  it("a list whose last line ends in a lone CR: appending a section leaves that line meaning what it meant", () => {
    for (const text of ["[a]\nImage=/x\u0080\r", "[a]\r\n\r\nImage=\x1b/x\r", "[a]\rImage=/x\r"]) {
      const before = parseAttachList(text, "/l");
      const after = parseAttachList(setKeys(text, "new", [["Image", "/n"]]), "/l");
      expect(after.entries.filter((e) => e.name !== "new").map((e) => [e.name, e.image, e.errors.length])).toEqual(
        before.entries.map((e) => [e.name, e.image, e.errors.length]),
      );
      expect(after.entries.find((e) => e.name === "new")?.image).toBe("/n");
    }
  });
});
