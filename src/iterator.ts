/**
 * Subvolume iteration, in the order libbtrfsutil yields: depth-first, siblings by ascending id,
 * pre-order by default (a subvolume before its descendants) or post-order. Paths are relative to the
 * `top` subvolume.
 *
 * Two ways to read the tree, chosen by privilege:
 * - as root, TREE_SEARCH over the root tree's ROOT_REF items (parent, 156, child) and INO_LOOKUP for
 *   the directory each child sits in;
 * - unprivileged, GET_SUBVOL_ROOTREF on an fd inside each subvolume and INO_LOOKUP_USER for the
 *   child's name and directory. A subvolume the user cannot open is still listed, but not entered
 *   (libbtrfsutil silently drops it; see the kernel-interfaces notes, trap 11).
 *
 * Memory stays flat: the iterator holds one frame per level of nesting, each with at most one page
 * of children.
 * @module
 */
import * as fs from 'node:fs';
import { btrfsError, type StepContext, sysError } from './errors';
import { BTRFS_ROOT_ITEM_KEY, BTRFS_ROOT_REF_KEY, BTRFS_ROOT_TREE_OBJECTID } from './kernel/constants';
import { toSafeNumber, U64_MAX } from './kernel/struct';
import {
  BTRFS_IOC_GET_SUBVOL_ROOTREF,
  BTRFS_IOC_INO_LOOKUP_USER,
  btrfs_ioctl_get_subvol_rootref_args,
  btrfs_ioctl_ino_lookup_user_args,
  ROOTREF_OFFSET,
  ROOTREF_SIZE,
} from './kernel/subvol';
import { btrfs_root_ref, rootRefName } from './kernel/tree';
import { close, ioctl, type Op, open, runAsync, runSync, type StatResult } from './op';
import { SEARCH_ARGS_V2_BUF_OFFSET } from './kernel/search';
import { TreeSearch } from './tree-search';
import { type SubvolumeInfo, rootItemInfo, infoById, infoOfFd, inoLookupPath, lookupSubvolumeId } from './subvolume-core';
import { checkBoolean, checkOptionalId, checkOptions, checkPathOrFd, contextOf, type PathOrFd, type Target } from './validate';

const { O_RDONLY, O_DIRECTORY } = fs.constants;
const EOVERFLOW = -75;
const EACCES = -13;
const EPERM = -1;
/** Result bytes per search: 16 KiB holds ~300 ROOT_REF items. */
const SEARCH_BUFFER = 16384;
/**
 * Result bytes per prefetch search (siblings' root items and children), and pages per prefetch.
 * Tests shrink them to exercise a prefetch that stops part-way. @internal
 */
export const prefetchTuning = { bufferSize: 65536, pages: 4 };
/** The largest ROOT_REF payload: the 18-byte btrfs_root_ref and a 255-byte name. */
const ROOT_REF_MAX = 18 + 255;

/** Options for {@link subvolumes} and {@link subvolumesSync}. */
export interface SubvolumeIteratorOptions {
  /**
   * The subvolume to list below, by id. Default 0: the subvolume at `path`, which must then be a
   * subvolume root. Any other value needs root (5 lists the whole filesystem).
   */
  top?: number | bigint;
  /** Also read each subvolume's {@link SubvolumeInfo}. Default false. */
  info?: boolean;
  /** Yield descendants before their parent (as deletion needs). Default false: pre-order. */
  postOrder?: boolean;
}

/** One subvolume found by an iterator. */
export interface SubvolumeEntry {
  /** Path relative to the `top` subvolume, without a leading or trailing slash. */
  path: string;
  /** Subvolume id. */
  id: number;
  /** Present when the iterator was asked for `info`. */
  info?: SubvolumeInfo;
}

/** A child found but not yet visited. */
interface Child {
  id: bigint;
  dirid: bigint;
  name?: string; // root mode: from the ROOT_REF item
  /** Root mode, prefetched with its siblings: every child of its own (complete), and its info. */
  children?: Child[];
  info?: SubvolumeInfo;
}

/** One level of the depth-first walk. */
interface Frame {
  id: bigint;
  /** Where it hangs (from its ROOT_REF): the parent subvolume and the directory inode there. */
  parentId: bigint;
  dirId: bigint;
  path: string;
  /** Unprivileged mode: an fd inside this subvolume (null when it could not be opened). */
  fd: number | null;
  pending: Child[];
  /** The smallest child id not fetched yet, or null once every child was fetched. */
  cursor: bigint | null;
  /** Its info, when a prefetch already read its root item. */
  info?: SubvolumeInfo;
}

const joinPath = (a: string, b: string): string => (a === '' ? b : b === '' ? a : `${a}/${b}`);

/**
 * The iteration logic, as operations a sync or an async driver runs. Not public: see
 * {@link SubvolumeIterator} and {@link AsyncSubvolumeIterator}.
 * @internal
 */
export class IteratorCore {
  fd: number | null = null;
  private stack: Frame[] = [];
  /** One search buffer for the whole walk: listing allocates nothing per page. */
  private readonly searchBuffer = Buffer.alloc(SEARCH_ARGS_V2_BUF_OFFSET + SEARCH_BUFFER);
  private readonly prefetchBuffer = Buffer.alloc(SEARCH_ARGS_V2_BUF_OFFSET + prefetchTuning.bufferSize);
  private started = false;
  private closed = false;
  private readonly privileged: boolean;
  private readonly ctx: StepContext;

  constructor(
    readonly target: Target,
    private readonly top: bigint,
    private readonly withInfo: boolean,
    private readonly postOrder: boolean,
    privileged = process.geteuid?.() === 0,
  ) {
    this.privileged = privileged;
    this.ctx = contextOf('subvolumes', 'SEARCH_FAILED', target);
  }

  /** Opens the top and pushes its frame. */
  *startOp(): Op<void> {
    if (this.started) return;
    this.started = true;
    this.fd = this.target.fd ?? (yield* open(this.target.path!, O_RDONLY, this.ctx));
    let top = this.top;
    if (top === 0n) {
      top = yield* lookupSubvolumeId(this.fd, this.ctx);
      const st: StatResult | number = yield { op: 'fstat', fd: this.fd };
      if (typeof st === 'number') throw sysError(st, 'fstat', { ...this.ctx, kind: 'STAT_FAILED' });
      if (st.ino !== 256) throw btrfsError('NOT_SUBVOLUME', -22, 'fstat', this.ctx);
    } else if (!this.privileged) {
      const own = yield* lookupSubvolumeId(this.fd, this.ctx);
      if (own !== top) throw sysError(EPERM, 'ioctl', this.ctx, 'SEARCH_FAILED', 'BTRFS_IOC_TREE_SEARCH');
    }
    // Unprivileged, the top frame needs an fd inside the top subvolume: the one we have.
    const frameFd = this.privileged ? null : this.fd;
    this.stack.push({ id: top, parentId: 0n, dirId: 0n, path: '', fd: frameFd, pending: [], cursor: 0n });
  }

  /** The next entry, or undefined at the end. */
  *nextOp(): Op<SubvolumeEntry | undefined> {
    if (this.closed) return undefined;
    yield* this.startOp();
    for (;;) {
      const frame = this.stack[this.stack.length - 1];
      if (!frame) return undefined;
      if (frame.pending.length === 0 && frame.cursor !== null) yield* this.fetchChildren(frame);
      const child = frame.pending.shift();
      if (!child) {
        this.stack.pop();
        if (frame.fd !== null && frame.fd !== this.fd) yield* close(frame.fd);
        if (this.postOrder && this.stack.length > 0) return yield* this.entry(frame);
        continue;
      }
      const childFrame = yield* this.visit(frame, child);
      this.stack.push(childFrame);
      if (!this.postOrder) return yield* this.entry(childFrame);
    }
  }

  /** Releases every descriptor the iterator opened (never the caller's). Idempotent. */
  *closeOp(): Op<void> {
    if (this.closed) return;
    this.closed = true;
    const frames = this.stack.splice(0);
    for (const frame of frames) if (frame.fd !== null && frame.fd !== this.fd) yield* close(frame.fd);
    if (this.fd !== null && this.target.fd === undefined) yield* close(this.fd);
    this.fd = null;
  }

  private *entry(frame: Frame): Op<SubvolumeEntry> {
    const entry: SubvolumeEntry = { path: frame.path, id: toSafeNumber(frame.id, 'id') };
    if (this.withInfo) {
      if (frame.fd !== null) entry.info = yield* infoOfFd(frame.fd, this.ctx);
      else if (frame.info) entry.info = frame.info;
      else if (this.privileged) entry.info = yield* infoById(this.fd!, frame.id, this.ctx, frame);
      else {
        // Unprivileged and not enterable: GET_SUBVOL_INFO needs an fd inside it.
        throw sysError(EACCES, 'open', { ...this.ctx, kind: 'OPEN_FAILED', path: frame.path });
      }
    }
    return entry;
  }

  /** Works out a child's path and builds its frame. */
  private *visit(parent: Frame, child: Child): Op<Frame> {
    if (this.privileged) {
      const dir = child.dirid === 256n ? '' : yield* inoLookupPath(this.fd!, parent.id, child.dirid, this.ctx);
      const path = joinPath(parent.path, dir.replace(/\/$/, ''));
      const frame: Frame = { id: child.id, parentId: parent.id, dirId: child.dirid, path: joinPath(path, child.name!), fd: null, pending: [], cursor: 0n };
      if (child.children) {
        frame.pending = child.children; // prefetched: no search for this one
        frame.cursor = null;
      }
      if (child.info) frame.info = child.info;
      return frame;
    }
    const args = btrfs_ioctl_ino_lookup_user_args.encode({ dirid: child.dirid, treeid: child.id });
    yield* ioctl(parent.fd!, BTRFS_IOC_INO_LOOKUP_USER, args, { ...this.ctx, kind: 'INO_LOOKUP_USER_FAILED' }, { name: 'BTRFS_IOC_INO_LOOKUP_USER' });
    const { name, path: dir } = btrfs_ioctl_ino_lookup_user_args.decode(args);
    const relative = joinPath(dir.replace(/\/$/, ''), name);
    const path = joinPath(parent.path, relative);
    // Enter it to list its own children; a subvolume we may not open is listed but not entered.
    const fd: number = yield { op: 'open', path: `/proc/self/fd/${parent.fd}/${relative}`, flags: O_RDONLY | O_DIRECTORY };
    if (fd < 0 && fd !== EACCES && fd !== EPERM) throw sysError(fd, 'open', { ...this.ctx, kind: 'OPEN_FAILED', path });
    return { id: child.id, parentId: parent.id, dirId: child.dirid, path, fd: fd < 0 ? null : fd, pending: [], cursor: fd < 0 ? null : 0n };
  }

  /**
   * Reads, for a page of siblings at once, what visiting each would otherwise cost a search apiece:
   * their own ROOT_REF items (their children) and, with `info`, their ROOT_ITEMs. One search over the
   * key range (first id, ROOT_ITEM) .. (last id, ROOT_REF) covers them all, since the root tree sorts
   * by subvolume id first. A flat directory of 10,000 subvolumes then takes a few dozen searches
   * instead of 10,000. At most `prefetchTuning.pages` pages are read; siblings past that are fetched one by
   * one as before, so memory stays bounded whatever the fan-out.
   */
  private *prefetch(frame: Frame, siblings: Child[]): Op<void> {
    if (siblings.length < 2) return;
    const byId = new Map(siblings.map((c) => [c.id, c]));
    const children = new Map<bigint, Child[]>();
    const search = new TreeSearch(
      this.fd!,
      {
        treeId: BTRFS_ROOT_TREE_OBJECTID,
        min: { objectid: siblings[0]!.id, type: BTRFS_ROOT_ITEM_KEY, offset: 0n },
        max: { objectid: siblings[siblings.length - 1]!.id, type: BTRFS_ROOT_REF_KEY, offset: U64_MAX },
      },
      this.ctx,
      { bufferSize: prefetchTuning.bufferSize, buffer: this.prefetchBuffer },
    );
    let complete = 0n; // every sibling with a smaller id has been read completely
    for (let pages = 0; pages < prefetchTuning.pages && !search.done; pages++) {
      const page = yield* search.page();
      if (page.length === 0) break;
      for (const item of page) {
        const sibling = byId.get(item.objectid);
        if (!sibling) continue;
        if (item.type === BTRFS_ROOT_REF_KEY) {
          let list = children.get(item.objectid);
          if (!list) children.set(item.objectid, (list = []));
          list.push({ id: item.offset, dirid: btrfs_root_ref.get(item.data, 'dirid'), name: rootRefName(item.data) });
        } else if (item.type === BTRFS_ROOT_ITEM_KEY && this.withInfo) {
          // Decoded now: the payload lives in the reused buffer.
          sibling.info = rootItemInfo(item.data, sibling.id, frame.id, sibling.dirid);
        }
      }
      complete = page[page.length - 1]!.objectid;
    }
    for (const sibling of siblings) {
      if (search.done || sibling.id < complete) sibling.children = children.get(sibling.id) ?? [];
      else delete sibling.info; // not reached: the normal path reads it
    }
  }

  /** Fetches the next page of `frame`'s children into `frame.pending`. */
  private *fetchChildren(frame: Frame): Op<void> {
    if (this.privileged) {
      const search = new TreeSearch(
        this.fd!,
        {
          treeId: BTRFS_ROOT_TREE_OBJECTID,
          min: { objectid: frame.id, type: BTRFS_ROOT_REF_KEY, offset: frame.cursor! },
          max: { objectid: frame.id, type: BTRFS_ROOT_REF_KEY, offset: U64_MAX },
        },
        this.ctx,
        { bufferSize: SEARCH_BUFFER, maxItems: 256, maxItemSize: ROOT_REF_MAX, buffer: this.searchBuffer },
      );
      const page = yield* search.page();
      const fetched: Child[] = [];
      for (const item of page) {
        if (item.type !== BTRFS_ROOT_REF_KEY || item.objectid !== frame.id) continue;
        fetched.push({ id: item.offset, dirid: btrfs_root_ref.get(item.data, 'dirid'), name: rootRefName(item.data) });
      }
      const last = page[page.length - 1];
      // A page that was not full holds the last children: no further (empty) search is needed.
      frame.cursor = last && last.offset < U64_MAX && !search.done ? last.offset + 1n : null;
      yield* this.prefetch(frame, fetched);
      frame.pending.push(...fetched);
      return;
    }
    if (frame.fd === null) {
      frame.cursor = null;
      return;
    }
    const args = btrfs_ioctl_get_subvol_rootref_args.encode({ min_treeid: frame.cursor! });
    const result = yield* ioctl(frame.fd, BTRFS_IOC_GET_SUBVOL_ROOTREF, args, { ...this.ctx, kind: 'GET_SUBVOL_ROOTREF_FAILED' }, {
      name: 'BTRFS_IOC_GET_SUBVOL_ROOTREF',
      allow: [EOVERFLOW], // "more to come", with a valid page
    });
    const count = btrfs_ioctl_get_subvol_rootref_args.get(args, 'num_items');
    for (let i = 0; i < count; i++) {
      const at = ROOTREF_OFFSET + i * ROOTREF_SIZE;
      frame.pending.push({ id: args.readBigUInt64LE(at), dirid: args.readBigUInt64LE(at + 8) });
    }
    frame.cursor = result === EOVERFLOW ? btrfs_ioctl_get_subvol_rootref_args.get(args, 'min_treeid') : null;
  }
}

function coreOf(path: PathOrFd, options: SubvolumeIteratorOptions | undefined): IteratorCore {
  const target = checkPathOrFd(path);
  const opts = checkOptions<SubvolumeIteratorOptions>(options);
  return new IteratorCore(
    target,
    checkOptionalId(opts.top, 'options.top'),
    checkBoolean(opts.info, 'options.info', false),
    checkBoolean(opts.postOrder, 'options.postOrder', false),
  );
}

/**
 * A synchronous iterator over subvolumes (pybtrfs' `SubvolumeIterator`). It opens `path` at
 * construction and releases it when the loop ends, breaks or throws, or on {@link close}.
 *
 * @example
 * ```ts
 * for (const { path, id } of new SubvolumeIterator('/mnt/data')) console.log(id, path);
 * using it = subvolumesSync('/mnt/data', { info: true }); // closes at the end of the scope
 * ```
 */
export class SubvolumeIterator implements IterableIterator<SubvolumeEntry> {
  private readonly core: IteratorCore;

  /**
   * @param path a subvolume (or, with `top`, any directory on the filesystem), or an open descriptor
   * @throws TypeError/RangeError for bad arguments; {@link BtrfsError} when `path` cannot be opened
   *   (OPEN_FAILED), is not on btrfs (NOT_BTRFS) or is not a subvolume root (NOT_SUBVOLUME)
   */
  constructor(path: PathOrFd, options?: SubvolumeIteratorOptions) {
    this.core = coreOf(path, options);
    runSync(this.core.startOp());
  }

  /** The descriptor being iterated on (the caller's, when one was given); null once closed. */
  get fd(): number | null {
    return this.core.fd;
  }

  /** The next subvolume; `done` after the last (the descriptor is then released). */
  next(): IteratorResult<SubvolumeEntry> {
    try {
      const value = runSync(this.core.nextOp());
      if (value === undefined) {
        this.close();
        return { done: true, value: undefined };
      }
      return { done: false, value };
    } catch (error) {
      this.close();
      throw error;
    }
  }

  /** Called by `for...of` on `break`: releases the descriptors. */
  return(): IteratorResult<SubvolumeEntry> {
    this.close();
    return { done: true, value: undefined };
  }

  /** Releases every descriptor the iterator opened. Safe to call twice. */
  close(): void {
    runSync(this.core.closeOp());
  }

  /** The iterator itself, so it works in `for...of`. */
  [Symbol.iterator](): this {
    return this;
  }

  /** Same as {@link close}, for `using`. */
  [Symbol.dispose](): void {
    this.close();
  }
}

/**
 * An async iterator over subvolumes; every step runs off the event loop. The descriptor is opened
 * on the first `next()` (see {@link fd}).
 *
 * @example
 * ```ts
 * for await (const { path, info } of subvolumes('/mnt/data', { info: true })) {
 *   console.log(path, info!.generation);
 * }
 * ```
 */
export class AsyncSubvolumeIterator implements AsyncIterableIterator<SubvolumeEntry> {
  private readonly core: IteratorCore;
  private queue: Promise<unknown> = Promise.resolve();

  /** @param path see {@link SubvolumeIterator} */
  constructor(path: PathOrFd, options?: SubvolumeIteratorOptions) {
    this.core = coreOf(path, options);
  }

  /** The descriptor being iterated on; null before the first `next()` and after close. */
  get fd(): number | null {
    return this.core.fd;
  }

  /** Opens the descriptor now rather than at the first `next()`; resolves to it. */
  async open(): Promise<number> {
    await this.serial(() => runAsync(this.core.startOp()));
    return this.core.fd!;
  }

  /** The next subvolume; `done` after the last (the descriptor is then released). */
  next(): Promise<IteratorResult<SubvolumeEntry>> {
    return this.serial(async () => {
      try {
        const value = await runAsync(this.core.nextOp());
        if (value === undefined) {
          await runAsync(this.core.closeOp());
          return { done: true, value: undefined };
        }
        return { done: false, value };
      } catch (error) {
        await runAsync(this.core.closeOp());
        throw error;
      }
    });
  }

  /** Called by `for await` on `break`: releases the descriptors. */
  async return(): Promise<IteratorResult<SubvolumeEntry>> {
    await this.close();
    return { done: true, value: undefined };
  }

  /** Releases every descriptor the iterator opened. Safe to call twice. */
  close(): Promise<void> {
    return this.serial(() => runAsync(this.core.closeOp()));
  }

  /** The iterator itself, so it works in `for await...of`. */
  [Symbol.asyncIterator](): this {
    return this;
  }

  /** Same as {@link close}, for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  /** Calls run one at a time: `next()` calls made without awaiting still see a consistent walk. */
  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const result = this.queue.then(fn, fn);
    this.queue = result.catch(() => undefined);
    return result;
  }
}

/**
 * Lists the subvolumes below `path`, asynchronously. Equivalent of `btrfs subvolume list -o`, in
 * libbtrfsutil's order. Works unprivileged for one's own subvolumes (with the default `top`).
 * @param path a subvolume root (or any directory with `top`), or an open descriptor
 * @returns an async iterator of {@link SubvolumeEntry}; also has `close()` and `fd`
 * @throws TypeError/RangeError for bad arguments (at once); iteration rejects with BtrfsError
 * @example
 * ```ts
 * for await (const { path, id } of subvolumes('/mnt/data')) console.log(id, path);
 * ```
 */
export function subvolumes(path: PathOrFd, options?: SubvolumeIteratorOptions): AsyncSubvolumeIterator {
  return new AsyncSubvolumeIterator(path, options);
}

/**
 * Synchronous form of {@link subvolumes}.
 * @example
 * ```ts
 * const ids = [...subvolumesSync('/mnt/data')].map((s) => s.id);
 * ```
 */
export function subvolumesSync(path: PathOrFd, options?: SubvolumeIteratorOptions): SubvolumeIterator {
  return new SubvolumeIterator(path, options);
}

/** Every subvolume below the subvolume open at `fd`, collected (for recursive snapshot and delete). @internal */
export function* collectSubvolumes(fd: number, top: bigint, postOrder: boolean): Op<SubvolumeEntry[]> {
  const core = new IteratorCore({ fd }, top, false, postOrder);
  const out: SubvolumeEntry[] = [];
  try {
    for (;;) {
      const entry = yield* core.nextOp();
      if (!entry) return out;
      out.push(entry);
    }
  } finally {
    yield* core.closeOp();
  }
}
