// Golden before/after list files: each test/cli/golden/<case>/ holds a hand-written before.conf
// (comments, odd spacing, unknown keys, CRLF), the CLI arguments (args.json) and the expected
// after.conf, reviewed by eye: only the lines the command is about may differ. A case may carry
// more of the tree (e.g. usr/lib/portable-attach.d/ vendor lists). UPDATE_GOLDEN=1 rewrites
// after.conf (review the diff!).
import { cpSync, existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parseAttachList } from "../../src/config/attach-list.ts";
import { makeTree, readList, runCli, writeList } from "./helpers.ts";

const GOLDEN = join(import.meta.dirname, "golden");
const update = process.env.UPDATE_GOLDEN === "1";
const cases = readdirSync(GOLDEN).sort();

describe("CLI edits of hand-written lists", () => {
  it.each(cases)("%s", (name) => {
    const dir = join(GOLDEN, name);
    const root = makeTree();
    try {
      for (const extra of readdirSync(dir))
        if (!extra.includes(".")) cpSync(join(dir, extra), join(root, extra), { recursive: true });
      const before = readFileSync(join(dir, "before.conf"), "utf8");
      writeList(root, before);
      const args = JSON.parse(readFileSync(join(dir, "args.json"), "utf8")) as string[];
      const r = runCli(root, args);
      expect(r.status, r.stderr).toBe(0);
      expect(r.stderr).toContain("Not reloading: --root given");
      const after = readList(root);
      if (update || !existsSync(join(dir, "after.conf"))) writeFileSync(join(dir, "after.conf"), after);
      expect(after).toBe(readFileSync(join(dir, "after.conf"), "utf8"));
      expect(parseAttachList(after, "x").diagnostics.filter((d) => d.severity === "error")).toEqual([]);
      // Running the same command again changes nothing more (attach/enable/disable are idempotent).
      if (!["detach", "reattach"].includes(args[0] as string)) {
        expect(runCli(root, args).status).toBe(0);
        expect(readList(root)).toBe(after);
      }
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});
