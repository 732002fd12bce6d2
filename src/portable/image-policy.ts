// The image policy portablectl 260+ pins a raw image with (RootImagePolicy=/ExtensionImagePolicy=):
// only what it found at attach time may be used. Written here for the one layout whose policy string
// is certain, a naked file system without dm-verity: its only partition is the root, so systemd
// serializes "root=<fstype>:=absent" (recorded from portablectl 262). Partitioned images and
// images with verity side files get no pin, which is less strict, never wrong.
import { existsSync } from "node:fs";
import type { ImageTree } from "../image/types.ts";

/** File systems with a name in systemd's image policies (systemd.image-policy(7)) that we read. */
const POLICY_FS = new Set(["squashfs", "erofs", "ext4"]);
/** Side files that give a naked image dm-verity (systemd's verity_settings_load). */
const VERITY_SIDE_FILES = [".roothash", ".roothash.p7s", ".usrhash", ".usrhash.p7s", ".verity"];

/**
 * The pin for a raw image, or undefined. `hostPath` is where the image is on this host (the root
 * prefix included). A naked image's description starts with its file system ("squashfs (xz)");
 * a partitioned one's with its table ("gpt: …").
 */
export function imagePolicyPin(tree: ImageTree, hostPath: string): string | undefined {
  if (tree.type !== "raw" || (tree.protection !== undefined && tree.protection.level !== "unprotected")) return undefined;
  const fs = /^([a-z0-9]+)(?: \(.*\))?$/.exec(tree.description)?.[1];
  if (fs === undefined || !POLICY_FS.has(fs)) return undefined;
  const stem = hostPath.replace(/\.raw$/, "");
  if (VERITY_SIDE_FILES.some((s) => existsSync(stem + s))) return undefined;
  return `root=${fs}:=absent`;
}
