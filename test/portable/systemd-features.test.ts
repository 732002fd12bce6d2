// The version table and what 20-portable.conf holds under each row, on plain data.
import { describe, expect, it } from "vitest";
import { nameAndVersion, renderPortableDropIn } from "../../src/plan/render.ts";
import type { ParsedImage } from "../../src/plan/types.ts";
import { behaviourFor, PORTABLE_BEHAVIOURS } from "../../src/portable/systemd-features.ts";

function image(path: string, release: Record<string, string>, type: ParsedImage["type"] = "directory"): ParsedImage {
  return { path, type, release, releaseText: undefined, units: [], warnings: [] };
}
const root = image(
  "/var/lib/portables/app_1.raw",
  { ID: "debian", VERSION_ID: "12", IMAGE_ID: "app", IMAGE_VERSION: "1" },
  "raw",
);
const ext = image(
  "/var/lib/portables/app-ext.raw",
  { ID: "debian", SYSEXT_ID: "ext", SYSEXT_VERSION_ID: "2", CONFEXT_ID: "conf" },
  "raw",
);

function render(version: number, from: ParsedImage, extensions: ParsedImage[] = []): string {
  const text = renderPortableDropIn({
    unitName: "app.service",
    sourcePath: "/etc/portable-attach.conf",
    root,
    extensions,
    from,
    hostOsRelease: "/etc/os-release",
    behaviour: behaviourFor(version),
    relaxExtensionCheck: false,
  });
  return text.slice(0, text.indexOf("# Added by"));
}

describe("behaviourFor", () => {
  it("takes the last row at or below the version", () => {
    expect(behaviourFor(252).since).toBe(252);
    expect(behaviourFor(253).since).toBe(252);
    expect(behaviourFor(254).since).toBe(254);
    expect(behaviourFor(257).since).toBe(255);
    expect(behaviourFor(259).since).toBe(255);
    expect(behaviourFor(262).since).toBe(260);
    expect(behaviourFor(249).since).toBe(252);
  });
  it("gives the newest row when nothing was detected: no os-release bind, which is fatal on 255+", () => {
    expect(behaviourFor(undefined)).toBe(PORTABLE_BEHAVIOURS[PORTABLE_BEHAVIOURS.length - 1]);
    expect(behaviourFor(undefined).bindHostOsRelease).toBe(false);
  });
  it("rows are in ascending order", () => {
    const since = PORTABLE_BEHAVIOURS.map((r) => r.since);
    expect(since).toEqual([...since].sort((a, b) => a - b));
  });
});

describe("nameAndVersion (portablectl's ID_VERSION log field)", () => {
  it("prefers IMAGE_ID/IMAGE_VERSION, then ID/VERSION_ID, then BUILD_ID", () => {
    expect(nameAndVersion({ ID: "debian", VERSION_ID: "12", IMAGE_ID: "app", IMAGE_VERSION: "1" })).toBe("app_1");
    expect(nameAndVersion({ ID: "debian", VERSION_ID: "12" })).toBe("debian_12");
    expect(nameAndVersion({ ID: "fedora", BUILD_ID: "2026" })).toBe("fedora_2026");
  });
  it("writes either alone, nothing if neither, and an empty value counts as set", () => {
    expect(nameAndVersion({ ID: "arch" })).toBe("arch");
    expect(nameAndVersion({ VERSION_ID: "3" })).toBe("3");
    expect(nameAndVersion({ NAME: "x" })).toBeUndefined();
    expect(nameAndVersion({ ID: "", VERSION_ID: "1" })).toBe("_1");
    expect(nameAndVersion(undefined)).toBeUndefined();
  });
  it("reads the SYSEXT_/CONFEXT_ fields of an extension", () => {
    expect(nameAndVersion(ext.release, "SYSEXT_")).toBe("ext_2");
    expect(nameAndVersion(ext.release, "CONFEXT_")).toBe("conf");
  });
  it("drops a field with control characters", () => {
    expect(nameAndVersion({ ID: "a\nb", VERSION_ID: "1" })).toBe("1");
  });
});

describe("20-portable.conf by systemd version", () => {
  it("252/253 bind the host's os-release and add no release fields", () => {
    for (const v of [252, 253]) {
      expect(render(v, root)).toBe(
        `# Drop-in created for image '${root.path}', do not edit.\n\n[Service]\nRootImage=${root.path}\nEnvironment=PORTABLE=app_1.raw\nBindReadOnlyPaths=/etc/os-release:/run/host/os-release\nLogExtraFields=PORTABLE=app_1.raw\n\n`,
      );
    }
  });
  it("254+ do not bind it (PID 1 provides /run/host/os-release) and log the image's name and version", () => {
    for (const v of [254, 255, 257, 262]) {
      expect(render(v, root)).toBe(
        `# Drop-in created for image '${root.path}', do not edit.\n\n[Service]\nRootImage=${root.path}\nEnvironment=PORTABLE=app_1.raw\nLogExtraFields=PORTABLE=app_1.raw\nLogExtraFields=PORTABLE_NAME_AND_VERSION=app_1\n\n`,
      );
    }
  });
  it("252: extension lines only for a unit found in an extension, no blank line", () => {
    expect(render(252, ext, [ext])).toContain(
      "LogExtraFields=PORTABLE=app-ext.raw\nExtensionImages=/var/lib/portables/app-ext.raw\n\n",
    );
    expect(render(252, root, [ext])).not.toContain("ExtensionImages=");
  });
  it("254: PORTABLE_ROOT fields and a group per extension with its SYSEXT_ name and version", () => {
    expect(render(254, ext, [ext])).toBe(
      `# Drop-in created for image '${root.path}:${ext.path}', do not edit.\n\n[Service]\nRootImage=${root.path}\nEnvironment=PORTABLE=app-ext.raw\nLogExtraFields=PORTABLE=app-ext.raw\n` +
        "Environment=PORTABLE_ROOT=app_1.raw\nLogExtraFields=PORTABLE_ROOT=app_1.raw\nLogExtraFields=PORTABLE_ROOT_NAME_AND_VERSION=app_1\n\n" +
        `ExtensionImages=${ext.path}\nLogExtraFields=PORTABLE_EXTENSION=app-ext.raw\nLogExtraFields=PORTABLE_EXTENSION_NAME_AND_VERSION=ext_2\n\n`,
    );
  });
  it("255+: the CONFEXT_ name and version too", () => {
    expect(render(257, ext, [ext])).toContain(
      "LogExtraFields=PORTABLE_EXTENSION_NAME_AND_VERSION=ext_2\nLogExtraFields=PORTABLE_EXTENSION_NAME_AND_VERSION=conf\n",
    );
    expect(render(257, root, [ext])).not.toContain("ExtensionImages=");
  });
  it("260+: raw images pinned by their image policy, where known", () => {
    const pinnedRoot = { ...root, pin: "root=squashfs:=absent" };
    const pinnedExt = { ...ext, pin: "root=erofs:=absent" };
    const text = renderPortableDropIn({
      unitName: "app.service",
      sourcePath: "/l",
      root: pinnedRoot,
      extensions: [pinnedExt],
      from: pinnedRoot,
      hostOsRelease: "/etc/os-release",
      behaviour: behaviourFor(262),
      relaxExtensionCheck: false,
    });
    expect(text).toContain(
      "LogExtraFields=PORTABLE=app_1.raw\nRootImagePolicy=root=squashfs:=absent\nEnvironment=PORTABLE_ROOT=app_1.raw\n",
    );
    expect(text).toContain(
      "LogExtraFields=PORTABLE_EXTENSION=app-ext.raw\nExtensionImagePolicy=root=erofs:=absent\nLogExtraFields=PORTABLE_EXTENSION_NAME_AND_VERSION=ext_2\n",
    );
    const old = renderPortableDropIn({
      unitName: "app.service",
      sourcePath: "/l",
      root: pinnedRoot,
      extensions: [pinnedExt],
      from: pinnedExt,
      hostOsRelease: "/etc/os-release",
      behaviour: behaviourFor(259),
      relaxExtensionCheck: false,
    });
    expect(old).not.toContain("ImagePolicy=");
  });
  it("260+: a unit of the base image gets the extensions too", () => {
    expect(render(259, root, [ext])).not.toContain("ExtensionImages=");
    expect(render(260, root, [ext])).toContain(
      `\nExtensionImages=${ext.path}\nLogExtraFields=PORTABLE_EXTENSION=app-ext.raw\n`,
    );
    expect(render(262, root, [ext])).toContain("Environment=PORTABLE=app_1.raw\n");
  });
});
