// dm-verity in user space: a ByteSource over a data partition (or naked image) whose every block
// is checked against the hash tree, up to the root hash, before anyone sees it. Only blocks that are
// read get hashed, each once per open (kept, so that what was checked is what is used, even if
// the file changes under us).
//
// Layout as veritysetup writes it and the kernel reads it (format 1, the only one systemd makes):
// the hash device starts with a 512-byte superblock ("verity\0\0", version, hash type, uuid,
// algorithm name, data/hash block sizes, data block count, salt); the tree follows at the next
// hash block. Levels are stored top first; each digest sits in a slot rounded up to a power of two;
// a block's digest is H(salt ‖ block), and the root hash is the digest of the single top block.
import { createHash } from "node:crypto";
import { type ByteSource, checkRange } from "./byte-source.ts";
import { u16le, u32le, u64le } from "./bytes.ts";
import { ImageError } from "./types.ts";

const DIGEST_BYTES: Record<string, number> = { sha256: 32, sha384: 48, sha512: 64 };
const SUPERBLOCK = 512;
/** Verified data bytes kept per partition; past this the oldest blocks are dropped (and checked again if read again). */
const MAX_KEPT_BYTES = 32 << 20;

export interface VeritySuperblock {
  algorithm: string;
  dataBlockSize: number;
  hashBlockSize: number;
  dataBlocks: number;
  salt: Uint8Array;
}

const isBlockSize = (n: number): boolean => n >= 512 && n <= 65536 && (n & (n - 1)) === 0;

/** Parses the superblock at the start of a hash device; `where` names it in errors. */
export function readVeritySuperblock(hash: ByteSource, where: string): VeritySuperblock {
  const fail = (why: string, code: "CORRUPT" | "UNSUPPORTED" = "CORRUPT"): never => {
    throw new ImageError(code, `${where}: ${why}`, "verity");
  };
  if (hash.size < SUPERBLOCK) fail(`too small for a verity superblock (${hash.size} bytes)`);
  const sb = hash.read(0, SUPERBLOCK);
  if (String.fromCharCode(...sb.subarray(0, 8)) !== "verity\0\0")
    fail("no verity superblock (signature 'verity' missing)");
  const version = u32le(sb, 8, "verity version");
  if (version !== 1) fail(`verity superblock version ${version} is not supported (only 1)`, "UNSUPPORTED");
  const hashType = u32le(sb, 12, "verity hash type");
  if (hashType !== 1)
    fail(`verity hash type ${hashType} is not supported (only 1, the default of veritysetup)`, "UNSUPPORTED");
  const name = sb.subarray(32, 64);
  const end = name.indexOf(0);
  const algorithm = String.fromCharCode(...name.subarray(0, end < 0 ? 32 : end)).toLowerCase();
  if (!Object.hasOwn(DIGEST_BYTES, algorithm))
    fail(
      `hash algorithm '${algorithm.replace(/[^\x20-\x7e]/g, "?")}' is not supported (sha256, sha384, sha512)`,
      "UNSUPPORTED",
    );
  const dataBlockSize = u32le(sb, 64, "verity data block size");
  const hashBlockSize = u32le(sb, 68, "verity hash block size");
  if (!isBlockSize(dataBlockSize) || !isBlockSize(hashBlockSize))
    fail(`bad block sizes (data ${dataBlockSize}, hash ${hashBlockSize})`);
  const dataBlocks = u64le(sb, 72, "verity data blocks");
  if (dataBlocks < 1 || !Number.isSafeInteger(dataBlocks * dataBlockSize)) fail(`bad data block count ${dataBlocks}`);
  const saltSize = u16le(sb, 80, "verity salt size");
  if (saltSize > 256) fail(`salt of ${saltSize} bytes is longer than 256`);
  if ((DIGEST_BYTES[algorithm] as number) * 2 > hashBlockSize)
    fail(`hash block size ${hashBlockSize} is too small for ${algorithm}`);
  return { algorithm, dataBlockSize, hashBlockSize, dataBlocks, salt: Uint8Array.from(sb.subarray(88, 88 + saltSize)) };
}

const toHex = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString("hex");

export interface VerityNames {
  /** The protected data, e.g. "/x/foo.raw (partition 1 root-x86-64)". */
  data: string;
  /** The hash tree, e.g. "partition 2 root-x86-64-verity" or "/x/foo.verity". */
  hash: string;
  /** Where the root hash came from, e.g. "root-x86-64-verity-sig", "/x/foo.roothash". */
  rootHashFrom: string;
}

/**
 * The verified view of `data`. `rootHash` is the expected root digest. Throws CORRUPT at open if
 * the sizes do not fit, and from read() for any block (data or hash) that does not match.
 */
export function verifiedSource(
  data: ByteSource,
  hash: ByteSource,
  sb: VeritySuperblock,
  rootHash: Uint8Array,
  names: VerityNames,
): ByteSource {
  const { algorithm, dataBlockSize: dbs, hashBlockSize: hbs, dataBlocks, salt } = sb;
  const digestBytes = DIGEST_BYTES[algorithm] as number;
  const corrupt = (why: string): never => {
    throw new ImageError(
      "CORRUPT",
      `${names.data}: dm-verity check failed: ${why} (hash tree ${names.hash}, root hash from ${names.rootHashFrom})`,
      "verity",
    );
  };
  if (rootHash.length !== digestBytes)
    corrupt(`root hash has ${rootHash.length} bytes, ${algorithm} needs ${digestBytes}`);
  const size = dataBlocks * dbs;
  if (size > data.size) corrupt(`the hash tree covers ${size} bytes, the data is only ${data.size}`);

  // As the kernel: hash_per_block_bits = floor(log2(hbs / digest)), levels until one block covers all.
  const bits = Math.floor(Math.log2(hbs / digestBytes));
  const slotShift = Math.log2(hbs) - bits;
  let levels = 0;
  while (bits * levels < 53 && Math.floor((dataBlocks - 1) / 2 ** (bits * levels)) > 0) levels++;
  const levelStart: number[] = new Array(levels);
  let position = Math.ceil(SUPERBLOCK / hbs);
  for (let i = levels - 1; i >= 0; i--) {
    levelStart[i] = position;
    position += Math.ceil(dataBlocks / 2 ** ((i + 1) * bits));
  }
  if (position * hbs > hash.size)
    corrupt(`the hash tree needs ${position * hbs} bytes, ${names.hash} has ${hash.size}`);

  const digest = (block: Uint8Array): Uint8Array => createHash(algorithm).update(salt).update(block).digest();
  const same = (a: Uint8Array, b: Uint8Array): boolean => Buffer.compare(a, b) === 0;
  const hashBlocks = new Map<number, Uint8Array>();
  const blocks = new Map<number, Uint8Array>();
  let kept = 0;

  const verifiedBlock = (b: number): Uint8Array => {
    const known = blocks.get(b);
    if (known) return known;
    let want: Uint8Array = rootHash;
    for (let i = levels - 1; i >= 0; i--) {
      const at = Math.floor(b / 2 ** (i * bits));
      const index = (levelStart[i] as number) + Math.floor(at / 2 ** bits);
      let hb = hashBlocks.get(index);
      if (!hb) {
        hb = Uint8Array.from(hash.read(index * hbs, hbs));
        if (!same(digest(hb), want))
          corrupt(
            i === levels - 1
              ? `the top hash block does not match the root hash`
              : `hash block ${index} (level ${i}) does not match its hash`,
          );
        hashBlocks.set(index, hb);
      }
      const slot = (at % 2 ** bits) * 2 ** slotShift;
      want = hb.subarray(slot, slot + digestBytes);
    }
    const block = Uint8Array.from(data.read(b * dbs, dbs));
    if (!same(digest(block), want))
      corrupt(`data block ${b} (bytes ${b * dbs}–${b * dbs + dbs - 1}) does not match its hash`);
    if (kept + dbs > MAX_KEPT_BYTES) {
      const oldest = blocks.keys().next().value as number;
      blocks.delete(oldest);
      kept -= dbs;
    }
    blocks.set(b, block);
    kept += dbs;
    return block;
  };

  return {
    name: data.name,
    size,
    read(offset, length) {
      checkRange({ name: `${data.name} (verity-protected)`, size }, offset, length);
      const first = Math.floor(offset / dbs);
      const last = Math.floor((offset + Math.max(length, 1) - 1) / dbs);
      if (first === last) return verifiedBlock(first).subarray(offset - first * dbs, offset - first * dbs + length);
      const out = new Uint8Array(length);
      for (let b = first; b <= last; b++) {
        const block = verifiedBlock(b);
        const from = Math.max(offset, b * dbs);
        const to = Math.min(offset + length, (b + 1) * dbs);
        out.set(block.subarray(from - b * dbs, to - b * dbs), from - offset);
      }
      return out;
    },
    prefetch(offset, length) {
      data.prefetch?.(offset, length);
    },
  };
}

/** The root hash as hex, for messages and signatures. */
export const rootHashHex = toHex;
