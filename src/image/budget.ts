// Keeps the image being read, and the run it belongs to, within the budgets of limits.ts. The
// readers are synchronous and read one image at a time, so the image being read is a module-level
// slot set by withImageBudget(); readers charge what they do (bytes read and decompressed, path
// steps, symlink hops, units) and get a BudgetError when the image or the run has spent its share.
// Outside withImageBudget() nothing is counted (the host tree, tests of single readers).
import * as L from "./limits.ts";
import { ImageError } from "./types.ts";

/** An image refused for what it costs, not for what is wrong with one file in it: never caught per unit. */
export class BudgetError extends ImageError {
  constructor(message: string) {
    super("LIMIT", message);
    this.name = "BudgetError";
  }
}

export interface Limits {
  imageUnits: number;
  imageUnitBytes: number;
  imageReadBytes: number;
  imageDecompressedBytes: number;
  imageResolveSteps: number;
  imageSymlinkHops: number;
  imageMs: number;
  runMs: number;
  runReadBytes: number;
  runDecompressedBytes: number;
}

export const LIMITS: Limits = {
  imageUnits: L.MAX_IMAGE_UNITS,
  imageUnitBytes: L.MAX_IMAGE_UNIT_BYTES,
  imageReadBytes: L.MAX_IMAGE_READ_BYTES,
  imageDecompressedBytes: L.MAX_IMAGE_DECOMPRESSED_BYTES,
  imageResolveSteps: L.MAX_IMAGE_RESOLVE_STEPS,
  imageSymlinkHops: L.MAX_IMAGE_SYMLINK_HOPS,
  imageMs: L.MAX_IMAGE_MS,
  runMs: L.MAX_RUN_MS,
  runReadBytes: L.MAX_RUN_READ_BYTES,
  runDecompressedBytes: L.MAX_RUN_DECOMPRESSED_BYTES,
};

/** What all images of one generator run (or one CLI command) have spent together. */
export class RunBudget {
  readonly started: number;
  readBytes = 0;
  decompressedBytes = 0;
  constructor(
    readonly limits: Limits = LIMITS,
    readonly now: () => number = Date.now,
  ) {
    this.started = now();
  }
}

const MIB = 1024 * 1024;
const size = (n: number): string => (n % MIB === 0 ? `${n / MIB} MiB` : `${n} bytes`);

class ImageBudget {
  readBytes = 0;
  decompressedBytes = 0;
  steps = 0;
  hops = 0;
  units = 0;
  unitBytes = 0;
  readonly deadline: number;
  constructor(
    readonly run: RunBudget,
    readonly image: string,
  ) {
    const l = run.limits;
    this.deadline = Math.min(run.now() + l.imageMs, run.started + l.runMs);
  }

  over(what: string): never {
    throw new BudgetError(`Image '${this.image}' is over budget: ${what}`);
  }

  checkTime(): void {
    if (this.run.now() <= this.deadline) return;
    const l = this.run.limits;
    if (this.run.now() > this.run.started + l.runMs)
      this.over(`reading images took more than the ${l.runMs / 1000} s one run may spend on them`);
    this.over(`reading it took more than ${l.imageMs / 1000} s`);
  }
}

let current: ImageBudget | undefined;

/** Runs `read` (which opens and reads the image at `image`) within the image's and the run's budgets. */
export function withImageBudget<T>(run: RunBudget, image: string, read: () => T): T {
  const outer = current;
  const budget = new ImageBudget(run, image);
  budget.checkTime();
  current = budget;
  try {
    return read();
  } finally {
    current = outer;
  }
}

export function chargeRead(bytes: number): void {
  const b = current;
  if (!b) return;
  const l = b.run.limits;
  b.readBytes += bytes;
  b.run.readBytes += bytes;
  if (b.readBytes > l.imageReadBytes) b.over(`more than ${size(l.imageReadBytes)} read from it`);
  if (b.run.readBytes > l.runReadBytes) b.over(`more than ${size(l.runReadBytes)} read from all images of this run`);
  b.checkTime();
}

export function chargeDecompressed(bytes: number): void {
  const b = current;
  if (!b) return;
  const l = b.run.limits;
  b.decompressedBytes += bytes;
  b.run.decompressedBytes += bytes;
  if (b.decompressedBytes > l.imageDecompressedBytes)
    b.over(`more than ${size(l.imageDecompressedBytes)} decompressed`);
  if (b.run.decompressedBytes > l.runDecompressedBytes)
    b.over(`more than ${size(l.runDecompressedBytes)} decompressed for all images of this run`);
  b.checkTime();
}

/** One path component walked by the resolver. */
export function chargeStep(): void {
  const b = current;
  if (!b) return;
  if (++b.steps > b.run.limits.imageResolveSteps)
    b.over(`more than ${b.run.limits.imageResolveSteps} path components walked resolving paths in it`);
  if ((b.steps & 1023) === 0) b.checkTime();
}

export function chargeHop(): void {
  const b = current;
  if (!b) return;
  if (++b.hops > b.run.limits.imageSymlinkHops)
    b.over(`more than ${b.run.limits.imageSymlinkHops} symbolic links followed in it`);
}

/** `count` unit files found (before they are read). */
export function chargeUnitNames(count: number): void {
  const b = current;
  if (!b) return;
  b.units += count;
  if (b.units > b.run.limits.imageUnits) b.over(`more than ${b.run.limits.imageUnits} unit files`);
}

/** A unit file of `bytes` taken. */
export function chargeUnitBytes(bytes: number): void {
  const b = current;
  if (!b) return;
  b.unitBytes += bytes;
  if (b.unitBytes > b.run.limits.imageUnitBytes) b.over(`more than ${size(b.run.limits.imageUnitBytes)} of unit files`);
}
