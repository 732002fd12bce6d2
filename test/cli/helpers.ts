// Runs the built CLI (dist/portable-attach) on a scratch root, as an image builder would with
// --root: the same bundle the e2e suite boots, no mocks. Images come from the generator's golden
// inputs: foo_1 (foo.service), plus foo_2 and bar_1 derived from it here.
import { spawn, spawnSync, type SpawnSyncReturns } from "node:child_process";
import { cpSync, mkdirSync, mkdtempSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export const REPO = join(import.meta.dirname, "..", "..");
export const CLI = join(REPO, "dist", "portable-attach");
export const GENERATOR = join(REPO, "dist", "portable-attach-generator");
const FOO = join(REPO, "test", "golden", "01-one-service", "input", "var", "lib", "portables", "foo_1");

/** A root with /var/lib/portables/{foo_1,foo_2,bar_1}, our profiles and systemd 252's library (its version); no list files. */
export function makeTree(prefix = "pa-cli-"): string {
  const root = mkdtempSync(join(tmpdir(), prefix));
  const portables = join(root, "var/lib/portables");
  mkdirSync(portables, { recursive: true });
  mkdirSync(join(root, "usr/lib/systemd"), { recursive: true });
  cpSync(FOO, join(portables, "foo_1"), { recursive: true });
  cpSync(FOO, join(portables, "foo_2"), { recursive: true });
  cpSync(FOO, join(portables, "bar_1"), { recursive: true });
  const units = join(portables, "bar_1/usr/lib/systemd/system");
  renameSync(join(units, "foo.service"), join(units, "bar.service"));
  cpSync(join(REPO, "profiles"), join(root, "usr/lib/portable-attach/profile"), { recursive: true });
  writeFileSync(join(root, "usr/lib/systemd/libsystemd-shared-252.so"), "");
  return root;
}

export function cliEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  // No systemctl reachable and no booted systemd here: the "not booted" path is what runs.
  return { PATH: "/usr/bin:/bin", SYSTEMD_ARCHITECTURE: "x86-64", ...extra };
}

export function runCli(root: string, args: string[], extra: Record<string, string> = {}): SpawnSyncReturns<string> {
  return spawnSync(process.execPath, [CLI, `--root=${root}`, ...args], {
    encoding: "utf8",
    env: cliEnv(extra),
    cwd: root,
  });
}

export function startCli(root: string, args: string[]) {
  return spawn(process.execPath, [CLI, `--root=${root}`, ...args], {
    env: cliEnv(),
    cwd: root,
    stdio: ["ignore", "pipe", "pipe"],
  });
}

export function readList(root: string, path = "etc/portable-attach.conf"): string {
  return readFileSync(join(root, path), "utf8");
}

export function writeList(root: string, text: string, path = "etc/portable-attach.conf"): void {
  mkdirSync(join(root, path, ".."), { recursive: true });
  writeFileSync(join(root, path), text);
}
