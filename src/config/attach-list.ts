// The attach list schema: one [NAME] section per attachment. Pure: text in, entries and
// diagnostics out. Unknown keys warn (a newer list on an older tool still works); anything that
// would make us attach something other than what the person meant is an error for that entry
// alone. A broken entry is still returned (with its errors) so it keeps shadowing a same-named
// entry of a lower-precedence file: a typo in /etc must not silently resurrect the vendor entry.
import type { Diagnostic } from "./diagnostic.ts";
import { parseIni, type IniSection } from "./ini.ts";
import { shown } from "./shown.ts";
import { isValidUnitName } from "../portable/unit-name.ts";

export interface Entry {
  name: string;
  /** The list file and line of the [NAME] header: SourcePath= and every message point here. */
  file: string;
  line: number;
  /** false for a masking entry (`Attach=no`). */
  attach: boolean;
  /** An absolute path or a bare image name. */
  image: string;
  extensions: string[];
  /** Explicit prefixes; undefined means "derive from the image name". */
  prefixes: string[] | undefined;
  profile: string;
  enable: boolean;
  /**
   * Units enabled one by one, as `systemctl enable UNIT` would: a unit of the entry, an instance
   * of one of its templates ("foo@a.service"), or a template (its DefaultInstance=).
   */
  enableUnits: string[];
  force: boolean;
  /** ImagePolicy=: the dm-verity states an image may have (signed, verity, unprotected); undefined allows all. */
  imagePolicy?: string[];
  /** Errors that stop this entry from being attached. */
  errors: Diagnostic[];
}

export const KNOWN_KEYS = [
  "Image",
  "Extensions",
  "Prefixes",
  "Profile",
  "Enable",
  "EnableUnits",
  "Force",
  "Attach",
  "ImagePolicy",
] as const;
/** systemd's image-policy protection words that apply to images read here. */
const IMAGE_POLICY_WORDS = ["signed", "verity", "unprotected"];

// A Map, so that "constructor" or "__proto__" is no boolean.
const BOOLEANS = new Map(
  Object.entries({
    "1": true,
    yes: true,
    y: true,
    true: true,
    t: true,
    on: true,
    "0": false,
    no: false,
    n: false,
    false: false,
    f: false,
    off: false,
  }),
);
/** An attachment name: used in messages, CLI arguments and file names of the cache. */
const NAME = /^[A-Za-z0-9][A-Za-z0-9_.@:+-]{0,254}$/;
/** A profile name, as portablectl accepts one (a file name). */
const PROFILE = /^[A-Za-z0-9_.@+-]{1,255}$/;

/** portablectl's "valid image name": a single file name. */
export function isImageName(s: string): boolean {
  return (
    s.length > 0 &&
    s.length <= 255 &&
    s !== "." &&
    s !== ".." &&
    !s.includes("/") &&
    !s.startsWith(".#") &&
    !/[\x00-\x1f\x7f]/.test(s)
  );
}

function imageProblem(value: string): string | undefined {
  if (value === "") return "is empty";
  if (/[\x00-\x1f\x7f]/.test(value)) return "contains control characters";
  if (value.startsWith("/")) {
    // The host's own root is not an image; a path no file system can hold is refused here, once,
    // with the line, rather than as an error from every lookup below.
    if (value.endsWith("/") && /^\/+$/.test(value)) return "is the host's root directory, not an image";
    if (value.length > 4095) return "is longer than PATH_MAX (4095 bytes)";
    // A UTF-16 code unit is at most 3 bytes of UTF-8: a path of 85 or fewer has no long component.
    if (value.length > 85 && value.split("/").some((c) => Buffer.byteLength(c) > 255))
      return "has a component longer than 255 bytes";
    return undefined;
  }
  if (isImageName(value)) return undefined;
  return "must be an absolute path or a bare image name";
}

/** `unreadable`: lines that are not text, as the reader found them (see parseIni). */
export function parseAttachList(
  text: string,
  file: string,
  unreadable: readonly number[] = [],
): { entries: Entry[]; diagnostics: Diagnostic[] } {
  const doc = parseIni(text, file, unreadable);
  const diagnostics = [...doc.diagnostics];
  const entries: Entry[] = [];
  const seen = new Map<string, Entry>();
  for (const section of doc.sections) {
    const entry = parseSection(section, file, diagnostics);
    const earlier = seen.get(entry.name);
    if (earlier) {
      // Ambiguous: refuse both rather than guess which one the person meant.
      const message = `Section [${shown(entry.name)}] is defined twice in this file (lines ${earlier.line} and ${entry.line}), refusing both`;
      const error: Diagnostic = { severity: "error", file, line: entry.line, entry: entry.name, message };
      earlier.errors.push(error);
      diagnostics.push(error);
      continue;
    }
    seen.set(entry.name, entry);
    entries.push(entry);
  }
  // Errors from lines that belong to a section make that section's entry broken too.
  for (const d of doc.diagnostics) {
    if (d.entry !== undefined) seen.get(d.entry)?.errors.push(d);
  }
  return { entries, diagnostics };
}

/** Without the trailing slashes a directory path may be written with ("/" stays "/"). */
function trimSlashes(path: string): string {
  return path.length > 1 && path.endsWith("/") ? path.replace(/\/+$/, "") : path;
}

function problem(
  entry: Entry,
  diagnostics: Diagnostic[],
  line: number,
  message: string,
  severity: "error" | "warning" = "error",
): void {
  const d: Diagnostic = { severity, file: entry.file, line, entry: entry.name, message };
  diagnostics.push(d);
  if (severity === "error") entry.errors.push(d);
}

function parseBoolean(entry: Entry, diagnostics: Diagnostic[], key: string, value: string, line: number): boolean {
  const b = BOOLEANS.get(value.toLowerCase());
  if (b !== undefined) return b;
  problem(entry, diagnostics, line, `Failed to parse ${key}='${shown(value)}': expected a boolean (yes/no)`);
  return false;
}

function parseSection(section: IniSection, file: string, diagnostics: Diagnostic[]): Entry {
  const entry: Entry = {
    name: section.name,
    file,
    line: section.line,
    attach: true,
    image: "",
    extensions: [],
    prefixes: undefined,
    profile: "default",
    enable: false,
    enableUnits: [],
    force: false,
    errors: [],
  };
  if (!NAME.test(section.name)) {
    problem(
      entry,
      diagnostics,
      section.line,
      `Invalid attachment name [${shown(section.name)}]: use letters, digits and _ . @ : + - (at most 255, not starting with a punctuation character)`,
    );
  }
  if (section.unreadableLine !== undefined) {
    // Whatever it said (a Profile=, an Image=) is lost: refuse rather than attach it without.
    problem(
      entry,
      diagnostics,
      section.unreadableLine,
      `Section [${shown(section.name)}] holds a line that cannot be read, refusing the entry`,
    );
  }
  const lineOf = new Map<string, number>();
  let imageLine = section.line;
  for (const { key, value, line } of section.keys) {
    const previous = lineOf.get(key);
    if (previous !== undefined)
      problem(
        entry,
        diagnostics,
        line,
        `${shown(key)}= is set again (first at line ${previous}); the later value is used`,
        "warning",
      );
    lineOf.set(key, line);
    switch (key) {
      case "Image": {
        const why = imageProblem(value);
        if (why) problem(entry, diagnostics, line, `Image='${shown(value)}' ${why}`);
        entry.image = trimSlashes(value);
        imageLine = line;
        break;
      }
      case "Extensions": {
        const extensions = value.split(/\s+/).filter((w) => w !== "");
        for (const ext of extensions) {
          const why = imageProblem(ext);
          if (why) problem(entry, diagnostics, line, `Extension '${shown(ext)}' ${why}`);
        }
        entry.extensions = extensions.map(trimSlashes);
        break;
      }
      case "Prefixes": {
        const words = value.split(/\s+/).filter((w) => w !== "");
        for (const p of words)
          if (!/^[A-Za-z0-9_.@:\\-]+$/.test(p))
            problem(entry, diagnostics, line, `Invalid prefix '${shown(p)}' in Prefixes=`);
        entry.prefixes = words.length > 0 ? words : undefined;
        break;
      }
      case "Profile":
        if (!PROFILE.test(value) || value === "." || value === "..")
          problem(entry, diagnostics, line, `Unit profile name not valid: '${shown(value)}'`);
        entry.profile = value;
        break;
      case "Enable":
        if (BOOLEANS.has(value.toLowerCase()) || !value.split(/\s+/).some(isValidUnitName))
          entry.enable = parseBoolean(entry, diagnostics, key, value, line);
        else
          problem(
            entry,
            diagnostics,
            line,
            `Failed to parse Enable='${shown(value)}': expected a boolean (yes/no); units and template instances are enabled one by one with EnableUnits=`,
          );
        break;
      case "EnableUnits": {
        const words = value.split(/\s+/).filter((w) => w !== "");
        for (const u of words)
          if (!isValidUnitName(u)) problem(entry, diagnostics, line, `Invalid unit name '${shown(u)}' in EnableUnits=`);
        entry.enableUnits = [...new Set(words)];
        break;
      }
      case "Force":
        entry.force = parseBoolean(entry, diagnostics, key, value, line);
        break;
      case "ImagePolicy": {
        const words = value.split("+").map((w) => w.trim());
        if (words.some((w) => !IMAGE_POLICY_WORDS.includes(w)))
          problem(
            entry,
            diagnostics,
            line,
            `Failed to parse ImagePolicy='${shown(value)}': expected signed, verity or unprotected, joined by '+'`,
          );
        else entry.imagePolicy = [...new Set(words)];
        break;
      }
      case "Attach":
        entry.attach = parseBoolean(entry, diagnostics, key, value, line);
        break;
      default:
        problem(
          entry,
          diagnostics,
          line,
          `Unknown key '${shown(key)}' in section [${shown(section.name)}], ignoring`,
          "warning",
        );
    }
  }
  // An unreadable line may have been the Image=: that is said already.
  if (entry.attach && entry.image === "" && !lineOf.has("Image") && section.unreadableLine === undefined)
    problem(entry, diagnostics, imageLine, `Section [${shown(section.name)}] has no Image=`);
  return entry;
}
