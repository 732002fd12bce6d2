// The man pages and the bash completion: lint clean with both formatters (mandoc -T lint and
// groff -ww, as `man -l` renders them), systemd's man-page structure, and in step with the code
// (every verb, option and list key the programs know is documented and completed). And the
// Markdown documents: README.md short and opening with the two commands, links that resolve, and
// no citation of a document outside the repository.
// Needs mandoc and groff (Debian: apt-get install mandoc groff-base); the test fails without them.
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { KNOWN_KEYS } from "../../src/config/attach-list.ts";

const REPO = join(import.meta.dirname, "..", "..");
const MAN = join(REPO, "man");
const PAGES = ["portable-attach.8", "portable-attach-generator.8", "portable-attach.conf.5"];
const page = (p: string) => readFileSync(join(MAN, p), "utf8");
/** The page as a reader sees it: roff escapes for "-" and quotes undone. */
const plain = (p: string) =>
  page(p)
    .replace(/\\-/g, "-")
    .replace(/\\\(dq/g, '"')
    .replace(/\\f[BIRP]/g, "");

function tool(cmd: string, args: string[]) {
  const r = spawnSync(cmd, args, {
    encoding: "utf8",
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin", LC_ALL: "C.UTF-8" },
  });
  if (r.error)
    throw new Error(`${cmd} is not installed (Debian: apt-get install mandoc groff-base): ${r.error.message}`);
  return r;
}

describe("man pages", () => {
  it("are the three pages the package ships", () => {
    expect(readdirSync(MAN).sort()).toEqual([...PAGES].sort());
  });

  for (const p of PAGES) {
    it(`${p}: mandoc -T lint says nothing`, () => {
      const r = tool("mandoc", ["-T", "lint", "-W", "all", join(MAN, p)]);
      expect(r.stdout + r.stderr).toBe("");
      expect(r.status).toBe(0);
    });

    it(`${p}: groff -ww -man -z says nothing`, () => {
      const r = tool("groff", ["-ww", "-man", "-z", join(MAN, p)]);
      expect(r.stderr).toBe("");
      expect(r.status).toBe(0);
    });

    it(`${p}: has systemd's sections, in order`, () => {
      const sections = [...page(p).matchAll(/^\.SH (.+)$/gm)].map((m) => m[1]?.replace(/"/g, ""));
      const want = p.endsWith(".5")
        ? ["NAME", "SYNOPSIS", "DESCRIPTION", "KEYS", "FILES AND PRECEDENCE", "EXAMPLES", "SEE ALSO"]
        : [
            "NAME",
            "SYNOPSIS",
            "DESCRIPTION",
            p === "portable-attach.8" ? "COMMANDS" : "KERNEL COMMAND LINE",
            "OPTIONS",
            "FILES",
            "ENVIRONMENT",
            "EXIT STATUS",
            "EXAMPLES",
            "SEE ALSO",
          ].filter(Boolean);
      expect(sections).toEqual(want);
    });
  }

  it("the generator page says it implements systemd.generator(7)", () => {
    expect(plain("portable-attach-generator.8")).toMatch(/implements\n\.BR systemd\.generator \(7\)/);
  });

  it("portable-attach(8) documents every verb and every option of the command", () => {
    const main = readFileSync(join(REPO, "src/cli/main.ts"), "utf8");
    const verbs = [...(main.match(/const VERBS[\s\S]*?\n\]\);/)?.[0] ?? "").matchAll(/^ {2}\["([a-z-]+)", /gm)].map(
      (m) => m[1],
    );
    expect(verbs.length).toBeGreaterThanOrEqual(10);
    const options = readFileSync(join(REPO, "src/cli/options.ts"), "utf8");
    const switches = [
      ...(options.match(/const SPEC = \{[\s\S]*?\n\}/)?.[0] ?? "").matchAll(/^ {2}"?([a-z-]+)"?: \{/gm),
    ].map((m) => m[1]);
    expect(switches.length).toBeGreaterThanOrEqual(15);
    const text = plain("portable-attach.8");
    for (const v of verbs) expect(text, `verb ${v}`).toMatch(new RegExp(`^\\.B[IR]? ${v}\\b`, "m"));
    for (const s of switches) expect(text, `option --${s}`).toContain(`--${s}`);
  });

  it("every option the command accepts is in its --help and its bash completion", () => {
    const options = readFileSync(join(REPO, "src/cli/options.ts"), "utf8");
    const switches = [
      ...(options.match(/const SPEC = \{[\s\S]*?\n\}/)?.[0] ?? "").matchAll(/^ {2}"?([a-z-]+)"?: \{/gm),
    ].map((m) => m[1]);
    const help = readFileSync(join(REPO, "src/cli/main.ts"), "utf8").match(/const HELP = `[^`]*`/)?.[0] ?? "";
    const completion =
      readFileSync(join(REPO, "completion/portable-attach.bash"), "utf8").match(/local opts='[^']*'/)?.[0] ?? "";
    for (const s of switches) {
      expect(help, `--help: --${s}`).toMatch(new RegExp(`--${s}\\b`));
      expect(completion, `completion: --${s}`).toMatch(new RegExp(`--${s}\\b`));
    }
  });

  it("portable-attach.conf(5) documents every key of the list, and every list file", () => {
    const text = plain("portable-attach.conf.5");
    for (const k of KNOWN_KEYS) expect(text, `key ${k}=`).toMatch(new RegExp(`^\\.BI ${k}= `, "m"));
    for (const f of [
      "/etc/portable-attach.conf",
      "/etc/portable-attach.d/*.conf",
      "/run/portable-attach.conf",
      "/run/portable-attach.d/*.conf",
      "/usr/local/lib/portable-attach.d/*.conf",
      "/usr/lib/portable-attach.d/*.conf",
    ]) {
      expect(text).toContain(`.I ${f}`);
    }
    expect(text).toContain("Attach=no");
    expect(text).toContain("/dev/null");
  });
});

describe("the documents", () => {
  const tracked = spawnSync("git", ["-C", REPO, "ls-files", "*.md"], { encoding: "utf8" })
    .stdout.split("\n")
    .filter(Boolean);
  const readme = readFileSync(join(REPO, "README.md"), "utf8");

  it("README.md opens with the two commands, in its first sh block", () => {
    const block = /^```sh\n([\s\S]*?)^```$/m.exec(readme)?.[1] ?? "";
    const lines = block.split("\n").filter(Boolean);
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/^npm ci && npm run example\s/);
    expect(lines[1]).toMatch(/^npm test\s/);
  });

  // A newcomer reads it in ten minutes; the manual belongs in the man pages.
  it("README.md stays short and points at each man page", () => {
    expect(readme.length).toBeLessThan(10_000);
    for (const p of PAGES) expect(readme).toContain(`man -l man/${p}`);
  });

  it("every relative link in a document names a file of the repository", () => {
    expect(tracked.length).toBeGreaterThanOrEqual(4);
    for (const f of tracked) {
      const text = readFileSync(join(REPO, f), "utf8");
      for (const m of text.matchAll(/\]\(([^)#\s]+)[^)]*\)/g)) {
        const target = m[1] ?? "";
        if (/^[a-z]+:/.test(target)) continue;
        expect(existsSync(join(REPO, dirname(f), target)), `${f}: ${target}`).toBe(true);
      }
    }
  });

  it("no document or man page cites a document outside the repository", () => {
    const files = [...tracked, ...PAGES.map((p) => `man/${p}`)];
    for (const f of files) {
      const text = readFileSync(join(REPO, f), "utf8");
      expect(text, f).not.toMatch(/\/work\/|(spec|design) §/);
    }
  });
});

describe("bash completion", () => {
  const scratch = mkdtempSync(join(tmpdir(), "pa-completion-"));
  afterAll(() => rmSync(scratch, { recursive: true, force: true }));

  /** Complete `words` (the last one is being typed) with the real completion function in bash. */
  function complete(words: string[]): string[] {
    const script = `
source ${JSON.stringify(join(REPO, "completion/portable-attach.bash"))}
COMP_WORDS=(${words.map((w) => `'${w}'`).join(" ")})
COMP_CWORD=${words.length - 1}
COMP_LINE=${JSON.stringify(words.join(" "))}
COMP_POINT=\${#COMP_LINE}
_portable_attach
printf '%s\\n' "\${COMPREPLY[@]}"
`;
    const r = spawnSync("bash", ["--norc", "--noprofile", "-c", script], { encoding: "utf8", cwd: scratch });
    expect(r.stderr).toBe("");
    return r.stdout.split("\n").filter(Boolean).sort();
  }

  it("is valid bash", () => {
    expect(spawnSync("bash", ["-n", join(REPO, "completion/portable-attach.bash")]).status).toBe(0);
  });

  it("completes verbs, options, profiles", () => {
    expect(complete(["portable-attach", "re"])).toEqual(["reattach", "reload"]);
    expect(complete(["portable-attach", "is"])).toEqual(["is-attached"]);
    expect(complete(["portable-attach", "attach", "--en"])).toEqual(["--enable"]);
    expect(complete(["portable-attach", "attach", "-p", ""])).toEqual(["default", "nonetwork", "strict", "trusted"]);
  });

  it("completes units for enable (templates as foo@) and what the lists enable for disable", () => {
    const r = join(scratch, "units-root");
    mkdirSync(join(r, "etc"), { recursive: true });
    writeFileSync(
      join(r, "etc/portable-attach.conf"),
      "[foobar]\nImage=foobar\nEnableUnits=foobar@a.service  foobar@b.service ; two\n",
    );
    for (const u of ["foobar.service", "foobar@.service"]) {
      mkdirSync(join(r, `run/systemd/generator/${u}.d`), { recursive: true });
      writeFileSync(join(r, `run/systemd/generator/${u}.d/20-portable.conf`), "");
    }
    expect(complete(["portable-attach", `--root=${r}`, "enable", "foo"])).toEqual([
      "foobar",
      "foobar.service",
      "foobar@",
    ]);
    expect(complete(["portable-attach", `--root=${r}`, "disable", "foobar@"])).toEqual([
      "foobar@",
      "foobar@a.service",
      "foobar@b.service",
    ]);
  });

  it("completes entry names from the lists below --root", () => {
    mkdirSync(join(scratch, "root/etc/portable-attach.d"), { recursive: true });
    mkdirSync(join(scratch, "root/usr/lib/portable-attach.d"), { recursive: true });
    writeFileSync(join(scratch, "root/etc/portable-attach.conf"), "[foobar]\nImage=foobar\n\n# [commented]\n");
    writeFileSync(join(scratch, "root/usr/lib/portable-attach.d/50-vendor.conf"), "[web]\nImage=web\n");
    expect(complete(["portable-attach", `--root=${join(scratch, "root")}`, "detach", ""])).toEqual(["foobar", "web"]);
  });
});
