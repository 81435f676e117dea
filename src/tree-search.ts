/**
 * Paged B-tree search (TREE_SEARCH_V2, falling back to TREE_SEARCH), shared by every module that
 * reads a tree. Needs CAP_SYS_ADMIN.
 *
 * Facts it is built on (../shared/docs/kernel-interfaces.md §5.4): the key range compares whole
 * (objectid, type, offset) tuples, so results may include other types in between and callers filter
 * by type; the kernel never moves the key, so the next page starts just after the last key returned;
 * a call returning no item is the end; a full buffer returns whole items and no error.
 * @internal
 * @module
 */
import { endianness } from 'node:os';
import type { StepContext } from './errors';
import { legacyIoctls } from './features';
import { BTRFS_SEARCH_ARGS_BUFSIZE } from './kernel/constants';
import { U64_MAX, viewOf } from './kernel/struct';
import {
  BTRFS_IOC_TREE_SEARCH,
  BTRFS_IOC_TREE_SEARCH_V2,
  btrfs_ioctl_search_args_v2,
  btrfs_ioctl_search_header,
  btrfs_ioctl_search_key,
  SEARCH_ARGS_BUF_OFFSET,
  SEARCH_ARGS_V2_BUF_OFFSET,
  type SearchItem,
  searchItems,
} from './kernel/search';
import { ioctl, type Op } from './op';

const ENOTTY = -25;
/** sizeof(struct btrfs_ioctl_search_header). */
const SEARCH_HEADER_SIZE = 32;

/** A (objectid, type, offset) key. */
export interface Key {
  objectid: bigint;
  type: number;
  offset: bigint;
}

/** What to search: one tree, an inclusive key range. */
export interface SearchRange {
  treeId: bigint;
  min: Key;
  max: Key;
}

/** The key right after `key`, or null past the last possible key. */
function successor(key: Key): Key | null {
  if (key.offset < U64_MAX) return { ...key, offset: key.offset + 1n };
  if (key.type < 255) return { objectid: key.objectid, type: key.type + 1, offset: 0n };
  if (key.objectid < U64_MAX) return { objectid: key.objectid + 1n, type: 0, offset: 0n };
  return null;
}

function compare(a: Key, b: Key): number {
  if (a.objectid !== b.objectid) return a.objectid < b.objectid ? -1 : 1;
  if (a.type !== b.type) return a.type < b.type ? -1 : 1;
  if (a.offset !== b.offset) return a.offset < b.offset ? -1 : 1;
  return 0;
}

/** A page of results as the kernel wrote them: `count` packed (header, payload) pairs from `start`. */
export interface RawPage {
  buf: Buffer;
  start: number;
  count: number;
}

const HEADER = btrfs_ioctl_search_header.fields;
const HEADER_LEN = HEADER.len.offset;
const HOST_LE = endianness() === 'LE';

/**
 * The offset of the last of `count` packed results from `start`. A plain function, not inlined in
 * the generator: V8 optimizes its loop, which walks thousands of items per large page.
 */
function lastHeader(view: DataView, start: number, count: number): number {
  const len = HEADER_LEN;
  let at = start;
  for (let i = 1; i < count; i++) at += SEARCH_HEADER_SIZE + view.getUint32(at + len, HOST_LE);
  return at;
}

/** How a {@link TreeSearch} sizes and reuses its result buffer. */
export interface TreeSearchOptions {
  /** Result bytes per call (V2); 64 KiB holds ~1,150 ROOT_REF items. Default 65536. */
  bufferSize?: number;
  /** Items per call at most. Default 4096. */
  maxItems?: number;
  /**
   * The largest payload an item in the range can have. With it, a page that stops short of
   * `maxItems` with room left for one more such item proves the range exhausted, which saves the
   * final empty call. Without it, only an empty page ends the search (any item may be a leaf's size).
   */
  maxItemSize?: number;
  /**
   * A buffer to reuse for every page, of the size the search needs (112 + bufferSize for V2, 4096
   * for v1; another size is ignored). The iterator passes one so that listing allocates nothing
   * per page; items then point into it and are only valid until the next call.
   */
  buffer?: Buffer;
}

/** A search in progress: call {@link TreeSearch.page} until it returns an empty page. */
export class TreeSearch {
  private next: Key | null;
  private useV1: boolean;

  /** True once the range is known to hold nothing more. */
  get done(): boolean {
    return this.next === null || compare(this.next, this.range.max) > 0;
  }

  /** Where the next page starts (just after the last key returned), or null once {@link done}. */
  get position(): Key | null {
    return this.done ? null : this.next;
  }
  private readonly bufferSize: number;
  private readonly maxItems: number;

  constructor(
    private readonly fd: number,
    private readonly range: SearchRange,
    private readonly ctx: StepContext,
    private readonly options: TreeSearchOptions = {},
  ) {
    this.next = range.min;
    this.useV1 = legacyIoctls();
    this.bufferSize = options.bufferSize ?? 65536;
    this.maxItems = options.maxItems ?? 4096;
  }

  private argsBuffer(size: number): Buffer {
    const given = this.options.buffer;
    return given?.length === size ? given : Buffer.alloc(size);
  }

  /** The next page of items (maybe of other types than asked: filter), or `[]` at the end. */
  *page(): Op<SearchItem[]> {
    const raw = yield* this.rawPage();
    return raw ? [...searchItems(raw.buf, raw.start, raw.count)] : [];
  }

  /**
   * The next page as the kernel wrote it, for callers that decode thousands of items and want no
   * object per item (qgroupInfo); null at the end. Valid until the next call.
   */
  *rawPage(): Op<RawPage | null> {
    if (this.next === null || compare(this.next, this.range.max) > 0) return null;
    const key = {
      tree_id: this.range.treeId,
      min_objectid: this.next.objectid,
      min_type: this.next.type,
      min_offset: this.next.offset,
      max_objectid: this.range.max.objectid,
      max_type: this.range.max.type,
      max_offset: this.range.max.offset,
      min_transid: 0n,
      max_transid: U64_MAX,
      nr_items: this.maxItems,
    };
    let buf: Buffer;
    let start: number;
    let capacity: number;
    if (!this.useV1) {
      buf = this.argsBuffer(SEARCH_ARGS_V2_BUF_OFFSET + this.bufferSize);
      btrfs_ioctl_search_args_v2.write(buf, { key, buf_size: BigInt(this.bufferSize) });
      const result = yield* ioctl(this.fd, BTRFS_IOC_TREE_SEARCH_V2, buf, this.ctx, {
        name: 'BTRFS_IOC_TREE_SEARCH_V2',
        allow: [ENOTTY],
      });
      if (result === ENOTTY) {
        // Kernels before 3.16 lack V2; a non-btrfs fd fails again below and is classified there.
        this.useV1 = true;
        return yield* this.rawPage();
      }
      start = SEARCH_ARGS_V2_BUF_OFFSET;
      capacity = this.bufferSize;
    } else {
      buf = this.argsBuffer(4096);
      btrfs_ioctl_search_key.write(buf, { ...key, nr_items: Math.min(this.maxItems, 4096) });
      yield* ioctl(this.fd, BTRFS_IOC_TREE_SEARCH, buf, this.ctx, { name: 'BTRFS_IOC_TREE_SEARCH' });
      start = SEARCH_ARGS_BUF_OFFSET;
      capacity = BTRFS_SEARCH_ARGS_BUFSIZE;
    }
    const count = btrfs_ioctl_search_key.get(buf, 'nr_items');
    if (count === 0) {
      this.next = null;
      return null;
    }
    // Find the last header: the next page starts just after its key.
    const view = viewOf(buf);
    const at = lastHeader(view, start, count);
    const used = at + SEARCH_HEADER_SIZE + view.getUint32(at + HEADER.len.offset, HOST_LE) - start;
    if (used > capacity) throw new RangeError('search result overruns its buffer');
    this.next = successor({
      objectid: view.getBigUint64(at + HEADER.objectid.offset, HOST_LE),
      type: view.getUint32(at + HEADER.type.offset, HOST_LE),
      offset: view.getBigUint64(at + HEADER.offset.offset, HOST_LE),
    });
    if (this.options.maxItemSize !== undefined && count < this.maxItems) {
      if (capacity - used >= SEARCH_HEADER_SIZE + this.options.maxItemSize) this.next = null; // room left: nothing more
    }
    return { buf, start, count };
  }
}

/** Every item of `type` in the range, in key order. For small ranges (one object's items). */
export function* searchAll(fd: number, range: SearchRange, type: number, ctx: StepContext, bufferSize = 4096, maxItemSize?: number): Op<SearchItem[]> {
  const search = new TreeSearch(fd, range, ctx, { bufferSize, ...(maxItemSize !== undefined ? { maxItemSize } : {}) });
  const out: SearchItem[] = [];
  for (;;) {
    const page = yield* search.page();
    if (page.length === 0) return out;
    for (const item of page) if (item.type === type) out.push(item);
  }
}

/** The range holding exactly the items (objectid, type, *). */
export function itemsOf(treeId: bigint, objectid: bigint, type: number, minOffset = 0n, maxOffset = U64_MAX): SearchRange {
  return { treeId, min: { objectid, type, offset: minOffset }, max: { objectid, type, offset: maxOffset } };
}
