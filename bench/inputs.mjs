// Builds (once, cached) the benchmark inputs outside the repository: small portable images in each
// format, one per entry, and a 1 MiB / 1 GiB pair. Cache: $PORTABLE_ATTACH_BENCH_CACHE, default
// /var/tmp/portable-attach-bench. A directory is rebuilt when its ".done" stamp is missing, so an
// interrupted build never leaves a half-built input in use.
import { spawn, spawnSync } from "node:child_process";
import { createHash, randomFillSync } from "node:crypto";
import { cpSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";

export const CACHE = process.env.PORTABLE_ATTACH_BENCH_CACHE ?? "/var/tmp/portable-attach-bench";
export const VERSION = "v1"; // bump when what is built changes
export const FORMATS = ["dir", "squashfs", "erofs", "ext4"];
const EPOCH = "1700000000";

export function pad(i) {
  return String(i).padStart(4, "0");
}

function file(path, text) {
  mkdirSync(join(path, ".."), { recursive: true });
  writeFileSync(path, text);
}

/** A minimal portable service image: os-release and one enabled service named after the image. */
export function makeTree(dir, name) {
  rmSync(dir, { recursive: true, force: true });
  file(join(dir, "usr/lib/os-release"), `ID=bench\nVERSION_ID=1\nPRETTY_NAME="Bench ${name}"\n`);
  file(
    join(dir, "usr/lib/systemd/system", `${name}.service`),
    `[Unit]\nDescription=Bench ${name}\n\n[Service]\nExecStart=/usr/bin/${name}\n\n[Install]\nWantedBy=multi-user.target\n`,
  );
  file(join(dir, "usr/bin", name), "#!/bin/sh\necho hi\n");
  for (const d of ["proc", "sys", "dev", "run", "tmp", "var/tmp", "etc"]) mkdirSync(join(dir, d), { recursive: true });
}

/** The command that turns tree `src` into image `out` in `format`. */
function mkfsArgs(format, src, out, bytes) {
  switch (format) {
    case "squashfs":
      return [
        "mksquashfs",
        [
          src,
          out,
          "-noappend",
          "-quiet",
          "-no-progress",
          "-all-root",
          "-comp",
          "zstd",
          "-mkfs-time",
          EPOCH,
          "-all-time",
          EPOCH,
        ],
      ];
    case "erofs":
      return ["mkfs.erofs", ["--quiet", "--all-root", "-zlz4", `-T${EPOCH}`, out, src]];
    case "ext4": {
      const blocks = Math.max(1024, Math.ceil(bytes / 1024));
      return [
        "sh",
        [
          "-c",
          `truncate -s ${blocks}K "$1" && mkfs.ext4 -q -F -O ^has_journal -E root_owner=0:0 -d "$2" "$1"`,
          "sh",
          out,
          src,
        ],
      ];
    }
  }
  throw new Error(format);
}

function runAsync(cmd, args) {
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, args, { stdio: ["ignore", "ignore", "inherit"] });
    p.on("error", reject);
    p.on("exit", (code) => (code === 0 ? resolve() : reject(new Error(`${cmd} ${args.join(" ")}: exit ${code}`))));
  });
}

async function pool(jobs, width) {
  let next = 0;
  const worker = async () => {
    while (next < jobs.length) await jobs[next++]();
  };
  await Promise.all(Array.from({ length: width }, worker));
}

/**
 * A root (PORTABLE_ATTACH_ROOT) per format holding `count` images svc0000…, in /var/lib/portables,
 * and our profiles. Returns { root, image(i) } — the Image= path of entry i as the booted system sees it.
 */
export async function entryRoot(format, count, log) {
  const root = join(CACHE, VERSION, `entries-${format}`);
  const image = (i) => `/var/lib/portables/svc${pad(i)}${format === "dir" ? "" : ".raw"}`;
  // The stamp holds how many images were built: a later, larger count builds them again.
  const stamp = join(root, ".done");
  if (!(existsSync(stamp) && Number(readFileSync(stamp, "utf8")) >= count)) {
    log(`building ${count} ${format} images in ${root} …`);
    rmSync(root, { recursive: true, force: true });
    mkdirSync(join(root, "var/lib/portables"), { recursive: true });
    mkdirSync(join(root, "etc"), { recursive: true });
    cpSync(new URL("../profiles", import.meta.url).pathname, join(root, "usr/lib/portable-attach/profile"), {
      recursive: true,
    });
    const trees = join(CACHE, VERSION, "trees");
    const jobs = [];
    for (let i = 0; i < count; i++) {
      const name = `svc${pad(i)}`;
      if (format === "dir") {
        makeTree(join(root, image(i)), name);
        continue;
      }
      jobs.push(async () => {
        const src = join(trees, `${format}-${name}`);
        makeTree(src, name);
        const [cmd, args] = mkfsArgs(format, src, join(root, image(i)), 0);
        await runAsync(cmd, args);
        rmSync(src, { recursive: true, force: true });
      });
    }
    await pool(jobs, 4);
    writeFileSync(stamp, String(count));
  }
  return { root, image };
}

/**
 * A twin of an entryRoot whose entries were attached with the CLI, so each has its facts cache
 * (etc/portable-attach/cache/svcNNNN.json) as on a system where `portable-attach attach` was used.
 * Rebuilt when the CLI's version (a record names it) or the count changes.
 */
export async function cachedTwin(format, count, cli, log) {
  const { root, image } = await entryRoot(format, count, log);
  const twin = await attachedTwin(
    root,
    Array.from({ length: count }, (_, i) => [`svc${pad(i)}`, image(i)]),
    format !== "dir",
    cli,
    log,
  );
  return { root: twin, image };
}

/**
 * `${root}-cached`: a copy of `root` (images hard-linked, not copied) in which each [name, image]
 * was attached with the CLI, one at a time with a one-entry list so the build stays linear; the
 * list is left holding the last. `raw`: every record must carry the image's identity.
 */
export async function attachedTwin(root, entries, raw, cli, log) {
  const twin = `${root}-cached`;
  // Made again by another build of the CLI: what a record must hold to be used may have changed.
  const version = `${createHash("sha256").update(readFileSync(cli)).digest("hex")}, ${entries.length} entries`;
  const stamp = join(twin, ".done");
  if (existsSync(stamp) && readFileSync(stamp, "utf8") === version) return twin;
  log(`attaching ${entries.length} images with the CLI in ${twin} …`);
  rmSync(twin, { recursive: true, force: true });
  const cp = spawnSync("cp", ["-al", root, twin]);
  if (cp.status !== 0) throw new Error(`cp -al ${root} ${twin}: ${cp.stderr}`);
  rmSync(join(twin, ".done"), { force: true });
  // The list must be the twin's own file: writing through the hard link would empty root's list.
  rmSync(join(twin, "etc/portable-attach.conf"), { force: true });
  // Linking changed the images' ctime: a record taken within 2 s of it would not be trusted.
  await new Promise((r) => setTimeout(r, 2100));
  for (const [name, image] of entries) {
    writeFileSync(join(twin, "etc/portable-attach.conf"), "");
    const r = spawnSync(process.execPath, [cli, `--root=${twin}`, "attach", "--enable", image], { encoding: "utf8" });
    if (r.status !== 0) throw new Error(`attach ${image}: ${r.stderr}`);
    // A record without an identity would make the generator read the image anyway.
    const record = JSON.parse(readFileSync(join(twin, `etc/portable-attach/cache/${name}.json`), "utf8"));
    if (raw && !record.images[0].identity) throw new Error(`${name}: cached without an identity: ${r.stderr}`);
  }
  writeFileSync(stamp, version);
  return twin;
}

/** Writes an attach list of the first n entries of an entryRoot. */
export function writeList(root, image, n) {
  let text = "";
  for (let i = 0; i < n; i++) text += `[svc${pad(i)}]\nImage=${image(i)}\nEnable=yes\n\n`;
  writeFileSync(join(root, "etc/portable-attach.conf"), text);
}

/**
 * Two roots per raw format, each with one entry: "small" (the service plus a ~900 KiB file: a 1 MiB
 * image) and "big" (the service plus 10,000 files of 100 KiB of random data: a 1 GiB image).
 */
export async function sizeRoots(format, log) {
  const out = {};
  for (const size of ["small", "big"]) {
    const root = join(CACHE, VERSION, `size-${format}-${size}`);
    const img = "/var/lib/portables/svcbig.raw";
    if (!existsSync(join(root, ".done"))) {
      log(`building the ${size} ${format} image in ${root} …`);
      rmSync(root, { recursive: true, force: true });
      const tree = join(CACHE, VERSION, `trees/size-${size}`);
      const treeStamp = join(tree, ".done-tree");
      if (!existsSync(treeStamp)) {
        makeTree(tree, "svcbig");
        const buf = Buffer.alloc(100 * 1024);
        if (size === "small") {
          file(join(tree, "usr/share/svcbig/blob"), randomFillSync(Buffer.alloc(900 * 1024)));
        } else {
          for (let d = 0; d < 100; d++) {
            mkdirSync(join(tree, `usr/share/svcbig/d${pad(d)}`), { recursive: true });
            for (let f = 0; f < 100; f++)
              writeFileSync(join(tree, `usr/share/svcbig/d${pad(d)}/f${pad(f)}`), randomFillSync(buf));
          }
        }
        writeFileSync(treeStamp, "");
      }
      mkdirSync(join(root, "var/lib/portables"), { recursive: true });
      mkdirSync(join(root, "etc"), { recursive: true });
      cpSync(new URL("../profiles", import.meta.url).pathname, join(root, "usr/lib/portable-attach/profile"), {
        recursive: true,
      });
      const [cmd, args] = mkfsArgs(format, tree, join(root, img), size === "big" ? 1300 * 1024 * 1024 : 1400 * 1024);
      // mkfs.erofs / mksquashfs take the stamp file along otherwise.
      const stamp = treeStamp + ".aside";
      spawnSync("mv", [treeStamp, stamp]);
      try {
        await runAsync(cmd, args);
      } finally {
        spawnSync("mv", [stamp, treeStamp]);
      }
      writeFileSync(join(root, "etc/portable-attach.conf"), `[svcbig]\nImage=${img}\nEnable=yes\n`);
      writeFileSync(join(root, ".done"), "");
    }
    out[size] = { root, image: join(root, img) };
  }
  return out;
}

export function dropTrees() {
  rmSync(join(CACHE, VERSION, "trees"), { recursive: true, force: true });
}

/**
 * The 1 GiB erofs image of sizeRoots, and a copy of it signed the way a naked image is signed:
 * NAME.verity (veritysetup format), NAME.roothash and NAME.roothash.p7s (openssl cms -noattr),
 * with the certificate in etc/verity.d and ImagePolicy=signed. A copy, not a hard link: a new link
 * would change the ctime of the images the "attached by the CLI" twins have cached.
 */
export async function verityRoots(log) {
  const { big } = await sizeRoots("erofs", log);
  const root = join(CACHE, VERSION, "verity-erofs-big");
  const dir = join(root, "var/lib/portables");
  if (!existsSync(join(root, ".done"))) {
    log(`building the signed 1 GiB erofs image in ${root} …`);
    rmSync(root, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    mkdirSync(join(root, "etc/verity.d"), { recursive: true });
    cpSync(new URL("../profiles", import.meta.url).pathname, join(root, "usr/lib/portable-attach/profile"), {
      recursive: true,
    });
    await runAsync("cp", ["--reflink=auto", big.image, join(dir, "svcbig.raw")]);
    const v = spawnSync("veritysetup", ["format", join(dir, "svcbig.raw"), join(dir, "svcbig.verity")], {
      encoding: "utf8",
    });
    const hash = /^Root hash:\s+([0-9a-f]+)/m.exec(v.stdout)?.[1];
    if (!hash) throw new Error(`veritysetup format: ${v.stderr}`);
    writeFileSync(join(dir, "svcbig.roothash"), `${hash}\n`);
    const key = join(root, "bench.key");
    const crt = join(root, "etc/verity.d/bench.crt");
    await runAsync("openssl", [
      "req",
      "-x509",
      "-newkey",
      "rsa:2048",
      "-nodes",
      "-keyout",
      key,
      "-out",
      crt,
      "-days",
      "3650",
      "-subj",
      "/CN=portable-attach bench",
    ]);
    writeFileSync(join(root, "roothash.txt"), hash);
    await runAsync("openssl", [
      "cms",
      "-sign",
      "-noattr",
      "-binary",
      "-in",
      join(root, "roothash.txt"),
      "-inkey",
      key,
      "-signer",
      crt,
      "-outform",
      "DER",
      "-out",
      join(dir, "svcbig.roothash.p7s"),
    ]);
    writeFileSync(
      join(root, "etc/portable-attach.conf"),
      `[svcbig]\nImage=/var/lib/portables/svcbig.raw\nEnable=yes\nImagePolicy=signed\n`,
    );
    writeFileSync(join(root, ".done"), "");
  }
  return { unsigned: big.root, signed: root };
}

/**
 * The reference case: 10 raw images of ~1–2 MiB (the service plus random data), 5 squashfs (gzip) and
 * 5 erofs (lz4), svcm0000…svcm0009, with a list of all ten. Returns { root, entries: [[name, image]] }.
 */
export async function mixedRoot(log) {
  const root = join(CACHE, VERSION, "mixed10");
  const entries = Array.from({ length: 10 }, (_, i) => [`svcm${pad(i)}`, `/var/lib/portables/svcm${pad(i)}.raw`]);
  if (!existsSync(join(root, ".done"))) {
    log(`building 5 squashfs (gzip) and 5 erofs images in ${root} …`);
    rmSync(root, { recursive: true, force: true });
    mkdirSync(join(root, "var/lib/portables"), { recursive: true });
    mkdirSync(join(root, "etc"), { recursive: true });
    cpSync(new URL("../profiles", import.meta.url).pathname, join(root, "usr/lib/portable-attach/profile"), {
      recursive: true,
    });
    let list = "";
    for (const [i, [name, image]] of entries.entries()) {
      const src = join(CACHE, VERSION, `trees/mixed-${name}`);
      makeTree(src, name);
      file(join(src, `usr/share/${name}/blob`), randomFillSync(Buffer.alloc((1 + (i % 5) / 5) * 1024 * 1024)));
      const out = join(root, image);
      const [cmd, args] =
        i < 5
          ? [
              "mksquashfs",
              [
                src,
                out,
                "-noappend",
                "-quiet",
                "-no-progress",
                "-all-root",
                "-comp",
                "gzip",
                "-mkfs-time",
                EPOCH,
                "-all-time",
                EPOCH,
              ],
            ]
          : mkfsArgs("erofs", src, out, 0);
      await runAsync(cmd, args);
      rmSync(src, { recursive: true, force: true });
      list += `[${name}]\nImage=${image}\nEnable=yes\n\n`;
    }
    writeFileSync(join(root, "etc/portable-attach.conf"), list);
    writeFileSync(join(root, ".done"), "");
  }
  return { root, entries };
}
