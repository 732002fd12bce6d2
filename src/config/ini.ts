// The only user of the `ini` package. ini.parse() nests sections with dots ([foo.raw] becomes
// foo → raw), merges repeated sections, counts duplicate keys across the whole file, coerces
// "true"/"null" and keeps no line numbers, so we do not let it parse structure: this adapter
// tokenizes lines itself (giving every key its line, which the CLI editor also needs to change
// exactly one line) and uses ini's own value codec (`unsafe`/`safe`) so values mean what ini
// users expect: `;` and `#` start an inline comment unless escaped (`\;`) or the value is quoted;
// one glued to the text before it (`app#2`) is an error for its entry, not a silent cut.
import { safe, unsafe } from "ini";
import type { Diagnostic } from "./diagnostic.ts";
import { shown } from "./shown.ts";

export interface IniKey {
  key: string;
  value: string;
  /** 1-based line number. */
  line: number;
}

export interface IniSection {
  name: string;
  line: number;
  keys: IniKey[];
  /** The first line inside this section that could not be read (see parseIni), if any. */
  unreadableLine?: number;
  /** The last line that belongs to this section (its last key, comment or blank line). */
  endLine: number;
}

export interface IniDocument {
  sections: IniSection[];
  /** The text split into lines without their terminators; lines[0] is line 1. */
  lines: string[];
  diagnostics: Diagnostic[];
}

const SECTION = /^\s*\[([^\]]*)\]\s*(?:[;#].*)?$/;
const COMMENT = /^\s*([;#].*)?$/;
const KEY = /^\s*([^=\s;#[][^=]*?)\s*=(.*)$/;

/**
 * Splits into lines, accepting LF and CRLF. A CR that ends the file ends its last line too (a CRLF
 * file cut short): otherwise the editor, which must terminate that line to append a section, would
 * turn it into a CRLF and change what the line says.
 */
export function splitLines(text: string): string[] {
  const lines = text.includes("\r") ? text.split(/\r?\n|\r$/) : text.split("\n");
  if (lines.length > 0 && lines[lines.length - 1] === "") lines.pop();
  return lines;
}

/** A line terminator other than LF ('.' in the patterns above does not match one). */
function hasLineTerminator(s: string): boolean {
  return s.includes("\r") || s.includes("\u2028") || s.includes("\u2029");
}

/**
 * What the patterns above make of a line, without them for the shapes lists are made of: a blank
 * line, "[NAME]", and "KEY=VALUE" starting with a printable ASCII character that is not one of
 * "; # [ =" (then neither COMMENT nor SECTION can match, and KEY's split is at the first '=').
 * Anything else, or a value holding a line terminator, goes through the patterns.
 */
function parseLine(
  raw: string,
): "comment" | { section: string } | { key: string; value: string; raw: string } | undefined {
  if (raw === "") return "comment";
  const c = raw.charCodeAt(0);
  if (c === 0x5b /* [ */ && raw.indexOf("]") === raw.length - 1) return { section: raw.slice(1, -1).trim() };
  if (c > 0x20 && c < 0x7f && c !== 0x3b /* ; */ && c !== 0x23 /* # */ && c !== 0x5b && c !== 0x3d /* = */) {
    const eq = raw.indexOf("=");
    if (eq < 0) return undefined;
    const value = raw.slice(eq + 1);
    if (!hasLineTerminator(value)) return { key: raw.slice(0, eq).trim(), value: decodeIniValue(value), raw: value };
  }
  if (COMMENT.test(raw)) return "comment";
  const section = SECTION.exec(raw);
  if (section) return { section: (section[1] as string).trim() };
  const kv = KEY.exec(raw);
  return kv
    ? { key: (kv[1] as string).trim(), value: decodeIniValue(kv[2] as string), raw: kv[2] as string }
    : undefined;
}

/** Warnings about unreadable lines, per file: binary junk must not flood the log. */
const MAX_UNREADABLE_WARNINGS = 5;

/**
 * `unreadable`: 1-based numbers of lines that are not text (NUL bytes, invalid UTF-8; ascending).
 * Each is skipped with a warning; the section it falls in is marked, for the schema to refuse it
 * whole: what such a line said is unknown, and it may have been a key that mattered.
 */
export function parseIni(text: string, file: string, unreadable: readonly number[] = []): IniDocument {
  const lines = splitLines(text);
  const sections: IniSection[] = [];
  const diagnostics: Diagnostic[] = [];
  let current: IniSection | undefined;
  let next = 0; // index into unreadable
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i] as string;
    const line = i + 1;
    if (unreadable[next] === line) {
      if (next < MAX_UNREADABLE_WARNINGS)
        diagnostics.push({
          severity: "warning",
          file,
          line,
          message: "Line cannot be read (NUL bytes or invalid UTF-8), skipping it",
        });
      else if (next === MAX_UNREADABLE_WARNINGS)
        diagnostics.push({
          severity: "warning",
          file,
          line,
          message: `${unreadable.length - next} more lines from here on cannot be read, skipping them`,
        });
      next++;
      if (current) {
        current.unreadableLine ??= line;
        current.endLine = line;
      }
      continue;
    }
    const parsed = parseLine(raw);
    if (parsed === "comment") {
      if (current) current.endLine = line;
    } else if (parsed === undefined) {
      diagnostics.push({
        severity: "error",
        file,
        line,
        ...(current ? { entry: current.name } : {}),
        message: `Invalid line '${shown(raw.trim().slice(0, 80))}': expected [NAME], KEY=VALUE or a comment`,
      });
    } else if ("section" in parsed) {
      current = { name: parsed.section, line, keys: [], endLine: line };
      sections.push(current);
    } else if (!current) {
      diagnostics.push({
        severity: "error",
        file,
        line,
        message: `Assignment '${shown(parsed.key)}=' outside of any [NAME] section`,
      });
    } else {
      const cut = parsed.raw.includes(";") || parsed.raw.includes("#") ? gluedComment(parsed.raw) : undefined;
      if (cut !== undefined) {
        const c = cut[0] as string;
        const message = `'${c}' right after text in ${shown(parsed.key)}= starts a comment, cutting the value to '${shown(parsed.value)}': write \\${c} to keep it in the value, or a space before a comment`;
        diagnostics.push({ severity: "error", file, line, entry: current.name, message });
      }
      current.keys.push({ key: parsed.key, value: parsed.value, line });
      current.endLine = line;
    }
  }
  return { sections, lines, diagnostics };
}

/**
 * What an unescaped ';' or '#' cuts off a value when it is glued to the text before it ("app#2"
 * gives "#2"), undefined if nothing is cut that way. The ini rule reads it as a comment; a person
 * who wrote /var/lib/portables/app#2 meant a name. Neither reading is safe to pick silently, so
 * the entry is refused; a comment after a space (`Image=/x ; note`) is the documented form.
 */
function gluedComment(raw: string): string | undefined {
  const value = raw.trim();
  const q = value[0];
  if (value.length > 1 && (q === '"' || q === "'") && value.endsWith(q)) return undefined; // quoted: no comment
  for (let i = 0; i < value.length; i++) {
    const c = value[i];
    if (c === "\\")
      i++; // an escape takes the next character, as unsafe() reads it
    else if (c === ";" || c === "#") return i > 0 && !/\s/.test(value[i - 1] as string) ? value.slice(i) : undefined;
  }
  return undefined;
}

/** Decodes a value as ini does: trims, strips quotes, cuts an unescaped inline comment. */
export function decodeIniValue(raw: string): string {
  const value = raw.trim();
  // What unsafe() gives back unchanged: not quoted, no escape, no comment.
  const c = value.charCodeAt(0);
  if (c !== 0x22 && c !== 0x27 && !value.includes("\\") && !value.includes(";") && !value.includes("#")) return value;
  return unsafe(value);
}

/**
 * Encodes a value so that decodeIniValue() gives it back exactly. ini's own safe() escapes ; and #
 * but not the backslash that unsafe() takes as an escape: a value holding a backslash followed by
 * ; # or another backslash came back cut or changed. Here a backslash is doubled exactly when the
 * reader would otherwise take it as an escape, so ordinary ones (systemd's \x2d) stay as written.
 */
export function encodeIniValue(value: string): string {
  const plain = value.split(";").join("\\;").split("#").join("\\#");
  const quoted = safe(value);
  if (quoted !== plain) return quoted; // needs JSON quoting: =, CR/LF, a leading [, quotes, edge spaces
  let out = "";
  for (let i = 0; i < value.length; i++) {
    const c = value[i] as string;
    const next = value[i + 1];
    if (c === ";" || c === "#") out += `\\${c}`;
    else if (c === "\\" && (next === undefined || next === "\\" || next === ";" || next === "#")) out += "\\\\";
    else out += c;
  }
  return out;
}
