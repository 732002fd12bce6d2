// The two ends of a plan on a real file system: the host facts it is made from (readHostFacts)
// and the output directory it is written to (applyPlan).
import {
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { applyPlan } from "../../src/io/apply.ts";
import { readHostFacts } from "../../src/io/host.ts";
import type { OutputFile } from "../../src/plan/types.ts";

const scratch = mkdtempSync(join(tmpdir(), "pa-host-apply-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));
let n = 0;
function tree(files: Record<string, string>, links: Record<string, string> = {}): string {
  const root = join(scratch, `t${n++}`);
  mkdirSync(root);
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), text);
  }
  for (const [path, target] of Object.entries(links)) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    symlinkSync(target, join(root, path));
  }
  return root;
}

describe("readHostFacts", () => {
  it("collects unit names from every unit directory there is, missing ones included", () => {
    const root = tree({
      "etc/systemd/system/a.service": "",
      "usr/lib/systemd/system/b.service": "",
      "lib/systemd/system/c.service": "",
      "run/systemd/transient/d.scope": "",
    });
    expect([...readHostFacts(root, "x86-64").unitNames].sort()).toEqual([
      "a.service",
      "b.service",
      "c.service",
      "d.scope",
    ]);
  });

  it("reads /lib/systemd/system through a merged-/usr link once, with the same result", () => {
    const root = tree({ "usr/lib/systemd/system/b.service": "" }, { lib: "usr/lib" });
    expect([...readHostFacts(root, "x86-64").unitNames]).toEqual(["b.service"]);
  });

  it("under a root, follows an absolute /lib link inside the root, never out of it", () => {
    const root = tree(
      { "usr/lib/systemd/system/b.service": "", "opt/lib/systemd/system/c.service": "" },
      { lib: "/opt/lib" },
    );
    expect([...readHostFacts(root, "x86-64").unitNames].sort()).toEqual(["b.service", "c.service"]);
    const elsewhere = tree({ "systemd/system/outside.service": "" });
    const escaping = tree(
      { "usr/lib/systemd/system/b.service": "" },
      { lib: elsewhere, "etc/systemd/system": `../../../../../../..${elsewhere}/systemd/system` },
    );
    expect([...readHostFacts(escaping, "x86-64").unitNames].sort()).toEqual(["b.service"]);
  });

  it("under a root, reads /etc/os-release and the confext link inside it, an absolute link too", () => {
    // The build host's /usr/lib/os-release exists: a string join would follow the link there.
    const root = tree(
      { "usr/lib/systemd/system/systemd-confext.service": "" },
      {
        "etc/os-release": "/usr/lib/os-release",
        "etc/systemd/system": "/usr/lib/systemd/system",
        "usr/lib/systemd/system/sysinit.target.wants/systemd-confext.service": "../systemd-confext.service",
      },
    );
    const host = readHostFacts(root, "x86-64");
    expect(host.osReleasePath).toBe("/usr/lib/os-release");
    expect(host.confextEnabled).toBe(true);
    writeFileSync(join(root, "usr/lib/os-release"), "ID=test\n");
    expect(readHostFacts(root, "x86-64").osReleasePath).toBe("/etc/os-release");
    const outside = tree({ "sysinit.target.wants/systemd-confext.service": "" });
    const escaping = tree({}, { "run/systemd/system": outside });
    expect(readHostFacts(escaping, "x86-64").confextEnabled).toBe(false);
  });

  it("finds a profile in the first directory that has it, without following a final symlink, and remembers a miss", () => {
    const root = tree(
      { "usr/lib/portable-attach/profile/default/service.conf": "" },
      { "etc/systemd/portable/profile/strict/service.conf": "/nonexistent" },
    );
    const host = readHostFacts(root, "x86-64");
    expect(host.profileFile("default", "service")).toBe("/usr/lib/portable-attach/profile/default/service.conf");
    expect(host.profileFile("strict", "service")).toBe("/etc/systemd/portable/profile/strict/service.conf");
    expect(host.profileFile("nonetwork", "service")).toBeUndefined();
    mkdirSync(join(root, "etc/systemd/portable/profile/nonetwork"), { recursive: true });
    writeFileSync(join(root, "etc/systemd/portable/profile/nonetwork/service.conf"), "");
    expect(host.profileFile("nonetwork", "service")).toBeUndefined(); // read once per run
  });
});

describe("applyPlan", () => {
  const big = "[Service]\n" + "# padding\n".repeat(1000) + "ExecStart=/x\n";
  const files: OutputFile[] = [
    { path: "a.service", kind: "file", content: "[Service]\nExecStart=/a\n" },
    {
      path: "a.service.d/10-profile.conf",
      kind: "symlink",
      target: "/usr/lib/portable-attach/profile/default/service.conf",
    },
    { path: "a.service.d/20-portable.conf", kind: "file", content: "# Drop-in\n" },
    { path: "big.service", kind: "file", content: new TextEncoder().encode(big) },
    { path: "multi-user.target.wants/a.service", kind: "symlink", target: "../a.service" },
  ];

  it("writes every file and link, small and large, and leaves no temporary file", () => {
    const out = join(scratch, "out1");
    mkdirSync(out);
    applyPlan(out, files);
    expect(readFileSync(join(out, "a.service"), "utf8")).toBe("[Service]\nExecStart=/a\n");
    expect(readFileSync(join(out, "a.service.d/20-portable.conf"), "utf8")).toBe("# Drop-in\n");
    expect(readFileSync(join(out, "big.service"), "utf8")).toBe(big);
    expect(readlinkSync(join(out, "a.service.d/10-profile.conf"))).toBe(
      "/usr/lib/portable-attach/profile/default/service.conf",
    );
    expect(readlinkSync(join(out, "multi-user.target.wants/a.service"))).toBe("../a.service");
    expect(readdirSync(out).sort()).toEqual(["a.service", "a.service.d", "big.service", "multi-user.target.wants"]);
    expect(lstatSync(join(out, "a.service")).mode & 0o777).toBe(0o644 & ~process.umask());
  });

  it("never replaces a file that is already there, and leaves it as it was", () => {
    const out = join(scratch, "out2");
    mkdirSync(join(out, "a.service.d"), { recursive: true });
    writeFileSync(join(out, "a.service.d/20-portable.conf"), "someone else's\n");
    expect(() => applyPlan(out, files)).toThrow(/EEXIST/);
    expect(readFileSync(join(out, "a.service.d/20-portable.conf"), "utf8")).toBe("someone else's\n");
    // Drop-ins go first: no unit file was written before the failure.
    expect(existsSync(join(out, "a.service"))).toBe(false);
  });
});
