// Line-based editing of an attach list: text in, text out. A person's file is theirs, so an edit
// touches only the lines it must: a changed key keeps its indentation, spelling and trailing
// comment; a new key goes right after the section's last key; a new section is appended after one
// blank line. Everything else (comments, blank lines, order, unknown keys, other sections, CRLF
// line ends, a missing final newline) comes out byte for byte as it went in. Values are written
// with ini's own codec so the parser reads back exactly what was set.
import { decodeIniValue, encodeIniValue, parseIni, type IniSection } from "./ini.ts";

/** A key to set to a value, or to remove (undefined). */
export type KeyChange = [key: string, value: string | undefined];

interface Lines {
  /** Line texts without terminators. */
  text: string[];
  /** The terminator of each line ("" only for a last line without one). */
  eol: string[];
  /** The terminator to use for new lines: the file's own. */
  newline: string;
}

function split(text: string): Lines {
  const text_: string[] = [];
  const eol: string[] = [];
  // As splitLines(): a CR that ends the file ends its last line.
  const re = /\r?\n|\r$/g;
  let start = 0;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    text_.push(text.slice(start, m.index));
    eol.push(m[0]);
    start = m.index + m[0].length;
  }
  if (start < text.length) {
    text_.push(text.slice(start));
    eol.push("");
  }
  return { text: text_, eol, newline: eol.find((e) => e === "\n" || e === "\r\n") ?? "\n" };
}

function join(l: Lines): string {
  return l.text.map((t, i) => t + (l.eol[i] as string)).join("");
}

/** Inserts lines before index `at` (0-based), terminating an unterminated line before them. */
function insert(l: Lines, at: number, lines: string[]): void {
  if (at > 0 && (l.eol[at - 1] === "" || l.eol[at - 1] === "\r")) l.eol[at - 1] = l.newline;
  l.text.splice(at, 0, ...lines);
  l.eol.splice(at, 0, ...lines.map(() => l.newline));
}

function remove(l: Lines, at: number, count: number): void {
  l.text.splice(at, count);
  l.eol.splice(at, count);
}

/**
 * Rewrites `Key = value ; comment` to the new value, keeping the indentation, the spacing around
 * '=' and the trailing comment, so the diff shows only the value.
 */
function rewriteKeyLine(line: string, value: string): string {
  const eq = line.indexOf("=");
  const head = line.slice(0, eq + 1);
  const raw = line.slice(eq + 1);
  const lead = /^\s*/.exec(raw)?.[0] ?? "";
  const old = decodeIniValue(raw);
  // The trailing comment is what follows the shortest prefix that still decodes to the old value.
  let tail = "";
  const comment = /\s+[;#]/g;
  for (let m = comment.exec(raw); m; m = comment.exec(raw)) {
    if (decodeIniValue(raw.slice(0, m.index)) === old) {
      tail = raw.slice(m.index);
      break;
    }
  }
  if (tail === "") tail = /\s*$/.exec(raw)?.[0] ?? "";
  return head + lead + encodeIniValue(value) + tail;
}

function findSection(text: string, name: string, unreadable: readonly number[] = []): IniSection | undefined {
  // The last one wins for a section defined twice (the parser refuses both anyway).
  return parseIni(text, "", unreadable)
    .sections.filter((s) => s.name === name)
    .pop();
}

export function hasSection(text: string, name: string): boolean {
  return findSection(text, name) !== undefined;
}

/** Sets and removes keys of section [name]; appends the section if it is not there. */
export function setKeys(text: string, name: string, changes: readonly KeyChange[]): string {
  const section = findSection(text, name);
  if (!section) {
    const keys = changes.filter((c): c is [string, string] => c[1] !== undefined);
    return appendSection(text, name, keys);
  }
  const l = split(text);
  // Work on 0-based indices, bottom-up within the section so earlier indices stay valid.
  const deletions = new Set<number>();
  const inserts: string[] = [];
  for (const [key, value] of changes) {
    const lines = section.keys.filter((k) => k.key === key).map((k) => k.line - 1);
    if (value === undefined) {
      for (const i of lines) deletions.add(i);
      continue;
    }
    const last = lines.pop();
    // Earlier duplicates would only produce "is set again" warnings: they go.
    for (const i of lines) deletions.add(i);
    if (last === undefined) inserts.push(`${key}=${encodeIniValue(value)}`);
    else l.text[last] = rewriteKeyLine(l.text[last] as string, value);
  }
  const lastKey = section.keys.reduce((m, k) => Math.max(m, k.line), section.line);
  insert(l, lastKey, inserts);
  for (const i of [...deletions].sort((a, b) => b - a)) remove(l, i, 1);
  return join(l);
}

/** Appends a new section after one blank line. */
export function appendSection(text: string, name: string, keys: readonly [string, string][]): string {
  const l = split(text);
  const block = [`[${name}]`, ...keys.map(([k, v]) => `${k}=${encodeIniValue(v)}`)];
  const lastText = l.text[l.text.length - 1];
  if (lastText !== undefined && lastText.trim() !== "") block.unshift("");
  insert(l, l.text.length, block);
  return join(l);
}

/**
 * Removes section [name]: its header through its last key, with the comments and blank lines in
 * between. Comments above the header and after the last key stay: they may describe the file or
 * the next section, and losing a person's words is worse than keeping a stale one. If that leaves
 * two blank lines where one was, one goes.
 */
export function removeSection(text: string, name: string): string {
  const section = findSection(text, name);
  if (!section) return text;
  const l = split(text);
  const from = section.line - 1;
  const lastKey = section.keys.reduce((m, k) => Math.max(m, k.line), section.line);
  remove(l, from, lastKey - from);
  const blank = (i: number): boolean => l.text[i] !== undefined && (l.text[i] as string).trim() === "";
  if (blank(from) && (from === 0 || blank(from - 1) || from === l.text.length - 1)) remove(l, from, 1);
  else if (from === l.text.length && from > 0 && blank(from - 1)) remove(l, from - 1, 1);
  return join(l);
}

/**
 * Section [name] as written: header through its last key, for copying it into another file.
 * `unreadable`: the file's lines that are not text; a section holding one cannot be copied whole.
 */
export function sectionLines(text: string, name: string, unreadable: readonly number[] = []): string[] | undefined {
  const section = findSection(text, name, unreadable);
  if (!section) return undefined;
  if (section.unreadableLine !== undefined)
    throw new Error(`line ${section.unreadableLine} cannot be read (NUL bytes or invalid UTF-8)`);
  const lastKey = section.keys.reduce((m, k) => Math.max(m, k.line), section.line);
  return split(text).text.slice(section.line - 1, lastKey);
}

/** Appends lines as a new block after one blank line (a section copied from another file). */
export function appendLines(text: string, lines: readonly string[]): string {
  const l = split(text);
  const block = [...lines];
  const lastText = l.text[l.text.length - 1];
  if (lastText !== undefined && lastText.trim() !== "") block.unshift("");
  insert(l, l.text.length, block);
  return join(l);
}
