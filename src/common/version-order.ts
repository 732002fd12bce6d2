// Version ordering of the UAPI version format specification, as systemd implements it in
// strverscmp_improved() (src/fundamental/string-util-fundamental.c), used to pick the newest
// NAME_VERSION image. Differences from plain strverscmp/dpkg that matter here: '~' sorts before
// everything (1.0~rc1 < 1.0), a '-' segment is older than a '.' one (123-9 < 123.1), numeric
// segments compare by value (1.10 > 1.9), and digits beat letters (1.0 > 1.a).

function isDigit(c: string): boolean {
  return c >= "0" && c <= "9";
}

function isAlpha(c: string): boolean {
  return (c >= "a" && c <= "z") || (c >= "A" && c <= "Z");
}

function isVersionChar(c: string): boolean {
  return isDigit(c) || isAlpha(c) || c === "~" || c === "-" || c === "^" || c === ".";
}

function sign(n: number): number {
  return n < 0 ? -1 : n > 0 ? 1 : 0;
}

/** strcmp() sign of two suffixes; our strings are ASCII-compared code unit by code unit. */
function strcmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * Compares two version strings: negative if a is older, 0 if equivalent, positive if newer (the
 * result is always -1, 0 or 1). Characters other than ASCII letters, digits and "~-^." separate
 * segments and are otherwise ignored; "00123" equals "123".
 */
export function compareVersions(a: string, b: string): number {
  if (a === "" || b === "") return strcmp(a, b);
  let i = 0;
  let j = 0;
  const at = (s: string, k: number): string => s.charAt(k);
  for (;;) {
    while (i < a.length && !isVersionChar(at(a, i))) i++;
    while (j < b.length && !isVersionChar(at(b, j))) j++;

    // '~' (pre-release) is older than anything, even the end of the string.
    if (at(a, i) === "~" || at(b, j) === "~") {
      const r = sign(Number(at(a, i) !== "~") - Number(at(b, j) !== "~"));
      if (r !== 0) return r;
      i++;
      j++;
    }
    // The string with more segments is newer; after the '~' check on purpose.
    if (i >= a.length || j >= b.length) return strcmp(a.slice(i), b.slice(j));

    // '-' separates version and release: 123-9 < 123.1-1. Then '^' (patched) and '.' (point).
    for (const separator of ["-", "^", "."]) {
      if (at(a, i) === separator || at(b, j) === separator) {
        const r = sign(Number(at(a, i) !== separator) - Number(at(b, j) !== separator));
        if (r !== 0) return r;
        i++;
        j++;
      }
    }

    let ii = i;
    let jj = j;
    if (isDigit(at(a, i)) || isDigit(at(b, j))) {
      while (isDigit(at(a, ii))) ii++;
      while (isDigit(at(b, jj))) jj++;
      // A numeric segment is newer than a non-numeric one.
      let r = sign(Number(ii !== i) - Number(jj !== j));
      if (r !== 0) return r;
      while (at(a, i) === "0") i++;
      while (at(b, j) === "0") j++;
      // Without leading zeros, the longer number is larger; equal lengths compare as text.
      r = sign(ii - i - (jj - j));
      if (r !== 0) return r;
      r = strcmp(a.slice(i, ii), b.slice(j, jj));
      if (r !== 0) return r;
    } else {
      while (isAlpha(at(a, ii))) ii++;
      while (isAlpha(at(b, jj))) jj++;
      const n = Math.min(ii - i, jj - j);
      let r = strcmp(a.slice(i, i + n), b.slice(j, j + n));
      if (r !== 0) return r;
      // "abc" < "abcde".
      r = sign(ii - i - (jj - j));
      if (r !== 0) return r;
    }
    i = ii;
    j = jj;
  }
}
