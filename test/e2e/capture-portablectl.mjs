#!/usr/bin/env node
// Boot bookworm, attach the test images with the real `portablectl attach` of systemd 252 and record
// exactly what it wrote, into test/e2e/parity/portablectl-252/<case>.txt. The generator is not
// installed in this boot. Run as root: node test/e2e/capture-portablectl.mjs
import { mkdtempSync, rmSync, writeFileSync, mkdirSync, readFileSync, existsSync } from "node:fs";
import { join } from "node:path";
import { ensureRootfs } from "./lib/rootfs.mjs";
import { ensureImages } from "./lib/fixtures.mjs";
import { makePayload, REPO } from "./lib/guest.mjs";
import { boot, keepForInspection } from "./lib/boot.mjs";
import { CASES, portablectlScript, dumpLib } from "./lib/parity.mjs";
import { portables } from "./lib/scenario.mjs";

const { dir: rootfs } = await ensureRootfs(console.log);
const images = await ensureImages(rootfs);
const names = Object.keys(CASES);
const tmp = mkdtempSync("/tmp/pa-e2e-payload-");
try {
  makePayload(tmp, {
    ours: false,
    files: portables({ images }, [...new Set(names.flatMap((c) => CASES[c].images))]),
    check: dumpLib + names.map(portablectlScript).join("\n"),
  });
  const res = await boot({ rootfs, payload: tmp, timeoutMs: 120_000, name: "capture-portablectl" });
  try {
    const results = existsSync(join(res.out, "results")) ? readFileSync(join(res.out, "results"), "utf8") : "";
    console.log(results);
    const dest = join(REPO, "test/e2e/parity/portablectl-252");
    mkdirSync(dest, { recursive: true });
    for (const c of names) {
      const p = join(res.out, `${c}.txt`);
      if (existsSync(p)) writeFileSync(join(dest, `${c}.txt`), readFileSync(p, "utf8"));
      else console.error(`no output for ${c}`);
    }
    if (!res.ok || /^FAIL/m.test(results)) { console.error("kept:", keepForInspection(res, join(REPO, "test/e2e/.work"))); process.exitCode = 1; }
    console.log(`boot took ${res.ms} ms`);
  } finally { await res.cleanup(); }
} finally { rmSync(tmp, { recursive: true, force: true }); }
