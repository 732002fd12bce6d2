// Paths under a root prefix (--root for the CLI, PORTABLE_ATTACH_ROOT for the generator), resolved
// as `systemctl --root` resolves them: every symlink is chased inside the root, an absolute target
// starts again at the root, and ".." at the root stays there. Joining root and path as strings
// would let a symlink in the tree (TREE/etc/portable-attach.conf -> /etc/shadow) lead a root-owned
// run onto the build host. With no root ("") the same walk is a plain realpath.
import { lstatSync, readlinkSync, realpathSync, type Stats } from "node:fs";

/** As the kernel's limit (and systemd's chase()). */
const MAX_HOPS = 40;

function loopError(path: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`ELOOP: too many symbolic links encountered, '${path}'`), { code: "ELOOP" });
}

function lstatQuiet(path: string): Stats | undefined {
  try {
    return lstatSync(path, { throwIfNoEntry: false });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOTDIR") return undefined;
    throw e;
  }
}

/**
 * The host path of `path` (as the booted system sees it) under `root`, symlinks chased inside
 * root. Components that do not exist are kept as written (a file about to be created lands inside
 * the root too). followLast=false leaves a final symlink unchased (lstat semantics).
 */
export function inRoot(root: string, path: string, followLast = true): string {
  const base = root.replace(/\/+$/, "");
  let todo = path.split("/").filter((c) => c !== "" && c !== ".");
  const done: string[] = [];
  let hops = 0;
  let exists = true;
  while (todo.length > 0) {
    const name = todo.shift() as string;
    if (name === "..") {
      done.pop();
      exists = true;
      continue;
    }
    done.push(name);
    if (!exists || (todo.length === 0 && !followLast)) continue;
    const here = `${base}/${done.join("/")}`;
    const st = lstatQuiet(here);
    if (st === undefined) {
      exists = false; // nothing below a missing name can be a symlink yet
      continue;
    }
    if (!st.isSymbolicLink()) continue;
    if (++hops > MAX_HOPS) throw loopError(path);
    const target = readlinkSync(here);
    done.pop();
    if (target.startsWith("/")) done.length = 0;
    todo = [...target.split("/").filter((c) => c !== "" && c !== "."), ...todo];
  }
  return `${base}/${done.join("/")}`;
}

/**
 * The host path to read `path` at: inRoot() under a root; with none, `path` itself, since the
 * kernel's own resolution is then the same walk, and free (the walk costs some 30 µs a path).
 */
export function hostPath(root: string, path: string, followLast = true): string {
  return root === "" ? path : inRoot(root, path, followLast);
}

/** hostPath(), or undefined where it fails (a symlink loop, a directory we may not search). */
export function inRootOrUndefined(root: string, path: string, followLast = true): string | undefined {
  try {
    return hostPath(root, path, followLast);
  } catch {
    return undefined;
  }
}

/** A message naming paths as the booted system sees them, without the root in front. */
export function unroot(message: string, root: string): string {
  return root === "" ? message : message.split(root).join("");
}

/** `path` under `root` for a message only, where it could not be resolved: never to be opened. */
export function shownInRoot(root: string, path: string): string {
  return `${root}${path}`;
}

/**
 * Throws unless the file open as `fd` lies inside `root`: the walk above and the open are two
 * steps, and whoever owns the tree could swap a directory for a symlink between them.
 * Without /proc (not mounted) the check is skipped; the walk alone still stops planted links.
 */
export function checkInRoot(root: string, fd: number, path: string): void {
  if (root === "") return;
  let real: string;
  try {
    real = readlinkSync(`/proc/self/fd/${fd}`);
  } catch {
    return;
  }
  const top = realpathSync(root);
  if (real !== top && !real.startsWith(top === "/" ? "/" : `${top}/`)) {
    throw Object.assign(new Error(`EXDEV: '${path}' leads out of the root '${root}'`), { code: "EXDEV" });
  }
}
