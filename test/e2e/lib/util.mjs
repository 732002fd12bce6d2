// Small process/filesystem helpers shared by the e2e harness. Plain Node ESM, no dependencies.
import { spawn, spawnSync } from "node:child_process";
import { existsSync, accessSync, constants } from "node:fs";

/** Run a command, capture output; reject (or resolve with ok=false when opts.check === false). */
export function run(cmd, args, opts = {}) {
  const { timeoutMs = 300_000, check = true, input, env, cwd } = opts;
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd, env: env ?? process.env, stdio: ["pipe", "pipe", "pipe"], detached: true });
    let stdout = "",
      stderr = "",
      timedOut = false;
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    const timer = setTimeout(() => {
      timedOut = true;
      try {
        process.kill(-child.pid, "SIGKILL");
      } catch {
        /* already gone */
      }
    }, timeoutMs);
    child.on("error", (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      const res = { code, signal, stdout, stderr, timedOut, ok: code === 0 && !timedOut };
      if (!res.ok && check) {
        const why = timedOut ? `timed out after ${timeoutMs} ms` : `exited ${code ?? signal}`;
        const err = new Error(`${cmd} ${args.join(" ")}: ${why}\n${stderr.slice(-4000)}`);
        err.result = res;
        reject(err);
      } else resolve(res);
    });
    if (input !== undefined) child.stdin.end(input);
    else child.stdin.end();
  });
}

export function runSync(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { encoding: "utf8", ...opts });
  if (r.status !== 0 && opts.check !== false)
    throw new Error(`${cmd} ${args.join(" ")}: exited ${r.status}\n${r.stderr}`);
  return r;
}

export function which(name) {
  for (const dir of (process.env.PATH ?? "/usr/sbin:/usr/bin:/sbin:/bin").split(":").concat(["/usr/sbin", "/sbin"])) {
    const p = `${dir}/${name}`;
    try {
      accessSync(p, constants.X_OK);
      return p;
    } catch {
      /* next */
    }
  }
  return null;
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export function exists(p) {
  return existsSync(p);
}

/** Run async jobs with at most `limit` at a time; results in input order. */
export async function pool(items, limit, fn) {
  const results = new Array(items.length);
  let next = 0;
  async function worker() {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i], i);
    }
  }
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}
