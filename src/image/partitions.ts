// Partition tables of raw images and the choice systemd-dissect would make among their partitions.
//
// Follows the UEFI 2.10 GPT layout (§5.3), the classic MBR, and the Discoverable Partitions
// Specification (https://uapi-group.org/specifications/specs/discoverable_partitions_specification/)
// as systemd 252 applies it to portable images:
// * GPT with 512- or 4096-byte sectors; header and entry-array CRC32 checked, the backup header at
//   the last LBA used when the primary is damaged;
// * root/usr for the host architecture (secondary architecture as fallback, as systemd does), the
//   newest label among several of the same kind (A/B updates), no-auto (attribute bit 63) honoured;
//   verity and verity-sig partitions paired with their root/usr partition (raw.ts checks the data
//   against them through verity-setup.ts), never read as file systems;
// * otherwise a single generic-Linux GPT partition, or the single bootable 0x83 MBR partition.
// Refused: anything else (ESP/XBOOTLDR are ignored; no extended MBR partitions; no LUKS here).
import { compareVersions } from "../common/version-order.ts";
import type { ByteSource } from "./byte-source.ts";
import { bytesAt, u16le, u32le, u64le, u8 } from "./bytes.ts";
import { crc32 } from "./crc32.ts";
import { MAX_GPT_ENTRIES, MAX_GPT_TABLE_BYTES } from "./limits.ts";
import { ImageError } from "./types.ts";

export interface Partition {
  /** 1-based, as in /dev/sdaN. */
  index: number;
  /** GPT type GUID in lower-case text form, or "mbr-0x83". */
  type: string;
  uuid: string;
  label: string;
  offset: number;
  size: number;
  /** GPT attribute bit 63: systemd must not use the partition automatically. */
  noAuto: boolean;
}

export interface PartitionTable {
  scheme: "gpt" | "mbr";
  sectorSize: number;
  partitions: Partition[];
  /** Entries skipped, with why (past the end of a truncated image, MBR not bootable): for errors. */
  ignored: string[];
}

// ----------------------------------------------------------------------------------- type GUIDs

const DESIGNATORS = ["root", "usr", "root-verity", "usr-verity", "root-verity-sig", "usr-verity-sig"] as const;
export type Designator = (typeof DESIGNATORS)[number];

// systemd's architecture names → the six DPS type GUIDs in DESIGNATORS order (systemd 252
// `systemd-id128 show -u`, checked against sd-gpt.h).
const DPS_TYPES: Record<string, readonly string[]> = {
  alpha: [
    "6523f8ae-3eb1-4e2a-a05a-18b695ae656f",
    "e18cf08c-33ec-4c0d-8246-c6c6fb3da024",
    "fc56d9e9-e6e5-4c06-be32-e74407ce09a5",
    "8cce0d25-c0d0-4a44-bd87-46331bf1df67",
    "d46495b7-a053-414f-80f7-700c99921ef8",
    "5c6e1c76-076a-457a-a0fe-f3b4cd21ce6e",
  ],
  arc: [
    "d27f46ed-2919-4cb8-bd25-9531f3c16534",
    "7978a683-6316-4922-bbee-38bff5a2fecc",
    "24b2d975-0f97-4521-afa1-cd531e421b8d",
    "fca0598c-d880-4591-8c16-4eda05c7347c",
    "143a70ba-cbd3-4f06-919f-6c05683a78bc",
    "94f9a9a1-9971-427a-a400-50cb297f0f35",
  ],
  arm: [
    "69dad710-2ce4-4e3c-b16c-21a1d49abed3",
    "7d0359a3-02b3-4f0a-865c-654403e70625",
    "7386cdf2-203c-47a9-a498-f2ecce45a2d6",
    "c215d751-7bcd-4649-be90-6627490a4c05",
    "42b0455f-eb11-491d-98d3-56145ba9d037",
    "d7ff812f-37d1-4902-a810-d76ba57b975a",
  ],
  arm64: [
    "b921b045-1df0-41c3-af44-4c6f280d3fae",
    "b0e01050-ee5f-4390-949a-9101b17104e9",
    "df3300ce-d69f-4c92-978c-9bfb0f38d820",
    "6e11a4e7-fbca-4ded-b9e9-e1a512bb664e",
    "6db69de6-29f4-4758-a7a5-962190f00ce3",
    "c23ce4ff-44bd-4b00-b2d4-b41b3419e02a",
  ],
  ia64: [
    "993d8d3d-f80e-4225-855a-9daf8ed7ea97",
    "4301d2a6-4e3b-4b2a-bb94-9e0b2c4225ea",
    "86ed10d5-b607-45bb-8957-d350f23d0571",
    "6a491e03-3be7-4545-8e38-83320e0ea880",
    "e98b36ee-32ba-4882-9b12-0ce14655f46a",
    "8de58bc2-2a43-460d-b14e-a76e4a17b47f",
  ],
  loongarch64: [
    "77055800-792c-4f94-b39a-98c91b762bb6",
    "e611c702-575c-4cbe-9a46-434fa0bf7e3f",
    "f3393b22-e9af-4613-a948-9d3bfbd0c535",
    "f46b2c26-59ae-48f0-9106-c50ed47f673d",
    "5afb67eb-ecc8-4f85-ae8e-ac1e7c50e7d0",
    "b024f315-d330-444c-8461-44bbde524e99",
  ],
  mips: [
    "e9434544-6e2c-47cc-bae2-12d6deafb44c",
    "773b2abc-2a99-4398-8bf5-03baac40d02b",
    "7a430799-f711-4c7e-8e5b-1d685bd48607",
    "6e5a1bc8-d223-49b7-bca8-37a5fcceb996",
    "bba210a2-9c5d-45ee-9e87-ff2ccbd002d0",
    "97ae158d-f216-497b-8057-f7f905770f54",
  ],
  mips64: [
    "d113af76-80ef-41b4-bdb6-0cff4d3d4a25",
    "57e13958-7331-4365-8e6e-35eeee17c61b",
    "579536f8-6a33-4055-a95a-df2d5e2c42a8",
    "81cf9d90-7458-4df4-8dcf-c8a3a404f09b",
    "43ce94d4-0f3d-4999-8250-b9deafd98e6e",
    "05816ce2-dd40-4ac6-a61d-37d32dc1ba7d",
  ],
  "mips-le": [
    "37c58c8a-d913-4156-a25f-48b1b64e07f0",
    "0f4868e9-9952-4706-979f-3ed3a473e947",
    "d7d150d2-2a04-4a33-8f12-16651205ff7b",
    "46b98d8d-b55c-4e8f-aab3-37fca7f80752",
    "c919cc1f-4456-4eff-918c-f75e94525ca5",
    "3e23ca0b-a4bc-4b4e-8087-5ab6a26aa8a9",
  ],
  "mips64-le": [
    "700bda43-7a34-4507-b179-eeb93d7a7ca3",
    "c97c1f32-ba06-40b4-9f22-236061b08aa8",
    "16b417f8-3e06-4f57-8dd2-9b5232f41aa6",
    "3c3d61fe-b5f3-414d-bb71-8739a694a4ef",
    "904e58ef-5c65-4a31-9c57-6af5fc7c5de7",
    "f2c2c7ee-adcc-4351-b5c6-ee9816b66e16",
  ],
  parisc: [
    "1aacdb3b-5444-4138-bd9e-e5c2239b2346",
    "dc4a4480-6917-4262-a4ec-db9384949f25",
    "d212a430-fbc5-49f9-a983-a7feef2b8d0e",
    "5843d618-ec37-48d7-9f12-cea8e08768b2",
    "15de6170-65d3-431c-916e-b0dcd8393f25",
    "450dd7d1-3224-45ec-9cf2-a43a346d71ee",
  ],
  ppc: [
    "1de3f1ef-fa98-47b5-8dcd-4a860a654d78",
    "7d14fec5-cc71-415d-9d6c-06bf0b3c3eaf",
    "98cfe649-1588-46dc-b2f0-add147424925",
    "df765d00-270e-49e5-bc75-f47bb2118b09",
    "1b31b5aa-add9-463a-b2ed-bd467fc857e7",
    "7007891d-d371-4a80-86a4-5cb875b9302e",
  ],
  ppc64: [
    "912ade1d-a839-4913-8964-a10eee08fbd2",
    "2c9739e2-f068-46b3-9fd0-01c5a9afbcca",
    "9225a9a3-3c19-4d89-b4f6-eeff88f17631",
    "bdb528a5-a259-475f-a87d-da53fa736a07",
    "f5e2c20c-45b2-4ffa-bce9-2a60737e1aaf",
    "0b888863-d7f8-4d9e-9766-239fce4d58af",
  ],
  "ppc64-le": [
    "c31c45e6-3f39-412e-80fb-4809c4980599",
    "15bb03af-77e7-4d4a-b12b-c0d084f7491c",
    "906bd944-4589-4aae-a4e4-dd983917446a",
    "ee2b9983-21e8-4153-86d9-b6901a54d1ce",
    "d4a236e7-e873-4c07-bf1d-bf6cf7f1c3c6",
    "c8bfbd1e-268e-4521-8bba-bf314c399557",
  ],
  riscv32: [
    "60d5a7fe-8e7d-435c-b714-3dd8162144e1",
    "b933fb22-5c3f-4f91-af90-e2bb0fa50702",
    "ae0253be-1167-4007-ac68-43926c14c5de",
    "cb1ee4e3-8cd0-4136-a0a4-aa61a32e8730",
    "3a112a75-8729-4380-b4cf-764d79934448",
    "c3836a13-3137-45ba-b583-b16c50fe5eb4",
  ],
  riscv64: [
    "72ec70a6-cf74-40e6-bd49-4bda08e8f224",
    "beaec34b-8442-439b-a40b-984381ed097d",
    "b6ed5582-440b-4209-b8da-5ff7c419ea3d",
    "8f1056be-9b05-47c4-81d6-be53128e5b54",
    "efe0f087-ea8d-4469-821a-4c2a96a8386a",
    "d2f9000a-7a18-453f-b5cd-4d32f77a7b32",
  ],
  s390: [
    "08a7acea-624c-4a20-91e8-6e0fa67d23f9",
    "cd0f869b-d0fb-4ca0-b141-9ea87cc78d66",
    "7ac63b47-b25c-463b-8df8-b4a94e6c90e1",
    "b663c618-e7bc-4d6d-90aa-11b756bb1797",
    "3482388e-4254-435a-a241-766a065f9960",
    "17440e4f-a8d0-467f-a46e-3912ae6ef2c5",
  ],
  s390x: [
    "5eead9a9-fe09-4a1e-a1d7-520d00531306",
    "8a4f5770-50aa-4ed3-874a-99b710db6fea",
    "b325bfbe-c7be-4ab8-8357-139e652d2f6b",
    "31741cc4-1a2a-4111-a581-e00b447d2d06",
    "c80187a5-73a3-491a-901a-017c3fa953e9",
    "3f324816-667b-46ae-86ee-9b0c0c6c11b4",
  ],
  tilegx: [
    "c50cdd70-3862-4cc3-90e1-809a8c93ee2c",
    "55497029-c7c1-44cc-aa39-815ed1558630",
    "966061ec-28e4-4b2e-b4a5-1f0a825a1d84",
    "2fb4bf56-07fa-42da-8132-6b139f2026ae",
    "b3671439-97b0-4a53-90f7-2d5a8f3ad47b",
    "4ede75e2-6ccc-4cc8-b9c7-70334b087510",
  ],
  x86: [
    "44479540-f297-41b2-9af7-d131d5f0458a",
    "75250d76-8cc6-458e-bd66-bd47cc81a812",
    "d13c5d3b-b5d1-422a-b29f-9454fdc89d76",
    "8f461b0d-14ee-4e81-9aa9-049b6fb97abd",
    "5996fc05-109c-48de-808b-23fa0830b676",
    "974a71c0-de41-43c3-be5d-5c5ccd1ad2c0",
  ],
  "x86-64": [
    "4f68bce3-e8cd-4db1-96e7-fbcaf984b709",
    "8484680c-9521-48c6-9c11-b0720656f69e",
    "2c7357ed-ebd2-46d9-aec1-23d437ec2bf5",
    "77ff5f63-e7b6-4633-acf4-1565b864c0e6",
    "41092b05-9fc8-4523-994f-2def0408b176",
    "e7bb33fb-06cf-4e81-8273-e543b413e2e2",
  ],
};

/** systemd's SECONDARY_ARCHITECTURE: what a host can also run, used when the native one is absent. */
const SECONDARY = new Map(Object.entries({ "x86-64": "x86", arm64: "arm", s390x: "s390", ppc64: "ppc" }));

const LINUX_GENERIC = "0fc63daf-8483-4772-8e79-3d69d8477de4";
const OTHER_TYPES: Record<string, string> = {
  [LINUX_GENERIC]: "linux-generic",
  "c12a7328-f81f-11d2-ba4b-00a0c93ec93b": "esp",
  "bc13c2ff-59e6-4262-a352-b275fd6f7172": "xbootldr",
  "0657fd6d-a4ab-43c4-84e5-0933c84b4f4f": "swap",
  "933ac7e1-2eb4-4f13-b844-0e14e2aef915": "home",
  "3b8f8425-20e0-4f3b-907f-1a25a76f98e8": "srv",
  "4d21b016-b534-45c2-a9fb-5c16e091fd2d": "var",
  "7ec6f557-3bc5-4aca-b293-16ef5df639d1": "tmp",
  "773f91ef-66d4-49b5-bd83-d683bf40ad16": "user-home",
};

const BY_GUID = new Map<string, { designator: Designator; arch: string }>();
for (const [arch, guids] of Object.entries(DPS_TYPES)) {
  guids.forEach((guid, i) => {
    BY_GUID.set(guid, { designator: DESIGNATORS[i] as Designator, arch });
  });
}

export function isKnownArchitecture(arch: string): boolean {
  return Object.hasOwn(DPS_TYPES, arch);
}

/** "root-x86-64", "usr-arm64-verity", "esp", or the GUID itself for a type we do not know. */
export function typeName(type: string): string {
  if (type === "mbr-0x83") return "linux (mbr 0x83)";
  const dps = BY_GUID.get(type);
  if (dps) return dps.designator.replace(/^(root|usr)/, `$1-${dps.arch}`);
  return OTHER_TYPES[type] ?? type;
}

// ----------------------------------------------------------------------------------- parsing

function guidAt(buf: Uint8Array, off: number, field: string): string {
  const b = bytesAt(buf, off, 16, field);
  const hex = (from: number, to: number, reverse: boolean): string => {
    const part = Array.from(b.subarray(from, to), (x) => x.toString(16).padStart(2, "0"));
    return (reverse ? part.reverse() : part).join("");
  };
  return `${hex(0, 4, true)}-${hex(4, 6, true)}-${hex(6, 8, true)}-${hex(8, 10, false)}-${hex(10, 16, false)}`;
}

const EFI_PART = "EFI PART";

function hasSignature(source: ByteSource, offset: number): boolean {
  if (offset + 512 > source.size) return false;
  return String.fromCharCode(...source.read(offset, 8)) === EFI_PART;
}

/** Sector size of a GPT in this source (its header sits at LBA 1), or undefined if there is none. */
export function detectGptSectorSize(source: ByteSource): number | undefined {
  for (const sectorSize of [512, 4096]) if (hasSignature(source, sectorSize)) return sectorSize;
  return undefined;
}

interface GptHeader {
  entriesLba: number;
  count: number;
  entrySize: number;
  entriesCrc: number;
  alternateLba: number;
}

/** Parses and verifies one GPT header; a string says what is wrong with it. */
function gptHeader(source: ByteSource, sectorSize: number, lba: number): GptHeader | string {
  const where = `GPT header at LBA ${lba}`;
  if (!hasSignature(source, lba * sectorSize)) return `${where}: no 'EFI PART' signature`;
  const sector = source.read(lba * sectorSize, sectorSize);
  const headerSize = u32le(sector, 12, "GPT header size");
  if (headerSize < 92 || headerSize > sectorSize) return `${where}: bad header size ${headerSize}`;
  const header = Uint8Array.from(sector.subarray(0, headerSize));
  const stored = u32le(header, 16, "GPT header CRC32");
  header.fill(0, 16, 20);
  if (crc32(header) !== stored) return `${where}: header CRC32 mismatch`;
  if (u64le(header, 24, "GPT MyLBA") !== lba) return `${where}: MyLBA does not match its position`;
  const count = u32le(header, 80, "GPT entry count");
  const entrySize = u32le(header, 84, "GPT entry size");
  // The spec: 128 × 2^n bytes per entry.
  if (entrySize < 128 || entrySize > 4096 || (entrySize & (entrySize - 1)) !== 0)
    return `${where}: bad entry size ${entrySize}`;
  if (count > MAX_GPT_ENTRIES || count * entrySize > MAX_GPT_TABLE_BYTES)
    return `${where}: ${count} entries of ${entrySize} bytes is too many`;
  return {
    entriesLba: u64le(header, 72, "GPT partition entry LBA"),
    count,
    entrySize,
    entriesCrc: u32le(header, 88, "GPT entry array CRC32"),
    alternateLba: u64le(header, 32, "GPT AlternateLBA"),
  };
}

function gptEntries(source: ByteSource, sectorSize: number, h: GptHeader): Uint8Array | string {
  const offset = h.entriesLba * sectorSize;
  const length = h.count * h.entrySize;
  if (!Number.isSafeInteger(offset) || offset + length > source.size)
    return `entry array at LBA ${h.entriesLba} is outside the image`;
  const table = source.read(offset, length);
  if (crc32(table) !== h.entriesCrc) return `entry array at LBA ${h.entriesLba}: CRC32 mismatch`;
  return table;
}

/**
 * The GPT of this source, or undefined if it has none. Reads the header and the entry array
 * (16 KiB for the usual 128 entries); falls back to the backup header when the primary fails its
 * checks, and fails with CORRUPT when both do.
 */
export function readGpt(source: ByteSource): PartitionTable | undefined {
  const sectorSize = detectGptSectorSize(source);
  if (sectorSize === undefined) return undefined;
  const problems: string[] = [];
  let table: Uint8Array | undefined;
  let header: GptHeader | undefined;
  const primary = gptHeader(source, sectorSize, 1);
  const lastLba = Math.floor(source.size / sectorSize) - 1;
  const candidates: Array<GptHeader | string> = [primary];
  // The backup: where the primary says, else at the last LBA of the image.
  const backupLba = typeof primary !== "string" && primary.alternateLba <= lastLba ? primary.alternateLba : lastLba;
  for (let k = 0; k < 2 && !table; k++) {
    if (k === 1) candidates.push(backupLba > 1 ? gptHeader(source, sectorSize, backupLba) : "no backup GPT header");
    const h = candidates[k] as GptHeader | string;
    if (typeof h === "string") {
      problems.push(h);
      continue;
    }
    const t = gptEntries(source, sectorSize, h);
    if (typeof t === "string") problems.push(t);
    else [table, header] = [t, h];
  }
  if (!table || !header)
    throw new ImageError("CORRUPT", `${source.name}: GPT is damaged: ${problems.join("; ")}`, "gpt");

  const partitions: Partition[] = [];
  const ignored: string[] = [];
  for (let i = 0; i < header.count; i++) {
    const e = table.subarray(i * header.entrySize, (i + 1) * header.entrySize);
    const type = guidAt(e, 0, "GPT partition type");
    if (type === "00000000-0000-0000-0000-000000000000") continue;
    const first = u64le(e, 32, "GPT partition first LBA");
    const last = u64le(e, 40, "GPT partition last LBA");
    const label = decodeUtf16(bytesAt(e, 56, 72, "GPT partition name"));
    const name = `partition ${i + 1}${label ? ` '${label}'` : ""}`;
    const offset = first * sectorSize;
    const size = (last - first + 1) * sectorSize;
    if (last < first || !Number.isSafeInteger(offset + size) || offset + size > source.size || first < 1) {
      ignored.push(`${name} (${typeName(type)}) beyond the end of the image`);
      continue;
    }
    partitions.push({
      index: i + 1,
      type,
      uuid: guidAt(e, 16, "GPT partition GUID"),
      label,
      offset,
      size,
      // Attribute bit 63 is the top bit of the high 32-bit word.
      noAuto: (u32le(e, 52, "GPT partition attributes") & 0x80000000) !== 0,
    });
  }
  return { scheme: "gpt", sectorSize, partitions, ignored };
}

function decodeUtf16(bytes: Uint8Array): string {
  let s = "";
  for (let k = 0; k + 1 < bytes.length; k += 2) {
    const c = u16le(bytes, k, "GPT partition name");
    if (c === 0) break;
    s += String.fromCharCode(c);
  }
  return s;
}

/**
 * A classic MBR, or undefined when the boot sector does not look like one. The 55 AA signature
 * alone is weak (FAT boot sectors and compressed data carry it too), so every entry must be sane.
 * A protective MBR (type 0xEE) without a GPT we could find is an error, not "no table".
 */
export function readMbr(source: ByteSource): PartitionTable | undefined {
  if (source.size < 512) return undefined;
  const sector = source.read(0, 512);
  if (u8(sector, 510, "MBR signature") !== 0x55 || u8(sector, 511, "MBR signature") !== 0xaa) return undefined;
  const partitions: Partition[] = [];
  const ignored: string[] = [];
  let used = 0;
  for (let i = 0; i < 4; i++) {
    const e = sector.subarray(446 + i * 16, 462 + i * 16);
    const status = u8(e, 0, "MBR entry status");
    const type = u8(e, 4, "MBR entry type");
    if (status !== 0x00 && status !== 0x80) return undefined;
    if (type === 0) continue;
    const start = u32le(e, 8, "MBR entry start");
    const count = u32le(e, 12, "MBR entry sector count");
    if (start === 0 || count === 0) return undefined;
    used++;
    if (type === 0xee) {
      throw new ImageError(
        "CORRUPT",
        `${source.name}: protective MBR, but no valid GPT header at LBA 1 for 512- or 4096-byte sectors`,
        "gpt",
      );
    }
    // systemd only considers a bootable Linux partition (type 0x83, status 0x80).
    const name = `partition ${i + 1} (type 0x${type.toString(16).padStart(2, "0")}${status === 0x80 ? ", bootable" : ""})`;
    if (type !== 0x83 || status !== 0x80) {
      ignored.push(`${name}, not a bootable Linux partition`);
      continue;
    }
    const offset = start * 512;
    const size = count * 512;
    if (offset + size > source.size) {
      ignored.push(`${name} beyond the end of the image`);
      continue;
    }
    partitions.push({ index: i + 1, type: "mbr-0x83", uuid: "", label: "", offset, size, noAuto: false });
  }
  if (used === 0) return undefined;
  return { scheme: "mbr", sectorSize: 512, partitions, ignored };
}

// ----------------------------------------------------------------------------------- selection

export interface Selected extends Partition {
  /** e.g. "root-x86-64", "usr-arm64", "linux-generic", "linux (mbr 0x83)". */
  role: string;
  /** For DPS partitions: root, usr, root-verity, …, usr-verity-sig. */
  designator?: Designator;
}

export interface Selection {
  root?: Selected;
  usr?: Selected;
  /** Verity and signature partitions that belong to the chosen root/usr. */
  verity: Selected[];
}

/**
 * What systemd-dissect would mount, for a host of architecture `arch` (systemd names: x86-64,
 * arm64, …). Throws NOT_FOUND naming what the table does contain when nothing usable is there.
 */
export function selectPartitions(table: PartitionTable, arch: string, imageName: string): Selection {
  if (!isKnownArchitecture(arch))
    throw new ImageError(
      "UNSUPPORTED",
      `Unknown architecture '${arch}' for picking partitions of ${imageName}`,
      table.scheme,
    );
  const usable = table.partitions.filter((p) => !p.noAuto);
  const describe = (): string => {
    const all = table.partitions.map((p) => {
      const type = typeName(p.type);
      return `${type}${p.label && p.label !== type ? ` '${p.label}'` : ""}${p.noAuto ? " (no-auto)" : ""}`;
    });
    const found = [...all, ...table.ignored];
    return found.length > 0 ? found.join(", ") : "no partitions";
  };

  if (table.scheme === "mbr") {
    if (usable.length > 1)
      throw new ImageError("CORRUPT", `${imageName}: more than one bootable Linux MBR partition`, "mbr");
    const only = usable[0];
    if (!only)
      throw new ImageError(
        "NOT_FOUND",
        `${imageName}: no root partition: MBR has no bootable Linux (0x83) partition; found ${describe()}`,
        "mbr",
      );
    return { root: { ...only, role: typeName(only.type) }, verity: [] };
  }

  const secondary = SECONDARY.get(arch);
  const archs = secondary === undefined ? [arch] : [arch, secondary];
  for (const a of archs) {
    const newest = (designator: Designator): Selected | undefined => {
      let best: Partition | undefined;
      for (const p of usable) {
        const t = BY_GUID.get(p.type);
        if (!t || t.arch !== a || t.designator !== designator) continue;
        // A/B updates: the newest label (systemd's strverscmp_improved) wins, ties go to the lower index.
        if (!best || compareVersions(p.label, best.label) > 0) best = p;
      }
      return best && { ...best, role: typeName(best.type), designator };
    };
    const root = newest("root");
    const usr = newest("usr");
    if (!root && !usr) continue;
    const verity: Selected[] = [];
    for (const d of ["root-verity", "root-verity-sig", "usr-verity", "usr-verity-sig"] as const) {
      if ((d.startsWith("root") ? root : usr) === undefined) continue;
      const v = newest(d);
      if (v) verity.push(v);
    }
    return { ...(root && { root }), ...(usr && { usr }), verity };
  }

  // No DPS root/usr: a single generic Linux data partition is the root (as with systemd-dissect).
  const generic = usable.filter((p) => p.type === LINUX_GENERIC);
  if (generic.length === 1) {
    const only = generic[0] as Partition;
    return { root: { ...only, role: "linux-generic" }, verity: [] };
  }
  if (generic.length > 1)
    throw new ImageError(
      "NOT_FOUND",
      `${imageName}: no root partition for ${archs.join(" or ")} and ${generic.length} generic Linux partitions (ambiguous); found ${describe()}`,
      "gpt",
    );
  throw new ImageError(
    "NOT_FOUND",
    `${imageName}: no root or usr partition for architecture ${archs.join(" or ")}; found ${describe()}`,
    "gpt",
  );
}
