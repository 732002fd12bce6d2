// Golden tests of the built generator: each test/golden/NN-*/input is a root file system slice
// (attach lists, images, host units); the bundle runs on it as systemd would run it, and its
// output tree, status record and log must equal test/golden/NN-*/expected*. UPDATE_GOLDEN=1
// rewrites the expected files (review the diff!); without it the test only compares.
import { spawnSync } from "node:child_process";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { contents, listing, replaceTree, walk } from "./helpers/tree.ts";
import { hostSystemdVersion, verifyTree } from "./helpers/verify.ts";

const GOLDEN = join(import.meta.dirname, "golden");
const GENERATOR = join(import.meta.dirname, "..", "dist", "portable-attach-generator");
const PROFILES = join(import.meta.dirname, "..", "profiles");
const FIXTURES = join(import.meta.dirname, "fixtures", "images");
const update = process.env.UPDATE_GOLDEN === "1";
const scratch = mkdtempSync(join(tmpdir(), "pa-golden-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

export function runGenerator(root: string, out: string, env: Record<string, string> = {}) {
  return spawnSync(process.execPath, [GENERATOR, out, out, out], {
    encoding: "utf8",
    env: {
      PATH: process.env.PATH ?? "",
      PORTABLE_ATTACH_ROOT: root,
      SYSTEMD_ARCHITECTURE: "x86-64",
      SYSTEMD_LOG_LEVEL: "info",
      ...env,
    },
  });
}

/**
 * What a case written for a newer systemd may hold that an older `systemd-analyze verify` refuses:
 * the message, and the version whose portablectl writes it.
 */
const NEWER: [message: string, since: number][] = [
  ["Unknown key 'RootImagePolicy' in section [Service]", 254],
  ["Unknown key 'ExtensionImagePolicy' in section [Service]", 254],
  // File system types in an image policy (root=squashfs:=absent): portablectl pins raw images so from 260 on.
  ["Unknown partition policy flag in image policy", 260],
];
/** The systemd that verifies the trees: this machine's (252 on Debian 12, 257 on Debian 13). */
const VERIFIER = hostSystemdVersion() ?? 0;

const cases = readdirSync(GOLDEN)
  .filter((d) => /^\d\d-/.test(d))
  .sort();

describe("golden generator output", () => {
  it.each(cases)("%s", (name) => {
    const dir = join(GOLDEN, name);
    const root = join(scratch, name, "root");
    const out = join(scratch, name, "out");
    // The input tree plus our shipped profiles where the package installs them.
    cpSync(join(dir, "input"), root, { recursive: true, verbatimSymlinks: true });
    cpSync(PROFILES, join(root, "usr/lib/portable-attach/profile"), { recursive: true });
    // Raw images come from the committed fixtures: "images" lists "PATH-IN-ROOT FIXTURE" lines.
    if (existsSync(join(dir, "images"))) {
      for (const line of readFileSync(join(dir, "images"), "utf8")
        .split("\n")
        .filter((l) => l.trim() !== "")) {
        const [dest, fixture] = line.split(/\s+/) as [string, string];
        mkdirSync(dirname(join(root, dest)), { recursive: true });
        cpSync(join(FIXTURES, fixture), join(root, dest));
      }
    }
    const r = runGenerator(root, out);
    const log = r.stderr;
    expect(r.status, log).toBe(0);
    const status = readFileSync(join(out, ".portable-attach-status.json"), "utf8");
    rmSync(join(out, ".portable-attach-status.json"));

    // Generated files are 0644 and directories 0755 (systemd's generators run with umask 022).
    for (const e of walk(out))
      if (e.type !== "l") expect([e.path, e.mode.toString(8)]).toEqual([e.path, e.type === "d" ? "755" : "644"]);
    // The host's secret never appears in anything we wrote.
    for (const [path, text] of contents(out)) expect(text, path).not.toContain("HOST-SECRET");

    if (update) {
      replaceTree(out, join(dir, "expected"));
      writeFileSync(join(dir, "expected.status.json"), status);
      writeFileSync(join(dir, "expected.log"), log);
    }
    expect(listing(out)).toBe(existsSync(join(dir, "expected")) ? listing(join(dir, "expected")) : "");
    expect(contents(out)).toEqual(contents(join(dir, "expected")));
    expect(status).toBe(readFileSync(join(dir, "expected.status.json"), "utf8"));
    expect(log).toBe(readFileSync(join(dir, "expected.log"), "utf8"));

    // Same input, byte-identical output.
    const again = join(scratch, name, "again");
    runGenerator(root, again);
    rmSync(join(again, ".portable-attach-status.json"));
    expect(listing(again)).toBe(listing(out));
    expect(contents(again)).toEqual(contents(out));

    // This machine's systemd must load every unit we wrote without a word of complaint, but for
    // what a case written for a newer systemd may use that this one does not know yet.
    const systemd = Number(
      /libsystemd-shared-(\d+)/.exec(
        walk(join(dir, "input"))
          .map((e) => e.path)
          .join("\n"),
      )?.[1] ?? 252,
    );
    const excused = NEWER.filter(([, since]) => since <= systemd && since > VERIFIER).map(([message]) => message);
    const problems = verifyTree(root, out).filter((p) => !excused.some((m) => p.includes(m)));
    expect(problems, problems.join("\n")).toEqual([]);
  });
});
