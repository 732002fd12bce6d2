// Seeded fuzzing of the attach-list parser and editor, for a fixed time: FUZZ_SECONDS (default 3)
// and FUZZ_SEED. Inputs are the hostile list corpus (test/hostile/lists) and a valid list, mutated
// by byte flips, splices of list syntax (brackets, =, comments, quotes, escapes, CR, NUL, U+2028,
// BOM, dots, %), duplicated and deleted lines, and long runs. Properties, for every input:
//   * parseAttachList() never throws, and gives the same answer twice (lines with a NUL byte are
//     handed to it as unreadable, as the list reader finds them);
//   * every diagnostic names the file and a line that exists, with no raw control character;
//   * an entry without errors has a valid name, an absolute path or bare name as Image= and each
//     extension, and a valid profile: nothing the generator would act on is malformed;
//   * the editor (setKeys on a new section, as `attach` does) round-trips a random value, and
//     leaves every other section's entry as it was.
// A failure prints the seed, the iteration and the input (base64) to replay it.
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { isImageName, parseAttachList, type Entry } from "../../src/config/attach-list.ts";
import { setKeys } from "../../src/config/edit.ts";
import { decodeIniValue, encodeIniValue } from "../../src/config/ini.ts";
import { unreadableLines } from "../../src/io/list-files.ts";
import { rng } from "../helpers/random.ts";

const SECONDS = Number(process.env.FUZZ_SECONDS ?? 3);
const SEED = Number(process.env.FUZZ_SEED ?? 0x11572);
const LISTS = join(import.meta.dirname, "..", "hostile", "lists");
const FILE = "/etc/portable-attach.conf";

const VALID =
  "# a valid list\n[foo]\nImage=/var/lib/portables/foo_1.raw ; comment\nExtensions=/a.raw /b.raw\nPrefixes=foo foo-bar\nProfile=strict\nEnable=yes\n\n[bar]\nImage=bar\nAttach=no\n";
const TOKENS = [
  "[",
  "]",
  "=",
  ";",
  "#",
  "\\",
  '"',
  "'",
  "\r",
  "\n",
  "\r\n",
  "\0",
  "\u2028",
  "\ufeff",
  "\t",
  " ",
  ".",
  "..",
  "/",
  "%",
  "@",
  ":",
  "\x1b",
  "\xff",
  "Image=",
  "Extensions=",
  "Profile=",
  "Enable=",
  "Attach=",
  "Force=",
  "Prefixes=",
  "[foo]",
  "[foo.bar]",
  "[..]",
  "__proto__",
  "yes",
  "no",
  "\\;",
  '"a;b"',
  "é",
  "\ud800",
];

function corpus(): string[] {
  return [
    VALID,
    ...readdirSync(LISTS)
      .filter((f) => f.endsWith(".conf"))
      .map((f) => readFileSync(join(LISTS, f), "latin1")),
  ];
}

function mutate(text: string, r: () => number): string {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)] as T;
  let s = text;
  const n = 1 + Math.floor(r() * 6);
  for (let i = 0; i < n; i++) {
    const at = Math.floor(r() * (s.length + 1));
    switch (Math.floor(r() * 7)) {
      case 0: // insert a token
        s = s.slice(0, at) + pick(TOKENS) + s.slice(at);
        break;
      case 1: // replace a character with a random code unit
        s = s.slice(0, at) + String.fromCharCode(Math.floor(r() * (r() < 0.8 ? 128 : 65536))) + s.slice(at + 1);
        break;
      case 2: // delete a run
        s = s.slice(0, at) + s.slice(at + Math.floor(r() * 20));
        break;
      case 3: {
        // duplicate a line
        const lines = s.split("\n");
        const k = Math.floor(r() * lines.length);
        lines.splice(k, 0, lines[k] ?? "");
        s = lines.join("\n");
        break;
      }
      case 4: // a long run
        s = s.slice(0, at) + pick(["x", "/", "[", "=", " ", "a/"]).repeat(Math.floor(r() * 5000)) + s.slice(at);
        break;
      case 5: // splice in another corpus file
        s = s.slice(0, at) + pick(corpusCache) + s.slice(at);
        break;
      default: {
        // swap two lines
        const lines = s.split("\n");
        const a = Math.floor(r() * lines.length);
        const b = Math.floor(r() * lines.length);
        [lines[a], lines[b]] = [lines[b] as string, lines[a] as string];
        s = lines.join("\n");
      }
    }
  }
  return s;
}

const corpusCache = corpus();
const NAME = /^[A-Za-z0-9][A-Za-z0-9_.@:+-]{0,254}$/;
const PROFILE = /^[A-Za-z0-9_.@+-]{1,255}$/;

function imageOk(v: string): boolean {
  return !/[\x00-\x1f\x7f]/.test(v) && ((v.startsWith("/") && v.length < 4096) || isImageName(v));
}

/** Checks the properties; returns the first violation, or undefined. */
function violation(text: string): string | undefined {
  let parsed: ReturnType<typeof parseAttachList>;
  // Lines holding a NUL are unreadable, as the list reader finds them in the file's bytes.
  const unreadable = unreadableLines(Buffer.from(text, "utf8"));
  try {
    parsed = parseAttachList(text, FILE, unreadable);
  } catch (e) {
    return `threw ${(e as Error).stack}`;
  }
  const again = parseAttachList(text, FILE, unreadable);
  if (JSON.stringify(again) !== JSON.stringify(parsed)) return "not deterministic";
  const lineCount = text.split(/\r?\n/).length;
  for (const d of parsed.diagnostics) {
    if (d.file !== FILE) return `diagnostic names ${d.file}`;
    if (d.line !== undefined && (!Number.isInteger(d.line) || d.line < 1 || d.line > lineCount))
      return `diagnostic line ${d.line} of ${lineCount}`;
    if (/[\x00-\x1f\x7f]/.test(d.message)) return `raw control character in: ${JSON.stringify(d.message)}`;
    if (d.message.length > 1000) return `message of ${d.message.length} characters`;
  }
  const names = new Set<string>();
  for (const e of parsed.entries) {
    if (names.has(e.name)) return `entry [${e.name}] returned twice`;
    names.add(e.name);
    if (e.errors.length > 0) continue;
    if (!NAME.test(e.name)) return `clean entry with invalid name ${JSON.stringify(e.name)}`;
    if (e.attach && !imageOk(e.image)) return `clean entry [${e.name}] with Image=${JSON.stringify(e.image)}`;
    for (const x of e.extensions) if (!imageOk(x)) return `clean entry [${e.name}] with extension ${JSON.stringify(x)}`;
    if (!PROFILE.test(e.profile) || e.profile === "." || e.profile === "..")
      return `clean entry [${e.name}] with Profile=${JSON.stringify(e.profile)}`;
  }
  return undefined;
}

/** What a person would call the entry: what every section other than the edited one must keep. */
function summary(entries: Entry[]): string {
  return JSON.stringify(
    entries.map((e) => [
      e.name,
      e.attach,
      e.image,
      e.extensions,
      e.prefixes,
      e.profile,
      e.enable,
      e.force,
      e.errors.length,
    ]),
  );
}

function editViolation(text: string, r: () => number): string | undefined {
  // A printable value with the characters that need care: ; # quotes backslash % spaces.
  const chars = "abc/_-.%;#\"'\\ =[]é";
  let value = "/";
  const len = 1 + Math.floor(r() * 30);
  for (let i = 0; i < len; i++) value += chars[Math.floor(r() * chars.length)];
  value = value.replace(/\/+$/, "") + "x";
  if (decodeIniValue(encodeIniValue(value)) !== value)
    return `value codec: ${JSON.stringify(value)} -> ${JSON.stringify(encodeIniValue(value))} -> ${JSON.stringify(decodeIniValue(encodeIniValue(value)))}`;
  const name = "fuzz-edited";
  if (/^\s*\[\s*fuzz-edited\s*\]/m.test(text)) return undefined;
  const before = parseAttachList(text, FILE);
  let edited: string;
  try {
    edited = setKeys(text, name, [["Image", value]]);
  } catch (e) {
    return `setKeys threw ${(e as Error).stack}`;
  }
  const after = parseAttachList(edited, FILE);
  const entry = after.entries.find((e) => e.name === name);
  if (!entry) return "edited section is missing";
  if (entry.image !== value)
    return `Image= reads back as ${JSON.stringify(entry.image)}, wrote ${JSON.stringify(value)}`;
  if (entry.errors.length > 0) return `edited section has errors: ${entry.errors.map((d) => d.message).join("; ")}`;
  const kept = summary(after.entries.filter((e) => e.name !== name));
  if (kept !== summary(before.entries)) return `other sections changed: ${summary(before.entries)} became ${kept}`;
  return undefined;
}

describe("attach-list parser fuzzing", () => {
  it(
    `holds its properties for ${SECONDS} s of mutated lists (seed ${SEED})`,
    () => {
      const r = rng(SEED);
      const deadline = performance.now() + SECONDS * 1000;
      let iterations = 0;
      const problems: string[] = [];
      while (performance.now() < deadline && problems.length < 5) {
        const input = mutate(corpusCache[Math.floor(r() * corpusCache.length)] as string, r);
        const why = violation(input) ?? editViolation(input, r);
        if (why)
          problems.push(
            `seed ${SEED} iteration ${iterations}: ${why}\n  input (base64): ${Buffer.from(input).toString("base64").slice(0, 2000)}`,
          );
        iterations++;
      }
      console.log(`list parser fuzz: ${iterations} inputs in ${SECONDS} s (seed ${SEED}), ${problems.length} problems`);
      expect(problems, problems.join("\n")).toEqual([]);
      expect(iterations).toBeGreaterThan(100);
    },
    SECONDS * 1000 + 30_000,
  );
});
