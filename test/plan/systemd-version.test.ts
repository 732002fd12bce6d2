// Which systemd a tree has, from the libsystemd-shared-NNN.so it installs (the --root and
// PORTABLE_ATTACH_ROOT rule), and what happens when nothing says.
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { readHostFacts } from "../../src/io/host.ts";
import { detectSystemd } from "../../src/io/systemd-version.ts";

const scratch = mkdtempSync(join(tmpdir(), "pa-systemd-version-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));
let n = 0;
function tree(files: string[]): string {
  const root = join(scratch, String(n++));
  for (const f of files) {
    mkdirSync(join(root, f, ".."), { recursive: true });
    writeFileSync(join(root, f), "");
  }
  return root;
}

describe("detectSystemd under a root", () => {
  it("reads the version from Debian's multiarch directory", () => {
    const d = detectSystemd(tree(["usr/lib/x86_64-linux-gnu/systemd/libsystemd-shared-257.so"]));
    expect([d.version, d.source, d.behaviour.since]).toEqual([
      257,
      "/usr/lib/x86_64-linux-gnu/systemd/libsystemd-shared-257.so",
      255,
    ]);
  });
  it("reads upstream's /usr/lib/systemd and a distribution's tag after the number", () => {
    expect(detectSystemd(tree(["usr/lib/systemd/libsystemd-shared-252.so"])).version).toBe(252);
    expect(detectSystemd(tree(["usr/lib64/systemd/libsystemd-shared-258.3-1.fc43.so"])).version).toBe(258);
  });
  it("takes the highest of several", () => {
    expect(
      detectSystemd(tree(["usr/lib/systemd/libsystemd-shared-254.so", "usr/lib/systemd/libsystemd-shared-262.so"]))
        .version,
    ).toBe(262);
  });
  it("ignores other files", () => {
    expect(
      detectSystemd(tree(["usr/lib/systemd/libsystemd-core-262.so", "usr/lib/systemd/libsystemd-shared.so.bak"]))
        .version,
    ).toBeUndefined();
  });
  it("with nothing to go by, writes as the newest systemd we know (no os-release bind)", () => {
    const d = detectSystemd(tree(["etc/os-release"]));
    expect(d.version).toBeUndefined();
    expect(d.behaviour.bindHostOsRelease).toBe(false);
    expect(d.behaviour.extensionsOnEveryService).toBe(true);
  });
  it("flows into the host facts plan() gets", () => {
    expect(readHostFacts(tree(["usr/lib/systemd/libsystemd-shared-252.so"]), "x86-64").portable.bindHostOsRelease).toBe(
      true,
    );
    expect(readHostFacts(tree(["usr/lib/systemd/libsystemd-shared-257.so"]), "x86-64").portable.bindHostOsRelease).toBe(
      false,
    );
  });
});

describe("detectSystemd confined to the tree", () => {
  it("a library directory linked out of the tree is read inside it", () => {
    const root = tree(["usr/lib/systemd/libsystemd-shared-257.so"]);
    const outside = tree(["systemd/libsystemd-shared-262.so"]);
    symlinkSync(outside, join(root, "usr/lib64"));
    expect(detectSystemd(root).version).toBe(257);
  });
});
