// Versioned image names: the NAME_VERSION shape of portable images and their versions.
/** Characters a version may contain in an image file name (vpick's version_is_valid, plus '~' '^'). */
const VERSION = /^[A-Za-z0-9.,_+~^-]+$/;

/**
 * The VERSION of a file named "<name>_<VERSION><suffix>" (e.g. "foo_1.2.raw" with name "foo" and
 * suffix ".raw" → "1.2"), or undefined if the file name has another shape or the version is empty
 * or has characters outside [A-Za-z0-9.,_+~^-].
 */
export function parseVersionedName(fileName: string, name: string, suffix: string): string | undefined {
  const head = `${name}_`;
  if (!fileName.startsWith(head) || !fileName.endsWith(suffix) || fileName.length < head.length + suffix.length)
    return undefined;
  const version = fileName.slice(head.length, fileName.length - suffix.length);
  return VERSION.test(version) ? version : undefined;
}
