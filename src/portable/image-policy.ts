// The image policy portablectl 260+ pins a raw image with (RootImagePolicy=/ExtensionImagePolicy=):
// only what it found at attach time may be used. Written here for the one layout whose policy string
// is certain, a naked file system without dm-verity: its only partition is the root, so systemd
// serializes "root=<fstype>:=absent" (recorded from portablectl 262). Partitioned images and
// images with dm-verity get no pin, which is less strict, never wrong.
import type { ImageTree } from "../image/types.ts";

/** File systems with a name in systemd's image policies (systemd.image-policy(7)) that we read. */
const POLICY_FS = new Set(["squashfs", "erofs", "ext4"]);

/**
 * The pin for a raw image, or undefined. A naked image's description is its file system
 * ("squashfs (xz)"); a partitioned one's starts with its table ("gpt: …"). dm-verity (side files
 * or partitions) shows in `protection`, and makes systemd's string say more than we know.
 */
export function imagePolicyPin(tree: ImageTree): string | undefined {
  if (tree.type !== "raw" || (tree.protection !== undefined && tree.protection.level !== "unprotected"))
    return undefined;
  const fs = /^([a-z0-9]+)(?: \(.*\))?$/.exec(tree.description)?.[1];
  if (fs === undefined || !POLICY_FS.has(fs)) return undefined;
  return `root=${fs}:=absent`;
}
