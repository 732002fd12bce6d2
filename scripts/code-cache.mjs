// The programs' V8 code caches: how an executable is put together from a bundle and the launcher
// (scripts/launcher.cjs, whose header explains the layout), and how its cache is made.
//
// A cache is made by running the program once, with the Node that will run it, on representative
// input in a throwaway root, then saving script.createCachedData(): made after the run, it holds
// the functions the run compiled (V8 compiles lazily), not only the top level. `npm run build`
// makes dist/<program>.v8cache this way with the building Node; scripts/install.mjs makes one with
// the Node it writes into the #! lines. The program itself never writes one.
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import {
  chmodSync,
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  realpathSync,
  renameSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { basename, dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const HERE = dirname(fileURLToPath(import.meta.url));
const REPO = join(HERE, "..");
export const LAUNCHER = join(HERE, "launcher.cjs");
/** The line of an executable that says where its cache is; install.mjs replaces it. */
export const CACHE_LINE = /^const CODE_CACHE = .*;$/m;
/** Where the launcher looks for its cache when nobody said otherwise: next to the executable. */
export const SIBLING_CACHE_LINE = 'const CODE_CACHE = __filename + ".v8cache";';
/** The wrapper of a CommonJS module, as Node's module loader puts it around a file. */
const WRAP_HEAD = "(function (exports, require, module, __filename, __dirname) {";
const WRAP_TAIL = "\n})";

/** The executable for an esbuild bundle: #! line and banner, the launcher, the bundle as a string. */
export function executable(bundle, { banner }) {
  if (bundle.startsWith("#!")) throw new Error("the bundle must not have a #! line of its own");
  const source = WRAP_HEAD + bundle + WRAP_TAIL;
  // What the cache header names: a cache made for other source (of the same length, which is all
  // V8 compares) must not be used.
  const id = createHash("sha256").update(source).digest("hex").slice(0, 16);
  const launcher = readFileSync(LAUNCHER, "utf8");
  // ASCII only: one character past it makes Node decode the whole file to UTF-16, and V8 scan it
  // as such, at every start (~4 M instructions for the generator). JSON.stringify's output is a
  // JavaScript string literal; other characters in it are escaped.
  const text = `#!/usr/bin/env node\n${banner}\n${launcher}${SIBLING_CACHE_LINE}\n`;
  if (/[^\x00-\x7f]/.test(text)) throw new Error("the launcher and the banner must be ASCII");
  const literal = JSON.stringify(source).replace(
    /[^\x00-\x7f]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`,
  );
  return `${text}launch(${JSON.stringify(id)}, ${literal});\n`;
}

/** The bundle an executable carries (the inverse of executable()), for tests and checks. */
export function bundleOf(text) {
  const m = /^launch\("([0-9a-f]{16})", (".*")\);$/m.exec(text);
  if (!m) throw new Error("not an executable made by scripts/code-cache.mjs");
  const source = JSON.parse(m[2]);
  return { id: m[1], source, bundle: source.slice(WRAP_HEAD.length, -WRAP_TAIL.length) };
}

/** Point an executable at another cache file (an absolute path). */
export function withCachePath(text, path) {
  if (!path.startsWith("/")) throw new Error(`the code cache path must be absolute, not '${path}'`);
  if (!CACHE_LINE.test(text)) throw new Error("the executable has no CODE_CACHE line");
  return text.replace(CACHE_LINE, `const CODE_CACHE = ${JSON.stringify(path)};`);
}

// Loads the executable with require() (its launcher then exports what is needed here and runs
// nothing), runs the program under the name it will have (argv[1]; the rest of the command line is
// the program's), and at exit writes the header and createCachedData().
const PRODUCER = `
const fs = require("node:fs");
const [out, exe] = [process.env.PORTABLE_ATTACH_CODE_CACHE_OUT, process.env.PORTABLE_ATTACH_CODE_CACHE_EXE];
delete process.env.PORTABLE_ATTACH_CODE_CACHE_OUT;
delete process.env.PORTABLE_ATTACH_CODE_CACHE_EXE;
const l = require(exe);
const script = l.start(process.argv[1]);
process.on("exit", () => {
  const data = script.createCachedData();
  const sum = l.checksum();
  const bytes = sum.bytes(l.HEADER + data.length);
  bytes.set(data, l.HEADER);
  const header = Buffer.from(bytes.buffer, 0, l.HEADER);
  header.write(l.id, 0, "latin1");
  header.write(l.NODE, 16, "latin1");
  header.writeUInt32LE(data.length, 40);
  header.writeInt32LE(sum.hash(l.HEADER, bytes.length), 44);
  fs.writeFileSync(out, bytes);
});
`;

/** The two programs: how each is run to make its cache (in a root made by representativeRoot()). */
export const PROGRAMS = {
  "portable-attach-generator": (root) => ({
    args: [join(root, "run/systemd/generator")],
    env: { PORTABLE_ATTACH_ROOT: root },
  }),
  "portable-attach": (root) => ({ args: [`--root=${root}`, "list"], env: {} }),
};

/** The raw images of the representative run: name in the root → fixture file. */
export const SAMPLE_IMAGES = {
  foo_1: "erofs-lz4.raw",
  sq_1: "squashfs-zstd.raw",
  ext_1: "ext4.raw",
  gpt_1: "gpt-dps-root-erofs.raw",
};

/**
 * The sample directory image (a service and a socket) and its directory extension (one more
 * service), written under `dir`; returns their paths as the booted system sees them. Also the
 * image of `npm run example`.
 */
export function writeHelloImages(dir) {
  const file = (path, text) => {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), text);
  };
  const image = "/var/lib/portables/hello_1";
  file(`${image}/usr/lib/os-release`, "ID=debian\nVERSION_ID=12\n");
  file(
    `${image}/usr/lib/systemd/system/hello.service`,
    "[Unit]\nDescription=Hello\n\n[Service]\nExecStart=/usr/bin/hello\n\n[Install]\nWantedBy=multi-user.target\n",
  );
  file(
    `${image}/usr/lib/systemd/system/hello.socket`,
    "[Socket]\nListenStream=/run/hello.sock\n\n[Install]\nWantedBy=sockets.target\n",
  );
  const extension = "/var/lib/portables/hello-debug";
  file(`${extension}/usr/lib/extension-release.d/extension-release.hello-debug`, "ID=debian\nVERSION_ID=12\n");
  file(`${extension}/usr/lib/systemd/system/hello-debug.service`, "[Service]\nExecStart=/usr/bin/hello --debug\n");
  return { image, extension };
}

/**
 * A small root for the representative run: a directory image with an extension, and raw images of
 * the usual kinds (erofs, squashfs, ext4, GPT with an erofs root partition) from `images` (the test
 * fixtures; the package ships a few in /usr/share/portable-attach/code-cache): those there are used.
 */
export function representativeRoot(
  dir,
  { images = join(REPO, "test/fixtures/images"), profiles = join(REPO, "profiles") } = {},
) {
  const file = (path, text) => {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), text);
  };
  const { image: img, extension: ext } = writeHelloImages(dir);
  mkdirSync(join(dir, "var/lib/portables"), { recursive: true });
  const have = new Set();
  for (const [name, fixture] of Object.entries(SAMPLE_IMAGES)) {
    if (!existsSync(join(images, fixture))) continue;
    cpSync(join(images, fixture), join(dir, `var/lib/portables/${name}.raw`));
    have.add(name);
  }
  cpSync(profiles, join(dir, "usr/lib/portable-attach/profile"), { recursive: true });
  // The fixtures all hold the same foo*.service and allow only the prefix foo: [foo] is attached,
  // the others are read whole and then refused for providing the same units (each refusal names both).
  const entries = [`[hello]\nImage=${img}\nExtensions=${ext}\nEnable=yes\n`];
  if (have.has("foo_1")) entries.push("[foo]\nImage=foo\nEnable=yes\n");
  if (have.has("sq_1")) entries.push("[x-squashfs]\nImage=/var/lib/portables/sq_1.raw\nPrefixes=foo\nProfile=strict\n");
  if (have.has("ext_1")) entries.push("[x-ext4]\nImage=/var/lib/portables/ext_1.raw\nPrefixes=foo\n");
  if (have.has("gpt_1")) entries.push("[x-gpt]\nImage=/var/lib/portables/gpt_1.raw\nPrefixes=foo\n");
  file("/etc/portable-attach.conf", entries.join("\n"));
  mkdirSync(join(dir, "run/systemd/generator"), { recursive: true });
  return dir;
}

/** The environment a program is run in to make its cache: nothing that changes V8's flags. */
function cleanEnv(extra) {
  return { PATH: process.env.PATH ?? "/usr/bin:/bin", LANG: "C.UTF-8", SYSTEMD_LOG_LEVEL: "emerg", ...extra };
}

/**
 * Make `cacheFile` for the executable `exe` with `node` (an absolute path), then check that this
 * Node accepts it. `runAs`: the path the program will be run as (stack traces name it), by default
 * `exe`. The checking run is of a copy of `exe` that reads its cache from the temp directory, so
 * that a cache already at the installed path plays no part and the check works below a DESTDIR.
 * The file appears whole or not at all. Returns { ok: true } or { ok: false, reason }; never throws.
 */
/**
 * The V8 flag of every installed program's #! line; must be the launcher's NO_TURBOFAN
 * (test/packaging/install.test.ts checks an installed program needs no other). Caches are made and
 * checked with it on the command line, as installed programs run: Node 22's V8 refuses a cache made
 * under a flag set at run time when the flag is then given on the command line.
 */
export const NODE_FLAG = "--no-opt";

export function makeCodeCache({ node = process.execPath, exe, program, cacheFile, runAs = resolve(exe), samples }) {
  const how = PROGRAMS[program];
  if (!how) return { ok: false, reason: `no representative run for '${program}'` };
  const dir = mkdtempSync(join(tmpdir(), "portable-attach-code-cache-"));
  try {
    const cache = join(dir, "cache");
    const copy = join(dir, program);
    writeFileSync(join(dir, "package.json"), '{"type":"commonjs"}\n');
    writeFileSync(copy, withCachePath(readFileSync(exe, "utf8"), cache));
    const { args, env } = how(representativeRoot(join(dir, "root"), samples));
    const r = spawnSync(node, [NODE_FLAG, "-e", PRODUCER, runAs, ...args], {
      cwd: dir,
      encoding: "utf8",
      stdio: ["ignore", "ignore", "pipe"],
      timeout: 60_000,
      env: cleanEnv({ ...env, PORTABLE_ATTACH_CODE_CACHE_OUT: cache, PORTABLE_ATTACH_CODE_CACHE_EXE: copy }),
    });
    if (r.error) return { ok: false, reason: `${node}: ${r.error.message}` };
    if (r.status !== 0)
      return {
        ok: false,
        reason: `${program} ${args.join(" ")} exited with ${r.status ?? r.signal}: ${r.stderr.trim()}`,
      };
    const state = codeCacheState({ node, exe: copy });
    if (state !== "accepted") return { ok: false, reason: `${node} does not accept the code cache it made: ${state}` };
    // Readable by the users who run the CLI, whatever the umask; whole or not at all.
    const tmp = `${cacheFile}.tmp-${process.pid}`;
    try {
      cpSync(cache, tmp);
      chmodSync(tmp, 0o644);
      renameSync(tmp, cacheFile);
    } finally {
      rmSync(tmp, { force: true });
    }
    return { ok: true };
  } catch (e) {
    return { ok: false, reason: e.message };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** What becomes of an executable's cache when `node` runs it: "accepted", "rejected", "missing"… */
export function codeCacheState({ node = process.execPath, exe, env = {} }) {
  // A run that writes nothing: the CLI's --version; the generator refuses two arguments (one would
  // be its output directory). In a directory of its own all the same.
  const cwd = mkdtempSync(join(tmpdir(), "portable-attach-code-cache-"));
  try {
    const r = spawnSync(node, [NODE_FLAG, exe, "--version", "--version"], {
      cwd,
      encoding: "utf8",
      env: cleanEnv({ ...env, PORTABLE_ATTACH_DEBUG_CODE_CACHE: "1" }),
      timeout: 60_000,
    });
    const m = / code cache .*: (.+)$/m.exec(r.stderr ?? "");
    return m ? m[1] : `unknown (${(r.error?.message ?? r.stderr ?? "").trim()})`;
  } finally {
    rmSync(cwd, { recursive: true, force: true });
  }
}

// For tests, the package's postinst, and remaking a cache by hand (e.g. after an upgrade of Node):
//   node scripts/code-cache.mjs make EXECUTABLE CACHE-FILE [--node=PATH] [--images=DIR --profiles=DIR]
//                                                    (the program is EXECUTABLE's name; the sample
//                                                    images and profiles default to the source tree's)
//   node scripts/code-cache.mjs state EXECUTABLE [--node=PATH]             (accepted, rejected, missing, unusable …)
const isMain = () => {
  try {
    return realpathSync(process.argv[1] ?? "") === fileURLToPath(import.meta.url);
  } catch {
    return false; // imported by a program whose first argument is not a file
  }
};
if (isMain()) {
  const option = (name) => process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
  const args = process.argv.slice(2).filter((a) => !/^--(node|images|profiles)=/.test(a));
  const node = option("node") ?? process.execPath;
  const samples = {
    images: option("images") ?? join(REPO, "test/fixtures/images"),
    profiles: option("profiles") ?? join(REPO, "profiles"),
  };
  const [verb, exe, cacheFile] = args;
  if (verb === "make" && exe && cacheFile && args.length === 3) {
    const r = makeCodeCache({ node, exe, program: basename(exe), cacheFile, samples });
    if (!r.ok) console.error(`code-cache.mjs: ${r.reason}`);
    process.exitCode = r.ok ? 0 : 1;
  } else if (verb === "state" && exe && args.length === 2) {
    console.log(codeCacheState({ node, exe }));
  } else {
    console.error(
      "usage: code-cache.mjs make EXECUTABLE CACHE-FILE [--node=PATH] [--images=DIR] [--profiles=DIR] | state EXECUTABLE [--node=PATH]",
    );
    process.exitCode = 2;
  }
}
