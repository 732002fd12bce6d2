// The only user of the `ini` package. ini.parse() nests sections with dots ([foo.raw] becomes
// foo → raw), merges repeated sections, counts duplicate keys across the whole file, coerces
// "true"/"null" and keeps no line numbers, so we do not let it parse structure: this adapter
// tokenizes lines itself (giving every key its line, which the CLI editor also needs to change
// exactly one line) and uses ini's own value codec (`unsafe`/`safe`) so values mean what ini
// users expect: `;` and `#` start an inline comment unless escaped (`\;`) or the value is quoted.
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
  const lines = text.split(/\r?\n|\r$/);
  if (lines.length > 0 && lines[lines.length - 1] === "") lines.pop();
  return lines;
}

export function parseIni(text: string, file: string): IniDocument {
  const lines = splitLines(text);
  const sections: IniSection[] = [];
  const diagnostics: Diagnostic[] = [];
  let current: IniSection | undefined;
  lines.forEach((raw, i) => {
    const line = i + 1;
    if (COMMENT.test(raw)) {
      if (current) current.endLine = line;
      return;
    }
    const section = SECTION.exec(raw);
    if (section) {
      current = { name: (section[1] as string).trim(), line, keys: [], endLine: line };
      sections.push(current);
      return;
    }
    const kv = KEY.exec(raw);
    if (!kv) {
      diagnostics.push({ severity: "error", file, line, ...(current ? { entry: current.name } : {}), message: `Invalid line '${shown(raw.trim().slice(0, 80))}': expected [NAME], KEY=VALUE or a comment` });
      return;
    }
    if (!current) {
      diagnostics.push({ severity: "error", file, line, message: `Assignment '${shown((kv[1] as string).trim())}=' outside of any [NAME] section` });
      return;
    }
    current.keys.push({ key: (kv[1] as string).trim(), value: decodeIniValue(kv[2] as string), line });
    current.endLine = line;
  });
  return { sections, lines, diagnostics };
}

/** Decodes a value as ini does: trims, strips quotes, cuts an unescaped inline comment. */
export function decodeIniValue(raw: string): string {
  return unsafe(raw.trim());
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
