// The README's "Quick start on a real machine", word for word, as a new user would follow it.
// The commands are read from the documentation itself (README.md, else docs/install.md): every
// ```sh block of that section, in order. The lines before the first `sudo` build the package: they
// run here, in a copy of the source tree (tracked and new files, no node_modules, no dist). The
// rest runs as root on a real machine: Debian bookworm with systemd 252 as PID 1 in systemd-nspawn
// (the end-to-end suite's rootfs and boot, test/e2e/lib), with the built tree at the same relative
// place. `sudo` there is a function that runs its arguments (the guest is root). The quick start
// asks for Node.js 18 or newer: Debian's nodejs is installed first, from .debs fetched on the host.
//
// Needs root, systemd-nspawn, and mmdebstrap or a cached rootfs; skipped otherwise (with the reason).
import { spawnSync } from "node:child_process";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { skipName } from "../helpers/skip-reporter.ts";

const REPO = join(import.meta.dirname, "..", "..");
const E2E = join(REPO, "test/e2e");
const HEADING = /^##+ Quick start on a real machine\s*$/m;

/** The quick start's shell lines, from the first document that has the section. */
export function quickStart(): { file: string; lines: string[] } {
  for (const file of ["README.md", "docs/install.md"]) {
    const text = readFileSync(join(REPO, file), "utf8");
    const m = HEADING.exec(text);
    if (!m) continue;
    const level = (/^#+/.exec(m[0]) ?? [""])[0];
    const rest = text.slice(m.index + m[0].length);
    const end = rest.search(new RegExp(`^#{2,${level.length}} `, "m"));
    const section = end < 0 ? rest : rest.slice(0, end);
    const lines = [...section.matchAll(/^```sh\n([\s\S]*?)^```$/gm)]
      .flatMap((b) => (b[1] ?? "").split("\n"))
      .filter((l) => l.trim() !== "");
    return { file, lines };
  }
  throw new Error("no 'Quick start on a real machine' section in README.md or docs/install.md");
}

function why(): string | undefined {
  if (process.getuid?.() !== 0) return "needs root (boots systemd in systemd-nspawn)";
  // nspawn in a container needs what the outer one rarely grants (cgroups, loop devices).
  if (process.env.container || existsSync("/run/host/container-manager"))
    return "runs in a container: no nested systemd-nspawn";
  if (spawnSync("sh", ["-c", "command -v systemd-nspawn"]).status !== 0) return "systemd-nspawn is not installed";
  const cache = process.env.PORTABLE_ATTACH_E2E_CACHE ?? "/var/cache/portable-attach-e2e";
  const cached = existsSync(cache) && readdirSync(cache).some((d) => d.startsWith("rootfs-"));
  if (!cached && spawnSync("sh", ["-c", "command -v mmdebstrap"]).status !== 0)
    return "no cached e2e rootfs and no mmdebstrap";
  return undefined;
}
const skip = why();

describe("the quick start", () => {
  const scratch = mkdtempSync(join(tmpdir(), "pa-quickstart-"));
  afterAll(() => rmSync(scratch, { recursive: true, force: true }));

  it("is there, builds on the host and runs as root on the machine", () => {
    const { lines } = quickStart();
    const firstSudo = lines.findIndex((l) => /\bsudo\b/.test(l));
    expect(firstSudo).toBeGreaterThan(0);
    expect(lines.slice(0, firstSudo).join("\n")).toContain("npm run deb");
    expect(lines.some((l) => /apt-get install \.\/dist\/portable-attach_\*\.deb/.test(l))).toBe(true);
  });

  it.skipIf(skip !== undefined)(
    skipName("word for word: the attached service is active and its list entry is there", skip),
    async () => {
      const { lines } = quickStart();
      const firstSudo = lines.findIndex((l) => /\bsudo\b/.test(l));
      const hostLines = lines.slice(0, firstSudo);
      const guestLines = lines.slice(firstSudo);

      // A fresh copy of the source tree, as a new user's checkout.
      const src = join(scratch, "src");
      const ls = spawnSync("git", ["-C", REPO, "ls-files", "-z", "--cached", "--others", "--exclude-standard"], {
        encoding: "utf8",
      });
      expect(ls.status).toBe(0);
      for (const f of ls.stdout.split("\0").filter(Boolean)) {
        if (!existsSync(join(REPO, f))) continue; // deleted in the working tree
        mkdirSync(dirname(join(src, f)), { recursive: true });
        cpSync(join(REPO, f), join(src, f), { verbatimSymlinks: true });
      }
      const host = spawnSync("bash", ["-e", "-x", "-c", hostLines.join("\n")], {
        cwd: src,
        encoding: "utf8",
        timeout: 480_000,
        env: { ...process.env, npm_config_prefer_offline: "true", npm_config_audit: "false", npm_config_fund: "false" },
      });
      expect(host.status, `host part of the quick start failed:\n${host.stdout}\n${host.stderr}`).toBe(0);
      const debs = readdirSync(join(src, "dist")).filter((f) => f.endsWith(".deb"));
      expect(debs).toHaveLength(1);

      const { ensureRootfs } = await import(join(E2E, "lib/rootfs.mjs"));
      const { makePayload } = await import(join(E2E, "lib/guest.mjs"));
      const { boot } = await import(join(E2E, "lib/boot.mjs"));
      const { nodejsDebs } = await import(join(E2E, "scenarios/10-deb.mjs"));
      const { dir: rootfs } = await ensureRootfs();
      const deps: string = await nodejsDebs(rootfs);

      const files: Record<string, unknown> = {
        [`root/src/dist/${debs[0]}`]: { copyFile: join(src, "dist", debs[0] ?? "") },
        "usr/lib/e2e/quickstart.sh": {
          content: `sudo() { "$@"; }\ncd /root/src\n${guestLines.join("\n")}\n`,
          mode: 0o755,
        },
      };
      for (const f of readdirSync(deps).filter((f) => f.endsWith(".deb")))
        files[`var/tmp/nodejs/${f}`] = { copyFile: join(deps, f) };
      const check = String.raw`
check "precondition: Node.js 18 or newer (Debian's nodejs)" apt-get install -y -q --no-install-recommends /var/tmp/nodejs/*.deb
bash -e -x /usr/lib/e2e/quickstart.sh >/run/out/quickstart.log 2>&1; rc=$?
expect "the quick start's commands all succeed (log: quickstart.log)" "$rc" 0
check "hello.service is active" wait_state hello.service active 15
check "hello.service printed its greeting" wait_log hello.service "hello from a portable service" 10
expect "hello.service runs from the image" "$(prop hello.service RootDirectory)" /var/lib/portables/hello_1
check "the list has the entry" grep -qx '\[hello\]' /etc/portable-attach.conf
expect "hello.service is enabled through the generator (back after a reboot)" "$(readlink /run/systemd/generator/multi-user.target.wants/hello.service)" ../hello.service
`;
      const payload = join(scratch, "payload");
      makePayload(payload, { check, files, ours: false });
      const res = await boot({ rootfs, payload, timeoutMs: 180_000, name: "quickstart" });
      try {
        const read = (f: string) => (existsSync(join(res.out, f)) ? readFileSync(join(res.out, f), "utf8") : "");
        const results = read("results");
        const log = read("quickstart.log");
        expect(res.timedOut).toBe(false);
        expect(read("done")).not.toBe("");
        expect(
          results.split("\n").filter((l) => l.startsWith("FAIL")),
          `quick start log:\n${log}\n${results}`,
        ).toEqual([]);
        expect(results.split("\n").filter((l) => l.startsWith("PASS")).length).toBe(7);
      } finally {
        await res.cleanup();
      }
    },
    600_000,
  );
});
