/**
 * Subvolume, snapshot, flag, default-subvolume, inode-lookup and sync ioctls (linux/btrfs.h).
 * @module
 */
import { BTRFS_IOCTL_MAGIC as M } from './constants';
import { _IO, _IOR, _IOW, _IOWR } from './ioc';
import { bytes, cstr, ioctlTimespec, layout, s64, struct, u8, u64 } from './struct';

/** linux/btrfs.h: struct btrfs_ioctl_vol_args */
export const btrfs_ioctl_vol_args = layout('btrfs_ioctl_vol_args', 4096, {
  fd: s64(0),
  name: cstr(8, 4088),
});

/** linux/btrfs.h: struct btrfs_ioctl_vol_args_v2 (name, devid and subvolid share offset 56) */
export const btrfs_ioctl_vol_args_v2 = layout('btrfs_ioctl_vol_args_v2', 4096, {
  fd: s64(0),
  transid: u64(8),
  flags: u64(16),
  size: u64(24),
  qgroup_inherit: u64(32),
  name: cstr(56, 4040),
  devid: u64(56),
  subvolid: u64(56),
});

/** linux/btrfs.h: struct btrfs_qgroup_limit */
export const btrfs_qgroup_limit = layout('btrfs_qgroup_limit', 40, {
  flags: u64(0),
  max_rfer: u64(8),
  max_excl: u64(16),
  rsv_rfer: u64(24),
  rsv_excl: u64(32),
});

/** linux/btrfs.h: struct btrfs_qgroup_inherit (the u64 qgroups[] follow at offset 72) */
export const btrfs_qgroup_inherit = layout('btrfs_qgroup_inherit', 72, {
  flags: u64(0),
  num_qgroups: u64(8),
  num_ref_copies: u64(16),
  num_excl_copies: u64(24),
  lim: struct(32, btrfs_qgroup_limit),
});

/** A struct btrfs_qgroup_inherit listing `qgroups`, sized exactly (the kernel refuses any other size). */
export function encodeQgroupInherit(qgroups: readonly bigint[]): Buffer {
  const buf = Buffer.alloc(btrfs_qgroup_inherit.size + 8 * qgroups.length);
  btrfs_qgroup_inherit.write(buf, { num_qgroups: BigInt(qgroups.length) });
  qgroups.forEach((id, i) => buf.writeBigUInt64LE(id, btrfs_qgroup_inherit.size + 8 * i));
  return buf;
}

/** linux/btrfs.h: struct btrfs_ioctl_get_subvol_info_args */
export const btrfs_ioctl_get_subvol_info_args = layout('btrfs_ioctl_get_subvol_info_args', 504, {
  treeid: u64(0),
  name: cstr(8, 256),
  parent_id: u64(264),
  dirid: u64(272),
  generation: u64(280),
  flags: u64(288),
  uuid: bytes(296, 16),
  parent_uuid: bytes(312, 16),
  received_uuid: bytes(328, 16),
  ctransid: u64(344),
  otransid: u64(352),
  stransid: u64(360),
  rtransid: u64(368),
  ctime: ioctlTimespec(376),
  otime: ioctlTimespec(392),
  stime: ioctlTimespec(408),
  rtime: ioctlTimespec(424),
});

/** linux/btrfs.h: struct btrfs_ioctl_get_subvol_rootref_args (rootref[i] at 8 + 16 i) */
export const btrfs_ioctl_get_subvol_rootref_args = layout('btrfs_ioctl_get_subvol_rootref_args', 4096, {
  min_treeid: u64(0),
  num_items: u8(4088),
});
/** Offset of rootref[0] and the size of one {treeid, dirid} entry. */
export const ROOTREF_OFFSET = 8;
export const ROOTREF_SIZE = 16;

/** linux/btrfs.h: struct btrfs_ioctl_ino_lookup_args */
export const btrfs_ioctl_ino_lookup_args = layout('btrfs_ioctl_ino_lookup_args', 4096, {
  treeid: u64(0),
  objectid: u64(8),
  name: cstr(16, 4080),
});

/** linux/btrfs.h: struct btrfs_ioctl_ino_lookup_user_args */
export const btrfs_ioctl_ino_lookup_user_args = layout('btrfs_ioctl_ino_lookup_user_args', 4096, {
  dirid: u64(0),
  treeid: u64(8),
  name: cstr(16, 256),
  path: cstr(272, 3824),
});

/** linux/btrfs.h: request numbers for this area. */
export const BTRFS_IOC_SNAP_CREATE = _IOW(M, 1, btrfs_ioctl_vol_args.size);
export const BTRFS_IOC_SYNC = _IO(M, 8);
export const BTRFS_IOC_SUBVOL_CREATE = _IOW(M, 14, btrfs_ioctl_vol_args.size);
export const BTRFS_IOC_SNAP_DESTROY = _IOW(M, 15, btrfs_ioctl_vol_args.size);
export const BTRFS_IOC_INO_LOOKUP = _IOWR(M, 18, btrfs_ioctl_ino_lookup_args.size);
export const BTRFS_IOC_DEFAULT_SUBVOL = _IOW(M, 19, 8);
export const BTRFS_IOC_WAIT_SYNC = _IOW(M, 22, 8);
export const BTRFS_IOC_SNAP_CREATE_V2 = _IOW(M, 23, btrfs_ioctl_vol_args_v2.size);
export const BTRFS_IOC_START_SYNC = _IOR(M, 24, 8);
export const BTRFS_IOC_SUBVOL_CREATE_V2 = _IOW(M, 24, btrfs_ioctl_vol_args_v2.size);
export const BTRFS_IOC_SUBVOL_GETFLAGS = _IOR(M, 25, 8);
export const BTRFS_IOC_SUBVOL_SETFLAGS = _IOW(M, 26, 8);
export const BTRFS_IOC_GET_SUBVOL_INFO = _IOR(M, 60, btrfs_ioctl_get_subvol_info_args.size);
export const BTRFS_IOC_GET_SUBVOL_ROOTREF = _IOWR(M, 61, btrfs_ioctl_get_subvol_rootref_args.size);
export const BTRFS_IOC_INO_LOOKUP_USER = _IOWR(M, 62, btrfs_ioctl_ino_lookup_user_args.size);
export const BTRFS_IOC_SNAP_DESTROY_V2 = _IOW(M, 63, btrfs_ioctl_vol_args_v2.size);
