// Parity: the same images attached with the guest's own real `portablectl attach` in one boot and by
// our generator in another (on every guest: 252, 257, 262 each against itself); for every unit, the effective settings match (systemctl show), the unit set and
// enablement links are the same, and the drop-ins say the same. Kept differences: lib/parity.mjs KEPT.
import { existsSync, writeFileSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { portables } from "../lib/scenario.mjs";
import { CASES, portablectlScript, oursScript, compare, dumpLib } from "../lib/parity.mjs";
import { WORK } from "../lib/fixtures.mjs";

function parity(name, cases, needs) {
  return {
    name,
    needs,
    run: async (ctx) => {
      const images = [...new Set(cases.flatMap((c) => CASES[c].images))];
      const files = portables(ctx, images);
      // One boot after the other, never both at once: on a cgroup-v1 host the two guests share a
      // cgroup tree (run.mjs, E2E_JOBS), and both run bar.service, so one guest's systemd removed the
      // other's /system.slice/bar.service ("Failed to attach to cgroup … No such file or directory",
      // 219/CGROUP; seen on a loaded machine).
      const theirs = await ctx.boot("portablectl", {
        ours: false,
        files,
        check: dumpLib + cases.map(portablectlScript).join("\n"),
      });
      const ours = await ctx.boot("ours", {
        files: { ...files, "etc/portable-attach.conf": "" },
        check: dumpLib + cases.map(oursScript).join("\n"),
      });
      const problems = [];
      const dest = join(WORK, ctx.name);
      // The recordings are what the product's version table is built from: say when the mirror's
      // systemd has none yet (the live comparison below does not need one).
      if (!existsSync(new URL(`../parity/portablectl-${ctx.guest.systemd}/`, import.meta.url))) {
        console.log(
          `    note: no parity/portablectl-${ctx.guest.systemd}/ recording; run node test/e2e/capture-portablectl.mjs ${ctx.guest.suite}`,
        );
      }
      for (const c of cases) {
        const a = theirs.read(`${c}.txt`),
          b = ours.read(`${c}.txt`);
        if (!a || !b) {
          problems.push(`FAIL ${c}: no dump from ${!a ? "portablectl" : "our"} boot`);
          continue;
        }
        const diffs = compare(c, a, b);
        for (const d of diffs) problems.push(`FAIL parity ${d}`);
        if (diffs.length) {
          mkdirSync(dest, { recursive: true });
          writeFileSync(join(dest, `${c}.portablectl.txt`), a);
          writeFileSync(join(dest, `${c}.ours.txt`), b);
        }
      }
      return { problems };
    },
  };
}

export default [
  parity("09a-parity-directory", ["dir", "dir-ext"], ["generator"]),
  parity("09b-parity-raw", ["raw", "raw-ext"], ["generator", "raw"]),
];
