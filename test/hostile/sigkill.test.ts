// The list under fire: concurrent `portable-attach --root=… attach` runs (the built CLI, as an
// image builder runs it) are SIGKILLed at random moments until 1,000 kills have landed on running
// processes. After every batch the list must parse without an error, keep the hand-written lines
// it started with, hold every entry whose attach run completed (exit 0), and hold nothing that was
// never asked for. The runs go in epochs on a fresh list, so the list (and each run's planning of
// the whole list) stays small. SIGKILLS changes the number of kills.
import { spawn } from "node:child_process";
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { parseAttachList } from "../../src/config/attach-list.ts";

const REPO = join(import.meta.dirname, "..", "..");
const CLI = join(REPO, "dist/portable-attach");
const FOO = join(REPO, "test/golden/01-one-service/input/var/lib/portables/foo_1");
const KILLS = Number(process.env.SIGKILLS ?? 1000);
const EPOCH_KILLS = 100;
const CONCURRENCY = Number(process.env.SIGKILL_CONCURRENCY ?? 16);
const IMAGES = 64;
const HAND = "# Hand-written, must survive.\n[keep]   ; a comment\nImage=keep\nX-Note = stays ; unknown key\n\n";
// On a tmpfs when there is one: fsync there costs nothing, so the runs spend their time in our code.
const root = mkdtempSync(join(existsSync("/dev/shm") ? "/dev/shm" : tmpdir(), "pa-hostile-kill-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

interface Run {
  name: string;
  code: number | null;
  signal: NodeJS.Signals | null;
  stderr: string;
}

function name(i: number): string {
  return `k${String(i).padStart(2, "0")}`;
}

/** Starts an attach; kills it after `delay` ms unless it has exited. */
function attach(n: string, delay: number): Promise<Run> {
  const child = spawn(process.execPath, [CLI, `--root=${root}`, "attach", `/var/lib/portables/${n}_1`], {
    env: { PATH: "/usr/bin:/bin", SYSTEMD_ARCHITECTURE: "x86-64" },
    cwd: root,
    stdio: ["ignore", "ignore", "pipe"],
  });
  let stderr = "";
  child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
  const timer = setTimeout(() => child.kill("SIGKILL"), delay);
  return new Promise((resolve) =>
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      resolve({ name: n, code, signal, stderr });
    }),
  );
}

function check(completed: Set<string>): void {
  const text = readFileSync(join(root, "etc/portable-attach.conf"), "utf8");
  const parsed = parseAttachList(text, "/etc/portable-attach.conf");
  expect(
    parsed.diagnostics.filter((d) => d.severity === "error"),
    text,
  ).toEqual([]);
  expect(text.startsWith(HAND), text).toBe(true);
  const names = parsed.entries.map((e) => e.name);
  for (const n of completed) expect(names, `completed attach of [${n}] is missing:\n${text}`).toContain(n);
  for (const n of names) expect(n === "keep" || /^k\d\d$/.test(n), n).toBe(true);
  for (const e of parsed.entries) if (e.name !== "keep") expect(e.image).toBe(`/var/lib/portables/${e.name}_1`);
}

describe("1,000 SIGKILLs of concurrent CLI runs", () => {
  it(`every completed edit survives ${KILLS} kills`, async () => {
    expect(existsSync(CLI), "npm run build first").toBe(true);
    for (let i = 0; i < IMAGES; i++) {
      const dir = join(root, `var/lib/portables/${name(i)}_1`);
      cpSync(FOO, dir, { recursive: true });
      renameSync(
        join(dir, "usr/lib/systemd/system/foo.service"),
        join(dir, `usr/lib/systemd/system/${name(i)}.service`),
      );
    }
    mkdirSync(join(root, "etc"), { recursive: true });
    // How long one run takes here, so the kills spread over a whole run.
    writeFileSync(join(root, "etc/portable-attach.conf"), HAND);
    const t0 = performance.now();
    const first = await attach(name(0), 60_000);
    expect(first.code, first.stderr).toBe(0);
    const span = performance.now() - t0;

    let kills = 0;
    let completions = 0;
    let epochs = 0;
    let failures = 0;
    let window = span * 2;
    // A pool of CONCURRENCY runs, each replaced as soon as it ends; the list is checked after
    // every end (renames are atomic, so a read in the middle of other runs must see a whole file).
    while (kills < KILLS) {
      epochs++;
      writeFileSync(join(root, "etc/portable-attach.conf"), HAND);
      const completed = new Set<string>();
      let epochKills = 0;
      let next = 0;
      const busy = new Set<string>();
      const worker = async (): Promise<void> => {
        while (epochKills < EPOCH_KILLS && kills < KILLS) {
          let n = name(next++ % IMAGES);
          while (busy.has(n)) n = name(next++ % IMAGES);
          busy.add(n);
          const r = await attach(n, Math.random() * window);
          busy.delete(n);
          // Under load a run takes longer than alone: widen or narrow the kill window so that about
          // a fifth of the runs complete, which puts the kills all over a run (start-up, lock, write).
          window *= r.signal === "SIGKILL" ? 1.01 : 0.96;
          if (r.signal === "SIGKILL") {
            kills++;
            epochKills++;
          } else if (r.code === 0) {
            completions++;
            completed.add(r.name);
          } else {
            // A run may fail cleanly; it must say why, and it must not have been a crash.
            failures++;
            expect(r.stderr).not.toMatch(/\n\s+at /);
            expect(r.stderr.trim()).not.toBe("");
          }
          check(completed);
        }
      };
      await Promise.all(Array.from({ length: CONCURRENCY }, worker));
      check(completed);
    }
    // A lock or temporary file left by a killed run neither blocks the next run nor stays.
    const after = await attach(name(IMAGES - 1), 60_000);
    expect(after.code, after.stderr).toBe(0);
    expect(readdirSync(join(root, "etc")).sort()).toEqual(["portable-attach", "portable-attach.conf"]);
    // The facts cache holds one record per attached entry at most, and no temporary file.
    const records = readdirSync(join(root, "etc/portable-attach/cache"));
    expect(records.filter((n) => !/^[^.].*\.json$/.test(n))).toEqual([]);
    expect(records.length).toBeLessThanOrEqual(IMAGES);
    console.log(
      `SIGKILL test: ${kills} kills of running CLI processes, ${completions} completed attaches all present, ${failures} clean refusals, ${epochs} epochs (one quiet run: ${span.toFixed(0)} ms, kill window at the end: ${window.toFixed(0)} ms)`,
    );
    expect(kills).toBeGreaterThanOrEqual(KILLS);
    expect(completions).toBeGreaterThan(KILLS / 10);
  }, 240_000);
});
