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

// Budgets: what one image, and all images of one run together, may cost. The per-file limits
// above bound one lookup; an image can still ask for a great many of them (45,000 unit files, or
// 8,000 symlinks that each take 40 hops through a 200-deep path). Past a budget the image is
// refused whole (BudgetError), naming the image and the budget; the other entries go on.

/** Unit files taken from one image: real portable images ship a handful, systemd itself ~300. */
export const MAX_IMAGE_UNITS = 1024;
/** Bytes of unit files taken from one image: four units of the 4 MiB systemd allows. All of it is written to /run, which is RAM. */
export const MAX_IMAGE_UNIT_BYTES = 16 * 1024 * 1024;
/** Bytes read from one image file: the lookups of a real image read well under 1 MiB. */
export const MAX_IMAGE_READ_BYTES = 128 * 1024 * 1024;
/** Bytes decompressed for one image: units and metadata of a real image are a few MiB at most; 8 KiB of xz can claim 600 MB. */
export const MAX_IMAGE_DECOMPRESSED_BYTES = 64 * 1024 * 1024;
/** Path components walked while resolving paths in one image: a real one needs about ten per unit, 10,000 for the most units it may have. */
export const MAX_IMAGE_RESOLVE_STEPS = 100_000;
/** Symlinks followed in one image, all paths together (MAX_SYMLINK_HOPS for each of 250 units). */
export const MAX_IMAGE_SYMLINK_HOPS = 10_000;
/** Wall-clock time for reading one image: a real one takes milliseconds, 100 ms from a cold disk. */
export const MAX_IMAGE_MS = 10_000;
/** Wall-clock time for reading all images of one run: half the 90 s systemd gives all generators before it kills them. */
export const MAX_RUN_MS = 45_000;
/** Bytes read from all images of one run (1,000 images read some 200 MB). */
export const MAX_RUN_READ_BYTES = 1024 * 1024 * 1024;
/** Bytes decompressed for all images of one run. */
export const MAX_RUN_DECOMPRESSED_BYTES = 1024 * 1024 * 1024;
/** Bytes one entry may write into the output directory (its units, drop-ins and links). */
export const MAX_ENTRY_OUTPUT_BYTES = 16 * 1024 * 1024;
/** Bytes one run may write into the output directory: /run is a tmpfs, often 10–20% of RAM, that the whole system shares. */
export const MAX_RUN_OUTPUT_BYTES = 32 * 1024 * 1024;
