// os-release and extension-release: parsing (systemd's env-file rules, src/basic/env-file.c),
// finding them inside an image (src/basic/os-util.c), the extension
// compatibility check (src/shared/extension-util.c) and the NAME_AND_VERSION journal
// field value.
import { MAX_FILE_BYTES } from "../image/limits.ts";
import { readFileInImage, statInImage } from "../image/resolve.ts";
import type { ImageTree } from "../image/types.ts";
import { behaviourFor, type PortableBehaviour } from "./systemd-features.ts";
import { imageBaseName } from "./unit-name.ts";

const NEWEST = behaviourFor(undefined);

/** An image's release data cannot be used (e.g. several extension-release candidates). */
export class ReleaseError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ReleaseError";
  }
}

export type Release = Record<string, string>;

/** Characters escapable with '\' inside double quotes (SHELL_NEED_ESCAPE plus '"' and '\'). */
const DOUBLE_QUOTE_ESCAPABLE = '"\\`$';

/** A key we keep: an environment variable name. Lines with other keys are ignored. */
const KEY = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * Parses os-release/extension-release text with systemd's env-file state machine: KEY=VALUE
 * lines; '#' or ';' first on a line starts a comment; whitespace around keys and unquoted values
 * is trimmed; '…' and "…" quotes are removed and may be glued to unquoted text (A="x"y → xy);
 * '\' escapes the next character outside quotes, and inside double quotes only " \ ` $ (other
 * pairs stay as they are); '\' before a newline continues the value. Lines without '=' or with a
 * key that is not a valid variable name are ignored; the last assignment wins. Null-prototype
 * result, so keys like "__proto__" are plain data. `rules`: the systemd version's (a comment
 * ending in '\' swallows the next line up to 253); the newest by default.
 */
export function parseEnvFile(text: string, rules: Pick<PortableBehaviour, "commentContinues"> = NEWEST): Release {
  const result: Release = Object.create(null) as Release;
  type State =
    | "preKey"
    | "key"
    | "preValue"
    | "value"
    | "valueEscape"
    | "single"
    | "double"
    | "doubleEscape"
    | "comment"
    | "commentEscape";
  let state: State = "preKey";
  let key = "";
  let value = "";
  /** Length of `value` up to its last non-whitespace character written unquoted. */
  let valueEnd = 0;
  const push = (): void => {
    const k = key.trimEnd();
    if (KEY.test(k)) result[k] = value.slice(0, valueEnd);
    key = "";
    value = "";
    valueEnd = 0;
  };
  const isNewline = (c: string): boolean => c === "\n" || c === "\r";
  const isSpace = (c: string): boolean => c === " " || c === "\t" || isNewline(c);
  const append = (c: string, quoted: boolean): void => {
    value += c;
    if (quoted || !isSpace(c)) valueEnd = value.length;
  };

  for (const c of text) {
    switch (state) {
      case "preKey":
        if (c === "#" || c === ";") state = "comment";
        else if (!isSpace(c)) {
          state = "key";
          key = c;
        }
        break;
      case "key":
        if (isNewline(c)) {
          state = "preKey";
          key = "";
        } else if (c === "=") state = "preValue";
        else key += c;
        break;
      case "preValue":
        if (isNewline(c)) {
          state = "preKey";
          push();
        } else if (c === "'") state = "single";
        else if (c === '"') state = "double";
        else if (c === "\\") state = "valueEscape";
        else if (!isSpace(c)) {
          state = "value";
          append(c, false);
        }
        break;
      case "value":
        if (isNewline(c)) {
          state = "preKey";
          push();
        } else if (c === "\\") state = "valueEscape";
        else append(c, false);
        break;
      case "valueEscape":
        state = "value";
        if (!isNewline(c)) append(c, true);
        break;
      case "single":
        if (c === "'") state = "preValue";
        else append(c, true);
        break;
      case "double":
        if (c === '"') state = "preValue";
        else if (c === "\\") state = "doubleEscape";
        else append(c, true);
        break;
      case "doubleEscape":
        state = "double";
        if (DOUBLE_QUOTE_ESCAPABLE.includes(c)) append(c, true);
        else if (c !== "\n") {
          append("\\", true);
          append(c, true);
        }
        break;
      case "comment":
        if (c === "\\") state = "commentEscape";
        else if (isNewline(c)) state = "preKey";
        break;
      case "commentEscape":
        // Up to 253 an escaped newline continues the comment; since 254 the next line is a line.
        state = rules.commentContinues || !isNewline(c) ? "comment" : "preKey";
        break;
    }
  }
  if (state !== "preKey" && state !== "key" && state !== "comment" && state !== "commentEscape") push();
  return result;
}

const decoder = new TextDecoder();

function readText(tree: ImageTree, path: string): { path: string; text: string } | undefined {
  const bytes = readFileInImage(tree, path, MAX_FILE_BYTES);
  return bytes && { path, text: decoder.decode(bytes) };
}

/**
 * The image's os-release: /etc/os-release, else /usr/lib/os-release, symlinks resolved inside the
 * image (a dangling /etc/os-release falls through to /usr/lib, as in systemd). `path` is the one
 * looked up, not the symlink target.
 */
export function findOsRelease(tree: ImageTree): { path: string; text: string } | undefined {
  return readText(tree, "/etc/os-release") ?? readText(tree, "/usr/lib/os-release");
}

/** sysext location first, then confext. */
const EXTENSION_RELEASE_DIRS = ["/usr/lib/extension-release.d", "/etc/extension-release.d"];
const PREFIX = "extension-release.";

function isValidFileName(name: string): boolean {
  return (
    name !== "" && name !== "." && name !== ".." && !/[/\0]/.test(name) && new TextEncoder().encode(name).length <= 255
  );
}

/**
 * An extension image's extension-release. In each directory: the exact
 * "extension-release.<imageName>" (symlinks followed inside the image) wins; else one regular
 * file "extension-release.<X>" where X is the image's base name ("app0_1.0" → "app0"), or, when
 * `relaxed` (portablectl --force, raw extensions only), any X. Several candidates throw
 * ReleaseError (systemd: ENOTUNIQ); none → the next directory; nothing at all → undefined.
 *
 * systemd also accepts a file under any name if it carries the xattr
 * user.extension-release.strict=false. Node cannot read extended attributes (and raw images are
 * read without the kernel), so every file is treated as strict: such an image needs its
 * extension-release renamed to match, or Force=yes. Failing closed keeps us from attaching an
 * extension systemd might refuse at start (PID 1 applies the same check to ExtensionImages=).
 */
export function findExtensionRelease(
  tree: ImageTree,
  imageName: string,
  relaxed: boolean,
): { path: string; text: string } | undefined {
  const base = imageBaseName(imageName);
  for (const dir of EXTENSION_RELEASE_DIRS) {
    if (isValidFileName(PREFIX + imageName)) {
      const exact = readText(tree, `${dir}/${PREFIX}${imageName}`);
      if (exact) return exact;
    }
    const found = statInImage(tree, dir);
    if (found?.stat.kind !== "dir") continue;
    const candidates = tree
      .readdir(found.path)
      .filter((e) => e.kind === "file" && e.name.startsWith(PREFIX) && e.name.length > PREFIX.length)
      .filter((e) => relaxed || e.name.slice(PREFIX.length) === base)
      .map((e) => e.name)
      .sort();
    if (candidates.length > 1) {
      throw new ReleaseError(
        `Image '${tree.source}' has several extension-release files in ${dir} that could belong to '${imageName}': ${candidates.join(", ")}`,
      );
    }
    const only = candidates[0];
    if (only !== undefined) {
      const bytes = tree.readFile(`${found.path}/${only}`, MAX_FILE_BYTES);
      return { path: `${dir}/${only}`, text: decoder.decode(bytes) };
    }
  }
  return undefined;
}

function get(release: Release, key: string): string | undefined {
  const value = release[key];
  return value === undefined || value === "" ? undefined : value;
}

function words(value: string | undefined): string[] {
  return value === undefined ? [] : value.split(/[ \t\n\r]+/).filter((w) => w !== "");
}

/**
 * Whether extension-release `ext` may be layered on the portable root with os-release `root`
 * (extension_release_validate()); undefined if compatible, else why not. `kind` picks
 * the key names: portabled 252–258 always validates with the SYSEXT_* keys (its CONFEXT retry runs
 * only on internal errors), so "sysext" is the faithful default.
 */
export function checkExtensionCompatible(
  root: Release,
  ext: Release,
  hostArchitecture: string,
  kind: "sysext" | "confext" = "sysext",
): string | undefined {
  const SCOPE = kind === "sysext" ? "SYSEXT_SCOPE" : "CONFEXT_SCOPE";
  const LEVEL = kind === "sysext" ? "SYSEXT_LEVEL" : "CONFEXT_LEVEL";
  if (Object.keys(ext).length === 0) return "extension-release is empty";

  const scope = ext[SCOPE];
  const scopes = scope === undefined ? ["system", "portable"] : words(scope);
  if (!scopes.includes("portable")) return `extension-release ${SCOPE}='${scope}' does not include 'portable'`;

  const arch = get(ext, "ARCHITECTURE");
  if (arch !== undefined && arch !== "_any" && arch !== hostArchitecture) {
    return `extension-release ARCHITECTURE '${arch}' does not match the host architecture '${hostArchitecture}'`;
  }

  const id = get(ext, "ID");
  if (id === undefined) return "extension-release lacks ID";
  if (id === "_any") return undefined;
  const idLike = words(root.ID_LIKE);
  if (id !== root.ID && !idLike.includes(id)) {
    return `extension-release ID '${id}' does not match the root's ID '${root.ID ?? ""}' or ID_LIKE${idLike.length > 0 ? ` '${idLike.join(" ")}'` : ""}`;
  }

  const rootVersion = get(root, "VERSION_ID");
  const rootLevel = get(root, LEVEL);
  // A rolling release (no VERSION_ID, no level) accepts any version.
  if (rootVersion === undefined && rootLevel === undefined) return undefined;
  const extLevel = get(ext, LEVEL);
  if (rootLevel !== undefined && extLevel !== undefined) {
    return rootLevel === extLevel
      ? undefined
      : `extension-release ${LEVEL} '${extLevel}' does not match the root's '${rootLevel}'`;
  }
  if (rootVersion !== undefined) {
    const extVersion = get(ext, "VERSION_ID");
    if (extVersion === undefined)
      return `extension-release lacks VERSION_ID, but the root has VERSION_ID '${rootVersion}'`;
    if (extVersion !== rootVersion)
      return `extension-release VERSION_ID '${extVersion}' does not match the root's '${rootVersion}'`;
  }
  return undefined;
}

const NAME_AND_VERSION_KEYS = {
  os: { ids: ["IMAGE_ID", "ID"], versions: ["IMAGE_VERSION", "VERSION_ID", "BUILD_ID"] },
  sysext: {
    ids: ["SYSEXT_IMAGE_ID", "SYSEXT_ID"],
    versions: ["SYSEXT_IMAGE_VERSION", "SYSEXT_VERSION_ID", "SYSEXT_BUILD_ID"],
  },
  confext: {
    ids: ["CONFEXT_IMAGE_ID", "CONFEXT_ID"],
    versions: ["CONFEXT_IMAGE_VERSION", "CONFEXT_VERSION_ID", "CONFEXT_BUILD_ID"],
  },
} as const;

/**
 * The value of PORTABLE_[ROOT_|EXTENSION_]NAME_AND_VERSION: "<id>_<version>", or just
 * the one that exists; undefined if neither (then the line is omitted). Empty values count as
 * absent, so we never write "debian_" or "_12".
 */
export function nameAndVersion(release: Release, kind: "os" | "sysext" | "confext"): string | undefined {
  const { ids, versions } = NAME_AND_VERSION_KEYS[kind];
  const id = ids.map((k) => get(release, k)).find((v) => v !== undefined);
  const version = versions.map((k) => get(release, k)).find((v) => v !== undefined);
  if (id !== undefined && version !== undefined) return `${id}_${version}`;
  return id ?? version;
}
