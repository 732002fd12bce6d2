// The shipped profiles: each must pass `systemd-analyze verify` without a single message when used
// as a service's 10-profile.conf (linked, as portablectl does), and must mean exactly what the
// systemd-shipped profile of the same name means on this host (parsed settings compared through
// systemd --test), since our files differ from upstream's only in lines that are implied.
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { hostSystemdVersion } from "./helpers/verify.ts";
import { haveSystemdTestMode, loadUnits } from "./unit/systemd-test-mode.ts";

const PROFILES = ["default", "nonetwork", "strict", "trusted"];
const SERVICE = "[Unit]\nDescription=profile test\n\n[Service]\nExecStart=/bin/true\n";
const haveVerify = spawnSync("systemd-analyze", ["--version"]).status === 0;

function profilePath(name: string): string {
  return resolve(__dirname, "../profiles", name, "service.conf");
}

/** systemd-analyze verify of t.service with `profile` linked as its 10-profile.conf. */
function verify(profile: string): { status: number | null; output: string } {
  const dir = mkdtempSync(join(tmpdir(), "profile-test-"));
  try {
    writeFileSync(join(dir, "t.service"), SERVICE, { mode: 0o644 });
    mkdirSync(join(dir, "t.service.d"));
    symlinkSync(profile, join(dir, "t.service.d/10-profile.conf"));
    const r = spawnSync("systemd-analyze", ["verify", "--man=no", "t.service"], {
      encoding: "utf8",
      env: { ...process.env, SYSTEMD_UNIT_PATH: `${dir}:`, SYSTEMD_LOG_COLOR: "0" },
    });
    return { status: r.status, output: r.stdout + r.stderr };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe("profiles exist", () => {
  for (const name of PROFILES) {
    it(name, () => {
      const text = readFileSync(profilePath(name), "utf8");
      expect(text).toMatch(/^\[Service\]$/m);
      expect(text).toMatch(/^# .*252/m);
    });
  }
});

describe.skipIf(!haveVerify)("systemd-analyze verify accepts each profile without a message", () => {
  for (const name of PROFILES) {
    it(name, () => expect(verify(profilePath(name))).toEqual({ status: 0, output: "" }));
  }
  it("would notice a key this systemd does not know", () => {
    const dir = mkdtempSync(join(tmpdir(), "profile-bad-"));
    try {
      const bad = join(dir, "service.conf");
      writeFileSync(bad, readFileSync(profilePath("default"), "utf8") + "BindLogSockets=yes\n");
      const result = verify(bad);
      if (hostSystemdVersion() === 252) {
        expect(result.output).toMatch(/Unknown key 'BindLogSockets'/);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

const HOST_PROFILES = ["/usr/lib/systemd/portable/profile", "/lib/systemd/portable/profile"].find((d) => existsSync(d));

/** t.service's parsed settings with `profileText` as its drop-in. */
function parsedSettings(profileText: string): Map<string, string[]> {
  const dump = loadUnits({ "t.service": SERVICE, "t.service.d/10-profile.conf": profileText }, "t.service");
  const settings = dump.units.get("t.service");
  if (!settings) throw new Error(`t.service missing from dump: ${dump.log}`);
  // Dependencies and syscall sets are dumped in hash order; order does not change their meaning.
  for (const [key, values] of settings) settings.set(key, values.map((v) => v.split(" ").sort().join(" ")).sort());
  return settings;
}

/**
 * The journal sockets, as ours bind them (252 has no BindLogSockets=). A host whose profiles say
 * BindLogSockets=yes instead (257 and newer) gets the same sockets from that key: there the three
 * binds are not a difference in meaning.
 */
const LOG_SOCKET_BINDS = ["/dev/log", "/run/systemd/journal/socket", "/run/systemd/journal/stdout"].map(
  (p) => `${p}:${p}:rbind`,
);

function withoutLogSocketBinds(settings: Map<string, string[]>): Map<string, string[]> {
  const binds = (settings.get("BindReadOnlyPaths") ?? []).filter((b) => !LOG_SOCKET_BINDS.includes(b));
  return new Map(settings).set("BindReadOnlyPaths", binds);
}

describe.skipIf(!haveSystemdTestMode || HOST_PROFILES === undefined)(
  "each profile means what systemd's own profile means",
  () => {
    for (const name of PROFILES) {
      it(name, () => {
        const upstream = readFileSync(join(HOST_PROFILES as string, name, "service.conf"), "utf8");
        const ours = parsedSettings(readFileSync(profilePath(name), "utf8"));
        const byKey = /^BindLogSockets=yes$/m.test(upstream);
        expect(byKey ? withoutLogSocketBinds(ours) : ours).toEqual(parsedSettings(upstream));
      });
    }
    it("would notice a difference", () => {
      const ours = readFileSync(profilePath("strict"), "utf8").replace("TasksMax=4", "TasksMax=5");
      const upstream = readFileSync(join(HOST_PROFILES as string, "strict", "service.conf"), "utf8");
      expect(parsedSettings(ours)).not.toEqual(parsedSettings(upstream));
    });
  },
);
