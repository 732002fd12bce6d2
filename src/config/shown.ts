// Values from a list file quoted in messages: a control character or a megabyte-long line written
// by someone else must not reach a terminal or the journal as is.

/** A value as it may appear in a message: control characters escaped, at most 200 characters. */
export function shown(value: string): string {
  const cut = value.length > 200 ? `${value.slice(0, 200)}…` : value;
  return cut.replace(/[\x00-\x1f\x7f\u2028\u2029]/g, (c) =>
    c.charCodeAt(0) > 0xff
      ? `\\u${c.charCodeAt(0).toString(16)}`
      : `\\x${c.charCodeAt(0).toString(16).padStart(2, "0")}`,
  );
}
