/**
 * Quota and qgroup ioctls (linux/btrfs.h) and the quota tree's items (linux/btrfs_tree.h).
 *
 * Three values are not in the 6.1 headers this package is checked against: QUOTA_CTL command 4
 * (enable simple quotas), status flag 8 (simple mode) and the status item's `enable_gen` at offset 32
 * (the item grew from 32 to 40 bytes with simple quotas; kernels that know them write 40 bytes in
 * both modes). They are marked "not in the 6.1 headers".
 * @module
 */
import { BTRFS_IOCTL_MAGIC as M } from './constants';
import { _IO, _IOR, _IOW, _IOWR } from './ioc';
import { btrfs_qgroup_limit } from './subvol';
import { layout, le64, struct, u64 } from './struct';

/** linux/btrfs.h: struct btrfs_ioctl_quota_ctl_args (`status` is never written by the kernel) */
export const btrfs_ioctl_quota_ctl_args = layout('btrfs_ioctl_quota_ctl_args', 16, {
  cmd: u64(0),
  status: u64(8),
});

/** linux/btrfs.h: struct btrfs_ioctl_quota_rescan_args (flags: in 0, out 1 = running) */
export const btrfs_ioctl_quota_rescan_args = layout('btrfs_ioctl_quota_rescan_args', 64, {
  flags: u64(0),
  progress: u64(8),
});

/** linux/btrfs.h: struct btrfs_ioctl_qgroup_create_args (create: 1 create, 0 destroy) */
export const btrfs_ioctl_qgroup_create_args = layout('btrfs_ioctl_qgroup_create_args', 16, {
  create: u64(0),
  qgroupid: u64(8),
});

/** linux/btrfs.h: struct btrfs_ioctl_qgroup_assign_args (assign: 1 add, 0 remove; src child, dst parent) */
export const btrfs_ioctl_qgroup_assign_args = layout('btrfs_ioctl_qgroup_assign_args', 24, {
  assign: u64(0),
  src: u64(8),
  dst: u64(16),
});

/** linux/btrfs.h: struct btrfs_ioctl_qgroup_limit_args (qgroupid 0: the subvolume of the fd) */
export const btrfs_ioctl_qgroup_limit_args = layout('btrfs_ioctl_qgroup_limit_args', 48, {
  qgroupid: u64(0),
  lim: struct(8, btrfs_qgroup_limit),
});

/** linux/btrfs_tree.h: struct btrfs_qgroup_status_item, as in the 6.1 headers (see {@link statusItemEnableGen}) */
export const btrfs_qgroup_status_item = layout('btrfs_qgroup_status_item', 32, {
  version: le64(0),
  generation: le64(8),
  flags: le64(16),
  rescan: le64(24),
});

/**
 * The status item's `enable_gen` (the generation simple quotas were enabled in), which newer kernels
 * append at offset 32; null when the item is the older 32-byte one. Not in the 6.1 headers.
 */
export function statusItemEnableGen(data: Uint8Array): bigint | null {
  if (data.length < btrfs_qgroup_status_item.size + 8) return null;
  return Buffer.from(data.buffer, data.byteOffset, data.byteLength).readBigUInt64LE(btrfs_qgroup_status_item.size);
}

/** linux/btrfs_tree.h: struct btrfs_qgroup_info_item */
export const btrfs_qgroup_info_item = layout('btrfs_qgroup_info_item', 40, {
  generation: le64(0),
  rfer: le64(8),
  rfer_cmpr: le64(16),
  excl: le64(24),
  excl_cmpr: le64(32),
});

/** linux/btrfs_tree.h: struct btrfs_qgroup_limit_item */
export const btrfs_qgroup_limit_item = layout('btrfs_qgroup_limit_item', 40, {
  flags: le64(0),
  max_rfer: le64(8),
  max_excl: le64(16),
  rsv_rfer: le64(24),
  rsv_excl: le64(32),
});

/** linux/btrfs.h: QUOTA_CTL commands. */
export const BTRFS_QUOTA_CTL_ENABLE = 1n;
export const BTRFS_QUOTA_CTL_DISABLE = 2n;
export const BTRFS_QUOTA_CTL_RESCAN__NOTUSED = 3n;
/** QUOTA_CTL: enable simple quotas (squota). Not in the 6.1 headers; kernels since 6.7 accept it. */
export const BTRFS_QUOTA_CTL_ENABLE_SIMPLE_QUOTA = 4n;

/** linux/btrfs_tree.h: qgroup status item flags. */
export const BTRFS_QGROUP_STATUS_FLAG_ON = 1n << 0n;
export const BTRFS_QGROUP_STATUS_FLAG_RESCAN = 1n << 1n;
export const BTRFS_QGROUP_STATUS_FLAG_INCONSISTENT = 1n << 2n;
/** Status flag of simple quotas. Not in the 6.1 headers. */
export const BTRFS_QGROUP_STATUS_FLAG_SIMPLE_MODE = 1n << 3n;
/** linux/btrfs_tree.h: the status item version this code reads. */
export const BTRFS_QGROUP_STATUS_VERSION = 1n;

/** linux/btrfs.h: qgroup limit flags (btrfs_qgroup_limit.flags and the limit item's flags). */
export const BTRFS_QGROUP_LIMIT_MAX_RFER = 1n << 0n;
export const BTRFS_QGROUP_LIMIT_MAX_EXCL = 1n << 1n;
export const BTRFS_QGROUP_LIMIT_RSV_RFER = 1n << 2n;
export const BTRFS_QGROUP_LIMIT_RSV_EXCL = 1n << 3n;
export const BTRFS_QGROUP_LIMIT_RFER_CMPR = 1n << 4n;
export const BTRFS_QGROUP_LIMIT_EXCL_CMPR = 1n << 5n;

/** linux/btrfs.h: request numbers. QGROUP_LIMIT is `_IOR` although the kernel only reads it. */
export const BTRFS_IOC_QUOTA_CTL = _IOWR(M, 40, btrfs_ioctl_quota_ctl_args.size);
export const BTRFS_IOC_QGROUP_ASSIGN = _IOW(M, 41, btrfs_ioctl_qgroup_assign_args.size);
export const BTRFS_IOC_QGROUP_CREATE = _IOW(M, 42, btrfs_ioctl_qgroup_create_args.size);
export const BTRFS_IOC_QGROUP_LIMIT = _IOR(M, 43, btrfs_ioctl_qgroup_limit_args.size);
export const BTRFS_IOC_QUOTA_RESCAN = _IOW(M, 44, btrfs_ioctl_quota_rescan_args.size);
export const BTRFS_IOC_QUOTA_RESCAN_STATUS = _IOR(M, 45, btrfs_ioctl_quota_rescan_args.size);
export const BTRFS_IOC_QUOTA_RESCAN_WAIT = _IO(M, 46);
