// The image policy pin portablectl 260+ writes, from real image fixtures.
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { openImage } from "../../src/image/open.ts";
import { imagePolicyPin } from "../../src/portable/image-policy.ts";

const FIXTURES = join(import.meta.dirname, "..", "fixtures", "images");
const scratch = mkdtempSync(join(tmpdir(), "pa-image-policy-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

function pin(path: string): string | undefined {
  const tree = openImage(path, { architecture: "x86-64" });
  try {
    return imagePolicyPin(tree, path);
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
  it("writes no pin where the string is not certain: partitioned images, ext2/3, verity side files", () => {
    expect(pin(join(FIXTURES, "gpt-dps-root-erofs.raw"))).toBeUndefined();
    expect(pin(join(FIXTURES, "mbr-ext4.raw"))).toBeUndefined();
    expect(pin(join(FIXTURES, "ext2.raw"))).toBeUndefined();
    const img = join(scratch, "app_1.raw");
    copyFileSync(join(FIXTURES, "squashfs-xz.raw"), img);
    expect(pin(img)).toBe("root=squashfs:=absent");
    writeFileSync(join(scratch, "app_1.roothash"), "00\n");
    expect(pin(img)).toBeUndefined();
  });
  it("never pins a directory", () => {
    expect(pin(join(import.meta.dirname, "..", "golden", "01-one-service", "input", "var", "lib", "portables", "foo_1"))).toBeUndefined();
  });
});
