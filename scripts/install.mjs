#!/usr/bin/env node
// Installs (or uninstalls) portable-attach as a systemd tool, from a built tree (`npm run build`).
//
//   node scripts/install.mjs install   [--destdir=DIR] [--prefix=/usr] [--node=/usr/bin/node] [--no-code-cache]
//   node scripts/install.mjs uninstall [--destdir=DIR] [--prefix=/usr]
//   (npm run install-files / npm run uninstall-files; DESTDIR, PREFIX and NODE are read from the
//   environment too, as make(1) users expect)
//
// What goes where, PREFIX=/usr:
//   /usr/lib/systemd/system-generators/portable-attach-generator   0755, #! absolute path to node
//   /usr/bin/portable-attach                                       0755, #! absolute path to node
//   /usr/lib/systemd/system/portable-attach*.{service,path}         0644 (units/)
//   /usr/lib/portable-attach/profile/<name>/service.conf            0644 (profiles/)
//   /usr/lib/portable-attach.d/                                     the vendor list directory, empty
//   /usr/share/man/man5/portable-attach.conf.5, man8/portable-attach{,-generator}.8
//   /usr/share/bash-completion/completions/portable-attach
//   /usr/lib/portable-attach/portable-attach{,-generator}.v8cache     0644, V8 code caches (below)
//   /usr/lib/portable-attach/install-manifest.json                 what this run installed
//
// The #! line: systemd runs generators with a minimal PATH, so `#!/usr/bin/env node` fails for a
// Node that is not in /usr/bin (nvm, a tarball in /opt…). The absolute path of the Node found at
// install time (--node, $NODE, else `node` on PATH, else this Node) is written instead.
//
// Code caches: each program compiles itself with a V8 code cache when it finds one it can use
// (scripts/launcher.cjs), which saves several ms of every start. A cache is accepted only by the
// Node (V8 version and flags) that made it, so install makes it by running that Node: the one of
// the #! lines (scripts/code-cache.mjs; a few hundred ms). The programs are told the cache's
// installed path (PREFIX/lib/portable-attach/<program>.v8cache, on /usr, readable at boot). When
// that Node cannot make one (not there yet in a DESTDIR, too old, …) install goes on without and
// says so; --no-code-cache skips them (e.g. packaging for a system whose Node differs from
// --node's: a cache made by another Node is refused there, harmlessly, but is dead weight). A
// program without its cache works as well, only starts slower. After an upgrade of Node, install
// again (or the caches are refused, and the programs start as slowly as without).
//
// Uninstall reads the manifest and removes exactly the files it lists (only while they still hold
// what was installed; an edited file is kept and named), then the directories install created, if
// empty, then the manifest. With no manifest it removes nothing and says so.
import { createHash } from "node:crypto";
import {
  chmodSync,
  existsSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  realpathSync,
  renameSync,
  rmdirSync,
  rmSync,
  statSync,
  unlinkSync,
  writeFileSync,
} from "node:fs";
import { delimiter, dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { makeCodeCache, NODE_FLAG, withCachePath } from "./code-cache.mjs";

export const REPO = resolve(dirname(fileURLToPath(import.meta.url)), "..");
export { NODE_FLAG };
export const MANIFEST = "lib/portable-attach/install-manifest.json"; // below PREFIX
/** Where the generator looks for our own profiles; it does not follow PREFIX. */
const GENERATOR_PROFILE_DIR = "/usr/lib/portable-attach/profile";

const sha256 = (buf) => createHash("sha256").update(buf).digest("hex");

/** Find the node to put in the #! lines: an absolute path. */
export function findNode(explicit) {
  const given = explicit ?? process.env.NODE;
  if (given) {
    if (!given.startsWith("/")) throw new Error(`--node must be an absolute path, not '${given}'`);
    return given;
  }
  for (const dir of (process.env.PATH ?? "").split(delimiter)) {
    if (!dir.startsWith("/")) continue;
    const p = join(dir, "node");
    try {
      if (statSync(p).isFile()) return p;
    } catch {
      /* not here */
    }
  }
  return process.execPath;
}

/**
 * Replace a bundle's first line (#!/usr/bin/env node) with `#!NODE --no-opt`: the one V8 flag every
 * run of our programs has (NO_TURBOFAN in scripts/launcher.cjs says why), given here so that an
 * installed program need not load node:v8 to set it. Linux passes it as the #! line's one argument.
 */
export function withShebang(buf, node) {
  const text = buf.toString("utf8");
  if (!text.startsWith("#!")) throw new Error("bundle has no #! line");
  if (/\s/.test(node)) throw new Error(`the path to node must not contain white space: '${node}'`);
  return Buffer.from(`#!${node} ${NODE_FLAG}${text.slice(text.indexOf("\n"))}`, "utf8");
}

/**
 * Every file to install: { path (below DESTDIR, absolute), content (Buffer), mode }, and the
 * directories that must exist even when empty.
 */
export function installPlan({ prefix = "/usr", node, repo = REPO, gzipMan = false, gzip } = {}) {
  prefix = prefix.replace(/\/+$/, "") || "/";
  if (!prefix.startsWith("/")) throw new Error(`PREFIX must be absolute, not '${prefix}'`);
  const P = (p) => (prefix === "/" ? "" : prefix) + "/" + p;
  const files = [];
  const add = (path, content, mode = 0o644) => files.push({ path, content, mode });

  const programs = [];
  for (const [bundle, dest] of [
    ["dist/portable-attach-generator", "lib/systemd/system-generators/portable-attach-generator"],
    ["dist/portable-attach", "bin/portable-attach"],
  ]) {
    const src = join(repo, bundle);
    if (!existsSync(src)) throw new Error(`${bundle} is missing: run 'npm run build' first`);
    const program = bundle.slice("dist/".length);
    // Not in the generator directory: systemd would run it as a generator.
    const cache = P(`lib/portable-attach/${program}.v8cache`);
    add(P(dest), Buffer.from(withCachePath(withShebang(readFileSync(src), node).toString("utf8"), cache)), 0o755);
    programs.push({ program, path: P(dest), cache });
  }
  const bin = P("bin/portable-attach");
  for (const name of readdirSync(join(repo, "units")).sort()) {
    if (!/\.(service|path|socket|timer|target)$/.test(name)) continue;
    let text = readFileSync(join(repo, "units", name), "utf8");
    // The shipped units name the command at /usr/bin; follow PREFIX.
    if (bin !== "/usr/bin/portable-attach") text = text.replaceAll("/usr/bin/portable-attach", bin);
    add(P(`lib/systemd/system/${name}`), Buffer.from(text));
  }
  for (const name of readdirSync(join(repo, "profiles")).sort()) {
    const conf = join(repo, "profiles", name, "service.conf");
    if (existsSync(conf)) add(P(`lib/portable-attach/profile/${name}/service.conf`), readFileSync(conf));
  }
  for (const name of readdirSync(join(repo, "man")).sort()) {
    const m = /\.([1-8])$/.exec(name);
    if (!m) continue;
    const page = readFileSync(join(repo, "man", name));
    if (gzipMan) add(P(`share/man/man${m[1]}/${name}.gz`), gzip(page));
    else add(P(`share/man/man${m[1]}/${name}`), page);
  }
  add(
    P("share/bash-completion/completions/portable-attach"),
    readFileSync(join(repo, "completion/portable-attach.bash")),
  );
  return { prefix, files, programs, emptyDirs: [P("lib/portable-attach.d")] };
}

const under = (destdir, path) => (destdir ? join(destdir, path) : path);

/** Directories from / down to dir that do not exist yet, outermost first. */
function missingDirs(dir) {
  const out = [];
  for (let d = dir; !existsSync(d); d = dirname(d)) out.unshift(d);
  return out;
}

function writeAtomic(path, content, mode) {
  const tmp = `${path}.tmp-install-${process.pid}`;
  writeFileSync(tmp, content, { mode });
  chmodSync(tmp, mode); // not subject to the umask
  renameSync(tmp, path);
}

/**
 * Install; returns the manifest (also written below PREFIX unless manifest: false). codeCache:
 * make the programs' code caches with the Node of the #! lines (when it can).
 */
export function install({
  destdir = "",
  prefix = "/usr",
  node,
  manifest = true,
  codeCache = true,
  gzipMan = false,
  gzip,
  say = () => {},
} = {}) {
  const nodePath = findNode(node);
  const plan = installPlan({ prefix, node: nodePath, gzipMan, gzip });
  const P = (p) => (plan.prefix === "/" ? "" : plan.prefix) + "/" + p;
  if (destdir) mkdirSync(destdir, { recursive: true }); // DESTDIR itself is the caller's
  const createdDirs = [];
  const mkdirs = (dir) => {
    for (const d of missingDirs(under(destdir, dir))) {
      mkdirSync(d, { mode: 0o755 });
      chmodSync(d, 0o755);
      createdDirs.push(destdir ? d.slice(destdir.replace(/\/+$/, "").length) : d);
    }
  };
  const record = { version: 1, prefix: plan.prefix, node: nodePath, files: [], dirs: [] };
  for (const f of plan.files) {
    mkdirs(dirname(f.path));
    writeAtomic(under(destdir, f.path), f.content, f.mode);
    record.files.push({ path: f.path, sha256: sha256(f.content) });
    say(`installed ${f.path}`);
  }
  for (const d of plan.emptyDirs) mkdirs(d);
  for (const p of codeCache ? plan.programs : []) {
    mkdirs(dirname(p.cache));
    const made = makeCodeCache({
      node: nodePath,
      exe: under(destdir, p.path),
      runAs: p.path,
      program: p.program,
      cacheFile: under(destdir, p.cache),
    });
    if (made.ok) {
      record.files.push({ path: p.cache, sha256: sha256(readFileSync(under(destdir, p.cache))) });
      say(`installed ${p.cache} (V8 code cache, made with ${nodePath})`);
    } else {
      // One left by an earlier install would name another build or Node: refused, but dead weight.
      rmSync(under(destdir, p.cache), { force: true });
      say(`note: no code cache for ${p.program}, it starts a few ms slower: ${made.reason}`);
    }
  }
  if (manifest) {
    const m = P(MANIFEST);
    mkdirs(dirname(m));
    record.dirs = createdDirs;
    writeAtomic(under(destdir, m), JSON.stringify(record, null, 2) + "\n", 0o644);
    say(`installed ${m} (what uninstall removes)`);
  }
  record.dirs = createdDirs;
  if (plan.prefix !== "/usr") {
    say(
      `note: the generator reads its own profiles only from ${GENERATOR_PROFILE_DIR}; with PREFIX=${plan.prefix}, ` +
        "Profile= finds systemd's profiles (systemd-container) or none",
    );
  }
  if (!nodePath.startsWith("/usr/"))
    say(`warning: node is ${nodePath}: a generator runs early at boot, when only / and /usr are sure to be mounted`);
  return record;
}

/** Uninstall what the manifest below PREFIX lists. Returns { removed, kept }. */
export function uninstall({ destdir = "", prefix = "/usr", say = () => {} } = {}) {
  prefix = prefix.replace(/\/+$/, "") || "/";
  const m = (prefix === "/" ? "" : prefix) + "/" + MANIFEST;
  const mPath = under(destdir, m);
  if (!existsSync(mPath))
    throw new Error(
      `${m} not found below '${destdir || "/"}': nothing was installed with this PREFIX, nothing removed`,
    );
  const record = JSON.parse(readFileSync(mPath, "utf8"));
  if (record.version !== 1 || !Array.isArray(record.files) || !Array.isArray(record.dirs))
    throw new Error(`${m}: unknown manifest format`);
  const removed = [],
    kept = [];
  for (const f of record.files) {
    const p = under(destdir, f.path);
    let st;
    try {
      st = lstatSync(p);
    } catch {
      continue;
    } // already gone
    if (!st.isFile() || sha256(readFileSync(p)) !== f.sha256) {
      kept.push(f.path);
      say(`kept ${f.path}: changed since it was installed`);
      continue;
    }
    unlinkSync(p);
    removed.push(f.path);
    say(`removed ${f.path}`);
  }
  unlinkSync(mPath);
  removed.push(m);
  // Innermost first; a directory someone has put files in stays.
  for (const d of [...record.dirs].sort((a, b) => b.length - a.length)) {
    try {
      rmdirSync(under(destdir, d));
      say(`removed ${d}/`);
    } catch {
      /* not empty or gone */
    }
  }
  return { removed, kept };
}

function parseArgs(argv) {
  const o = {
    verb: undefined,
    destdir: process.env.DESTDIR ?? "",
    prefix: process.env.PREFIX ?? "/usr",
    node: undefined,
    codeCache: true,
    quiet: false,
  };
  for (const a of argv) {
    let m;
    if ((m = /^--destdir=(.*)$/.exec(a))) o.destdir = m[1];
    else if ((m = /^--prefix=(.*)$/.exec(a))) o.prefix = m[1];
    else if ((m = /^--node=(.*)$/.exec(a))) o.node = m[1];
    else if (a === "--no-code-cache") o.codeCache = false;
    else if (a === "-q" || a === "--quiet") o.quiet = true;
    else if (!a.startsWith("-") && o.verb === undefined) o.verb = a;
    else throw new Error(`unknown argument '${a}'`);
  }
  if (o.verb !== "install" && o.verb !== "uninstall")
    throw new Error(
      "usage: install.mjs install|uninstall [--destdir=DIR] [--prefix=DIR] [--node=PATH] [--no-code-cache] [-q]",
    );
  if (o.destdir) o.destdir = resolve(o.destdir);
  return o;
}

if (process.argv[1] && realpathSync(process.argv[1]) === fileURLToPath(import.meta.url)) {
  try {
    const o = parseArgs(process.argv.slice(2));
    const say = o.quiet ? () => {} : (s) => console.log(s);
    if (o.verb === "install") {
      const r = install({ ...o, say });
      if (!o.quiet)
        console.log(`${r.files.length} files installed below ${o.destdir || "/"} (PREFIX=${r.prefix}, #!${r.node})`);
      if (!o.destdir && existsSync("/run/systemd/system") && !o.quiet)
        console.log("Run 'systemctl daemon-reload' to run the generator now.");
    } else {
      const r = uninstall({ ...o, say });
      if (r.kept.length) process.exitCode = 1;
    }
  } catch (e) {
    console.error(`install.mjs: ${e.message}`);
    process.exitCode = 1;
  }
}
