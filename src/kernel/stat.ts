/**
 * statx(2) (linux/stat.h), which the native layer exposes raw: Node's fs.stat goes through statx too,
 * but builds a Stats object per call, and a question asked thousands of times a second
 * (isSubvolume: statfs + stat) paid more for that object than for the syscall.
 * @module
 */
import { layout, u16, u32, u64 } from './struct';

/** linux/stat.h: struct statx (256 bytes; only the fields this library reads are decoded). */
export const statx = layout('statx', 256, {
  stx_mask: u32(0x00),
  stx_mode: u16(0x1c),
  stx_ino: u64(0x20),
  stx_mnt_id: u64(0x90),
});

/** linux/stat.h: want/got stx_mode's file type bits. */
export const STATX_TYPE = 0x1;
/** linux/stat.h: want/got stx_mode's permission bits. */
export const STATX_MODE = 0x2;
/** linux/stat.h: want/got stx_ino. */
export const STATX_INO = 0x100;
/**
 * Want/got the unique mount id in stx_mnt_id (Linux 6.8+, after the 6.1 headers): 64-bit, never
 * reused while the system runs, unlike the old 32-bit mount id (0x1000).
 */
export const STATX_MNT_ID_UNIQUE = 0x4000;
/** Want/got stx_subvol, the id of the subvolume holding the file (Linux 6.10+; btrfs, bcachefs). */
export const STATX_SUBVOL = 0x8000;
/** Where stx_subvol sits in struct statx (Linux 6.10+; the 6.1 headers still call it __spare3[0]). */
export const STATX_SUBVOL_OFFSET = 0xa0;
/** linux/fcntl.h: operate on the dirfd itself when the path is empty (an fstat). */
export const AT_EMPTY_PATH = 0x1000;
/** linux/stat.h (S_IFMT, S_IFDIR): the file-type bits of a mode, and a directory's. */
export const S_IFMT = 0o170000;
export const S_IFDIR = 0o040000;
