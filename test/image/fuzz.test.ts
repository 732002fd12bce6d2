// Seeded mutation fuzzing of the raw-image stack (partition tables, squashfs, erofs, ext2/3/4) over
// every committed fixture: byte flips, truncation, inflated or zeroed length fields, and copied
// chunks (which make cycles: a directory block pointing at itself). Each mutated image is opened and
// its whole tree walked, reading every file. The only acceptable failure is an ImageError; a
// TypeError, RangeError or any other exception, or an iteration that does not finish in time, is a
// crasher: its input is saved gzipped under test/fuzz/corpus/ and replayed by this file forever after.
//
// The readers run in a worker thread (bundled by esbuild) so that an endless loop can be stopped and
// reported instead of hanging the test run. FUZZ_ITERATIONS (total, default below: ~20-40 s on a
// 2-core CI machine) and FUZZ_SEED change the run.
import { build } from "esbuild";
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Worker } from "node:worker_threads";
import { rng } from "../helpers/random.ts";
import { gunzipSync, gzipSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bytesSource } from "../../src/image/byte-source.ts";
import { crc32 } from "../../src/image/crc32.ts";
import { readGpt, readMbr } from "../../src/image/partitions.ts";
import { openRawSource } from "../../src/image/raw.ts";
import { ImageError, type ImageTree } from "../../src/image/types.ts";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const FIXTURES = join(ROOT, "test/fixtures/images");
const CORPUS = join(ROOT, "test/fuzz/corpus");
const ITERATIONS = Number(process.env.FUZZ_ITERATIONS ?? 1500);
const SEED = Number(process.env.FUZZ_SEED ?? 0x5eed);
/**
 * A healthy iteration takes well under 0.5 s. One that takes longer than this is retried once with
 * four times the time (a loaded CI machine is not a hang); failing that too, it is a hang.
 */
const ITERATION_TIMEOUT_MS = 10_000;

// ------------------------------------------------------------------------------ the worker side

const WORKER_SOURCE = `
import { parentPort } from "node:worker_threads";
import { bytesSource } from "./src/image/byte-source.ts";
import { openRawSource } from "./src/image/raw.ts";
import { readFileInImage } from "./src/image/resolve.ts";
import { ImageError } from "./src/image/types.ts";
import { LIMITS, RunBudget, withImageBudget } from "./src/image/budget.ts";

const MAX_FILE = 4 * 1024 * 1024;
// Bounds of this walker, not of the readers: a mutated directory may contain itself.
const MAX_ENTRIES = 20000;
const MAX_DEPTH = 24;

function walk(tree) {
  let entries = 0;
  let bytes = 0;
  const visit = (dir, depth) => {
    if (depth > MAX_DEPTH) return;
    for (const e of tree.readdir(dir)) {
      if (++entries > MAX_ENTRIES) return;
      const path = (dir === "/" ? "" : dir) + "/" + e.name;
      const st = tree.lstat(path);
      if (!st) continue;
      if (st.kind === "dir") visit(path, depth + 1);
      else if (st.kind === "symlink") tree.readlink(path);
      else if (st.kind === "file") bytes += tree.readFile(path, MAX_FILE).length;
    }
  };
  visit("/", 0);
  for (const p of ["/etc/os-release", "/usr/lib/os-release", "/lib/systemd/system/foo.service", "/usr/lib/systemd/system/foo-slow.service"]) {
    try {
      readFileInImage(tree, p, MAX_FILE);
    } catch (e) {
      if (!(e instanceof ImageError)) throw e;
    }
  }
  return { entries, bytes };
}

// Every image is read within the generator's per-image budgets (units aside: this walker reads
// every file), so a mutation that makes a reader spin is stopped by its budget, not by the timeout.
const BUDGET = { ...LIMITS, imageMs: 5000 };

parentPort.on("message", ({ bytes, name }) => {
  try {
    const result = withImageBudget(new RunBudget(BUDGET), name, () => {
      const tree = openRawSource(bytesSource(bytes, name), { architecture: "x86-64" });
      try {
        return { outcome: "ok", ...walk(tree) };
      } finally {
        tree.close();
      }
    });
    parentPort.postMessage(result);
  } catch (e) {
    const imageError = e instanceof ImageError;
    // Only messages that come from the readers' own checks: not some runtime error caught and rewrapped.
    parentPort.postMessage({ outcome: imageError ? "image-error" : "crash", code: e && e.code, message: String(e && e.message), stack: String(e && e.stack), name: e && e.name });
  }
});
`;

interface Outcome {
  outcome: "ok" | "image-error" | "crash" | "timeout";
  code?: string;
  message?: string;
  stack?: string;
  entries?: number;
}

class Runner {
  private worker: Worker | undefined;
  constructor(private readonly code: string) {}

  private start(): Worker {
    this.worker ??= new Worker(this.code, { eval: true });
    return this.worker;
  }

  run(bytes: Uint8Array, name: string, timeoutMs = ITERATION_TIMEOUT_MS): Promise<Outcome> {
    const worker = this.start();
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        worker.removeAllListeners("message");
        worker.removeAllListeners("error");
        void worker.terminate();
        this.worker = undefined;
        resolve({ outcome: "timeout", message: `no answer within ${timeoutMs} ms` });
      }, timeoutMs);
      const done = (o: Outcome): void => {
        clearTimeout(timer);
        worker.removeAllListeners("message");
        worker.removeAllListeners("error");
        resolve(o);
      };
      worker.once("message", (m: Outcome) => done(m));
      // An uncaught error or a stack overflow that kills the worker.
      worker.once("error", (e: Error) => {
        this.worker = undefined;
        done({ outcome: "crash", message: e.message, stack: String(e.stack) });
      });
      worker.postMessage({ bytes, name });
    });
  }

  async close(): Promise<void> {
    await this.worker?.terminate();
  }
}

// ------------------------------------------------------------------------------ mutations

interface Target {
  name: string;
  bytes: Uint8Array;
  /** Offsets of 512-byte sectors that hold more than zeros or plain file text: mostly metadata. */
  hot: number[];
  /** Starts of the image and of each partition: superblocks live in the first KiBs. */
  starts: number[];
}

function target(name: string): Target {
  const bytes = new Uint8Array(readFileSync(join(FIXTURES, name)));
  const hot: number[] = [];
  // Sectors of big.txt's plain text (digits and newlines) are file data: flipping them tests nothing.
  const metadata = (s: Uint8Array): boolean =>
    s.some((b) => b !== 0) && !s.every((b) => (b >= 0x30 && b <= 0x39) || b === 0x0a || b === 0);
  for (let off = 0; off < bytes.length; off += 512) if (metadata(bytes.subarray(off, off + 512))) hot.push(off);
  if (hot.length === 0) hot.push(0);
  const starts = [0];
  try {
    const src = bytesSource(bytes, name);
    const table = readGpt(src) ?? readMbr(src);
    for (const p of table?.partitions ?? []) starts.push(p.offset);
  } catch {
    // A fixture without a table (naked fs) or a negative case: the image start is enough.
  }
  return { name, bytes, hot, starts };
}

function mutate(t: Target, random: () => number): { bytes: Uint8Array; what: string } {
  const b = Uint8Array.from(t.bytes);
  const int = (n: number): number => Math.floor(random() * n);
  const pick = <T>(xs: T[]): T => xs[int(xs.length)] as T;
  // Where to hit: the first 8 KiB of a file system (superblocks, GPT), a non-zero sector, or anywhere.
  const where = (): number => {
    const r = random();
    const off = r < 0.4 ? pick(t.starts) + int(8192) : r < 0.9 ? pick(t.hot) + int(512) : int(b.length);
    return Math.min(off, b.length - 1);
  };
  const ops: string[] = [];
  const count = 1 + int(4);
  for (let k = 0; k < count; k++) {
    const kind = int(10);
    if (kind < 4) {
      const off = where();
      b[off] = (b[off] as number) ^ (1 << int(8));
      ops.push(`flip@${off}`);
    } else if (kind < 5) {
      const off = where();
      b[off] = int(256);
      ops.push(`byte@${off}`);
    } else if (kind < 8) {
      // Length/count/offset fields: inflate, zero or max out an aligned 16/32-bit little-endian word.
      const off = where() & ~3;
      const width = random() < 0.5 ? 2 : 4;
      if (off + width > b.length) continue;
      const v = pick([0, 1, 0x7f, 0xff, 0xffff, 0x7fffffff, 0xffffffff, 0x80000000, 0x1000, 0x10000]);
      for (let i = 0; i < width; i++) b[off + i] = (v >>> (8 * i)) & 0xff;
      ops.push(`u${width * 8}@${off}=${v}`);
    } else {
      // Copy a chunk over another: duplicated pointers, blocks that point at themselves.
      const from = where() & ~511;
      const to = where() & ~511;
      const len = Math.min(512 * (1 + int(8)), b.length - Math.max(from, to));
      if (len > 0) b.copyWithin(to, from, from + len);
      ops.push(`copy ${from}->${to}+${len}`);
    }
  }
  if (random() < 0.08) {
    const len = int(b.length);
    ops.push(`truncate ${len}`);
    return { bytes: b.subarray(0, len), what: ops.join(", ") };
  }
  return { bytes: b, what: ops.join(", ") };
}

// ------------------------------------------------------------------------------ the tests

const fixtures = readFileSync(join(FIXTURES, "MANIFEST"), "utf8")
  .split("\n")
  .filter((l) => l !== "" && !l.startsWith("#"))
  .map((l) => l.split(" ")[0] as string);

let runner: Runner;
const tally = { tried: 0, ok: 0, imageErrors: 0, byCode: new Map<string, number>(), slowestMs: 0, slowest: "" };

beforeAll(async () => {
  const bundle = await build({
    stdin: { contents: WORKER_SOURCE, resolveDir: ROOT, loader: "ts", sourcefile: "fuzz-worker.ts" },
    bundle: true,
    platform: "node",
    format: "cjs",
    target: "node18",
    write: false,
    logLevel: "silent",
  });
  runner = new Runner(bundle.outputFiles[0]?.text ?? "");
}, 60_000);

afterAll(async () => {
  await runner?.close();
  const codes = [...tally.byCode].map(([c, n]) => `${c} ${n}`).join(", ");
  console.log(
    `fuzz: seed ${SEED}: tried ${tally.tried} mutated images: ${tally.ok} still readable, ${tally.imageErrors} refused with ImageError (${codes}); slowest iteration ${tally.slowestMs.toFixed(0)} ms (${tally.slowest})`,
  );
});

/** Runs one input; returns a description of the crash, or undefined if the readers behaved. */
async function check(bytes: Uint8Array, name: string): Promise<string | undefined> {
  const t0 = performance.now();
  let r = await runner.run(bytes, name);
  if (r.outcome === "timeout") r = await runner.run(bytes, name, 4 * ITERATION_TIMEOUT_MS);
  const ms = performance.now() - t0;
  if (ms > tally.slowestMs) [tally.slowestMs, tally.slowest] = [ms, name];
  if (r.outcome === "ok") tally.ok++;
  if (r.outcome === "image-error") {
    tally.imageErrors++;
    tally.byCode.set(r.code ?? "?", (tally.byCode.get(r.code ?? "?") ?? 0) + 1);
  }
  if (r.outcome === "crash" || r.outcome === "timeout") return `${r.outcome}: ${r.stack ?? r.message}`;
  return undefined;
}

describe("hostile inputs, by hand", () => {
  const fixture = (name: string): Uint8Array => new Uint8Array(readFileSync(join(FIXTURES, name)));
  const find = (b: Uint8Array, pattern: number[]): number => {
    const at = Buffer.from(b.buffer, b.byteOffset, b.length).indexOf(Buffer.from(pattern));
    expect(at, `pattern ${pattern.join(",")} in fixture`).toBeGreaterThanOrEqual(0);
    return at;
  };
  const open = (b: Uint8Array): ImageTree => openRawSource(bytesSource(b, "hostile"), { architecture: "x86-64" });
  const code = (f: () => unknown): string | undefined => {
    try {
      f();
      return undefined;
    } catch (e) {
      if (!(e instanceof ImageError)) throw e;
      return e.code;
    }
  };

  it("ext4: an extent node that names itself as its child is CORRUPT, not a loop", () => {
    const b = fixture("ext4-fragmented.raw");
    // big.txt's in-inode extent root: magic F30A, 2 entries, max 4, depth 1.
    const root = find(b, [0x0a, 0xf3, 0x02, 0x00, 0x04, 0x00, 0x01, 0x00]);
    const leafBlock = new DataView(b.buffer).getUint32(root + 12 + 4, true);
    const leaf = leafBlock * 1024;
    expect(new DataView(b.buffer).getUint16(leaf, true)).toBe(0xf30a);
    b[leaf + 6] = 1; // the leaf now claims depth 1 …
    new DataView(b.buffer).setUint32(leaf + 12 + 4, leafBlock, true); // … and points at itself
    const tree = open(b);
    expect(code(() => tree.readFile("/usr/share/foo/big.txt", 1 << 20))).toBe("CORRUPT");
  });

  it("ext4: a directory entry with rec_len 0 is CORRUPT, not an endless scan", () => {
    const b = fixture("ext4.raw");
    // The root directory's first block: "." (inode 2, rec_len 12) then ".." (inode 2).
    const dot = find(b, [2, 0, 0, 0, 12, 0, 1, 2, 0x2e, 0, 0, 0, 2, 0, 0, 0]);
    b[dot + 16] = 0;
    b[dot + 17] = 0;
    expect(code(() => open(b).readdir("/"))).toBe("CORRUPT");
  });

  it("ext4: a superblock claiming more blocks than the image holds is CORRUPT at open", () => {
    const b = fixture("ext4.raw");
    new DataView(b.buffer).setUint32(1024 + 4, 0x7fffffff, true);
    expect(code(() => open(b))).toBe("CORRUPT");
  });

  it("GPT: 2^32-1 entries behind a valid CRC are refused without reading them", () => {
    const b = fixture("gpt-dps-root-erofs.raw");
    const header = b.subarray(512, 512 + 92);
    new DataView(b.buffer).setUint32(512 + 80, 0xffffffff, true);
    header.fill(0, 16, 20);
    new DataView(b.buffer).setUint32(512 + 16, crc32(header), true);
    b.fill(0, b.length - 512); // and no backup header
    let message = "";
    try {
      open(b);
    } catch (e) {
      message = (e as Error).message;
    }
    expect(message).toMatch(/GPT is damaged: GPT header at LBA 1: 4294967295 entries of 128 bytes is too many/);
  });
});

describe("regressions from test/fuzz/corpus", () => {
  const saved = (() => {
    try {
      return readdirSync(CORPUS).filter((f) => f.endsWith(".raw.gz"));
    } catch {
      return [];
    }
  })();
  it.each(saved.length > 0 ? saved : ["(empty)"])("%s is refused cleanly or read", async (file) => {
    if (file === "(empty)") return;
    const crash = await check(new Uint8Array(gunzipSync(readFileSync(join(CORPUS, file)))), file);
    expect(crash).toBeUndefined();
  });
});

describe("mutation fuzzing", () => {
  const per = Math.max(1, Math.ceil(ITERATIONS / fixtures.length));
  it.each(fixtures)(
    `%s: ${per} mutations give ImageError or a readable tree, in bounded time`,
    async (name) => {
      const t = target(name);
      // One stream per fixture, so a failure is reproducible alone: FUZZ_SEED + fixture index.
      const random = rng(SEED + fixtures.indexOf(name) * 7919);
      const crashes: string[] = [];
      for (let i = 0; i < per; i++) {
        const { bytes, what } = mutate(t, random);
        tally.tried++;
        const crash = await check(bytes, `${name} #${i} (${what})`);
        if (crash) {
          mkdirSync(CORPUS, { recursive: true });
          const file = `${name.replace(/\.raw$/, "")}-s${SEED}-i${i}.raw.gz`;
          writeFileSync(join(CORPUS, file), gzipSync(bytes, { level: 9 }));
          crashes.push(`${file} [${what}]: ${crash.split("\n").slice(0, 4).join(" | ")}`);
        }
      }
      expect(crashes).toEqual([]);
    },
    600_000,
  );
});
