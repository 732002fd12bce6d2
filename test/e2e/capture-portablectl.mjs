#!/usr/bin/env node
// Boot each guest, attach the test images with its real `portablectl attach` and record exactly what
// it wrote, into test/e2e/parity/portablectl-<systemd major>/<case>.txt. The generator is not
// installed in these boots. Run as root: node test/e2e/capture-portablectl.mjs [GUEST...]
// (default: E2E_GUESTS, or every guest: bookworm, trixie, sid).
import { mkdtempSync, rmSync, writeFileSync, mkdirSync, readFileSync, existsSync } from "node:fs";
import { join } from "node:path";
import { ensureRootfs } from "./lib/rootfs.mjs";
import { ensureImages } from "./lib/fixtures.mjs";
import { makePayload, REPO } from "./lib/guest.mjs";
import { boot, keepForInspection } from "./lib/boot.mjs";
import { CASES, portablectlScript, dumpLib } from "./lib/parity.mjs";
import { portables } from "./lib/scenario.mjs";
import { GUESTS, selectedGuests, systemdOf } from "./lib/guests.mjs";

const guests = process.argv.length > 2 ? process.argv.slice(2) : selectedGuests();
for (const guest of guests) {
  if (!GUESTS[guest]) throw new Error(`no guest ${guest}`);
  const { dir: rootfs } = await ensureRootfs(console.log, guest);
  const systemd = systemdOf(rootfs);
  const images = await ensureImages(rootfs, guest);
  const names = Object.keys(CASES);
  const tmp = mkdtempSync("/tmp/pa-e2e-payload-");
  try {
    makePayload(tmp, {
      ours: false,
      files: portables({ images }, [...new Set(names.flatMap((c) => CASES[c].images))]),
      check: dumpLib + names.map(portablectlScript).join("\n"),
    });
    const res = await boot({
      rootfs,
      payload: tmp,
      timeoutMs: 120_000,
      name: `capture-portablectl@${guest}`,
      unifiedCgroup: GUESTS[guest].unifiedCgroup,
    });
    try {
      const results = existsSync(join(res.out, "results")) ? readFileSync(join(res.out, "results"), "utf8") : "";
      console.log(`${guest} (systemd ${systemd.version}):\n${results}`);
      const dest = join(REPO, `test/e2e/parity/portablectl-${systemd.major}`);
      mkdirSync(dest, { recursive: true });
      for (const c of names) {
        const p = join(res.out, `${c}.txt`);
        if (existsSync(p)) writeFileSync(join(dest, `${c}.txt`), readFileSync(p, "utf8"));
        else console.error(`no output for ${c}`);
      }
      if (!res.ok || /^FAIL/m.test(results)) {
        console.error("kept:", keepForInspection(res, join(REPO, "test/e2e/.work")));
        process.exitCode = 1;
      }
      console.log(`boot took ${res.ms} ms`);
    } finally {
      await res.cleanup();
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}
