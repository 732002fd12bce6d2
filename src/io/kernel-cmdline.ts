// The kernel command line, as systemd's proc_cmdline() reads it: $SYSTEMD_PROC_CMDLINE if set (for
// tests), in a container PID 1's arguments (there /proc/cmdline is the host's), else /proc/cmdline.
// Under a root prefix only the root's own proc/cmdline counts, so a test or image build never sees
// the build host's switches.
import { existsSync, readFileSync } from "node:fs";
import { hostPath } from "./root-path.ts";

export function readKernelCommandLine(root: string, env: NodeJS.ProcessEnv): string[] {
  const given = env.SYSTEMD_PROC_CMDLINE;
  if (given !== undefined) return splitWords(given);
  try {
    if (root === "" && existsSync("/run/systemd/container"))
      return readFileSync("/proc/1/cmdline", "utf8")
        .split("\0")
        .filter((w) => w !== "");
    return splitWords(readFileSync(hostPath(root, "/proc/cmdline"), "utf8"));
  } catch {
    return [];
  }
}

/** Words split at whitespace; "…" quotes, as the kernel and systemd read them. */
function splitWords(line: string): string[] {
  const words: string[] = [];
  for (const m of line.matchAll(/(?:[^\s"]+|"[^"]*"?)+/g)) words.push(m[0].replace(/"/g, ""));
  return words;
}

/** systemd's parse_boolean(). */
export function parseBoolean(value: string): boolean | undefined {
  const v = value.toLowerCase();
  if (["1", "yes", "y", "true", "t", "on"].includes(v)) return true;
  if (["0", "no", "n", "false", "f", "off"].includes(v)) return false;
  return undefined;
}

/**
 * The last `key` or `key=BOOL` on the command line (a bare key is true), with '-' and '_' alike in
 * the key as systemd has them; undefined if absent. `bad` collects values that are no boolean.
 */
export function commandLineSwitch(words: readonly string[], key: string, bad: string[] = []): boolean | undefined {
  const norm = (k: string): string => k.replace(/-/g, "_");
  const want = norm(key);
  let result: boolean | undefined;
  for (const word of words) {
    const eq = word.indexOf("=");
    if (norm(eq < 0 ? word : word.slice(0, eq)) !== want) continue;
    if (eq < 0) {
      result = true;
      continue;
    }
    const value = parseBoolean(word.slice(eq + 1));
    if (value === undefined) bad.push(word);
    else result = value;
  }
  return result;
}
