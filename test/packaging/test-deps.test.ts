// npm test first makes sure of the system tools the tests run (scripts/test-deps.mjs): every
// command a test spawns must be one it knows, or part of Debian's essential set, so that no test
// meets ENOENT on a machine where npm test has run.
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
// @ts-expect-error: a plain ES module without types
import { have, TOOLS } from "../../scripts/test-deps.mjs";

const REPO = join(import.meta.dirname, "..", "..");
// Essential: yes in Debian 12 (coreutils, dpkg, bash, dash, tar, gzip, grep, sed, findutils,
// diffutils, util-linux…): there on every Debian system.
const ESSENTIAL = new Set([
  "sh",
  "bash",
  "cat",
  "chmod",
  "chown",
  "cp",
  "dd",
  "diff",
  "env",
  "head",
  "ls",
  "mkdir",
  "mkfifo",
  "mknod",
  "mv",
  "od",
  "rm",
  "sort",
  "tail",
  "tar",
  "test",
  "touch",
  "truncate",
  "xargs",
  "gzip",
  "dpkg-deb",
  "dpkg",
  "find",
  "grep",
  "sed",
  "stat",
  "sync",
  "true",
  "false",
  "mktemp",
  "ln",
  "readlink",
  "id",
  "kill",
  "sleep",
  "timeout",
  "apt-get",
  "mkswap",
]);

function files(dir: string, out: string[] = []): string[] {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const n = e.name;
    const p = join(dir, n);
    if (n === "fixtures" || n === "golden" || n === "e2e") continue;
    if (e.isDirectory()) files(p, out);
    else if (/\.(ts|mjs)$/.test(n)) out.push(p);
  }
  return out;
}

describe("scripts/test-deps.mjs", () => {
  const known = new Set<string>(Object.values(TOOLS as Record<string, string[]>).flat());
  const spawned = new Map<string, string>();
  for (const f of files(join(REPO, "test"))) {
    for (const m of readFileSync(f, "utf8").matchAll(
      /\b(?:spawnSync|execFileSync|spawn|execFile|tool|run)\(\s*"([a-z][a-z0-9._-]*)",\s*[[a-z]/g,
    )) {
      if (!spawned.has(m[1] as string)) spawned.set(m[1] as string, f.slice(REPO.length + 1));
    }
  }

  it("knows every command the tests spawn (or it is in Debian's essential set)", () => {
    expect(spawned.size).toBeGreaterThan(10);
    const unknown = [...spawned]
      .filter(([cmd]) => !known.has(cmd) && !ESSENTIAL.has(cmd))
      .map(([cmd, f]) => `${cmd} (${f})`);
    expect(unknown).toEqual([]);
  });

  it("finds every one of them here (npm test ran it first)", () => {
    expect([...known].filter((c) => !have(c))).toEqual([]);
  });
});
