// Tiny portable-service images for the boots: a static busybox (taken from the rootfs), an
// os-release, the mount points a sandboxed service needs on a read-only image, and unit files.
// Built with the real tools: mksquashfs, mkfs.erofs (+ sfdisk for GPT), mkfs.ext4.
import { mkdirSync, writeFileSync, symlinkSync, copyFileSync, chmodSync, rmSync, statSync } from "node:fs";
import { join, dirname } from "node:path";
import { run } from "./util.mjs";

const APPLETS = [
  "sh",
  "cat",
  "cut",
  "tail",
  "awk",
  "echo",
  "sleep",
  "ls",
  "id",
  "grep",
  "test",
  "[",
  "true",
  "false",
  "wc",
  "tr",
  "head",
  "printf",
  "readlink",
  "touch",
  "mkdir",
  "nc",
  "stat",
];

export const OS_RELEASE_DEBIAN12 = 'ID=debian\nVERSION_ID=12\nPRETTY_NAME="e2e portable test image"\n';

function put(root, path, content, mode = 0o644) {
  const p = join(root, path);
  mkdirSync(dirname(p), { recursive: true });
  writeFileSync(p, content);
  chmodSync(p, mode);
}

/**
 * A root image tree: busybox, os-release, empty mount points, and `units`/`files`.
 * units: { "foo.service": "...text..." }   files: { "usr/bin/foo": { content, mode } | "text" }
 */
export function rootTree(dir, rootfs, { osRelease = OS_RELEASE_DEBIAN12, units = {}, files = {} } = {}) {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(join(dir, "usr/bin"), { recursive: true });
  copyFileSync(join(rootfs, "usr/bin/busybox"), join(dir, "usr/bin/busybox"));
  chmodSync(join(dir, "usr/bin/busybox"), 0o755);
  for (const a of APPLETS) symlinkSync("busybox", join(dir, "usr/bin", a));
  symlinkSync("usr/bin", join(dir, "bin"));
  symlinkSync("usr/bin", join(dir, "sbin"));
  for (const d of [
    "proc",
    "sys",
    "dev",
    "run",
    "tmp",
    "var/tmp",
    "var/lib",
    "var/log",
    "var/cache",
    "etc",
    "home",
    "root",
    "mnt",
  ])
    mkdirSync(join(dir, d), { recursive: true });
  put(dir, "usr/lib/os-release", osRelease);
  symlinkSync("../usr/lib/os-release", join(dir, "etc/os-release"));
  put(dir, "etc/machine-id", "");
  put(dir, "etc/resolv.conf", "");
  put(dir, "etc/passwd", "root:x:0:0:root:/root:/bin/sh\n");
  put(dir, "etc/group", "root:x:0:\n");
  for (const [name, text] of Object.entries(units)) put(dir, `usr/lib/systemd/system/${name}`, text);
  addFiles(dir, files);
  return dir;
}

/** An extension tree: extension-release named after the image, plus units/files (no busybox). */
export function extensionTree(dir, imageName, { release = "ID=debian\nVERSION_ID=12\n", units = {}, files = {} } = {}) {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  put(dir, `usr/lib/extension-release.d/extension-release.${imageName}`, release);
  for (const [name, text] of Object.entries(units)) put(dir, `usr/lib/systemd/system/${name}`, text);
  addFiles(dir, files);
  return dir;
}

function addFiles(dir, files) {
  for (const [path, spec] of Object.entries(files)) {
    if (typeof spec === "string") put(dir, path, spec);
    else if (spec.symlink) {
      mkdirSync(dirname(join(dir, path)), { recursive: true });
      symlinkSync(spec.symlink, join(dir, path));
    } else put(dir, path, spec.content, spec.mode ?? 0o644);
  }
}

export async function mkSquashfs(tree, out) {
  rmSync(out, { force: true });
  await run("mksquashfs", [tree, out, "-quiet", "-noappend", "-all-root", "-comp", "gzip"]);
  return out;
}

export async function mkExt4(tree, out) {
  rmSync(out, { force: true });
  await run("mkfs.ext4", ["-q", "-F", "-d", tree, "-E", "root_owner=0:0", "-O", "^has_journal", out, "8M"]);
  return out;
}

export async function mkErofs(tree, out) {
  rmSync(out, { force: true });
  await run("mkfs.erofs", ["--all-root", out, tree]);
  return out;
}

// Discoverable Partitions Specification: root partition for x86-64.
export const GPT_ROOT_X86_64 = "4f68bce3-e8cd-4db1-96e7-fbcaf984b709";

/** erofs wrapped in a GPT disk image as the x86-64 root partition (as systemd-repart/mkosi make them). */
export async function mkErofsGpt(tree, out) {
  const fs = out + ".fs";
  await mkErofs(tree, fs);
  const fsSize = statSync(fs).size;
  const sectors = Math.ceil(fsSize / 512 / 2048) * 2048 + 2048; // round up to MiB
  const total = (2048 + sectors + 2048) * 512;
  rmSync(out, { force: true });
  writeFileSync(out, Buffer.alloc(0));
  await run("truncate", ["-s", String(total), out]);
  await run("sfdisk", ["-q", out], {
    input: `label: gpt\nstart=2048, size=${sectors}, type=${GPT_ROOT_X86_64}, name=root-x86-64\n`,
  });
  await run("dd", [`if=${fs}`, `of=${out}`, "bs=512", "seek=2048", "conv=notrunc", "status=none"]);
  rmSync(fs);
  return out;
}
