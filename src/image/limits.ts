// Hard limits on everything an image can make us do. An image past a limit gets ImageError LIMIT.
// Values are generous for real portable images and small enough that a hostile one costs little.

/** Largest unit file, os-release or extension-release we read (systemd caps unit files at 4 MiB). */
export const MAX_FILE_BYTES = 4 * 1024 * 1024;
/** Largest symlink target (PATH_MAX). */
export const MAX_SYMLINK_BYTES = 4096;
/** Symlinks followed while resolving one path (Linux uses 40). */
export const MAX_SYMLINK_HOPS = 40;
/** Entries we accept in one directory. */
export const MAX_DIR_ENTRIES = 100_000;
/** Path components in one path. */
export const MAX_PATH_DEPTH = 256;
/** Bytes any one decompression may produce. */
export const MAX_DECOMPRESSED_BYTES = 16 * 1024 * 1024;
/** Metadata blocks/extents/tree nodes walked in one lookup, to stop cycles in hostile images. */
export const MAX_WALK_STEPS = 1_000_000;
/** GPT partition entries we accept (the usual table has 128). */
export const MAX_GPT_ENTRIES = 1024;
/** Bytes of GPT partition entry array we read (128 × 128 bytes = 16 KiB is usual). */
export const MAX_GPT_TABLE_BYTES = 1024 * 1024;
/** Largest directory (in bytes) an ext2/3/4 reader scans; 100,000 long names fit in well under this. */
export const MAX_DIRECTORY_BYTES = 64 * 1024 * 1024;
