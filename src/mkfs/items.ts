/**
 * On-disk item payloads mkfs writes, as struct layouts at fixed offsets (linux/btrfs_tree.h; offsets
 * checked against hexdumps, format doc §5). Everything is little-endian; encoding starts from
 * zeros, so reserved fields are 0. These stay out of src/kernel/ because btrfs check and dump-tree,
 * not the ABI test, are their oracle.
 * @internal
 * @module
 */
import { bytes, diskTimespec, layout, le16, le32, le64, u8, type Timespec } from '../kernel/struct';

/** struct btrfs_disk_key: objectid, type, offset (17 bytes, packed). */
export const diskKey = layout('btrfs_disk_key', 17, { objectid: le64(0), type: u8(8), offset: le64(9) });

/** A key as mkfs handles it. */
export interface Key {
  objectid: bigint;
  type: number;
  offset: bigint;
}

/** Keys order by (objectid, type, offset), each compared as an unsigned number (§2.4). */
export function compareKeys(a: Key, b: Key): number {
  if (a.objectid !== b.objectid) return a.objectid < b.objectid ? -1 : 1;
  if (a.type !== b.type) return a.type - b.type;
  if (a.offset !== b.offset) return a.offset < b.offset ? -1 : 1;
  return 0;
}

/** struct btrfs_header (101 bytes), the start of every tree block. */
export const header = layout('btrfs_header', 101, {
  csum: bytes(0, 32),
  fsid: bytes(32, 16),
  bytenr: le64(48),
  flags: le64(56),
  chunkTreeUuid: bytes(64, 16),
  generation: le64(80),
  owner: le64(88),
  nritems: le32(96),
  level: u8(100),
});

/** struct btrfs_item: key, data offset (from the end of the header), data size. */
export const itemHeader = layout('btrfs_item', 25, {
  objectid: le64(0),
  type: u8(8),
  offset: le64(9),
  dataOffset: le32(17),
  dataSize: le32(21),
});

/** struct btrfs_key_ptr: key, child block, child generation. */
export const keyPtr = layout('btrfs_key_ptr', 33, {
  objectid: le64(0),
  type: u8(8),
  offset: le64(9),
  blockptr: le64(17),
  generation: le64(25),
});

/** struct btrfs_dev_item (98 bytes), in the chunk tree and in each superblock. */
export const devItem = layout('btrfs_dev_item', 98, {
  devid: le64(0),
  totalBytes: le64(8),
  bytesUsed: le64(16),
  ioAlign: le32(24),
  ioWidth: le32(28),
  sectorSize: le32(32),
  type: le64(36),
  generation: le64(44),
  startOffset: le64(52),
  devGroup: le32(60),
  seekSpeed: u8(64),
  bandwidth: u8(65),
  uuid: bytes(66, 16),
  fsid: bytes(82, 16),
});

/** struct btrfs_chunk without its stripes (48 bytes); stripes follow, 32 bytes each. */
export const chunkItem = layout('btrfs_chunk', 48, {
  length: le64(0),
  owner: le64(8),
  stripeLen: le64(16),
  type: le64(24),
  ioAlign: le32(32),
  ioWidth: le32(36),
  sectorSize: le32(40),
  numStripes: le16(44),
  subStripes: le16(46),
});

/** struct btrfs_stripe (32 bytes). */
export const stripe = layout('btrfs_stripe', 32, { devid: le64(0), offset: le64(8), devUuid: bytes(16, 16) });

/** struct btrfs_dev_extent (48 bytes). */
export const devExtent = layout('btrfs_dev_extent', 48, {
  chunkTree: le64(0),
  chunkObjectid: le64(8),
  chunkOffset: le64(16),
  length: le64(24),
  chunkTreeUuid: bytes(32, 16),
});

/** struct btrfs_block_group_item (24 bytes). */
export const blockGroupItem = layout('btrfs_block_group_item', 24, { used: le64(0), chunkObjectid: le64(8), flags: le64(16) });

/** struct btrfs_extent_item (24 bytes), followed by tree_block_info (non-skinny) and inline refs. */
export const extentItem = layout('btrfs_extent_item', 24, { refs: le64(0), generation: le64(8), flags: le64(16) });

/** struct btrfs_inode_item (160 bytes). */
export const inodeItem = layout('btrfs_inode_item', 160, {
  generation: le64(0),
  transid: le64(8),
  size: le64(16),
  nbytes: le64(24),
  blockGroup: le64(32),
  nlink: le32(40),
  uid: le32(44),
  gid: le32(48),
  mode: le32(52),
  rdev: le64(56),
  flags: le64(64),
  sequence: le64(72),
  atime: diskTimespec(112),
  ctime: diskTimespec(124),
  mtime: diskTimespec(136),
  otime: diskTimespec(148),
});

/** struct btrfs_root_item (439 bytes; the embedded inode is its first 160). */
export const rootItem = layout('btrfs_root_item', 439, {
  generation: le64(160),
  rootDirid: le64(168),
  bytenr: le64(176),
  byteLimit: le64(184),
  bytesUsed: le64(192),
  lastSnapshot: le64(200),
  flags: le64(208),
  refs: le32(216),
  dropLevel: u8(237),
  level: u8(238),
  generationV2: le64(239),
  uuid: bytes(247, 16),
  parentUuid: bytes(263, 16),
  receivedUuid: bytes(279, 16),
  ctransid: le64(295),
  otransid: le64(303),
  stransid: le64(311),
  rtransid: le64(319),
  ctime: diskTimespec(327),
  otime: diskTimespec(339),
});

/** struct btrfs_free_space_info (8 bytes). */
export const freeSpaceInfo = layout('btrfs_free_space_info', 8, { extentCount: le32(0), flags: le32(4) });

/** struct btrfs_qgroup_status_item (40 bytes with squota's enable_gen; 32 without). */
export const qgroupStatus = layout('btrfs_qgroup_status_item', 40, {
  version: le64(0),
  generation: le64(8),
  flags: le64(16),
  rescan: le64(24),
  enableGen: le64(32),
});

/** struct btrfs_qgroup_info_item (40 bytes). */
export const qgroupInfo = layout('btrfs_qgroup_info_item', 40, {
  generation: le64(0),
  rfer: le64(8),
  rferCmpr: le64(16),
  excl: le64(24),
  exclCmpr: le64(32),
});

/** struct btrfs_qgroup_limit_item (40 bytes): all zero at mkfs. */
export const qgroupLimit = layout('btrfs_qgroup_limit_item', 40, { flags: le64(0) });

/** struct btrfs_root_backup (168 bytes), four of them in the superblock. */
export const rootBackup = layout('btrfs_root_backup', 168, {
  treeRoot: le64(0),
  treeRootGen: le64(8),
  chunkRoot: le64(16),
  chunkRootGen: le64(24),
  extentRoot: le64(32),
  extentRootGen: le64(40),
  fsRoot: le64(48),
  fsRootGen: le64(56),
  devRoot: le64(64),
  devRootGen: le64(72),
  csumRoot: le64(80),
  csumRootGen: le64(88),
  totalBytes: le64(96),
  bytesUsed: le64(104),
  numDevices: le64(112),
  treeRootLevel: u8(152),
  chunkRootLevel: u8(153),
  extentRootLevel: u8(154),
  fsRootLevel: u8(155),
  devRootLevel: u8(156),
  csumRootLevel: u8(157),
});

/** struct btrfs_super_block (4096 bytes); fields mkfs sets (format doc §1.2). */
export const superBlock = layout('btrfs_super_block', 4096, {
  csum: bytes(0x0, 32),
  fsid: bytes(0x20, 16),
  bytenr: le64(0x30),
  flags: le64(0x38),
  magic: le64(0x40),
  generation: le64(0x48),
  root: le64(0x50),
  chunkRoot: le64(0x58),
  logRoot: le64(0x60),
  totalBytes: le64(0x70),
  bytesUsed: le64(0x78),
  rootDirObjectid: le64(0x80),
  numDevices: le64(0x88),
  sectorsize: le32(0x90),
  nodesize: le32(0x94),
  leafsize: le32(0x98),
  stripesize: le32(0x9c),
  sysChunkArraySize: le32(0xa0),
  chunkRootGeneration: le64(0xa4),
  compatFlags: le64(0xac),
  compatRoFlags: le64(0xb4),
  incompatFlags: le64(0xbc),
  csumType: le16(0xc4),
  rootLevel: u8(0xc6),
  chunkRootLevel: u8(0xc7),
  logRootLevel: u8(0xc8),
  devItem: bytes(0xc9, 98),
  label: bytes(0x12b, 256),
  cacheGeneration: le64(0x22b),
  uuidTreeGeneration: le64(0x233),
  metadataUuid: bytes(0x23b, 16),
  sysChunkArray: bytes(0x32b, 2048),
  superRoots: bytes(0xb2b, 4 * 168),
});

/** An item: key plus payload. */
export interface Item {
  key: Key;
  data: Buffer;
}

export const item = (objectid: bigint, type: number, offset: bigint, data: Buffer = Buffer.alloc(0)): Item => ({
  key: { objectid, type, offset },
  data,
});

/** INODE_REF payload: index, name length, name. */
export function inodeRef(index: bigint, name: string): Buffer {
  const raw = Buffer.from(name, 'utf8');
  const out = Buffer.alloc(10 + raw.length);
  out.writeBigUInt64LE(index, 0);
  out.writeUInt16LE(raw.length, 8);
  raw.copy(out, 10);
  return out;
}

/** DIR_ITEM payload: location key, transid, data_len 0, name length, file type, name. */
export function dirItem(location: Key, fileType: number, name: string): Buffer {
  const raw = Buffer.from(name, 'utf8');
  const out = Buffer.alloc(30 + raw.length);
  diskKey.write(out, location, 0);
  out.writeBigUInt64LE(0n, 17);
  out.writeUInt16LE(0, 25);
  out.writeUInt16LE(raw.length, 27);
  out.writeUInt8(fileType, 29);
  raw.copy(out, 30);
  return out;
}

/** A directory inode as mkfs makes the root directories (mode 040755, one link). */
export function dirInode(generation: bigint, nbytes: bigint, time: Timespec, otime: Timespec): Buffer {
  return inodeItem.encode({ generation, nbytes, nlink: 1, mode: 0o40755, atime: time, ctime: time, mtime: time, otime });
}
