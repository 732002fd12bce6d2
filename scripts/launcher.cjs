// The first part of each program's executable; the bundle follows on the last line as one string
// literal (scripts/code-cache.mjs puts them together). One file, because systemd runs every file
// in a generator directory. The launcher compiles the bundle with the V8 code cache made for it at
// build or install time, so a run deserializes the functions it needs instead of compiling them;
// with no usable cache it compiles as usual. V8 checks a cache's version and flags but not its
// source or integrity, so the cache carries a header of ours (bundle ID, Node, length, checksum),
// checked first. Nothing here writes. What it saves is measured in BENCHMARKS.md.
// PORTABLE_ATTACH_DEBUG_CODE_CACHE=1 says on stderr what became of the cache.
"use strict";

/**
 * The cache file: the bundle's ID (16 bytes), the Node that made it (NODE, 24 bytes), the
 * payload's length (u32 LE) and checksum (i32 LE), the payload. Node releases that share a V8
 * version (all of Node 20) pass V8's own version check, yet may differ in what V8 compiles to.
 */
const HEADER = 48;
/** The V8 flag every run of a program has (see start()); scripts/install.mjs puts it in #! lines. */
const NO_TURBOFAN = "--no-opt";
const NODE = `${process.version} ${process.arch}`.padEnd(24).slice(0, 24);
/** The largest cache read: the memory reserved for it is virtual until read into. */
const MAX_CACHE = 16 << 20;

/** Read the cache for the bundle `id`: its V8 payload, or a string saying why there is none. */
function readCodeCache(fs, path, id) {
  let fd;
  try {
    fd = fs.openSync(path, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK); // a FIFO must not block
  } catch (e) {
    return e.code === "ENOENT" ? "missing" : `unusable (${e.code ?? e.message})`;
  }
  try {
    if (typeof WebAssembly !== "object") return "unusable (no WebAssembly to check it with)";
    // Read straight into the checksum function's memory: no copy, and V8 reads the payload there.
    // Plain byte arithmetic below: Buffer's methods would cost more to load than they do here.
    const sum = checksum();
    const b = sum.bytes(MAX_CACHE + 1);
    let size = 0;
    for (let n; size < b.length; size += n) if ((n = fs.readSync(fd, b, size, b.length - size, size)) === 0) break;
    if (size < HEADER) return "unusable (truncated)";
    for (let i = 0; i < 16; i++) if (b[i] !== id.charCodeAt(i)) return "unusable (made for another build)";
    for (let i = 0; i < 24; i++) if (b[16 + i] !== NODE.charCodeAt(i)) return "unusable (made by another Node)";
    const length = (b[40] | (b[41] << 8) | (b[42] << 16) | (b[43] << 24)) >>> 0;
    if (length === 0 || size !== HEADER + length)
      return size > MAX_CACHE ? "unusable (too big)" : "unusable (wrong length)";
    if (sum.hash(HEADER, size) !== (b[44] | (b[45] << 8) | (b[46] << 16) | (b[47] << 24)))
      return "unusable (checksum mismatch)";
    return b.subarray(HEADER, size);
  } catch (e) {
    return `unusable (${e.code ?? e.message})`; // EISDIR, EIO...
  } finally {
    try {
      fs.closeSync(fd);
    } catch {
      /* nothing to do about it, and no reason to stop */
    }
  }
}

/**
 * A WebAssembly memory, bytes(n): a view of its first n bytes (zeros past what was written), and
 * hash(from, to): 4 lanes of FNV-1a over little-endian 64-bit words of [from, to) (to rounded up
 * to 32 bytes), folded into a 32-bit integer. A change of any one word changes the result: each
 * step is a bijection of its lane's state. scripts/code-cache.mjs writes the header with it too.
 * WebAssembly because it runs at native speed at once; a JS loop over 300 KB takes milliseconds
 * before it is optimized.
 */
function checksum() {
  // (module (memory (export "m") 1)
  //   (func (export "h") (param $at i32) (param $end i32) (result i32) (local $a i64) (local $b i64) (local $c i64) (local $d i64)
  //     (local.set $a (i64.const 1)) (local.set $b (i64.const 2)) (local.set $c (i64.const 3)) (local.set $d (i64.const 4))
  //     (block (loop
  //       (br_if 1 (i32.ge_u (local.get $at) (local.get $end)))
  //       (local.set $a (i64.mul (i64.xor (local.get $a) (i64.load offset=0 (local.get $at))) (i64.const 0x100000001b3)))
  //       (local.set $b ...offset=8...) (local.set $c ...offset=16...) (local.set $d ...offset=24...)
  //       (local.set $at (i32.add (local.get $at) (i32.const 32)))
  //       (br 0)))
  //     (local.set $a (i64.xor (i64.xor (i64.xor (local.get $a) (i64.rotl (local.get $b) (i64.const 16)))
  //                                     (i64.rotl (local.get $c) (i64.const 32))) (i64.rotl (local.get $d) (i64.const 48))))
  //     (i32.wrap_i64 (i64.xor (local.get $a) (i64.shr_u (local.get $a) (i64.const 32))))))
  const wasm = new Uint8Array([
    0, 97, 115, 109, 1, 0, 0, 0, 1, 7, 1, 96, 2, 127, 127, 1, 127, 3, 2, 1, 0, 5, 3, 1, 0, 1, 7, 9, 2, 1, 109, 2, 0, 1,
    104, 0, 0, 10, 148, 1, 1, 145, 1, 1, 4, 126, 66, 1, 33, 2, 66, 2, 33, 3, 66, 3, 33, 4, 66, 4, 33, 5, 2, 64, 3, 64,
    32, 0, 32, 1, 79, 13, 1, 32, 2, 32, 0, 41, 3, 0, 133, 66, 179, 131, 128, 128, 128, 32, 126, 33, 2, 32, 3, 32, 0, 41,
    3, 8, 133, 66, 179, 131, 128, 128, 128, 32, 126, 33, 3, 32, 4, 32, 0, 41, 3, 16, 133, 66, 179, 131, 128, 128, 128,
    32, 126, 33, 4, 32, 5, 32, 0, 41, 3, 24, 133, 66, 179, 131, 128, 128, 128, 32, 126, 33, 5, 32, 0, 65, 32, 106, 33,
    0, 12, 0, 11, 11, 32, 2, 32, 3, 66, 16, 137, 133, 32, 4, 66, 32, 137, 133, 32, 5, 66, 48, 137, 133, 33, 2, 32, 2,
    32, 2, 66, 32, 136, 133, 167, 11,
  ]);
  const { m, h } = new WebAssembly.Instance(new WebAssembly.Module(wasm)).exports;
  return {
    memory: m,
    bytes(n) {
      const pages = Math.ceil((n + 32) / 65536) - m.buffer.byteLength / 65536;
      if (pages > 0) m.grow(pages);
      return new Uint8Array(m.buffer, 0, n);
    },
    hash: (from, to) => h(from, from + ((to - from + 31) & ~31)),
  };
}

/**
 * Run the program: `source` is the bundle wrapped as a CommonJS module function, `id` names it in
 * its cache. Loaded with require() instead (by scripts/code-cache.mjs), export what making the
 * cache needs, and run nothing yet.
 */
// biome-ignore lint/correctness/noUnusedVariables: the build appends the call, launch("ID", "SOURCE").
function launch(id, source) {
  if (require.main === module) {
    start(source, __filename, readCodeCache(require("node:fs"), CODE_CACHE, id));
    return;
  }
  // The producer runs the program with start(), under the name the program file will have: V8
  // keeps the name a cache was made with (stack traces would name the producer's copy).
  module.exports = { id, NODE, HEADER, checksum, start: (filename) => start(source, filename, "not read") };
}

/** Compile the bundle with `cache` (the payload, or why there is none), run it; the compiled script. */
function start(source, filename, cache) {
  // No TurboFan: Node's exit joins V8's worker threads, so optimizing jobs still running at exit
  // delay it, for code a short run never uses (BENCHMARKS.md). Installed programs get the flag from
  // their #! line; run any other way, it is set here, before the bundle is compiled, as when the
  // cache was made (V8 refuses a cache made under other flags).
  if (!process.execArgv.includes(NO_TURBOFAN)) require("node:v8").setFlagsFromString(NO_TURBOFAN);
  const vm = require("node:vm");
  const script = new vm.Script(source, { filename, cachedData: typeof cache === "string" ? undefined : cache });
  if (process.env.PORTABLE_ATTACH_DEBUG_CODE_CACHE) {
    const what = typeof cache === "string" ? cache : script.cachedDataRejected ? "rejected" : "accepted";
    process.stderr.write(`${require("node:path").basename(filename)}: code cache ${CODE_CACHE}: ${what}\n`);
  }
  const bundle = { exports: {} };
  script.runInThisContext()(bundle.exports, require, bundle, __filename, __dirname);
  return script;
}
