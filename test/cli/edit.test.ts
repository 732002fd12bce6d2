// The pure list editor (src/config/edit.ts) on the edges the golden cases do not reach: values
// that need ini's escaping read back exactly, empty files, first sections, duplicates.
import { describe, expect, it } from "vitest";
import { parseAttachList } from "../../src/config/attach-list.ts";
import { appendSection, removeSection, setKeys } from "../../src/config/edit.ts";

const image = (text: string, name: string) => parseAttachList(text, "x").entries.find((e) => e.name === name)?.image;

describe("config/edit", () => {
  it("appends to an empty file without a leading blank line, and to one without a final newline", () => {
    expect(appendSection("", "a", [["Image", "a"]])).toBe("[a]\nImage=a\n");
    expect(appendSection("[b]\nImage=b", "a", [["Image", "a"]])).toBe("[b]\nImage=b\n\n[a]\nImage=a\n");
  });

  it("writes values that contain ; and # so they read back exactly", () => {
    const text = setKeys("", "odd", [["Image", "/srv/a;b#c.raw"]]);
    expect(image(text, "odd")).toBe("/srv/a;b#c.raw");
    const changed = setKeys("[odd]\nImage = x.raw   ; keep me\n", "odd", [["Image", "/srv/semi;colon.raw"]]);
    expect(changed).toBe("[odd]\nImage = /srv/semi\\;colon.raw   ; keep me\n");
    expect(image(changed, "odd")).toBe("/srv/semi;colon.raw");
  });

  it("keeps a trailing comment whose value itself held an escaped ';'", () => {
    const text = "[a]\nImage=/x\\;y ; note\n";
    expect(setKeys(text, "a", [["Image", "/z"]])).toBe("[a]\nImage=/z ; note\n");
  });

  it("replaces the last of duplicate keys and drops the earlier ones", () => {
    const text = "[a]\nImage=1\n# between\nImage=2 ; later wins\n";
    expect(setKeys(text, "a", [["Image", "3"]])).toBe("[a]\n# between\nImage=3 ; later wins\n");
  });

  it("removes a section but never leaves two blank lines where one was", () => {
    const text = "# header\n[a]\nImage=a\n\n[b]\nImage=b\n";
    expect(removeSection(text, "a")).toBe("# header\n\n[b]\nImage=b\n");
    expect(removeSection("[a]\nImage=a\n\n[b]\nImage=b\n", "a")).toBe("[b]\nImage=b\n");
    expect(removeSection("[b]\nImage=b\n\n[a]\nImage=a\n\n[c]\n", "a")).toBe("[b]\nImage=b\n\n[c]\n");
    expect(removeSection("[a]\nImage=a\n", "a")).toBe("");
    expect(removeSection(text, "nope")).toBe(text);
  });

  it("inserts a new key after the section's last key, before trailing comments of the next section", () => {
    const text = "[a]\nImage=a\n\n# about b\n[b]\nImage=b\n";
    expect(setKeys(text, "a", [["Enable", "yes"]])).toBe("[a]\nImage=a\nEnable=yes\n\n# about b\n[b]\nImage=b\n");
  });
});
