// Small specs for hostile images, turned into real trees (and raw images) in a scratch directory at
// test time, so nothing large or odd is committed: a 1 GB unit is a sparse file, a directory of
// 100,001 entries is made on a tmpfs, a non-UTF-8 name is made from bytes.
import { execFileSync } from "node:child_process";
import { closeSync, ftruncateSync, mkdirSync, openSync, symlinkSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";

export type Node =
  | string
  | Uint8Array
  | { link: string }
  | { sparse: number }
  | { dir: true }
  | { fifo: true }
  | { many: number };

/** Paths relative to the image root. */
export type Spec = Record<string, Node>;

export function osRelease(id = "debian"): string {
  return `ID=${id}\nVERSION_ID=12\n`;
}

export function unit(text = "hostile"): string {
  return `[Unit]\nDescription=${text}\n\n[Service]\nExecStart=/usr/bin/sleep infinity\n`;
}

/** Creates `spec` below `root`. Names may be given as latin1 strings to get non-UTF-8 bytes. */
export function build(root: string, spec: Spec): void {
  mkdirSync(root, { recursive: true });
  for (const [rel, node] of Object.entries(spec)) {
    const path = Buffer.from(join(root, rel), "latin1");
    mkdirSync(dirname(path.toString("latin1")), { recursive: true });
    if (typeof node === "string" || node instanceof Uint8Array) writeFileSync(path, node);
    else if ("link" in node) symlinkSync(node.link, path);
    else if ("sparse" in node) {
      const fd = openSync(path, "w");
      ftruncateSync(fd, node.sparse);
      closeSync(fd);
    } else if ("dir" in node) mkdirSync(path, { recursive: true });
    else if ("fifo" in node) execFileSync("mkfifo", [path.toString("latin1")]);
    else {
      // Many empty files, made by xargs touch (one process, not one call per file from node).
      mkdirSync(path, { recursive: true });
      const names = Array.from({ length: node.many }, (_, i) => `e${i}`).join("\n");
      execFileSync("xargs", ["touch"], { cwd: path.toString("latin1"), input: names, maxBuffer: 1 << 26 });
    }
  }
}

export function have(tool: string): boolean {
  try {
    execFileSync("sh", ["-c", `command -v ${tool}`], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}
