// The text of 20-portable.conf. Its first part is byte for byte what systemd 252's portablectl
// writes (recorded in test/e2e/parity/portablectl-252/), so marker-reading tools and people who
// know portablectl see what they expect; our own [Unit] lines follow. The only place that builds
// unit-file text; every value from a list or an image goes through an escaper.
import { escapeExtensionImage, escapeMarkerPath, escapeSpecifiers, quoteWord } from "../unit/escape.ts";
import type { ImageFacts } from "./types.ts";

export const GENERATOR_NAME = "portable-attach-generator";

export interface DropInInput {
  unitName: string;
  /** The list file that asked for this attachment. */
  sourcePath: string;
  root: ImageFacts;
  extensions: ImageFacts[];
  /** The image the unit was found in: root, or one of the extensions. */
  from: ImageFacts;
  hostOsRelease: string;
  /** Force=yes: like portablectl --force, relax the extension-release name check of image extensions. */
  relaxExtensionCheck: boolean;
}

function basename(path: string): string {
  return path.slice(path.lastIndexOf("/") + 1);
}

export function renderPortableDropIn(input: DropInInput): string {
  const { root, extensions, from } = input;
  const marker = [root, ...extensions].map((i) => escapeMarkerPath(i.path)).join(":");
  const lines = [`# Drop-in created for image '${marker}', do not edit.`];
  const isService = input.unitName.endsWith(".service");
  if (isService) {
    const portable = basename(from.path);
    lines.push("", "[Service]");
    lines.push(`${root.type === "directory" ? "RootDirectory" : "RootImage"}=${escapeSpecifiers(root.path)}`);
    lines.push(`Environment=${quoteWord(`PORTABLE=${portable}`)}`);
    lines.push(`BindReadOnlyPaths=${escapeSpecifiers(input.hostOsRelease)}:/run/host/os-release`);
    lines.push(`LogExtraFields=${quoteWord(`PORTABLE=${portable}`)}`);
    if (from !== root) {
      for (const ext of extensions) {
        if (ext.type === "directory") lines.push(`ExtensionDirectories=${quoteWord(ext.path)}`);
        else lines.push(`ExtensionImages=${escapeExtensionImage(ext.path, input.relaxExtensionCheck ? "x-systemd.relax-extension-release-check" : undefined)}`);
      }
    }
  }
  lines.push("", `# Added by ${GENERATOR_NAME}: where this came from, and what it needs mounted.`, "[Unit]");
  lines.push(`SourcePath=${escapeSpecifiers(input.sourcePath)}`);
  if (isService) {
    // RootImage=/RootDirectory= imply RequiresMountsFor= only for themselves; systemd.exec(5)
    // lists no implicit dependency for ExtensionImages=/ExtensionDirectories=.
    const images = from === root ? [root] : [root, ...extensions];
    lines.push(`RequiresMountsFor=${images.map((i) => quoteWord(i.path)).join(" ")}`);
  }
  return lines.join("\n") + "\n";
}
