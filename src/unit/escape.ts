// Escaping values for unit files. portablectl writes every value raw, so a path with
// '%', ' ' or ':' silently means something else; we escape per setting instead, and refuse what
// cannot be expressed. Which escaper fits which setting follows how systemd 252 parses it
// (src/core/load-fragment.c; proven by test/unit/escape.test.ts against systemd's own parser):
//
//   RootImage=, RootDirectory=, SourcePath=      raw path, then specifiers  → escapeSpecifiers
//   Environment=, LogExtraFields=,               words: unquote + C-unescape,
//     ExtensionDirectories=                      then specifiers            → quoteWord
//   ExtensionImages=                             words: unquote keeping '\', then split at ':'
//                                                with C-unescape            → escapeExtensionImage
//   the marker comment of 20-portable.conf       portabled's xescape(":")   → escapeMarkerPath

/** PATH_MAX including the terminating NUL. */
const PATH_MAX = 4096;

const encoder = new TextEncoder();

function hex(byte: number): string {
  return "\\x" + byte.toString(16).padStart(2, "0");
}

/** For messages: control characters as "\xNN", so a refused path prints on one line. */
function showControl(path: string): string {
  return path.replace(/[\x00-\x1f\x7f]/g, (c) => hex(c.charCodeAt(0)));
}

/** '%' → '%%': a literal value in any setting that expands specifiers. */
export function escapeSpecifiers(s: string): string {
  return s.includes("%") ? s.replaceAll("%", "%%") : s;
}

/** Inverse of escapeSpecifiers for text that came from it ("%%" → "%"). */
export function unescapeSpecifiers(s: string): string {
  return s.replaceAll("%%", "%");
}

/**
 * The path escaping of portabled's marker line: '\', ':', control characters and every
 * UTF-8 byte ≥ 0x7f become lowercase "\xNN", the rest stays. ':' separates root and extensions.
 */
const MARKER_SPECIAL = /[^\x20-\x39\x3b-\x5b\x5d-\x7e]/;

export function escapeMarkerPath(path: string): string {
  if (!MARKER_SPECIAL.test(path)) return path;
  let out = "";
  for (const byte of encoder.encode(path)) {
    out += byte < 0x20 || byte >= 0x7f || byte === 0x5c || byte === 0x3a ? hex(byte) : String.fromCharCode(byte);
  }
  return out;
}

/** Inverse of escapeMarkerPath; other backslash sequences are kept as they are (as portabled does). */
export function unescapeMarkerPath(escaped: string): string {
  const bytes: number[] = [];
  for (let i = 0; i < escaped.length; i++) {
    const match = /^\\x([0-9a-fA-F]{2})/.exec(escaped.slice(i, i + 4));
    if (match) {
      bytes.push(Number.parseInt(match[1] as string, 16));
      i += 3;
    } else {
      bytes.push(...encoder.encode(escaped.charAt(i)));
    }
  }
  return new TextDecoder().decode(new Uint8Array(bytes));
}

/** Characters that need neither quoting nor escaping in a word of a list setting. */
const SAFE_WORD = /^[A-Za-z0-9_.,:=@+/%-]+$/;

const C_ESCAPES: Record<string, string> = { "\\": "\\\\", '"': '\\"', "\n": "\\n", "\t": "\\t", "\r": "\\r" };

/**
 * One word of a whitespace-separated list setting (Environment=, LogExtraFields=,
 * ExtensionDirectories=): specifiers escaped; left bare if it has only safe characters, else put
 * in double quotes with '\', '"' and control characters C-escaped. NUL cannot be expressed at all
 * and throws. Not for ExtensionImages= (':' separates options there): use escapeExtensionImage.
 * ExtensionDirectories= does not C-unescape, so give it only paths that pass checkPath.
 */
export function quoteWord(word: string): string {
  if (word.includes("\0")) throw new RangeError("A NUL byte cannot be written into a unit file");
  const escaped = escapeSpecifiers(word);
  if (SAFE_WORD.test(escaped)) return escaped;
  let out = '"';
  for (const ch of escaped) {
    const code = ch.charCodeAt(0);
    out += C_ESCAPES[ch] ?? (code < 0x20 || code === 0x7f ? hex(code) : ch);
  }
  return out + '"';
}

/**
 * One entry of ExtensionImages=, "PATH[:OPTIONS]". systemd 252 first splits words keeping
 * backslashes (so quotes cannot carry a '"'), then splits PATH from OPTIONS at ':' with C escapes.
 * An unquoted word survives both passes if '\' → "\\", ':' → "\:" and whitespace, quotes and
 * control characters become "\xNN". `options` (e.g. "x-systemd.relax-extension-release-check")
 * is appended as is after a ':'.
 */
export function escapeExtensionImage(path: string, options?: string): string {
  if (path.includes("\0")) throw new RangeError("A NUL byte cannot be written into a unit file");
  let out = "";
  for (const ch of escapeSpecifiers(path)) {
    const code = ch.charCodeAt(0);
    if (ch === "\\") out += "\\\\";
    else if (ch === ":") out += "\\:";
    else if (code <= 0x20 || code === 0x7f || ch === '"' || ch === "'") out += hex(code);
    else out += ch;
  }
  return options === undefined ? out : `${out}:${options}`;
}

/**
 * Why `path` cannot be written into a unit file as an absolute image path, or undefined if it
 * can. We refuse rather than write something systemd would read differently: non-absolute or
 * non-normalised paths (systemd simplifies or rejects them, and they would no longer match the
 * image we read), control characters (a newline would end the setting), invalid UTF-8 (systemd
 * refuses such lines), over-long paths, and trailing whitespace or backslash (the parser strips
 * the former and takes the latter as a line continuation).
 */
export function checkPath(path: string): string | undefined {
  if (!path.startsWith("/")) return `path '${path}' is not absolute`;
  if (/[\x00-\x1f\x7f]/.test(path)) return `path '${showControl(path)}' contains control characters`;
  if (path.includes("\uFFFD") || /[\uD800-\uDFFF]/u.test(path)) return `path '${path}' is not valid UTF-8`;
  if (
    path !== "/" &&
    (path.endsWith("/") || path.includes("//") || (path.includes("/.") && /\/\.\.?(\/|$)/.test(path)))
  )
    return `path '${path}' is not normalized`;
  // A UTF-16 code unit is at most 3 bytes of UTF-8: only a long path needs counting.
  if (path.length * 3 >= PATH_MAX && encoder.encode(path).length >= PATH_MAX)
    return `path '${path.slice(0, 64)}…' is longer than PATH_MAX`;
  if (path.endsWith(" ")) return `path '${path}' ends in whitespace`;
  if (path.endsWith("\\")) return `path '${path}' ends in a backslash`;
  return undefined;
}
