// Helpers for tests that look at whole directory trees: a canonical listing (type, mode, path,
// symlink target) and a deep comparison with a committed expected tree.
import { cpSync, lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, rmSync } from "node:fs";
import { join } from "node:path";

export interface TreeEntry {
  path: string;
  type: "f" | "d" | "l";
  mode: number;
  target?: string;
}

export function walk(root: string, rel = ""): TreeEntry[] {
  const out: TreeEntry[] = [];
  for (const name of readdirSync(join(root, rel)).sort()) {
    const path = rel === "" ? name : `${rel}/${name}`;
    const st = lstatSync(join(root, path));
    if (st.isSymbolicLink()) out.push({ path, type: "l", mode: 0o777, target: readlinkSync(join(root, path)) });
    else if (st.isDirectory()) {
      out.push({ path, type: "d", mode: st.mode & 0o7777 });
      out.push(...walk(root, path));
    } else out.push({ path, type: "f", mode: st.mode & 0o7777 });
  }
  return out;
}

/** One line per entry, e.g. "l foo.service.d/10-profile.conf -> /usr/lib/…". */
export function listing(root: string): string {
  return walk(root)
    .map((e) => (e.type === "l" ? `l ${e.path} -> ${e.target}` : `${e.type} ${e.path}`))
    .join("\n");
}

/** Every regular file's content, keyed by path. */
export function contents(root: string): Map<string, string> {
  return new Map(
    walk(root)
      .filter((e) => e.type === "f")
      .map((e) => [e.path, readFileSync(join(root, e.path), "latin1")]),
  );
}

export function replaceTree(from: string, to: string): void {
  rmSync(to, { recursive: true, force: true });
  mkdirSync(to, { recursive: true });
  cpSync(from, to, { recursive: true, verbatimSymlinks: true });
}
