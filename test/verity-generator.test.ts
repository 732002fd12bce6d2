// The built generator over dm-verity images made by the real tools: a signed image attaches, every
// tampered or untrusted one is refused with a reason naming the image, the part and what failed
// (status record and log), ImagePolicy= is enforced, and a good entry beside them always attaches.
import { execFileSync, spawnSync } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli } from "./cli/helpers.ts";

const BUILD = join(import.meta.dirname, "helpers", "verity-images.sh");
const GENERATOR = join(import.meta.dirname, "..", "dist", "portable-attach-generator");
let images: string;
let scratch: string;

beforeAll(() => {
  scratch = mkdtempSync(join(tmpdir(), "pa-verity-gen-"));
  images = join(scratch, "images");
  mkdirSync(images);
  execFileSync(BUILD, [images]);
}, 60_000);
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

function runGenerator(root: string, out: string) {
  return spawnSync(process.execPath, [GENERATOR, out, out, out], {
    encoding: "utf8",
    env: {
      PATH: process.env.PATH ?? "",
      PORTABLE_ATTACH_ROOT: root,
      SYSTEMD_ARCHITECTURE: "x86-64",
      SYSTEMD_LOG_LEVEL: "debug",
    },
  });
}

/** Copies image `name` (and side files) into root as /var/lib/portables/`as`, optionally flipping a byte after `marker`. */
function place(root: string, name: string, as: string, marker?: { text: string; delta?: number }): void {
  const dir = join(root, "var/lib/portables");
  mkdirSync(dir, { recursive: true });
  for (const ext of [".raw", ".verity", ".roothash", ".roothash.p7s"]) {
    const from = join(images, name.replace(/\.raw$/, ext));
    if (existsSync(from)) copyFileSync(from, join(dir, as.replace(/\.raw$/, ext)));
  }
  if (!marker) return;
  const file = join(dir, as);
  const bytes = readFileSync(file);
  const at = bytes.indexOf(marker.text) + (marker.delta ?? 0);
  expect(at).toBeGreaterThanOrEqual(0);
  bytes[at] = (bytes[at] as number) ^ 1;
  writeFileSync(file, bytes);
}

/** Runs the generator on a root with entry [case] for `image` plus a good directory-image entry [other]. */
function run(label: string, image: string, extra = "", trusted = true) {
  const root = join(scratch, label);
  mkdirSync(join(root, "etc"), { recursive: true });
  const other = join(root, "var/lib/portables/other");
  mkdirSync(join(other, "usr/lib/systemd/system"), { recursive: true });
  writeFileSync(join(other, "usr/lib/os-release"), "ID=other\n");
  writeFileSync(join(other, "usr/lib/systemd/system/other.service"), "[Service]\nExecStart=/bin/true\n");
  if (trusted) {
    mkdirSync(join(root, "etc/verity.d"), { recursive: true });
    copyFileSync(join(images, "keys/trusted-rsa.crt"), join(root, "etc/verity.d/test.crt"));
  }
  writeFileSync(
    join(root, "etc/portable-attach.conf"),
    `[case]\nImage=/var/lib/portables/${image}\nPrefixes=app\n${extra}\n[other]\nImage=/var/lib/portables/other\n`,
  );
  const out = join(root, "out");
  const r = runGenerator(root, out);
  expect(r.status, r.stderr).toBe(0);
  const status = JSON.parse(readFileSync(join(out, ".portable-attach-status.json"), "utf8")) as {
    entries: { name: string; state: string; reason?: string }[];
  };
  const byName = new Map(status.entries.map((e) => [e.name, e]));
  expect(byName.get("other")?.state).toBe("attached");
  expect(existsSync(join(out, "other.service"))).toBe(true);
  return { entry: byName.get("case") as { state: string; reason?: string }, log: r.stderr, out };
}

describe("the generator and dm-verity", () => {
  it("needs the bundle", () => expect(existsSync(GENERATOR), "npm run build first").toBe(true));

  it("attaches a correctly signed GPT image, also under ImagePolicy=signed", () => {
    const root = join(scratch, "good");
    place(root, "signed.raw", "signed.raw");
    const { entry, out } = run("good", "signed.raw", "ImagePolicy=signed");
    expect(entry.state).toBe("attached");
    expect(readFileSync(join(out, "app.service"), "utf8")).toContain("APP-UNIT-MARKER");
  });

  const refused: [string, string, { text: string; delta?: number } | undefined, RegExp][] = [
    [
      "unit",
      "signed.raw",
      { text: "APP-UNIT-MARKER" },
      /signed\.raw \(partition 1 root-x86-64\): dm-verity check failed: data block \d+ .* does not match its hash/,
    ],
    ["dir", "signed.raw", { text: "zz-dir-marker" }, /\(partition 1 root-x86-64\): dm-verity check failed: data block/],
    [
      "tree",
      "signed.raw",
      { text: "verity\0\0", delta: 4196 },
      /root-x86-64\): dm-verity check failed: the top hash block does not match the root hash \(hash tree partition 2 \(root-x86-64-verity\)/,
    ],
    [
      "untrusted",
      "untrusted.raw",
      undefined,
      /untrusted\.raw: root-x86-64: the signature in partition 3 \(root-x86-64-verity-sig\) of root hash [0-9a-f]+ was not made by any of the 1 certificate\(s\) in verity.d/,
    ],
    [
      "naked",
      "naked.raw",
      { text: "APP-UNIT-MARKER" },
      /naked\.raw: dm-verity check failed: data block \d+ .*hash tree \/var\/lib\/portables\/naked\.verity, root hash from \/var\/lib\/portables\/naked\.roothash/,
    ],
  ];
  it.each(refused)(
    "refuses a tampered or untrusted image (%s), with the reason in status and journal",
    (label, image, marker, why) => {
      place(join(scratch, label), image, image, marker);
      const { entry, log } = run(label, image);
      expect(entry.state).toBe("failed");
      expect(entry.reason).toMatch(why);
      expect(log).toMatch(why);
      // Messages name paths as the booted system sees them.
      expect(entry.reason).not.toContain(scratch);
    },
  );

  it("without certificates, a signed image attaches and the unchecked signature is a debug message", () => {
    place(join(scratch, "nocerts"), "untrusted.raw", "untrusted.raw");
    const { entry, log } = run("nocerts", "untrusted.raw", "", false);
    expect(entry.state).toBe("attached");
    expect(log).toMatch(
      /\[case\] \/var\/lib\/portables\/untrusted\.raw: root-x86-64: the signature in partition 3 \(root-x86-64-verity-sig\) was not checked: no certificates/,
    );
  });

  it("ImagePolicy= refuses what it does not allow, and rejects unknown words", () => {
    place(join(scratch, "policy"), "naked.raw", "naked.raw");
    let r = run("policy", "naked.raw", "ImagePolicy=signed");
    expect(r.entry.state).toBe("failed");
    expect(r.entry.reason).toBe(
      "Image '/var/lib/portables/naked.raw' is protected by dm-verity but not signed by a trusted key, and ImagePolicy=signed (/etc/portable-attach.conf:1) does not allow that",
    );
    place(join(scratch, "policy2"), "plain.raw", "plain.raw");
    r = run("policy2", "plain.raw", "ImagePolicy=signed+verity");
    expect(r.entry.reason).toMatch(/is not protected by dm-verity, and ImagePolicy=signed\+verity/);
    place(join(scratch, "policy3"), "plain.raw", "plain.raw");
    r = run("policy3", "plain.raw", "ImagePolicy=verity+unprotected");
    expect(r.entry.state).toBe("attached");
    place(join(scratch, "policy4"), "plain.raw", "plain.raw");
    r = run("policy4", "plain.raw", "ImagePolicy=sealed");
    expect(r.entry.state).toBe("failed");
    expect(r.entry.reason).toMatch(/Failed to parse ImagePolicy='sealed'/);
  });

  it("a signed image attached by the CLI is checked again at every run, against today's verity.d", async () => {
    const root = join(scratch, "cached");
    place(root, "signed.raw", "app.raw");
    mkdirSync(join(root, "etc/verity.d"), { recursive: true });
    copyFileSync(join(images, "keys/trusted-rsa.crt"), join(root, "etc/verity.d/test.crt"));
    await new Promise((r) => setTimeout(r, 2100)); // past the facts cache's racy window
    const a = runCli(root, ["attach", "/var/lib/portables/app.raw"]);
    expect(a.status, a.stderr).toBe(0);
    const record = JSON.parse(readFileSync(join(root, "etc/portable-attach/cache/app.json"), "utf8")) as {
      images: { identity?: unknown; facts: { protection?: string } }[];
    };
    expect(record.images[0]?.identity).toBeDefined();
    expect(record.images[0]?.facts.protection).toBe("signed");
    const gen = () => {
      const out = join(root, `out-${Math.random()}`);
      const r = runGenerator(root, out);
      const entry = (
        JSON.parse(readFileSync(join(out, ".portable-attach-status.json"), "utf8")) as {
          entries: { state: string; reason?: string }[];
        }
      ).entries[0];
      return { r, entry };
    };
    const inspect = JSON.parse(runCli(root, ["inspect", "app", "--json=short"]).stdout) as {
      protection: { level: string; details: string[] };
    };
    expect(inspect.protection.level).toBe("signed");
    expect(inspect.protection.details[0]).toMatch(
      /^root-x86-64: signed \(sha256, root hash [0-9a-f]{64} from partition 3 \(root-x86-64-verity-sig\), certificate \/etc\/verity.d\/test.crt\)$/,
    );
    let g = gen();
    expect(g.entry?.state).toBe("attached");
    expect(g.r.stderr).toContain("0 image(s) not read");
    // The image replaced by one without its signature, or without verity data: refused as a downgrade.
    const img = join(root, "var/lib/portables/app.raw");
    const original = readFileSync(img);
    for (const [other, now] of [
      ["hashonly.raw", "only protected by dm-verity"],
      ["plain.raw", "unprotected"],
    ]) {
      copyFileSync(join(images, other as string), img);
      g = gen();
      expect(g.entry?.state).toBe("failed");
      expect(g.entry?.reason).toBe(
        `Image '/var/lib/portables/app.raw' was signed when it was attached and is now ${now}, refusing (attach it again if that is intended)`,
      );
    }
    writeFileSync(img, original);
    expect(gen().entry?.state).toBe("attached");
    // The certificate replaced by another: the unchanged image is refused at the next run.
    copyFileSync(join(images, "keys/untrusted.crt"), join(root, "etc/verity.d/test.crt"));
    g = gen();
    expect(g.entry?.state).toBe("failed");
    expect(g.entry?.reason).toMatch(/was not made by any of the 1 certificate/);
    const refused = runCli(root, ["inspect", "app"]);
    expect(refused.status).not.toBe(0);
    expect(refused.stderr).toMatch(
      /Failed to inspect 'app': \/var\/lib\/portables\/app.raw: root-x86-64: the signature in partition 3/,
    );
  }, 20_000);
});
