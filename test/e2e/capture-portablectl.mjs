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

export const CASES = [
  { name: "dir", args: ["/var/lib/portables/foo_1"], units: ["foo.service", "foo.socket", "foo@.service", "foo-old.service"] },
  { name: "raw", args: ["/var/lib/portables/bar_1.raw"], units: ["bar.service"] },
  { name: "dir-ext", args: ["--extension=/var/lib/portables/foo-ext", "/var/lib/portables/foo_1"], units: ["foo.service", "foo.socket", "foo@.service", "foo-old.service", "foo-ext.service"] },
  { name: "raw-ext", args: ["--extension=/var/lib/portables/bar-ext.raw", "/var/lib/portables/bar_1.raw"], units: ["bar.service", "bar-ext.service"] },
];

export function portablectlPayload(dir, images) {
  const dump = readFileSync(new URL("./guest/dump.sh", import.meta.url), "utf8");
  const body = [dump];
  for (const c of CASES) {
    const a = c.args.join(" ");
    const image = c.args[c.args.length - 1];
    const ext = c.args.filter((x) => x.startsWith("--extension")).join(" ");
    body.push(`
{
  echo "# portablectl $(portablectl --version | head -n 1 | tr -s ' ')  (Debian $(cat /etc/debian_version), package systemd-container $(dpkg-query -W -f='\${Version}' systemd-container))"
  echo "# command: portablectl attach --enable --now ${a}"
  echo
  echo "## portablectl output"
  portablectl attach --enable --now ${a} 2>&1; echo "(exit $?)"
  echo
  dump_tree /etc/systemd/system.attached
  echo "## ls -l /etc/portables"; ls -l /etc/portables 2>&1 | sed 1d | awk '{print $1, $9, $10, $11}'
  echo
  dump_units ${c.units.join(" ")}
  for u in ${c.units.filter((u) => !u.includes("@.")).join(" ")}; do wait_state $u active 10 >/dev/null; echo "## is-active $u: $(systemctl is-active $u)"; done
  echo
  echo "## service's view (journal)"; for u in ${c.units.filter((u) => u.endsWith(".service")).join(" ")}; do journalctl -q -b _SYSTEMD_INVOCATION_ID=$(systemctl show -P InvocationID $u) -o cat | grep E2E- ; done
} >/run/out/${c.name}.txt 2>&1
${c.units.filter((u) => !u.includes("@.")).map((u) => `check "${c.name}: ${u} active under portablectl" wait_state ${u} active 10`).join("\n")}
portablectl detach --enable --now ${ext} ${image} >/run/out/${c.name}.detach.txt 2>&1 || fail "${c.name}: detach"
[ -z "$(ls -A /etc/systemd/system.attached 2>/dev/null | grep -v -e '^multi-user.target.wants$' -e '^sockets.target.wants$')" ] || fail "${c.name}: detach left files: $(ls -A /etc/systemd/system.attached)"
systemctl daemon-reload
`);
  }
  return makePayload(dir, {
    check: body.join("\n"),
    ours: false,
    files: Object.fromEntries(Object.entries(images).map(([n, p]) => [`var/lib/portables/${n}`, existsSync(p) && !n.endsWith(".raw") ? { copyTree: p } : { copyFile: p }])),
  });
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { dir: rootfs } = await ensureRootfs(console.log);
  const images = await ensureImages(rootfs);
  const tmp = mkdtempSync("/tmp/pa-e2e-payload-");
  try {
    portablectlPayload(tmp, images);
    const res = await boot({ rootfs, payload: tmp, timeoutMs: 90_000, name: "capture-portablectl" });
    try {
      const results = existsSync(join(res.out, "results")) ? readFileSync(join(res.out, "results"), "utf8") : "";
      console.log(results);
      const dest = join(REPO, "test/e2e/parity/portablectl-252");
      mkdirSync(dest, { recursive: true });
      for (const c of CASES) {
        const p = join(res.out, `${c.name}.txt`);
        if (existsSync(p)) writeFileSync(join(dest, `${c.name}.txt`), readFileSync(p, "utf8"));
        else console.error(`no output for ${c.name}`);
      }
      if (!res.ok || /^FAIL/m.test(results)) console.error("kept:", keepForInspection(res, join(REPO, "test/e2e/.work")));
      console.log(`boot took ${res.ms} ms`);
    } finally { await res.cleanup(); }
  } finally { rmSync(tmp, { recursive: true, force: true }); }
}
