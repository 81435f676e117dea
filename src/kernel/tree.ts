/**
 * On-disk items (linux/btrfs_tree.h) as TREE_SEARCH returns them: packed and little-endian.
 * @module
 */
import { bytes, diskTimespec, layout, le16, le32, le64, u8 } from './struct';

/** linux/btrfs_tree.h: struct btrfs_disk_key */
export const btrfs_disk_key = layout('btrfs_disk_key', 17, {
  objectid: le64(0),
  type: u8(8),
  offset: le64(9),
});

/** linux/btrfs_tree.h: struct btrfs_root_item (the 160-byte inode item at 0 is not decoded) */
export const btrfs_root_item = layout('btrfs_root_item', 439, {
  generation: le64(160),
  root_dirid: le64(168),
  bytenr: le64(176),
  byte_limit: le64(184),
  bytes_used: le64(192),
  last_snapshot: le64(200),
  flags: le64(208),
  refs: le32(216),
  drop_level: u8(237),
  level: u8(238),
  generation_v2: le64(239),
  uuid: bytes(247, 16),
  parent_uuid: bytes(263, 16),
  received_uuid: bytes(279, 16),
  ctransid: le64(295),
  otransid: le64(303),
  stransid: le64(311),
  rtransid: le64(319),
  ctime: diskTimespec(327),
  otime: diskTimespec(339),
  stime: diskTimespec(351),
  rtime: diskTimespec(363),
});

/** linux/btrfs_tree.h: struct btrfs_root_ref (name_len bytes of name follow, no NUL) */
export const btrfs_root_ref = layout('btrfs_root_ref', 18, {
  dirid: le64(0),
  sequence: le64(8),
  name_len: le16(16),
});

/** The name that follows a btrfs_root_ref. */
export function rootRefName(data: Buffer): string {
  const { name_len } = btrfs_root_ref.decode(data);
  return data.toString('utf8', btrfs_root_ref.size, btrfs_root_ref.size + name_len);
}

/** linux/btrfs_tree.h: struct btrfs_dir_item (name_len bytes of name follow) */
export const btrfs_dir_item = layout('btrfs_dir_item', 30, {
  location_objectid: le64(0),
  location_type: u8(8),
  location_offset: le64(9),
  transid: le64(17),
  data_len: le16(25),
  name_len: le16(27),
  type: u8(29),
});
