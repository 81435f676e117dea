/**
 * On-disk constants mkfs needs, from linux/btrfs_tree.h and linux/btrfs.h (kernel spellings, so a
 * reader can grep the headers), plus the public numeric constants of the mkfs API. They live here,
 * not in src/kernel/, because they describe the on-disk format rather than the ioctl ABI: btrfs
 * check and dump-tree verify them, not the ABI test.
 * @module
 */

/** Checksum algorithms (superblock `csum_type`), as numbers; `mkfs` also accepts the names. */
export const CsumType = {
  /** crc32c (default). */
  CRC32C: 0,
  /** Alias of CRC32C, the seed's (pybtrfs) spelling. */
  CRC32: 0,
  /** xxhash64. */
  XXHASH: 1,
  /** sha256. */
  SHA256: 2,
  /** blake2b-256. */
  BLAKE2: 3,
} as const;
/** One of the {@link CsumType} values. */
export type CsumType = (typeof CsumType)[keyof typeof CsumType];

/**
 * Block-group profiles, as the kernel's BTRFS_BLOCK_GROUP_* bits (linux/btrfs_tree.h); SINGLE is
 * BTRFS_AVAIL_ALLOC_BIT_SINGLE (1 << 48), the kernel's explicit "single". `mkfs` also accepts the
 * names ('single', 'dup', 'raid1', ...).
 */
export const RaidProfile = {
  SINGLE: 2 ** 48,
  RAID0: 1 << 3,
  RAID1: 1 << 4,
  DUP: 1 << 5,
  RAID10: 1 << 6,
  RAID5: 1 << 7,
  RAID6: 1 << 8,
  RAID1C3: 1 << 9,
  RAID1C4: 1 << 10,
} as const;
/** One of the {@link RaidProfile} values. */
export type RaidProfile = (typeof RaidProfile)[keyof typeof RaidProfile];

/** Profile names as `mkfs.btrfs -m/-d` spells them. */
export type RaidProfileName = 'single' | 'dup' | 'raid0' | 'raid1' | 'raid1c3' | 'raid1c4' | 'raid10' | 'raid5' | 'raid6';

/** linux/btrfs.h: BTRFS_FEATURE_INCOMPAT_* bits (superblock incompat_flags). Accepted as `features`. */
export const IncompatFeature = {
  MIXED_BACKREF: 1 << 0,
  DEFAULT_SUBVOL: 1 << 1,
  MIXED_GROUPS: 1 << 2,
  COMPRESS_LZO: 1 << 3,
  COMPRESS_ZSTD: 1 << 4,
  BIG_METADATA: 1 << 5,
  EXTENDED_IREF: 1 << 6,
  RAID56: 1 << 7,
  SKINNY_METADATA: 1 << 8,
  NO_HOLES: 1 << 9,
  METADATA_UUID: 1 << 10,
  RAID1C34: 1 << 11,
  ZONED: 1 << 12,
  EXTENT_TREE_V2: 1 << 13,
  RAID_STRIPE_TREE: 1 << 14,
  /** Simple quotas; not in the 6.1 headers (kernel 6.7). */
  SIMPLE_QUOTA: 1 << 16,
} as const;

/** linux/btrfs.h: BTRFS_FEATURE_COMPAT_RO_* bits (superblock compat_ro_flags). */
export const CompatRoFeature = {
  FREE_SPACE_TREE: 1 << 0,
  FREE_SPACE_TREE_VALID: 1 << 1,
  VERITY: 1 << 2,
  BLOCK_GROUP_TREE: 1 << 3,
} as const;

/** Feature names as `mkfs.btrfs -O` / `-R` spell them. */
export type FeatureName =
  | 'mixed-bg'
  | 'extref'
  | 'raid56'
  | 'skinny-metadata'
  | 'no-holes'
  | 'raid1c34'
  | 'free-space-tree'
  | 'block-group-tree'
  | 'quota'
  | 'squota';

// ---- internal on-disk constants (linux/btrfs_tree.h) ----

/** @internal */
export const SUPER_INFO_OFFSET = 0x10000;
/** @internal */
export const SUPER_INFO_SIZE = 4096;
/** @internal Superblock copies: 64 KiB, 64 MiB, 256 GiB. */
export const SUPER_OFFSETS = [0x10000, 0x4000000, 0x4000000000] as const;
/** @internal _BHRfS_M */
export const BTRFS_MAGIC = 0x4d5f53665248425fn;
/** @internal */
export const STRIPE_LEN = 65536;
/** @internal The first MiB of a device is never allocated. */
export const RESERVED_1M = 1024 * 1024;

/** @internal Tree and object ids. */
export const ROOT_TREE = 1n;
export const EXTENT_TREE = 2n;
export const CHUNK_TREE = 3n;
export const DEV_TREE = 4n;
export const FS_TREE = 5n;
export const ROOT_TREE_DIR = 6n;
export const CSUM_TREE = 7n;
export const QUOTA_TREE = 8n;
export const UUID_TREE = 9n;
export const FREE_SPACE_TREE = 10n;
export const BLOCK_GROUP_TREE = 11n;
export const DATA_RELOC_TREE = 0xffff_ffff_ffff_fff7n; // -9ULL
export const DEV_ITEMS = 1n;
export const FIRST_CHUNK_TREE = 256n;
export const FIRST_FREE = 256n;

/** @internal Key types. */
export const INODE_ITEM_KEY = 1;
export const INODE_REF_KEY = 12;
export const DIR_ITEM_KEY = 84;
export const ROOT_ITEM_KEY = 132;
export const EXTENT_ITEM_KEY = 168;
export const METADATA_ITEM_KEY = 169;
export const TREE_BLOCK_REF_KEY = 176;
export const BLOCK_GROUP_ITEM_KEY = 192;
export const FREE_SPACE_INFO_KEY = 198;
export const FREE_SPACE_EXTENT_KEY = 199;
export const DEV_EXTENT_KEY = 204;
export const DEV_ITEM_KEY = 216;
export const CHUNK_ITEM_KEY = 228;
export const QGROUP_STATUS_KEY = 240;
export const QGROUP_INFO_KEY = 242;
export const QGROUP_LIMIT_KEY = 244;
export const UUID_KEY_SUBVOL = 251;

/** @internal Block group type bits. */
export const BG_DATA = 1 << 0;
export const BG_SYSTEM = 1 << 1;
export const BG_METADATA = 1 << 2;

/** @internal Extent flags, header flags. */
export const EXTENT_FLAG_TREE_BLOCK = 2n;
export const HEADER_FLAG_WRITTEN = 1n;
export const MIXED_BACKREF_REV = 1n;

/** @internal linux/btrfs_tree.h: qgroup status flags; SIMPLE_MODE is not in the 6.1 headers. */
export const QGROUP_STATUS_FLAG_ON = 1n << 0n;
export const QGROUP_STATUS_FLAG_SIMPLE_MODE = 1n << 3n;
export const QGROUP_STATUS_VERSION = 1n;
