// The host architecture in systemd's naming (src/basic/architecture.c), for the ARCHITECTURE=
// check of extension-release. systemd compares with uname_architecture(); a
// generator gets the same value from PID 1 as $SYSTEMD_ARCHITECTURE, which therefore wins. Without
// it (the CLI), Node's process.arch and byte order are mapped to systemd's names.

/** Node's process.arch (and os.arch() spellings) → systemd names, [little-endian, big-endian]. */
const NODE_TO_SYSTEMD: Record<string, readonly [string, string]> = {
  x64: ["x86-64", "x86-64"],
  ia32: ["x86", "x86"],
  arm64: ["arm64", "arm64-be"],
  arm: ["arm", "arm-be"],
  riscv64: ["riscv64", "riscv64"],
  ppc64: ["ppc64-le", "ppc64"],
  ppc: ["ppc-le", "ppc"],
  s390x: ["s390x", "s390x"],
  s390: ["s390", "s390"],
  loong64: ["loongarch64", "loongarch64"],
  mips: ["mips-le", "mips"],
  mipsel: ["mips-le", "mips-le"],
  mips64: ["mips64-le", "mips64"],
  mips64el: ["mips64-le", "mips64-le"],
};

/**
 * systemd's name for a Node architecture and byte order; an architecture systemd has no name for
 * is returned unchanged, so it matches no ARCHITECTURE= value but "_any".
 */
export function systemdArchitecture(nodeArch: string, byteOrder: "LE" | "BE"): string {
  const names = NODE_TO_SYSTEMD[nodeArch];
  return names === undefined ? nodeArch : names[byteOrder === "LE" ? 0 : 1];
}

/** This machine's byte order, without asking node:os (this room does no I/O). */
const BYTE_ORDER: "LE" | "BE" = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1 ? "LE" : "BE";

/** $SYSTEMD_ARCHITECTURE if set and non-empty, else what Node reports for this machine. */
export function hostArchitecture(
  env: Record<string, string | undefined>,
  nodeArch: string = process.arch,
  byteOrder: "LE" | "BE" = BYTE_ORDER,
): string {
  const fromManager = env.SYSTEMD_ARCHITECTURE;
  if (fromManager !== undefined && fromManager !== "") return fromManager;
  return systemdArchitecture(nodeArch, byteOrder);
}
