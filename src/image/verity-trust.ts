// The certificates that may sign a dm-verity root hash: `*.crt` (PEM) in the directories systemd
// reads for user-space signature checks, highest precedence first. A file name in a higher
// directory hides the same name in lower ones; an empty file or a symlink to /dev/null masks it.
import { X509Certificate } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";

export const VERITY_DIRS = ["/etc/verity.d", "/run/verity.d", "/usr/local/lib/verity.d", "/usr/lib/verity.d"];
const MAX_CERT_BYTES = 256 * 1024;

export interface TrustedCertificates {
  certificates: X509Certificate[];
  /** Host paths of the files they came from, same order. */
  files: string[];
  /** Files that could not be read or parsed, with why. */
  problems: string[];
}

export interface Trust {
  /** Read on first use, then kept: most images carry no signature. */
  load(): TrustedCertificates;
}

/**
 * `hostPathOf` gives the path to read for a path of the booted system: the identity for the running
 * system, the walk inside the root under --root (io/root-path.ts hostPath; image/ does no root walks
 * of its own).
 */
export function verityTrust(hostPathOf: (path: string) => string): Trust {
  let loaded: TrustedCertificates | undefined;
  return {
    load() {
      loaded ??= readCertificates(hostPathOf);
      return loaded;
    },
  };
}

function readCertificates(hostPathOf: (path: string) => string): TrustedCertificates {
  const seen = new Set<string>();
  const out: TrustedCertificates = { certificates: [], files: [], problems: [] };
  for (const dir of VERITY_DIRS) {
    let names: string[];
    try {
      names = readdirSync(hostPathOf(dir))
        .filter((n) => n.endsWith(".crt"))
        .sort();
    } catch {
      continue;
    }
    for (const name of names) {
      if (seen.has(name)) continue;
      seen.add(name);
      const file = `${dir}/${name}`;
      try {
        const text = readFileSync(hostPathOf(file));
        if (text.length === 0) continue; // masked (or /dev/null)
        if (text.length > MAX_CERT_BYTES) throw new Error(`larger than ${MAX_CERT_BYTES} bytes`);
        out.certificates.push(new X509Certificate(text));
        out.files.push(file);
      } catch (e) {
        out.problems.push(`${file}: ${(e as Error).message}`);
      }
    }
  }
  return out;
}
