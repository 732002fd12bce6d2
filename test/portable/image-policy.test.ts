// The image policy pin portablectl 260+ writes, from real image fixtures.
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { openImage } from "../../src/image/open.ts";
import type { ImageTree } from "../../src/image/types.ts";
import { imagePolicyPin } from "../../src/portable/image-policy.ts";

const FIXTURES = join(import.meta.dirname, "..", "fixtures", "images");

function pin(path: string): string | undefined {
  const tree = openImage(path, { architecture: "x86-64" });
  try {
    return imagePolicyPin(tree);
  } finally {
    tree.close();
  }
}

describe("imagePolicyPin", () => {
  it("pins a naked squashfs, erofs or ext4 image to its file system, as portablectl 262 writes", () => {
    expect(pin(join(FIXTURES, "squashfs-xz.raw"))).toBe("root=squashfs:=absent");
    expect(pin(join(FIXTURES, "erofs-lz4.raw"))).toBe("root=erofs:=absent");
    expect(pin(join(FIXTURES, "ext4.raw"))).toBe("root=ext4:=absent");
  });
  it("writes no pin where the string is not certain: partitioned images, ext2/3, dm-verity", () => {
    expect(pin(join(FIXTURES, "gpt-dps-root-erofs.raw"))).toBeUndefined();
    expect(pin(join(FIXTURES, "mbr-ext4.raw"))).toBeUndefined();
    expect(pin(join(FIXTURES, "ext2.raw"))).toBeUndefined();
    // dm-verity (checked by the reader) makes systemd's policy say more ("verity+squashfs").
    const tree = openImage(join(FIXTURES, "squashfs-xz.raw"), { architecture: "x86-64" });
    try {
      const verity = Object.create(tree, {
        protection: { value: { level: "verity", details: [], notes: [], unchecked: false } },
      }) as ImageTree;
      expect(imagePolicyPin(verity)).toBeUndefined();
      expect(imagePolicyPin(tree)).toBe("root=squashfs:=absent");
    } finally {
      tree.close();
    }
  });
  it("never pins a directory", () => {
    expect(
      pin(join(import.meta.dirname, "..", "golden", "01-one-service", "input", "var", "lib", "portables", "foo_1")),
    ).toBeUndefined();
  });
});
