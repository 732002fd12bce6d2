// The text of 20-portable.conf. Its first part is byte for byte what the host systemd's own
// portablectl writes (src/portable/systemd-features.ts says what differs by version; recordings in
// test/e2e/parity/), so marker-reading tools and people who know portablectl see what they expect;
// our own [Unit] lines follow. The only place that builds unit-file text; every value from a list
// or an image goes through an escaper.
import type { PortableBehaviour } from "../portable/systemd-features.ts";
import { escapeExtensionImage, escapeMarkerPath, escapeSpecifiers, quoteWord } from "../unit/escape.ts";
import type { ParsedImage } from "./types.ts";

export const GENERATOR_NAME = "portable-attach-generator";

export interface DropInInput {
  unitName: string;
  /** The list file that asked for this attachment. */
  sourcePath: string;
  root: ParsedImage;
  extensions: ParsedImage[];
  /** The image the unit was found in: root, or one of the extensions. */
  from: ParsedImage;
  hostOsRelease: string;
  /** What this systemd's portablectl writes. */
  behaviour: PortableBehaviour;
  /** Force=yes: like portablectl --force, relax the extension-release name check of image extensions. */
  relaxExtensionCheck: boolean;
}

function basename(path: string): string {
  return path.slice(path.lastIndexOf("/") + 1);
}

// os-release fields portablectl joins into "ID_VERSION" for LogExtraFields= (first one set wins).
const IDS = ["IMAGE_ID", "ID"];
const VERSIONS = ["IMAGE_VERSION", "VERSION_ID", "BUILD_ID"];

/**
 * portablectl's "<id>_<version>" from a release file: either alone if only one is set, nothing if
 * neither is. A field with control characters counts as unset (as systemd 257.13 and 260+ do;
 * earlier ones wrote it raw into the unit file).
 */
export function nameAndVersion(release: Record<string, string> | undefined, prefix = ""): string | undefined {
  if (!release) return undefined;
  const first = (keys: string[]): string | undefined => {
    const v = keys.map((k) => release[prefix + k]).find((x) => x !== undefined);
    return v !== undefined && /[\x00-\x1f\x7f]/.test(v) ? undefined : v;
  };
  const id = first(IDS);
  const version = first(VERSIONS);
  if (id === undefined && version === undefined) return undefined;
  return id !== undefined && version !== undefined ? `${id}_${version}` : (id ?? version);
}

function logField(lines: string[], field: string, value: string | undefined): void {
  if (value !== undefined) lines.push(`LogExtraFields=${quoteWord(`${field}=${value}`)}`);
}

export function renderPortableDropIn(input: DropInInput): string {
  const { root, extensions, from, behaviour } = input;
  const marker = [root, ...extensions].map((i) => escapeMarkerPath(i.path)).join(":");
  const lines = [`# Drop-in created for image '${marker}', do not edit.`];
  const isService = input.unitName.endsWith(".service");
  const layered = extensions.length > 0 && (from !== root || behaviour.extensionsOnEveryService);
  if (isService) {
    const portable = basename(from.path);
    lines.push("", "[Service]");
    lines.push(`${root.type === "directory" ? "RootDirectory" : "RootImage"}=${escapeSpecifiers(root.path)}`);
    lines.push(`Environment=${quoteWord(`PORTABLE=${portable}`)}`);
    if (behaviour.bindHostOsRelease)
      lines.push(`BindReadOnlyPaths=${escapeSpecifiers(input.hostOsRelease)}:/run/host/os-release`);
    lines.push(`LogExtraFields=${quoteWord(`PORTABLE=${portable}`)}`);
    if (behaviour.pinImagePolicy && root.pin !== undefined) lines.push(`RootImagePolicy=${root.pin}`);
    if (behaviour.releaseLogFields && extensions.length === 0)
      logField(lines, "PORTABLE_NAME_AND_VERSION", nameAndVersion(root.release));
    if (behaviour.releaseLogFields && extensions.length > 0) {
      lines.push(`Environment=${quoteWord(`PORTABLE_ROOT=${basename(root.path)}`)}`);
      lines.push(`LogExtraFields=${quoteWord(`PORTABLE_ROOT=${basename(root.path)}`)}`);
      logField(lines, "PORTABLE_ROOT_NAME_AND_VERSION", nameAndVersion(root.release));
    }
    if (layered) {
      for (const ext of extensions) {
        // Since 254 each extension is a group of its own, after a blank line.
        if (behaviour.releaseLogFields) lines.push("");
        if (ext.type === "directory") lines.push(`ExtensionDirectories=${quoteWord(ext.path)}`);
        else
          lines.push(
            `ExtensionImages=${escapeExtensionImage(ext.path, input.relaxExtensionCheck ? "x-systemd.relax-extension-release-check" : undefined)}`,
          );
        if (!behaviour.releaseLogFields) continue;
        logField(lines, "PORTABLE_EXTENSION", basename(ext.path));
        if (behaviour.pinImagePolicy && ext.pin !== undefined) lines.push(`ExtensionImagePolicy=${ext.pin}`);
        logField(lines, "PORTABLE_EXTENSION_NAME_AND_VERSION", nameAndVersion(ext.release, "SYSEXT_"));
        if (behaviour.confextLogFields)
          logField(lines, "PORTABLE_EXTENSION_NAME_AND_VERSION", nameAndVersion(ext.release, "CONFEXT_"));
      }
    }
  }
  lines.push("", `# Added by ${GENERATOR_NAME}: where this came from, and what it needs mounted.`, "[Unit]");
  lines.push(`SourcePath=${escapeSpecifiers(input.sourcePath)}`);
  if (isService) {
    // RootImage=/RootDirectory= imply RequiresMountsFor= only for themselves; systemd.exec(5)
    // lists no implicit dependency for ExtensionImages=/ExtensionDirectories=.
    const images = layered ? [root, ...extensions] : [root];
    lines.push(`RequiresMountsFor=${images.map((i) => quoteWord(i.path)).join(" ")}`);
  }
  return lines.join("\n") + "\n";
}
