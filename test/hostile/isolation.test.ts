// One entry's failure costs that entry alone (planning, reading and writing), an image's links
// never take a host unit's name, and the smaller holes of test/hostile/README.md: a forged facts
// cache, a status file that quoted a private list, and the kernel command-line switch.
import { execFileSync, spawnSync } from "node:child_process";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
  chmodSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { parseAttachList } from "../../src/config/attach-list.ts";
import { LIMITS, RunBudget } from "../../src/image/budget.ts";
import { commandLineSwitch } from "../../src/io/kernel-cmdline.ts";
import { applyPlan } from "../../src/io/apply.ts";
import { cacheRecord } from "../../src/io/facts-cache.ts";
import { FactsCache } from "../../src/io/facts-cache.ts";
import { readAllFacts, readEntryFacts } from "../../src/io/facts.ts";
import { hostTree } from "../../src/io/image-lookup.ts";
import { plan } from "../../src/plan/plan.ts";
import { parseInstallSection } from "../../src/unit/install.ts";
import type { EntryFacts, HostFacts, ImageFacts, Outcome } from "../../src/plan/types.ts";
import { behaviourFor } from "../../src/portable/systemd-features.ts";
import { VERSION } from "../../src/version.ts";
import { build, osRelease, unit } from "./spec.ts";

const REPO = join(import.meta.dirname, "..", "..");
const GENERATOR = join(REPO, "dist/portable-attach-generator");
const scratch = mkdtempSync(join(tmpdir(), "pa-hostile-isolation-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

const enc = new TextEncoder();
function host(names: string[] = []): HostFacts {
  return {
    unitNames: new Set(names),
    profileFile: () => undefined,
    architecture: "x86-64",
    osReleasePath: "/etc/os-release",
    portable: behaviourFor(252),
    latePassUnit: "/usr/lib/systemd/system/portable-attach-late.service",
  };
}
function image(path: string, units: Record<string, string | Uint8Array>): ImageFacts {
  return {
    path,
    type: "directory",
    releaseText: "ID=debian\n",
    units: Object.entries(units).map(([name, c]) => ({ name, content: typeof c === "string" ? enc.encode(c) : c })),
    warnings: [],
  };
}
const read = (img: ImageFacts): EntryFacts => ({ kind: "read", root: img, extensions: [] });
function run(list: string, facts: Record<string, EntryFacts>, hostUnits: string[] = []) {
  const { entries } = parseAttachList(list, "/etc/portable-attach.conf");
  return plan({ entries, masked: [], facts: new Map(Object.entries(facts)), host: host(hostUnits) });
}
const byName = (outcomes: Outcome[], name: string) => outcomes.find((o) => o.name === name) as Outcome;
const good = read(image("/i/good_1", { "good.service": unit("good") }));

describe("one entry's failure costs that entry alone", () => {
  it("plan(): an internal error in one entry fails it with the stack, the others are planned", () => {
    // Not bytes: decoding its [Install] section throws a TypeError inside plan().
    const broken = read(image("/i/bad_1", { "bad.service": "x" }));
    (broken as { root: ImageFacts }).root.units[0] = { name: "bad.service", content: 42 as unknown as Uint8Array };
    const r = run("[bad]\nImage=/i/bad_1\nEnable=yes\n[good]\nImage=/i/good_1\n", { bad: broken, good });
    expect(byName(r.outcomes, "good").state).toBe("attached");
    expect(byName(r.outcomes, "bad")).toMatchObject({
      state: "failed",
      reason: expect.stringMatching(/^Internal error: TypeError/),
    });
    expect(r.files.every((f) => !f.path.startsWith("bad"))).toBe(true);
  });

  it("plan(): 45,000 units in one image need no argument spread (once a RangeError that stopped every entry)", () => {
    const units: Record<string, string> = {};
    for (let i = 0; i < 45_000; i++)
      units[`many-${i}.service`] = `[Service]\nExecStart=/bin/true ${i}\n[Install]\nWantedBy=multi-user.target\n`;
    const r = run("[many]\nImage=/i/many_1\nEnable=yes\n[good]\nImage=/i/good_1\n", {
      many: read(image("/i/many_1", units)),
      good,
    });
    expect(byName(r.outcomes, "good").state).toBe("attached");
    // Refused by the output budget (its drop-ins alone are 22 MB), not by an exception.
    expect(byName(r.outcomes, "many").reason).toMatch(
      /^Entry is over budget: it would write \d+ bytes, more than the 16 MiB one entry may write$/,
    );
  });

  it("[Install] with 300,000 words in one WantedBy= line is parsed, not a RangeError", () => {
    const words = Array.from({ length: 300_000 }, (_, i) => `t${i}.target`).join(" ");
    expect(parseInstallSection(`[Install]\nWantedBy=${words}\n`).wantedBy).toHaveLength(300_000);
  });

  it("plan(): an entry over the output budget fails, naming it; 150 identical 4 MiB units are not written", () => {
    const big = new Uint8Array(4 * 1024 * 1024).fill(0x23);
    const units: Record<string, Uint8Array> = {};
    for (let i = 0; i < 150; i++) units[`dup-${i}.service`] = big;
    const r = run("[dup]\nImage=/i/dup_1\n[good]\nImage=/i/good_1\n", { dup: read(image("/i/dup_1", units)), good });
    expect(byName(r.outcomes, "good").state).toBe("attached");
    expect(byName(r.outcomes, "dup").reason).toMatch(
      /^Entry is over budget: it would write \d+ bytes, more than the 16 MiB one entry may write$/,
    );
    // The run's budget: three entries of 12 MiB each, the third does not fit in 32 MiB.
    const three = [1, 2, 3].map((n) => `[e${n}]\nImage=/i/e${n}_1\n`).join("");
    const facts = Object.fromEntries(
      [1, 2, 3].map((n) => [
        `e${n}`,
        read(image(`/i/e${n}_1`, { [`e${n}-a.service`]: big, [`e${n}-b.service`]: big, [`e${n}-c.service`]: big })),
      ]),
    );
    const r3 = run(three, facts);
    expect(r3.outcomes.map((o) => o.state)).toEqual(["attached", "attached", "failed"]);
    expect(byName(r3.outcomes, "e3").reason).toMatch(/past the 32 MiB all entries together may write/);
  });

  it("readAllFacts(): an internal error while reading one entry fails that entry only", () => {
    const root = join(scratch, "facts");
    build(join(root, "var/lib/portables/good_1"), {
      "etc/os-release": osRelease(),
      "usr/lib/systemd/system/good.service": unit(),
    });
    const { entries } = parseAttachList(
      "[bad]\nImage=/var/lib/portables/bad_1\n[good]\nImage=/var/lib/portables/good_1\n",
      "/etc/portable-attach.conf",
    );
    const tree = hostTree(root);
    const throwing = {
      ...tree,
      lstat: () => {
        throw new RangeError("Maximum call stack size exceeded");
      },
    };
    const facts = readAllFacts(entries, (e) => ({
      root,
      architecture: "x86-64",
      latePassDone: true,
      hostTree: e.name === "bad" ? throwing : tree,
    }));
    expect(facts.get("good")?.kind).toBe("read");
    expect(facts.get("bad")).toMatchObject({
      kind: "failed",
      reason: expect.stringMatching(/^Internal error: RangeError/),
    });
  });

  it("readAllFacts(): the run's byte budget is shared: once spent, the next image is refused, naming it and the budget", () => {
    const root = join(scratch, "runbytes");
    for (const n of ["a", "b"])
      build(join(root, `var/lib/portables/${n}_1`), {
        "etc/os-release": osRelease(),
        [`usr/lib/systemd/system/${n}.service`]: unit("x".repeat(200)),
      });
    const { entries } = parseAttachList(
      "[a]\nImage=/var/lib/portables/a_1\n[b]\nImage=/var/lib/portables/b_1\n",
      "/etc/portable-attach.conf",
    );
    const budget = new RunBudget({ ...LIMITS, runReadBytes: 400 });
    const facts = readAllFacts(entries, () => ({ root, architecture: "x86-64", latePassDone: true, budget }));
    expect(facts.get("a")?.kind).toBe("read");
    expect(facts.get("b")).toEqual({
      kind: "failed",
      reason: "Image '/var/lib/portables/b_1' is over budget: more than 400 bytes read from all images of this run",
    });
  });

  it("applyPlan(): a file that cannot be written fails its entry, removes what it wrote, and the next entry is written", () => {
    const out = join(scratch, "apply");
    mkdirSync(join(out, "a.service.d"), { recursive: true });
    writeFileSync(join(out, "a.service"), "in the way\n");
    const r = run("[a]\nImage=/i/a_1\n[b]\nImage=/i/b_1\n", {
      a: read(image("/i/a_1", { "a.service": unit() })),
      b: read(image("/i/b_1", { "b.service": unit() })),
    });
    const failures = applyPlan(out, r.files);
    expect([...failures.keys()]).toEqual(["a"]);
    expect(failures.get("a")).toMatch(/EEXIST/);
    expect(existsSync(join(out, "a.service.d/20-portable.conf"))).toBe(false);
    expect(readdirSync(out).sort()).toEqual(["a.service", "a.service.d", "b.service", "b.service.d"]);
  });
});

describe("host conflicts: Alias=, DefaultInstance= and template instances", () => {
  const HOST = ["systemd-hostnamed.service", "getty@.service", "multi-user.target", "web@.service", "web@main.service"];
  const installs = (alias: string) =>
    `[Service]\nExecStart=/x\n[Install]\nAlias=${alias}\nWantedBy=multi-user.target\n`;

  it("an Alias= naming a host unit or default.target is never linked, Force=yes or not", () => {
    for (const force of ["no", "yes"]) {
      const r = run(
        `[app]\nImage=/i/app_1\nEnable=yes\nForce=${force}\n`,
        {
          app: read(
            image("/i/app_1", {
              "app.service": installs("systemd-hostnamed.service"),
              "app.target": installs("default.target"),
            }),
          ),
        },
        HOST,
      );
      const paths = r.files.map((f) => f.path);
      expect(paths).not.toContain("systemd-hostnamed.service");
      expect(paths).not.toContain("default.target");
      expect(paths).toContain("multi-user.target.wants/app.service");
      const o = byName(r.outcomes, "app");
      expect(o.warnings).toContain(
        "app.service: not linking 'systemd-hostnamed.service': 'systemd-hostnamed.service' exists on the host already (Force=yes does not change this)",
      );
      expect(o.warnings).toContain(
        "app.target: not linking 'default.target': 'default.target' is the host's to choose (Force=yes does not change this)",
      );
    }
  });

  it("a unit file named default.target is never attached, Force=yes or not", () => {
    const r = run(
      "[boot]\nImage=/i/boot_1\nPrefixes=default boot\nForce=yes\n",
      { boot: read(image("/i/boot_1", { "default.target": "[Unit]\n", "boot.service": unit() })) },
      HOST,
    );
    expect(r.files.map((f) => f.path)).not.toContain("default.target");
    expect(byName(r.outcomes, "boot").warnings).toContain(
      "Unit file 'default.target' is the host's to choose, skipping it (Force=yes does not change this)",
    );
  });

  it("an instance of a host template is a host unit: skipped without Force=yes (as portablectl), attached with it", () => {
    const getty = read(image("/i/getty_1", { "getty@tty1.service": unit() }));
    const no = run("[getty]\nImage=/i/getty_1\n", { getty }, HOST);
    expect(byName(no.outcomes, "getty")).toMatchObject({
      state: "failed",
      reason: "Every matching unit exists on the host already",
    });
    expect(byName(no.outcomes, "getty").warnings).toEqual([
      "Unit file 'getty@tty1.service' is an instance of 'getty@.service', which exists on the host already, skipping it (set Force=yes to attach it anyway)",
    ]);
    const yes = run("[getty]\nImage=/i/getty_1\nForce=yes\n", { getty }, HOST);
    expect(byName(yes.outcomes, "getty").units).toEqual(["getty@tty1.service"]);
  });

  it("a DefaultInstance= whose instance the host has is not linked", () => {
    const web = read(
      image("/i/web_1", {
        "web@.service": "[Service]\nExecStart=/x %i\n[Install]\nDefaultInstance=main\nWantedBy=multi-user.target\n",
      }),
    );
    const r = run("[web]\nImage=/i/web_1\nEnable=yes\nForce=yes\n", { web }, HOST);
    expect(r.files.map((f) => f.path)).not.toContain("multi-user.target.wants/web@main.service");
    expect(
      byName(r.outcomes, "web").warnings.some((w) =>
        w.includes("not linking 'multi-user.target.wants/web@main.service'"),
      ),
    ).toBe(true);
  });
});

describe("the facts cache stands in only where a fresh lookup could have found its path", () => {
  function forged(path: string, type: "raw" | "directory") {
    const root = join(scratch, `cache-${type}-${path.replace(/\W/g, "_")}`);
    const list = "[x]\nImage=/var/lib/portables/x_1.raw\n";
    const entry = parseAttachList(list, "/etc/portable-attach.conf").entries[0] as Parameters<typeof cacheRecord>[0];
    const facts: ImageFacts = {
      path,
      type,
      releaseText: "ID=debian\n",
      units: [{ name: "x.service", content: enc.encode(unit()) }],
      warnings: [],
    };
    build(root, {
      "etc/portable-attach/cache/x.json": cacheRecord(
        entry,
        { version: VERSION, architecture: "x86-64", matches: ["x"] },
        [{ facts, identity: undefined }],
      ),
    });
    return readEntryFacts(entry, {
      root,
      architecture: "x86-64",
      latePassDone: false,
      cache: new FactsCache(root),
      version: VERSION,
    });
  }

  it("a record whose image path is '/' (RootDirectory=/) or names another image is ignored: the entry waits", () => {
    expect(forged("/var/lib/portables/x_1.raw", "raw").kind).toBe("read"); // the genuine record is used
    for (const [path, type] of [
      ["/", "directory"],
      ["/srv/other.raw", "raw"],
      ["/var/lib/portables/x_1.raw", "directory"],
      ["/var/lib/portables/../../x_1.raw", "raw"],
    ] as const) {
      const f = forged(path, type);
      expect(f, path).toMatchObject({
        kind: "unreachable",
        reason: expect.stringContaining("its cached facts are ignored"),
      });
    }
  });
});

describe("the generator: status file, kernel command line", () => {
  function tree(name: string, listMode: number): string {
    const root = join(scratch, name);
    build(root, {
      "etc/os-release": osRelease("host"),
      "var/lib/portables/good_1/etc/os-release": osRelease(),
      "var/lib/portables/good_1/usr/lib/systemd/system/good.service": unit(),
      "etc/portable-attach.conf": "[good]\nImage=/var/lib/portables/good_1\n# a private comment\n",
    });
    chmodSync(join(root, "etc/portable-attach.conf"), listMode);
    return root;
  }
  function generate(root: string, env: Record<string, string> = {}) {
    const out = join(root, "out");
    rmSync(out, { recursive: true, force: true });
    const r = spawnSync(process.execPath, [GENERATOR, out], {
      encoding: "utf8",
      env: { PATH: "/usr/bin:/bin", PORTABLE_ATTACH_ROOT: root, SYSTEMD_LOG_LEVEL: "info", ...env },
    });
    expect(r.status, r.stderr).toBe(0);
    return { out, stderr: r.stderr };
  }

  it("the status record is 0600 when a list file it quotes is private, 0644 otherwise", () => {
    for (const [mode, expected] of [
      [0o600, 0o600],
      [0o640, 0o600],
      [0o644, 0o644],
    ] as const) {
      const { out } = generate(tree(`status-${mode.toString(8)}`, mode));
      expect(statSync(join(out, ".portable-attach-status.json")).mode & 0o777, mode.toString(8)).toBe(expected);
    }
  });

  it("portable_attach=0 (any boolean, '-' or '_') writes nothing and says so; the root's proc/cmdline counts", () => {
    const root = tree("cmdline", 0o644);
    for (const line of [
      "quiet portable_attach=0",
      "portable-attach=off",
      "portable_attach=no splash",
      "portable_attach=1 portable_attach=false",
    ]) {
      const { out, stderr } = generate(root, { SYSTEMD_PROC_CMDLINE: line });
      expect(existsSync(out) ? readdirSync(out) : [], line).toEqual([]);
      expect(stderr).toContain("Disabled by portable_attach=0 on the kernel command line");
    }
    for (const line of ["portable_attach", "portable_attach=yes", "portable_attach=maybe", "xportable_attach=0"]) {
      const { out, stderr } = generate(root, { SYSTEMD_PROC_CMDLINE: line });
      expect(readdirSync(out), line).toContain("good.service");
      if (line.endsWith("maybe"))
        expect(stderr).toContain(
          "Failed to parse 'portable_attach=maybe' on the kernel command line as a boolean, ignoring",
        );
    }
    build(root, { "proc/cmdline": "root=/dev/sda1 portable-attach=0\n" });
    expect(existsSync(generate(root).out) ? readdirSync(join(root, "out")) : []).toEqual([]);
    expect(commandLineSwitch(["portable_attach=0", "portable-attach"], "portable_attach")).toBe(true);
  });

  it.skipIf(process.getuid?.() !== 0)(
    "ENOSPC while writing one entry (a 1 MiB tmpfs) costs that entry; the other is attached and both are in the status record",
    () => {
      const root = tree("enospc", 0o644);
      build(root, {
        "var/lib/portables/big_1/etc/os-release": osRelease(),
        "var/lib/portables/big_1/usr/lib/systemd/system/big.service":
          "[Service]\nExecStart=/x\n" + "#".repeat(3 * 1024 * 1024) + "\n",
      });
      writeFileSync(
        join(root, "etc/portable-attach.conf"),
        "[big]\nImage=/var/lib/portables/big_1\n[good]\nImage=/var/lib/portables/good_1\n",
      );
      const out = join(root, "out");
      mkdirSync(out, { recursive: true });
      execFileSync("mount", ["-t", "tmpfs", "-o", "size=1m", "tmpfs", out]);
      try {
        const r = spawnSync(process.execPath, [GENERATOR, out], {
          encoding: "utf8",
          env: { PATH: "/usr/bin:/bin", PORTABLE_ATTACH_ROOT: root },
        });
        expect(r.status, r.stderr).toBe(0);
        const status = JSON.parse(readFileSync(join(out, ".portable-attach-status.json"), "utf8")) as {
          entries: Outcome[];
        };
        expect(byName(status.entries, "good").state).toBe("attached");
        expect(byName(status.entries, "big")).toMatchObject({
          state: "failed",
          reason: expect.stringMatching(/ENOSPC/),
        });
        expect(
          readdirSync(out)
            .filter((n) => !n.startsWith("."))
            .sort(),
        ).toEqual(["big.service.d", "good.service", "good.service.d"]);
        expect(r.stderr).toMatch(/\[big\] \/etc\/portable-attach.conf:1: Failed to write its files to .*ENOSPC/);
      } finally {
        execFileSync("umount", [out]);
      }
    },
  );
});
