// The CLI writes its output with write(2) (src/io/stdio.ts): all of it reaches a slow reader even
// through a descriptor inherited non-blocking, and a reader that leaves early costs no crash.
import { spawnSync } from "node:child_process";
import { rmSync } from "node:fs";
import { afterAll, describe, expect, it } from "vitest";
import { CLI, cliEnv, makeTree, writeList } from "./helpers.ts";

const haveTools = spawnSync("bash", ["-c", "command -v python3 && command -v head"]).status === 0;
const roots: string[] = [];
afterAll(() => {
  for (const r of roots) rmSync(r, { recursive: true, force: true });
});

/** A root whose `list --json=pretty` is far more than a pipe holds (64 KiB). */
function bigList(): string {
  const root = makeTree("pa-stdio-");
  roots.push(root);
  writeList(root, Array.from({ length: 600 }, (_, i) => `[e${i}]\nImage=/var/lib/portables/none${i}\n`).join(""));
  return root;
}

function sh(script: string, root: string) {
  // stdin not a socket: bash would take it for rshd's and read ~/.bashrc.
  return spawnSync("bash", ["-c", script], {
    stdio: ["ignore", "pipe", "pipe"],
    encoding: "utf8",
    env: { ...cliEnv(), NODE: process.execPath, CLI_JS: CLI, ROOT: root },
    maxBuffer: 16 << 20,
  });
}

describe.skipIf(!haveTools)("output to pipes", () => {
  it("a non-blocking stdout whose reader is slow still gets every byte", () => {
    const root = bigList();
    const whole = spawnSync(process.execPath, [CLI, `--root=${root}`, "list", "--json=pretty"], {
      encoding: "utf8",
      env: cliEnv(),
      maxBuffer: 16 << 20,
    });
    expect(whole.stdout.length).toBeGreaterThan(128 * 1024);
    // python3 sets O_NONBLOCK on the pipe (the descriptor is shared, as with a parent that set it),
    // then becomes the CLI; the reader starts only after 0.5 s, so the pipe is full long before.
    const setNonblockAndExec = `import os, fcntl; fcntl.fcntl(1, fcntl.F_SETFL, fcntl.fcntl(1, fcntl.F_GETFL) | os.O_NONBLOCK); os.execv(os.environ["NODE"], ["node", os.environ["CLI_JS"], "--root=" + os.environ["ROOT"], "list", "--json=pretty"])`;
    const r = sh(`python3 -c '${setNonblockAndExec}' | (sleep 0.5; cat); echo "exit $?"`, root);
    expect(r.stderr).toBe("");
    expect(r.stdout).toBe(`${whole.stdout}exit 0\n`);
  });

  it("a reader that leaves after one line: no crash, the command's own status", () => {
    const root = bigList();
    const r = sh(`"$NODE" "$CLI_JS" --root="$ROOT" list 2>&1 | head -n 1; echo "exit \${PIPESTATUS[0]}"`, root);
    expect(r.stdout).toMatch(/^NAME +STATE .*\nexit 0\n$/);
  });
});
