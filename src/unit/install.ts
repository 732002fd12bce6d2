// The [Install] section and what `systemctl enable` makes of it (src/shared/install.c,
// src/shared/conf-parser.c), for a unit written into a generator output directory: a generator
// cannot call systemctl, so Enable=yes is expressed by creating the same symlinks ourselves.
import {
  instanceOf,
  isTemplate,
  isValidUnitName,
  prefixOf,
  templateOf,
  unitType,
  withInstance,
} from "../portable/unit-name.ts";

export interface InstallInfo {
  wantedBy: string[];
  requiredBy: string[];
  upheldBy: string[];
  alias: string[];
  also: string[];
  /** Raw value (specifiers not expanded); undefined if unset or reset by an empty assignment. */
  defaultInstance: string | undefined;
}

export interface InstallLink {
  /** Relative to the output directory, e.g. "multi-user.target.wants/foo.service". */
  link: string;
  /** Symlink target, relative to the link's directory. */
  target: string;
}

const WHITESPACE_RUN = /[ \t\n\r]+/;

/** The whitespace systemd splits words at: ' ', '\t', '\n', '\r'. */
function isWhitespace(c: number): boolean {
  return c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d;
}

/**
 * Words of a list setting as config_parse_strv() splits them (EXTRACT_UNQUOTE|RETAIN_ESCAPE):
 * whitespace separates, '…' and "…" quote (also in the middle of a word), backslashes stay.
 */
function splitWords(value: string, unquote: boolean): string[] {
  const words: string[] = [];
  if (!unquote || (!value.includes("'") && !value.includes('"'))) {
    // No quoting: the words are the runs between whitespace.
    for (const w of value.split(WHITESPACE_RUN)) if (w !== "") words.push(w);
    return words;
  }
  let word: string | undefined;
  let quote: string | undefined;
  for (let i = 0; i < value.length; i++) {
    const c = value.charAt(i);
    if (quote !== undefined) {
      if (c === quote) quote = undefined;
      else word += c;
    } else if (isWhitespace(value.charCodeAt(i))) {
      if (word !== undefined) words.push(word);
      word = undefined;
    } else if (c === "'" || c === '"') {
      quote = c;
      word ??= "";
    } else {
      word = (word ?? "") + c;
    }
  }
  if (word !== undefined) words.push(word);
  return words;
}

/**
 * Logical lines of a unit file: comment lines ('#' or ';' after leading whitespace) dropped, even
 * inside a continuation (as systemd 252 does); a line ending in an unescaped '\' continues on
 * the next one, the backslash becoming a space.
 */
function logicalLines(text: string): string[] {
  const lines: string[] = [];
  let continuation: string | undefined;
  for (const raw of text.split(/\r\n|\r|\n/)) {
    const first = raw.trimStart().charAt(0);
    if (first === "#" || first === ";") continue;
    const line = continuation === undefined ? raw : continuation + raw;
    // Escaped at the end: an odd run of trailing backslashes (what precedes the run escapes nothing).
    let run = 0;
    while (run < line.length && line.charCodeAt(line.length - 1 - run) === 0x5c) run++;
    if (run % 2 === 1) {
      continuation = line.slice(0, -1) + " ";
      continue;
    }
    continuation = undefined;
    lines.push(line);
  }
  if (continuation !== undefined) lines.push(continuation);
  return lines;
}

/**
 * The [Install] section of a unit file. Keys are case-sensitive; lists accumulate over repeated
 * keys and sections, and an empty assignment clears them; other sections and unknown keys are
 * ignored, and so are lines without '=' and everything after a malformed section header
 * (systemd would reject the whole file there; we just find nothing to install).
 */
export function parseInstallSection(unitText: string): InstallInfo {
  const info: InstallInfo = {
    wantedBy: [],
    requiredBy: [],
    upheldBy: [],
    alias: [],
    also: [],
    defaultInstance: undefined,
  };
  const lists = {
    WantedBy: info.wantedBy,
    RequiredBy: info.requiredBy,
    UpheldBy: info.upheldBy,
    Alias: info.alias,
    Also: info.also,
  } as const;
  let section: string | undefined;
  for (const line of logicalLines(unitText)) {
    const l = line.trim();
    if (l === "") continue;
    if (l.startsWith("[")) {
      section = l.endsWith("]") ? l.slice(1, -1) : undefined;
      continue;
    }
    const eq = l.indexOf("=");
    if (section !== "Install" || eq < 0) continue;
    const key = l.slice(0, eq).trim();
    const value = l.slice(eq + 1).trim();
    if (key === "DefaultInstance") {
      info.defaultInstance = value === "" ? undefined : value;
    } else if (Object.hasOwn(lists, key)) {
      const list = lists[key as keyof typeof lists];
      if (value === "") list.length = 0;
      // Also= is split without unquoting in systemd (config_parse_also).
      // A loop, not push(...words): a 4 MiB line holds more words than a call takes arguments.
      else for (const w of splitWords(value, key !== "Also")) list.push(w);
    }
  }
  return info;
}

/** unit_name_unescape(): "\xNN" → the byte, '-' → '/'. */
function unescapeName(s: string): string {
  return s.replace(/\\x([0-9a-fA-F]{2})|-/g, (_m, h: string | undefined) =>
    h === undefined ? "/" : String.fromCharCode(Number.parseInt(h, 16)),
  );
}

/**
 * install_name_printf() for the name-derived specifiers (%n %N %p %P %i %I %j %J %%). The others
 * (%H, %m, %b, %u …) describe the machine or user running systemctl; a generator output must not
 * depend on them, so they are refused.
 */
function expandSpecifiers(value: string, unit: string): { value: string } | { error: string } {
  if (!value.includes("%")) return { value };
  const prefix = prefixOf(unit) ?? "";
  const instance = instanceOf(unit) ?? "";
  const lastDash = prefix.lastIndexOf("-");
  const last = lastDash < 0 ? prefix : prefix.slice(lastDash + 1);
  const table: Record<string, string> = {
    n: unit,
    N: unit.slice(0, unit.lastIndexOf(".")),
    p: prefix,
    P: unescapeName(prefix),
    i: instance,
    I: unescapeName(instance),
    j: last,
    J: unescapeName(last),
    "%": "%",
  };
  let out = "";
  for (let k = 0; k < value.length; k++) {
    const c = value.charAt(k);
    if (c !== "%") {
      out += c;
      continue;
    }
    const spec = value.charAt(++k);
    const replacement = table[spec];
    if (replacement === undefined)
      return { error: `specifier '%${spec}' is not supported in [Install] of a generated unit` };
    out += replacement;
  }
  return { value: out };
}

/**
 * The symlinks `systemctl enable <unitName>` would create in a unit directory that holds the unit
 * file, from the unit's [Install] section:
 *   Alias=X       → "X" → "<unit>" (X must be a unit name of the same type, and a template for a
 *                   template; a self-alias is ignored, as in systemd)
 *   WantedBy=T    → "T.wants/<unit>" → "../<unit file>"; RequiredBy= → ".requires/",
 *                   UpheldBy= → ".upholds/" (systemd ≥ 254; systemctl 252 rejects the key and
 *                   PID 1 252 ignores .upholds/ directories, so there the link is inert)
 * A template ("foo@.service") is enabled as "foo@<DefaultInstance>.service" pointing at the
 * template file; without DefaultInstance it gets no wants/requires/upholds links (systemctl
 * does the same). `unitName` may also be an instance of a template file ("foo@bar.service"):
 * its links point at the template. Also= names come back expanded for the caller to enable too.
 * Problems are reported per value in `errors` ("<unit>: …"); the other links are still returned.
 */
export function installSymlinks(
  unitName: string,
  info: InstallInfo,
): { links: InstallLink[]; errors: string[]; also: string[] } {
  const links: InstallLink[] = [];
  const errors: string[] = [];
  const seen = new Set<string>();
  const add = (link: string, target: string): void => {
    if (seen.has(link)) return;
    seen.add(link);
    links.push({ link, target });
  };
  if (!isValidUnitName(unitName)) return { links, errors: [`'${unitName}' is not a valid unit name`], also: [] };
  const type = unitType(unitName);
  /** The file in the output directory: the template for an instance. */
  const file = templateOf(unitName) ?? unitName;
  const expand = (key: string, value: string, context: string): string | undefined => {
    const r = expandSpecifiers(value, context);
    if ("error" in r) {
      errors.push(`${unitName}: ${key}=${value}: ${r.error}, ignoring`);
      return undefined;
    }
    return r.value;
  };

  for (const raw of info.alias) {
    let alias = expand("Alias", raw, unitName);
    if (alias === undefined) continue;
    // An instance aliased to a template name gets its instance (systemd "propagates the instance").
    const instance = instanceOf(unitName);
    if (instance !== undefined && isTemplate(alias)) alias = withInstance(alias, instance) ?? alias;
    if (alias.includes("/")) {
      errors.push(`${unitName}: Alias=${alias} uses the legacy .wants/ form, use WantedBy= instead, ignoring`);
    } else if (!isValidUnitName(alias)) {
      errors.push(`${unitName}: Alias=${alias} is not a valid unit name, ignoring`);
    } else if (unitType(alias) !== type) {
      errors.push(`${unitName}: Alias=${alias} is not of the same unit type as '${unitName}', ignoring`);
    } else if (
      isTemplate(alias) !== isTemplate(unitName) ||
      (instanceOf(alias) !== undefined && instanceOf(alias) !== instanceOf(unitName))
    ) {
      errors.push(
        `${unitName}: Alias=${alias} must be ${isTemplate(unitName) ? "a template" : "a plain unit name"} like '${unitName}', ignoring`,
      );
    } else if (alias !== unitName) {
      add(alias, file);
    }
  }

  // The name the dependency links carry, and the one specifiers see (systemd switches to the
  // default instance before expanding WantedBy= and friends).
  let enabled = unitName;
  if (isTemplate(unitName)) {
    const instance =
      info.defaultInstance === undefined ? undefined : expand("DefaultInstance", info.defaultInstance, unitName);
    const name = instance === undefined || instance === "" ? undefined : withInstance(unitName, instance);
    if (instance !== undefined && instance !== "" && name === undefined)
      errors.push(`${unitName}: DefaultInstance=${instance} is not a valid instance name, ignoring`);
    enabled = name ?? "";
  }
  if (enabled !== "") {
    for (const [key, list, suffix] of [
      ["WantedBy", info.wantedBy, ".wants"],
      ["RequiredBy", info.requiredBy, ".requires"],
      ["UpheldBy", info.upheldBy, ".upholds"],
    ] as const) {
      for (const raw of list) {
        const target = expand(key, raw, enabled);
        if (target === undefined) continue;
        if (!isValidUnitName(target)) {
          errors.push(`${unitName}: ${key}=${target} is not a valid unit name, ignoring`);
          continue;
        }
        add(`${target}${suffix}/${enabled}`, `../${file}`);
      }
    }
  }

  const also: string[] = [];
  for (const raw of info.also) {
    const name = expand("Also", raw, unitName);
    if (name === undefined) continue;
    if (isValidUnitName(name)) also.push(name);
    else errors.push(`${unitName}: Also=${name} is not a valid unit name, ignoring`);
  }
  return { links, errors, also };
}
