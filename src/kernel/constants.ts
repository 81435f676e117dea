/**
 * btrfs constants from linux/btrfs.h, linux/btrfs_tree.h and linux/magic.h, plus the few that the
 * 6.1 headers on this machine lack (marked "not in the 6.1 headers"). Kernel spellings are kept so a
 * reader can grep the headers, and the ABI test compares each value with them.
 * @module
 */

/** linux/btrfs.h: BTRFS_IOCTL_MAGIC, the ioctl "type" byte. */
export const BTRFS_IOCTL_MAGIC = 0x94;
/** linux/magic.h: BTRFS_SUPER_MAGIC, statfs f_type of a btrfs filesystem. */
export const BTRFS_SUPER_MAGIC = 0x9123683e;

/** linux/btrfs.h: BTRFS_PATH_NAME_MAX */
export const BTRFS_PATH_NAME_MAX = 4087;
/** linux/btrfs.h: BTRFS_SUBVOL_NAME_MAX */
export const BTRFS_SUBVOL_NAME_MAX = 4039;
/** linux/btrfs.h: BTRFS_VOL_NAME_MAX */
export const BTRFS_VOL_NAME_MAX = 255;
/** linux/btrfs.h: BTRFS_INO_LOOKUP_PATH_MAX */
export const BTRFS_INO_LOOKUP_PATH_MAX = 4080;
/** linux/btrfs.h: BTRFS_INO_LOOKUP_USER_PATH_MAX */
export const BTRFS_INO_LOOKUP_USER_PATH_MAX = 4080 - 255 - 1;
/** linux/btrfs.h: BTRFS_MAX_ROOTREF_BUFFER_NUM */
export const BTRFS_MAX_ROOTREF_BUFFER_NUM = 255;
/** linux/btrfs.h: BTRFS_SEARCH_ARGS_BUFSIZE */
export const BTRFS_SEARCH_ARGS_BUFSIZE = 4096 - 104;

/** linux/btrfs.h: vol_args_v2 flags. */
export const BTRFS_SUBVOL_CREATE_ASYNC = 1n << 0n;
export const BTRFS_SUBVOL_RDONLY = 1n << 1n;
export const BTRFS_SUBVOL_QGROUP_INHERIT = 1n << 2n;
export const BTRFS_DEVICE_SPEC_BY_ID = 1n << 3n;
export const BTRFS_SUBVOL_SPEC_BY_ID = 1n << 4n;
/** linux/btrfs_tree.h: root item flag (also GET_SUBVOL_INFO.flags). Not the same bit as BTRFS_SUBVOL_RDONLY. */
export const BTRFS_ROOT_SUBVOL_RDONLY = 1n << 0n;

/** linux/btrfs_tree.h: tree and object ids. */
export const BTRFS_ROOT_TREE_OBJECTID = 1n;
export const BTRFS_FS_TREE_OBJECTID = 5n;
export const BTRFS_ROOT_TREE_DIR_OBJECTID = 6n;
export const BTRFS_QUOTA_TREE_OBJECTID = 8n;
export const BTRFS_UUID_TREE_OBJECTID = 9n;
export const BTRFS_FIRST_FREE_OBJECTID = 256n;
export const BTRFS_LAST_FREE_OBJECTID = 0xffff_ffff_ffff_ff00n; // -256ULL
export const BTRFS_ORPHAN_OBJECTID = 0xffff_ffff_ffff_fffbn; // -5ULL

/** linux/btrfs_tree.h: item key types. */
export const BTRFS_INODE_ITEM_KEY = 1;
export const BTRFS_INODE_REF_KEY = 12;
export const BTRFS_ORPHAN_ITEM_KEY = 48;
export const BTRFS_DIR_ITEM_KEY = 84;
export const BTRFS_DIR_INDEX_KEY = 96;
export const BTRFS_ROOT_ITEM_KEY = 132;
export const BTRFS_ROOT_BACKREF_KEY = 144;
export const BTRFS_ROOT_REF_KEY = 156;
export const BTRFS_QGROUP_STATUS_KEY = 240;
export const BTRFS_QGROUP_INFO_KEY = 242;
export const BTRFS_QGROUP_LIMIT_KEY = 244;
export const BTRFS_QGROUP_RELATION_KEY = 246;

/** linux/btrfs.h: BTRFS_QGROUP_LEVEL_SHIFT: qgroupid = level << 48 | id. */
export const BTRFS_QGROUP_LEVEL_SHIFT = 48;
