// `npm run example`: runs the built generator on a small built-in example, the way systemd runs it
// at boot, and shows what it wrote. Everything happens under a temporary root
// (PORTABLE_ATTACH_ROOT), so nothing on this machine is touched.
import { spawnSync } from "node:child_process";
import {
  cpSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  lstatSync,
  readlinkSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { writeHelloImages } from "../scripts/code-cache.mjs";

const repo = join(import.meta.dirname, "..");
const root = mkdtempSync(join(tmpdir(), "portable-attach-example-"));
const out = join(root, "run/systemd/generator");

function file(path, text) {
  mkdirSync(join(root, path, ".."), { recursive: true });
  writeFileSync(join(root, path), text);
}

// A directory image with a service and a socket, and a directory extension that adds a tool: the
// same sample the code caches are made with.
const { image: img, extension: ext } = writeHelloImages(root);
// A raw image: the squashfs test fixture, read without mounting it.
mkdirSync(join(root, "usr/lib/portables"), { recursive: true });
cpSync(join(repo, "test/fixtures/images/squashfs-zstd.raw"), join(root, "usr/lib/portables/foo_1.raw"));
cpSync(join(repo, "profiles"), join(root, "usr/lib/portable-attach/profile"), { recursive: true });

file(
  "/etc/portable-attach.conf",
  `# The attach list: one section per attachment.
[hello]
Image=${img}
Extensions=${ext}
Enable=yes

# A bare name: the newest foo_VERSION.raw or foo_VERSION/ in the portables directories.
[foo]
Image=foo
Profile=strict
`,
);
mkdirSync(out, { recursive: true });

console.log(`$ cat /etc/portable-attach.conf\n${readFileSync(join(root, "etc/portable-attach.conf"), "utf8")}`);
console.log(`$ PORTABLE_ATTACH_ROOT=${root} portable-attach-generator /run/systemd/generator`);
const r = spawnSync(process.execPath, [join(repo, "dist/portable-attach-generator"), out], {
  env: { ...process.env, PORTABLE_ATTACH_ROOT: root, SYSTEMD_LOG_LEVEL: "info" },
  encoding: "utf8",
});
process.stdout.write(r.stderr);
console.log(`(exit status ${r.status})\n\n$ find /run/systemd/generator`);

function show(dir, rel = "") {
  for (const name of readdirSync(join(dir, rel)).sort()) {
    const path = rel ? `${rel}/${name}` : name;
    const st = lstatSync(join(dir, path));
    if (st.isSymbolicLink()) console.log(`  ${path} -> ${readlinkSync(join(dir, path))}`);
    else if (st.isDirectory()) show(dir, path);
    else console.log(`  ${path}`);
  }
}
show(out);
for (const unit of ["hello-debug.service", "foo.service"]) {
  console.log(`\n$ cat /run/systemd/generator/${unit}.d/20-portable.conf`);
  process.stdout.write(readFileSync(join(out, `${unit}.d/20-portable.conf`), "utf8"));
}
const status = JSON.parse(readFileSync(join(out, ".portable-attach-status.json"), "utf8"));
console.log("\nOutcome per entry (what `portable-attach status` reads):");
for (const e of status.entries)
  console.log(`  ${e.name}: ${e.state}${e.reason ? ` (${e.reason})` : ""} ${e.units.join(" ")}`);
rmSync(root, { recursive: true, force: true });
process.exitCode = r.status ?? 1;
