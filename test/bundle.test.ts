// Smoke tests of the built artifacts themselves: what ships is one file per program that needs
// nothing but Node, and the generator behaves as systemd.generator(7) asks when run as a program.
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";

const DIST = join(import.meta.dirname, "..", "dist");
const GENERATOR = join(DIST, "portable-attach-generator");
const scratch = mkdtempSync(join(tmpdir(), "pa-bundle-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

function run(args: string[], env: Record<string, string>) {
  return spawnSync(process.execPath, [GENERATOR, ...args], { encoding: "utf8", env: { PATH: process.env.PATH ?? "", ...env } });
}

describe("the generator bundle", () => {
  const text = readFileSync(GENERATOR, "utf8");

  it("is one executable file with a #! line", () => {
    expect(text.startsWith("#!/usr/bin/env node\n")).toBe(true);
    expect((spawnSync("test", ["-x", GENERATOR]).status)).toBe(0);
  });

  it("requires nothing but node: built-ins", () => {
    const required = [...text.matchAll(/require\(\s*["'`]([^"'`]+)["'`]\s*\)/g)].map((m) => m[1]);
    expect(required.length).toBeGreaterThan(0);
    expect(required.filter((r) => !r?.startsWith("node:"))).toEqual([]);
    expect(text).not.toMatch(/\bimport\s*\(/);
  });

  it("refuses a wrong number of output directories", () => {
    const r = run(["a", "b"], {});
    expect(r.status).toBe(1);
    expect(r.stderr).toContain("one or three arguments");
  });

  it("does nothing in user scope and in the initrd", () => {
    for (const env of [{ SYSTEMD_SCOPE: "user" }, { SYSTEMD_IN_INITRD: "1" }]) {
      const out = mkdtempSync(join(scratch, "out-"));
      expect(run([out], { PORTABLE_ATTACH_ROOT: "/nonexistent", ...env }).status).toBe(0);
      expect(readdirSync(out)).toEqual([]);
    }
  });

  it("runs with one directory, honours SYSTEMD_LOG_LEVEL, and logs each entry's problem with its file and line", () => {
    const root = join(scratch, "root");
    mkdirSync(join(root, "etc"), { recursive: true });
    writeFileSync(join(root, "etc/portable-attach.conf"), "[gone]\nImage=/var/lib/portables/gone_1\n");
    mkdirSync(join(root, "run/portable-attach"), { recursive: true });
    writeFileSync(join(root, "run/portable-attach/late-pass-done"), "");
    const out = mkdtempSync(join(scratch, "out-"));
    const r = run([out], { PORTABLE_ATTACH_ROOT: root, SYSTEMD_LOG_LEVEL: "info" });
    expect(r.status).toBe(0);
    expect(r.stderr).toBe("[gone] /etc/portable-attach.conf:1: Image '/var/lib/portables/gone_1' does not exist, ignoring\n");
    const status = JSON.parse(readFileSync(join(out, ".portable-attach-status.json"), "utf8"));
    expect(status.entries).toEqual([expect.objectContaining({ name: "gone", state: "failed" })]);
    const quiet = run([mkdtempSync(join(scratch, "out-"))], { PORTABLE_ATTACH_ROOT: root, SYSTEMD_LOG_LEVEL: "crit" });
    expect(quiet.stderr).toBe("");
  });

  it("exits 1 when the output directory cannot be written", () => {
    const root = join(scratch, "root2");
    mkdirSync(join(root, "etc"), { recursive: true });
    writeFileSync(join(root, "etc/portable-attach.conf"), "");
    writeFileSync(join(scratch, "a-file"), "");
    const r = run([join(scratch, "a-file/out")], { PORTABLE_ATTACH_ROOT: root });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain("Failed to write to");
  });
});
