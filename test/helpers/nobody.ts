// Tests that run a built program as uid 65534 (to meet permission faults without root's
// CAP_DAC_OVERRIDE) cannot run it from the checkout when that is not world-readable, as a clone in
// /root (mode 0700) is not: they run a copy in a directory of its own under the temp dir instead.
import { chmodSync, copyFileSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, dirname, join } from "node:path";

/** A copy of `program` that any user can run (without its code cache: that only costs speed). */
export function copyForNobody(program: string): string {
  const dir = mkdtempSync(join(tmpdir(), "pa-nobody-"));
  chmodSync(dir, 0o755);
  const copy = join(dir, basename(program));
  copyFileSync(program, copy);
  chmodSync(copy, 0o755);
  return copy;
}

export function removeCopy(copy: string): void {
  rmSync(dirname(copy), { recursive: true, force: true });
}
