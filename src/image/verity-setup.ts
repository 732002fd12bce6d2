// Which dm-verity data protects a file system of an image, where its root hash comes from, whether
// a trusted certificate signed that root hash, and the verified view that results. Sources, as
// systemd uses them: a GPT's <designator>-verity and -verity-sig partitions, or beside the image
// NAME.roothash / NAME.usrhash (hex), NAME.roothash.p7s / NAME.usrhash.p7s (DER PKCS#7), and for a
// naked image NAME.verity (the hash tree) and NAME.verity-sig (JSON, like the signature partition).
// With only a GPT, the root hash is the data partition's UUID followed by the hash partition's
// (systemd-repart sets them so). Policy: verity data present → checked, always; a signature with
// certificates configured must verify; without certificates it is reported, not checked.
import { closeSync, constants, openSync, statSync } from "node:fs";
import type { ByteSource } from "./byte-source.ts";
import { DerError, findSigner, MAX_PKCS7_BYTES, parsePkcs7 } from "./pkcs7.ts";
import { readRegularFile } from "./read-at-most.ts";
import { ImageError, type ProtectionLevel } from "./types.ts";
import { readVeritySuperblock, rootHashHex, verifiedSource } from "./verity.ts";
import type { Trust } from "./verity-trust.ts";

export interface VerityInputs {
  /** The data, e.g. the partition's slice; its name is used in messages. */
  data: ByteSource;
  /** "root-x86-64", "usr-arm64", or "image" for a naked file system. */
  label: string;
  hash?: { source: ByteSource; name: string };
  /** The signature partition's (or NAME.verity-sig's) bytes. */
  sigJson?: { bytes: Uint8Array; name: string };
  /** Side files, by host path; absent ones are skipped. */
  rootHashFile?: string;
  p7sFile?: string;
  /** GPT partition UUIDs of data and hash partitions. */
  uuids?: { data: string; hash: string };
}

const MAX_SIG_JSON = 1 << 20;

/**
 * Whether the side file `path` exists: false if not (asked without an exception: most images have
 * none), true for a regular file (symbolic links followed); a FIFO, device or directory in its
 * place is an error for the image, so that nothing blocks on it or reads it without end.
 */
export function hasSideFile(path: string): boolean {
  let st: ReturnType<typeof statSync>;
  try {
    st = statSync(path, { throwIfNoEntry: false });
  } catch (e) {
    throw new ImageError("IO", `Failed to stat '${path}': ${(e as Error).message}`, "verity");
  }
  if (st === undefined) return false;
  if (!st.isFile()) throw new ImageError("CORRUPT", `'${path}' is not a regular file`, "verity");
  return true;
}

/** A side file's bytes, undefined if it does not exist; anything else is an error for the image. */
export function readSideFile(path: string | undefined, max: number): Uint8Array | undefined {
  if (path === undefined || !hasSideFile(path)) return undefined;
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw new ImageError("IO", `Failed to read '${path}': ${(e as Error).message}`, "verity");
  }
  try {
    // Checked again on what was opened: the name may have been swapped since the stat.
    const file = readRegularFile(fd, max);
    if (file.kind === "read") return file.bytes;
    if (file.kind === "too-large") throw new ImageError("LIMIT", `'${path}' is larger than ${max} bytes`, "verity");
    throw new ImageError("CORRUPT", `'${path}' is not a regular file`, "verity");
  } catch (e) {
    if (e instanceof ImageError) throw e;
    throw new ImageError("IO", `Failed to read '${path}': ${(e as Error).message}`, "verity");
  } finally {
    closeSync(fd);
  }
}

function parseHex(text: string, where: string): Uint8Array {
  const t = text.trim().toLowerCase();
  if (!/^([0-9a-f]{2}){16,64}$/.test(t))
    throw new ImageError("CORRUPT", `${where}: not a root hash (hex digits expected)`, "verity");
  return Buffer.from(t, "hex");
}

function parseSigJson(bytes: Uint8Array, where: string): { rootHash: Uint8Array; signature: Uint8Array } {
  const nul = bytes.indexOf(0);
  const text = Buffer.from(bytes.subarray(0, Math.min(nul < 0 ? bytes.length : nul, MAX_SIG_JSON))).toString("utf8");
  let j: unknown;
  try {
    j = JSON.parse(text);
  } catch (e) {
    throw new ImageError("CORRUPT", `${where}: signature JSON does not parse: ${(e as Error).message}`, "verity");
  }
  const o = j as { rootHash?: unknown; signature?: unknown };
  if (typeof o !== "object" || o === null || typeof o.rootHash !== "string" || typeof o.signature !== "string") {
    throw new ImageError("CORRUPT", `${where}: signature JSON lacks 'rootHash' or 'signature'`, "verity");
  }
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(o.signature))
    throw new ImageError("CORRUPT", `${where}: 'signature' is not base64`, "verity");
  return { rootHash: parseHex(o.rootHash, `${where}: 'rootHash'`), signature: Buffer.from(o.signature, "base64") };
}

/**
 * The verified view of `inputs.data` (or the data itself when there is no verity data), and what
 * protects it. Throws ImageError, naming the image part and what failed, when the image must be refused.
 */
export function protect(
  inputs: VerityInputs,
  trust: Trust | undefined,
  image: string,
): { source: ByteSource; level: ProtectionLevel; detail: string; notes: string[] } {
  const { label } = inputs;
  const refuse = (why: string): never => {
    throw new ImageError("CORRUPT", `${image}: ${label}: ${why}`, "verity");
  };
  const sig = inputs.sigJson && parseSigJson(inputs.sigJson.bytes, `${image}: ${inputs.sigJson.name}`);
  const fileHash = readSideFile(inputs.rootHashFile, 1024);
  const p7s = readSideFile(inputs.p7sFile, MAX_PKCS7_BYTES);
  if (!inputs.hash) {
    const given =
      inputs.sigJson?.name ?? (fileHash ? inputs.rootHashFile : undefined) ?? (p7s ? inputs.p7sFile : undefined);
    if (given) refuse(`a root hash or signature is given (${given}) but there is no hash tree to check it with`);
    return {
      source: inputs.data,
      level: "unprotected",
      detail: `${label}: unprotected (no dm-verity data)`,
      notes: [],
    };
  }

  // The root hash: every explicit source must agree; the partition UUIDs must match it (systemd picks partitions by them).
  const sources: { hash: Uint8Array; from: string }[] = [];
  if (sig && inputs.sigJson) sources.push({ hash: sig.rootHash, from: inputs.sigJson.name });
  if (fileHash && inputs.rootHashFile)
    sources.push({
      hash: parseHex(Buffer.from(fileHash).toString("latin1"), inputs.rootHashFile),
      from: inputs.rootHashFile,
    });
  const fromUuids = inputs.uuids && Buffer.from((inputs.uuids.data + inputs.uuids.hash).replace(/-/g, ""), "hex");
  const first = sources[0];
  if (!first && !fromUuids)
    refuse(
      `hash tree ${inputs.hash.name} but no root hash (no ${inputs.rootHashFile ?? "root hash file"}, no signature)`,
    );
  for (const s of sources.slice(1)) {
    if (Buffer.compare(s.hash, (first as { hash: Uint8Array }).hash) !== 0)
      refuse(`root hash in ${s.from} differs from the one in ${first?.from}`);
  }
  let rootHash: Uint8Array;
  let from: string;
  if (first) {
    ({ hash: rootHash, from } = first);
    const expected = Buffer.concat([rootHash.subarray(0, 16), rootHash.subarray(rootHash.length - 16)]);
    if (fromUuids && Buffer.compare(fromUuids, expected) !== 0) {
      refuse(`partition UUIDs (${inputs.uuids?.data}, ${inputs.uuids?.hash}) do not match the root hash from ${from}`);
    }
  } else {
    [rootHash, from] = [fromUuids as Uint8Array, "the partition UUIDs"];
  }
  const hex = rootHashHex(rootHash);

  const sb = readVeritySuperblock(inputs.hash.source, `${image}: ${inputs.hash.name}`);
  const source = verifiedSource(inputs.data, inputs.hash.source, sb, rootHash, {
    data: inputs.data.name,
    hash: inputs.hash.name,
    rootHashFrom: from,
  });

  const signature = sig?.signature ?? p7s;
  const sigFrom = sig ? inputs.sigJson?.name : inputs.p7sFile;
  if (!signature)
    return {
      source,
      level: "verity",
      detail: `${label}: verity (${sb.algorithm}, root hash ${hex} from ${from}), not signed`,
      notes: [],
    };
  const trusted = trust?.load();
  // A .crt that does not parse still means someone meant to check: refused below, not skipped.
  if (!trusted || (trusted.certificates.length === 0 && trusted.problems.length === 0)) {
    const note = `${image}: ${label}: the signature in ${sigFrom} was not checked: no certificates in /etc/verity.d, /run/verity.d, /usr/local/lib/verity.d, /usr/lib/verity.d`;
    return {
      source,
      level: "verity",
      detail: `${label}: verity (${sb.algorithm}, root hash ${hex} from ${from}), signature not checked (no certificates configured)`,
      notes: [note],
    };
  }
  let signer;
  try {
    signer = parsePkcs7(signature);
  } catch (e) {
    if (e instanceof DerError) refuse(`the signature in ${sigFrom} is malformed: ${e.message}`);
    throw e;
  }
  const cert = findSigner(signer, Buffer.from(hex, "latin1"), trusted.certificates);
  if (!cert) {
    const unusable = trusted.problems.length > 0 ? ` (unusable: ${trusted.problems.join("; ")})` : "";
    refuse(
      `the signature in ${sigFrom} of root hash ${hex} was not made by any of the ${trusted.certificates.length} certificate(s) in verity.d${unusable}`,
    );
  }
  const file = trusted.files[trusted.certificates.indexOf(cert as NonNullable<typeof cert>)];
  return {
    source,
    level: "signed",
    detail: `${label}: signed (${sb.algorithm}, root hash ${hex} from ${from}, certificate ${file})`,
    notes: [],
  };
}
