// Our programs run without TurboFan (scripts/launcher.cjs says why: a short run's exit waits for
// optimizing jobs whose code it never uses). A generator run that has already lasted this long is
// one with hundreds of images, which will last long enough for optimized code to pay back. Measured
// (BENCHMARKS.md): 1,000 squashfs images took ~325 ms optimized throughout, ~475 never, ~400 from
// 100 ms on; 10 and 100 images end before 100 ms, and are faster never optimized (40 vs 52 ms, 85
// vs 110 ms). Turning it on earlier (50 ms) made 100 images slower than either.
import { setFlagsFromString } from "node:v8";

/** Run time (ms since the process started) after which optimizing pays back. */
export const LONG_RUN_MS = 100;

let optimizing = false;

/** Let V8 optimize hot code from now on, once the run has lasted LONG_RUN_MS. Cheap to call often. */
export function optimizeIfLongRun(): void {
  if (optimizing || process.uptime() * 1000 < LONG_RUN_MS) return;
  optimizing = true;
  setFlagsFromString("--opt");
}
