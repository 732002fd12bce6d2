// What every boot's payload carries: the check unit and its shell helpers, a persistent journal
// directory, and (when asked) our generator, CLI and units as a package would install them.
import {
  readFileSync,
  mkdirSync,
  writeFileSync,
  symlinkSync,
  copyFileSync,
  chmodSync,
  readdirSync,
  existsSync,
  statSync,
  cpSync,
} from "node:fs";
import { join, dirname } from "node:path";

export const REPO = new URL("../../../", import.meta.url).pathname.replace(/\/$/, "");

const CHECK_UNIT = `[Unit]
Description=portable-attach end-to-end check
After=multi-user.target
SuccessAction=poweroff-force
FailureAction=poweroff-force

[Service]
Type=exec
ExecStart=/usr/lib/e2e/check.sh
StandardOutput=journal+console
StandardError=journal+console
TimeoutStartSec=infinity

[Install]
WantedBy=multi-user.target
`;

// See boot.mjs: links for loop partition nodes, made before any service could need them.
const PARTITION_NODES_UNIT = `[Unit]
Description=e2e: link loop partition nodes to the host's devtmpfs
DefaultDependencies=no
Before=sysinit.target

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/usr/lib/e2e/partition-nodes.sh
`;

const LIB_SH = readFileSync(new URL("../guest/lib.sh", import.meta.url), "utf8");

function put(root, path, content, mode = 0o644) {
  const p = join(root, path);
  mkdirSync(dirname(p), { recursive: true });
  writeFileSync(p, content);
  chmodSync(p, mode);
}

// E2E_GENERATOR / E2E_CLI point the suite at another build (e.g. a deliberately broken copy).
export const GENERATOR = process.env.E2E_GENERATOR ?? join(REPO, "dist/portable-attach-generator");
export const CLI = process.env.E2E_CLI ?? join(REPO, "dist/portable-attach");

export const have = {
  generator: () => existsSync(GENERATOR),
  cli: () => existsSync(CLI),
  pathUnit: () => existsSync(join(REPO, "units/portable-attach.path")),
  units: () => existsSync(join(REPO, "units")) && readdirSync(join(REPO, "units")).length > 0,
};

/**
 * Write a payload tree. opts: { check: "bash body", files: {path: text|{content,mode}|{symlink}},
 * ours: install generator/CLI/units (default true) }
 */
export function makePayload(dir, { check, files = {}, ours = true }) {
  mkdirSync(dir, { recursive: true });
  put(dir, "etc/systemd/system/e2e-check.service", CHECK_UNIT);
  mkdirSync(join(dir, "etc/systemd/system/multi-user.target.wants"), { recursive: true });
  symlinkSync("../e2e-check.service", join(dir, "etc/systemd/system/multi-user.target.wants/e2e-check.service"));
  put(dir, "usr/lib/e2e/lib.sh", LIB_SH);
  put(dir, "etc/systemd/system/e2e-partition-nodes.service", PARTITION_NODES_UNIT);
  put(
    dir,
    "usr/lib/e2e/partition-nodes.sh",
    "#!/bin/sh\nfor n in $(seq 0 15); do for m in $(seq 1 8); do ln -sf /run/e2e-hostdev/loop${n}p${m} /dev/loop${n}p${m}; done; done\n",
    0o755,
  );
  mkdirSync(join(dir, "etc/systemd/system/sysinit.target.wants"), { recursive: true });
  symlinkSync(
    "../e2e-partition-nodes.service",
    join(dir, "etc/systemd/system/sysinit.target.wants/e2e-partition-nodes.service"),
  );
  put(dir, "usr/lib/e2e/check.sh", `#!/bin/bash\n. /usr/lib/e2e/lib.sh\nset -u\n${check}\n`, 0o755);
  mkdirSync(join(dir, "var/log/journal"), { recursive: true });
  if (ours) {
    if (have.generator()) {
      put(dir, "usr/lib/systemd/system-generators/portable-attach-generator", "", 0o755);
      copyFileSync(GENERATOR, join(dir, "usr/lib/systemd/system-generators/portable-attach-generator"));
    }
    if (have.cli()) {
      put(dir, "usr/bin/portable-attach", "", 0o755);
      copyFileSync(CLI, join(dir, "usr/bin/portable-attach"));
    }
    const units = join(REPO, "units");
    if (existsSync(units)) {
      for (const name of readdirSync(units)) {
        const src = join(units, name);
        if (statSync(src).isFile()) put(dir, `usr/lib/systemd/system/${name}`, "");
        if (statSync(src).isFile()) copyFileSync(src, join(dir, `usr/lib/systemd/system/${name}`));
      }
    }
  }
  for (const [path, spec] of Object.entries(files)) {
    if (typeof spec === "string") put(dir, path, spec);
    else if (spec.symlink) {
      mkdirSync(dirname(join(dir, path)), { recursive: true });
      symlinkSync(spec.symlink, join(dir, path));
    } else if (spec.copyTree) {
      mkdirSync(dirname(join(dir, path)), { recursive: true });
      cpSync(spec.copyTree, join(dir, path), { recursive: true, verbatimSymlinks: true });
    } else if (spec.copyFile) {
      mkdirSync(dirname(join(dir, path)), { recursive: true });
      copyFileSync(spec.copyFile, join(dir, path));
    } else put(dir, path, spec.content, spec.mode ?? 0o644);
  }
  return dir;
}
