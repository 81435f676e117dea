/**
 * B-tree search ioctls (linux/btrfs.h): TREE_SEARCH and TREE_SEARCH_V2, their key and result
 * header, and a helper that walks the packed results.
 * @module
 */
import { BTRFS_IOCTL_MAGIC as M } from './constants';
import { _IOWR } from './ioc';
import { endianness } from 'node:os';
import { layout, struct, u32, u64, viewOf } from './struct';

/** linux/btrfs.h: struct btrfs_ioctl_search_key */
export const btrfs_ioctl_search_key = layout('btrfs_ioctl_search_key', 104, {
  tree_id: u64(0),
  min_objectid: u64(8),
  max_objectid: u64(16),
  min_offset: u64(24),
  max_offset: u64(32),
  min_transid: u64(40),
  max_transid: u64(48),
  min_type: u32(56),
  max_type: u32(60),
  nr_items: u32(64),
});

/** linux/btrfs.h: struct btrfs_ioctl_search_header */
export const btrfs_ioctl_search_header = layout('btrfs_ioctl_search_header', 32, {
  transid: u64(0),
  objectid: u64(8),
  offset: u64(16),
  type: u32(24),
  len: u32(28),
});

/** linux/btrfs.h: struct btrfs_ioctl_search_args (v1: results in a 3992-byte buf at 104) */
export const btrfs_ioctl_search_args = layout('btrfs_ioctl_search_args', 4096, {
  key: struct(0, btrfs_ioctl_search_key),
});
export const SEARCH_ARGS_BUF_OFFSET = 104;

/** linux/btrfs.h: struct btrfs_ioctl_search_args_v2 (the caller-sized buf[] follows at 112) */
export const btrfs_ioctl_search_args_v2 = layout('btrfs_ioctl_search_args_v2', 112, {
  key: struct(0, btrfs_ioctl_search_key),
  buf_size: u64(104),
});
export const SEARCH_ARGS_V2_BUF_OFFSET = 112;

/** linux/btrfs.h: request numbers. V2's size covers only the 112-byte head. */
export const BTRFS_IOC_TREE_SEARCH = _IOWR(M, 17, btrfs_ioctl_search_args.size);
export const BTRFS_IOC_TREE_SEARCH_V2 = _IOWR(M, 17, btrfs_ioctl_search_args_v2.size);

/** One search result: the item's key and a view of its payload (valid until the next search). */
export interface SearchItem {
  objectid: bigint;
  type: number;
  offset: bigint;
  transid: bigint;
  data: Buffer;
}

/** Walks `count` packed (header, payload) results starting at `start` in `buf`. */
export function* searchItems(buf: Buffer, start: number, count: number): Generator<SearchItem> {
  const view = viewOf(buf);
  const h = btrfs_ioctl_search_header.fields;
  let at = start;
  for (let i = 0; i < count; i++) {
    // Read the header's fields directly: this loop runs once per item of every search.
    if (at + btrfs_ioctl_search_header.size > buf.length) throw new RangeError('search result overruns its buffer');
    const len = view.getUint32(at + h.len.offset, HOST_LE);
    const item: SearchItem = {
      objectid: view.getBigUint64(at + h.objectid.offset, HOST_LE),
      type: view.getUint32(at + h.type.offset, HOST_LE),
      offset: view.getBigUint64(at + h.offset.offset, HOST_LE),
      transid: view.getBigUint64(at + h.transid.offset, HOST_LE),
      data: buf.subarray(0, 0),
    };
    at += btrfs_ioctl_search_header.size;
    if (at + len > buf.length) throw new RangeError('search result overruns its buffer');
    item.data = buf.subarray(at, at + len);
    yield item;
    at += len;
  }
}

const HOST_LE = endianness() === 'LE';
