// runPipeline(): the one way from entries to a plan, as the generator and the CLI run it. What the
// golden trees do not show: its options (the late-pass default, a fresh entry) and its typed result.
import { cpSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { parseAttachList } from "../../src/config/attach-list.ts";
import { cacheRecord } from "../../src/io/facts-cache.ts";
import { runPipeline } from "../../src/io/pipeline.ts";
import { VERSION } from "../../src/version.ts";

const REPO = join(import.meta.dirname, "..", "..");
const scratch = mkdtempSync(join(tmpdir(), "pa-pipeline-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

const SERVICE = "[Service]\nExecStart=/usr/bin/true\n";
const LIST = "[foo]\nImage=/var/lib/portables/foo_1\n\n[gone]\nImage=/var/lib/portables/gone_1\n";

let n = 0;
function tree(files: Record<string, string>): string {
  const root = join(scratch, `t${n++}`);
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), text);
  }
  cpSync(join(REPO, "profiles"), join(root, "usr/lib/portable-attach/profile"), { recursive: true });
  return root;
}

function sample(): string {
  return tree({
    "var/lib/portables/foo_1/usr/lib/os-release": "ID=debian\n",
    "var/lib/portables/foo_1/usr/lib/systemd/system/foo.service": SERVICE,
    "usr/lib/systemd/libsystemd-shared-257.so": "",
  });
}

const entries = () => parseAttachList(LIST, "/etc/portable-attach.conf").entries;
const states = (r: ReturnType<typeof runPipeline>) => r.outcomes.map((o) => [o.name, o.state]);

describe("runPipeline", () => {
  it("returns files, outcomes, the facts read and the systemd found; before the late pass a missing image defers", () => {
    const root = sample();
    const r = runPipeline(root, { entries: entries(), masked: [] }, { architecture: "x86-64" });
    expect(states(r)).toEqual([
      ["foo", "attached"],
      ["gone", "deferred"],
    ]);
    expect(r.files.map((f) => f.path)).toContain("foo.service");
    expect(r.facts.get("foo")?.kind).toBe("read");
    expect(r.facts.get("gone")?.kind).toBe("unreachable");
    expect(r.systemd.version).toBe(257);
    expect(r.unchangedImages).toBe(0);
  });

  it("takes the late-pass stamp from inside the root, through an absolute link in it", () => {
    const root = sample();
    // A string join would follow /run to the build host's /inner-run, where there is no stamp.
    mkdirSync(join(root, "inner-run/portable-attach"), { recursive: true });
    writeFileSync(join(root, "inner-run/portable-attach/late-pass-done"), "");
    symlinkSync("/inner-run", join(root, "run"));
    const r = runPipeline(root, { entries: entries(), masked: [] }, { architecture: "x86-64" });
    expect(states(r)).toEqual([
      ["foo", "attached"],
      ["gone", "failed"],
    ]);
  });

  it("attaches an unreachable image from the facts cache, except for the entry read fresh", () => {
    const root = sample();
    const gone = entries()[1] as Parameters<typeof cacheRecord>[0];
    const facts = {
      path: "/var/lib/portables/gone_1",
      type: "directory" as const,
      releaseText: "ID=debian\n",
      units: [{ name: "gone.service", content: new TextEncoder().encode(SERVICE) }],
      warnings: [],
    };
    mkdirSync(join(root, "etc/portable-attach/cache"), { recursive: true });
    writeFileSync(
      join(root, "etc/portable-attach/cache/gone.json"),
      cacheRecord(gone, { version: VERSION, architecture: "x86-64", matches: ["gone"] }, [
        { facts, identity: undefined },
      ]),
    );
    const list = { entries: entries(), masked: [] };
    expect(states(runPipeline(root, list, { architecture: "x86-64" }))).toEqual([
      ["foo", "attached"],
      ["gone", "attached"],
    ]);
    const fresh = runPipeline(root, list, { architecture: "x86-64", fresh: "gone" });
    expect(states(fresh)).toEqual([
      ["foo", "attached"],
      ["gone", "deferred"],
    ]);
  });
});
