// Unit names the way systemd sees them (src/basic/unit-name.c, src/basic/path-util.c), plus the two
// image-name rules portablectl derives from an image path: the implicit unit prefix and
// the image base name used for marker comparison and extension-release lookup.
// Everything here is string logic; nothing touches the file system.

/** systemd's UNIT_NAME_MAX is 256 including the NUL, so a name has at most 255 bytes. */
const UNIT_NAME_MAX = 256;

/** VALID_CHARS of unit-name.c: what may appear before the suffix (escapes use "\x2d" etc.). */
const UNIT_NAME_CHARS = /^[A-Za-z0-9:\-_.\\@]*$/;

/** Every unit type of systemd ≥ 252 (unit_type_table). */
const UNIT_TYPES = new Set([
  "service",
  "mount",
  "swap",
  "socket",
  "target",
  "device",
  "automount",
  "timer",
  "path",
  "slice",
  "scope",
]);

/** What portabled copies out of an image. */
const PORTABLE_UNIT_TYPES = new Set(["service", "socket", "target", "timer", "path"]);

interface Parsed {
  /** Text before '@' (or before the suffix for plain names). */
  prefix: string;
  /** undefined for plain names, "" for templates. */
  instance: string | undefined;
  type: string;
}

/** Names already parsed: a unit's name is asked about many times (type, template, instance…). */
const parsedNames = new Map<string, Parsed | null>();

function parse(name: string): Parsed | undefined {
  let p = parsedNames.get(name);
  if (p === undefined) {
    p = parseName(name) ?? null;
    parsedNames.set(name, p);
  }
  return p ?? undefined;
}

function parseName(name: string): Parsed | undefined {
  // A UTF-16 code unit is at most 3 bytes of UTF-8: only a name of more than 85 can be too long.
  if (name === "" || (name.length > 85 && Buffer.byteLength(name) >= UNIT_NAME_MAX)) return undefined;
  const dot = name.lastIndexOf(".");
  if (dot <= 0) return undefined;
  const type = name.slice(dot + 1);
  if (!UNIT_TYPES.has(type)) return undefined;
  const stem = name.slice(0, dot);
  if (!UNIT_NAME_CHARS.test(stem)) return undefined;
  const at = stem.indexOf("@");
  if (at === 0) return undefined;
  if (at < 0) return { prefix: stem, instance: undefined, type };
  // Further '@' belong to the instance, as in systemd (foo@a@b.service has instance "a@b").
  return { prefix: stem.slice(0, at), instance: stem.slice(at + 1), type };
}

/** unit_name_is_valid(name, PLAIN|INSTANCE|TEMPLATE). */
export function isValidUnitName(name: string): boolean {
  return parse(name) !== undefined;
}

/** The unit type ("service", "socket" …) of a valid unit name, else undefined. */
export function unitType(name: string): string | undefined {
  return parse(name)?.type;
}

/** True for the five types portablectl attaches: service, socket, target, timer, path. */
export function isPortableUnitType(name: string): boolean {
  const type = unitType(name);
  return type !== undefined && PORTABLE_UNIT_TYPES.has(type);
}

/** True for "foo@.service". */
export function isTemplate(name: string): boolean {
  return parse(name)?.instance === "";
}

/** "foo@bar.service" → "foo@.service"; undefined for plain names, templates and invalid names. */
export function templateOf(name: string): string | undefined {
  const p = parse(name);
  if (p === undefined || p.instance === undefined || p.instance === "") return undefined;
  return `${p.prefix}@.${p.type}`;
}

/** "foo@bar.service" → "bar"; undefined for plain names, templates and invalid names. */
export function instanceOf(name: string): string | undefined {
  const p = parse(name);
  return p?.instance === "" ? undefined : p?.instance;
}

/** The unit prefix, systemd's %p: "foo@bar.service" → "foo", "foo.service" → "foo". */
export function prefixOf(name: string): string | undefined {
  return parse(name)?.prefix;
}

/** "foo@.service" + "bar" → "foo@bar.service" (unit_name_replace_instance); undefined if invalid. */
export function withInstance(template: string, instance: string): string | undefined {
  const p = parse(template);
  if (p === undefined || p.instance === undefined) return undefined;
  const result = `${p.prefix}@${instance}.${p.type}`;
  return isValidUnitName(result) ? result : undefined;
}

/**
 * systemd's hidden_or_backup_file(): names every directory enumeration in systemd skips, so a
 * "foo.service.dpkg-old" or ".#foo.service" in an image is never mistaken for a unit.
 */
export function isHiddenOrBackup(fileName: string): boolean {
  if (fileName.startsWith(".") || fileName.endsWith("~")) return true;
  if (fileName === "lost+found" || fileName === "aquota.user" || fileName === "aquota.group") return true;
  const dot = fileName.lastIndexOf(".");
  if (dot < 0) return false;
  return BACKUP_SUFFIXES.has(fileName.slice(dot + 1));
}

const BACKUP_SUFFIXES = new Set([
  "rpmnew",
  "rpmsave",
  "rpmorig",
  "dpkg-old",
  "dpkg-new",
  "dpkg-tmp",
  "dpkg-dist",
  "dpkg-bak",
  "dpkg-backup",
  "dpkg-remove",
  "ucf-new",
  "ucf-old",
  "ucf-dist",
  "swp",
  "bak",
  "old",
  "new",
]);

/**
 * Portabled's match rule: an empty list matches everything; otherwise the unit
 * name must start with a prefix that is followed by '-', '.', '@' or the end. Purely textual:
 * "app" matches "app-x.service" but not "app0.service".
 */
export function matchesPrefixes(unitName: string, prefixes: readonly string[]): boolean {
  if (prefixes.length === 0) return true;
  for (const prefix of prefixes) {
    if (!unitName.startsWith(prefix)) continue;
    const next = unitName.charAt(prefix.length);
    if (next === "" || next === "-" || next === "." || next === "@") return true;
  }
  return false;
}

/**
 * The last path component, as path_extract_filename() returns it: trailing slashes are ignored
 * ("app1.v/" → "app1.v"); `directory` says whether there was one (then the path must be a dir).
 */
export function lastComponent(path: string): { name: string; directory: boolean } {
  const trimmed = path.endsWith("/") ? path.replace(/\/+$/, "") : path;
  return { name: trimmed.slice(trimmed.lastIndexOf("/") + 1), directory: trimmed.length !== path.length };
}

/** Valid single file name: not empty, ".", ".."; no "/" or NUL; at most 255 bytes. */
function isValidFileName(name: string): boolean {
  if (name === "" || name === "." || name === ".." || name.includes("/") || name.includes("\0")) return false;
  // A UTF-16 code unit is at most 3 bytes of UTF-8.
  return name.length <= 85 || Buffer.byteLength(name) <= 255;
}

/**
 * portablectl's implicit match prefix: the last component of the image argument as
 * typed, cut at the first '_', else with one of ".raw.v", ".raw", ".v" stripped. undefined when
 * the result is empty or has characters outside [A-Za-z0-9.-] (portablectl: "Failed to extract
 * prefix of image name").
 */
export function prefixFromImage(imageArgument: string): string | undefined {
  const { name } = lastComponent(imageArgument);
  const underscore = name.indexOf("_");
  let prefix: string;
  if (underscore >= 0) {
    prefix = name.slice(0, underscore);
  } else {
    const cut = name.endsWith(".raw.v") ? 6 : name.endsWith(".raw") ? 4 : name.endsWith(".v") ? 2 : 0;
    prefix = cut === 0 ? name : name.slice(0, -cut);
  }
  if (!/^[A-Za-z0-9.-]*$/.test(prefix) || !isValidFileName(prefix)) return undefined;
  return prefix;
}

/**
 * path_extract_image_name(): last component; unless the path ends in '/', strip
 * ".sysext.raw", ".confext.raw" or ".raw"; then cut at the first '_' or '+'. Used to compare
 * markers and to find "extension-release.<base name>". May return "" (e.g. for "_1.raw"), which
 * matches nothing real; callers need no special case.
 */
export function imageBaseName(path: string): string {
  const { name, directory } = lastComponent(path);
  let base = name;
  if (!directory) {
    const suffix = [".sysext.raw", ".confext.raw", ".raw"].find((s) => base.endsWith(s));
    if (suffix !== undefined) base = base.slice(0, -suffix.length);
  }
  const cut = base.search(/[_+]/);
  return cut < 0 ? base : base.slice(0, cut);
}
