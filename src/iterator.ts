/**
 * Subvolume iteration, in the order libbtrfsutil yields: depth-first, siblings by ascending id,
 * pre-order by default (a subvolume before its descendants) or post-order. Paths are relative to the
 * `top` subvolume.
 *
 * Two ways to read the tree, chosen by privilege:
 * - as root, TREE_SEARCH over the root tree, where a subvolume's items sit together under its id:
 *   its ROOT_ITEM (the info), then one ROOT_REF per child (parent, 156, child: the child's directory
 *   and name); INO_LOOKUP for a child's directory when it is not the parent's root directory;
 * - unprivileged, GET_SUBVOL_ROOTREF on an fd inside each subvolume and INO_LOOKUP_USER for the
 *   child's name and directory. A subvolume the user cannot open is still listed, but not entered
 *   (libbtrfsutil silently drops it; see the kernel-interfaces notes, trap 11).
 *
 * As root the walk reads the root tree in large chunks (see {@link IteratorCore.jump}): ids mostly
 * ascend in the order a depth-first walk visits them, so the chunk read for one subvolume usually
 * holds the items of hundreds that follow, and visiting those needs no system call. A listing of
 * 10,000 subvolumes takes about 35 searches of 256 KiB, where one or two per subvolume were
 * needed before.
 *
 * Memory stays flat: one chunk, and per level of nesting one frame with at most one page of its
 * children, kept as the kernel wrote them (ROOT_REF items in a reused buffer). Nothing is decoded
 * before it is visited: a listing keeps no object per subvolume between two `next()` calls.
 * @module
 */
import * as fs from 'node:fs';
import { btrfsError, type StepContext, sysError } from './errors';
import { BTRFS_ROOT_ITEM_KEY, BTRFS_ROOT_REF_KEY, BTRFS_ROOT_TREE_OBJECTID } from './kernel/constants';
import { toSafeNumber, U64_MAX, viewOf } from './kernel/struct';
import {
  BTRFS_IOC_GET_SUBVOL_ROOTREF,
  BTRFS_IOC_INO_LOOKUP_USER,
  btrfs_ioctl_get_subvol_rootref_args,
  btrfs_ioctl_ino_lookup_user_args,
  ROOTREF_OFFSET,
  ROOTREF_SIZE,
} from './kernel/subvol';
import { close, ioctl, type Op, open, runAsync, runSync, type StatResult } from './op';
import { SEARCH_ARGS_V2_BUF_OFFSET } from './kernel/search';
import { type RawPage, TreeSearch } from './tree-search';
import { type SubvolumeInfo, rootItemInfoAt, infoById, infoOfFd, inoLookupPath, lookupSubvolumeId } from './subvolume-core';
import { checkBoolean, checkOptionalId, checkOptions, checkPathOrFd, contextOf, type PathOrFd, type Target } from './validate';

const { O_RDONLY, O_DIRECTORY } = fs.constants;
const EOVERFLOW = -75;
const EACCES = -13;
const EPERM = -1;
/**
 * Root mode: the largest chunk (result bytes of one search: 256 KiB holds the items of ~480
 * subvolumes), and the largest page of a frame's children, in 16 KiB units (64 KiB holds ~1,100
 * ROOT_REF items of short names). Larger chunks save searches but touch more memory: after a fork
 * each 4 KiB page first written costs a copy-on-write fault, ~20 µs here, and 1 MiB chunks made
 * the first listing after a child process ~6 ms slower. Async iterators too: reading 1 MiB per
 * trip to the thread pool saved trips (~0.1-0.3 ms each here) but lost more to those faults when
 * other processes are started in between (bench scenario 2). Tests shrink both to exercise chunks
 * and pages that stop part-way.
 * @internal
 */
export const prefetchTuning = { bufferSize: 262144, pages: 4 };
/** The first chunk; a chunk more than half full asks for four times more next time. */
const FIRST_CHUNK = 65536;
/** The first listing of a frame's own ROOT_REF items (most subvolumes have few children). */
const FIRST_LISTING = 16384;
/** The largest ROOT_REF payload: the 18-byte btrfs_root_ref and a 255-byte name. */
const ROOT_REF_MAX = 18 + 255;
/** No item is larger than a leaf (64 KiB at most): a chunk with that much room left is the end of its range. */
const ITEM_MAX = 65536;
/** btrfs_ioctl_search_header: transid, objectid, offset (u64), type, len (u32), host order. */
const H_OBJECTID = 8;
const H_OFFSET = 16;
const H_TYPE = 24;
const H_LEN = 28;
const HEADER = 32;
/** btrfs_root_ref: dirid (le64), sequence (le64), name_len (le16), then the name. */
const REF_NAME_LEN = 16;
const REF_NAME = 18;
/** The root directory of every subvolume: a child there needs no INO_LOOKUP. */
const ROOT_DIR = 256;
const TWO_32 = 0x1_0000_0000;
/** Directory paths remembered per frame (INO_LOOKUP results), at most. */
const DIR_CACHE = 1024;
const HOST_LE = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
/** What the walk needs: a listing of the frame's own children, a chunk, a directory's path, a root item. */
const NEED_LIST = 1;
const NEED_JUMP = 2;
const NEED_DIR = 3;
const NEED_INFO = 4;
/** Row state in the chunk index: every ROOT_REF of the subvolume is in the chunk. */
const COMPLETE = -1;

/**
 * Chunk and page buffers of closed iterators, for the next ones: the kernel writing into fresh
 * memory takes a page fault per 4 KiB, which made a 1 MiB search ~5 ms instead of ~0.8. The
 * {@link SPARES} largest are kept.
 */
const spares: Buffer[] = [];
const SPARES = 4;

/** The smallest spare of at least `size` bytes, or a new buffer. */
function takeSpare(size: number): Buffer {
  let best = -1;
  for (let i = 0; i < spares.length; i++) {
    const length = spares[i]!.length;
    if (length >= size && (best < 0 || length < spares[best]!.length)) best = i;
  }
  if (best >= 0) return spares.splice(best, 1)[0]!;
  return Buffer.allocUnsafeSlow(size); // the kernel writes what we read
}

function giveSpare(buf: Buffer | undefined): void {
  if (buf === undefined) return;
  if (spares.length < SPARES) {
    spares.push(buf);
    return;
  }
  let smallest = 0;
  for (let i = 1; i < spares.length; i++) if (spares[i]!.length < spares[smallest]!.length) smallest = i;
  if (spares[smallest]!.length < buf.length) spares[smallest] = buf;
}

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

/** Unprivileged mode: a child found by GET_SUBVOL_ROOTREF, not yet visited. */
interface Child {
  id: number;
  dirid: number;
}

/** One level of the depth-first walk. */
interface Frame {
  id: number;
  /** Where it hangs (from its ROOT_REF): the parent subvolume and the directory inode there. */
  parentId: number;
  dirId: number;
  path: string;
  /** Its info, read when it was visited. */
  info: SubvolumeInfo | undefined;
  /** The smallest child id not fetched yet, or null once every child was fetched. */
  cursor: number | null;
  /** Root mode: a page of its children, ROOT_REF items (header and payload) in buf[at, end). */
  buf: Buffer | null;
  view: DataView | null;
  at: number;
  end: number;
  /** Root mode: it listed its own children once already (the next listing asks for a full page). */
  listed: boolean;
  /** Root mode: paths of directories holding its children, by inode (INO_LOOKUP results). */
  dirs: Map<number, string> | null;
  /** Unprivileged mode: an fd inside this subvolume (null when it could not be opened). */
  fd: number | null;
  /** Unprivileged mode: children fetched, visited from index `next` on. */
  pending: Child[];
  next: number;
}

function frame(id: number, parentId: number, dirId: number, path: string, info: SubvolumeInfo | undefined, cursor: number | null, fd: number | null): Frame {
  return { id, parentId, dirId, path, info, cursor, buf: null, view: null, at: 0, end: 0, listed: false, dirs: null, fd, pending: [], next: 0 };
}

const joinPath = (a: string, b: string): string => (a === '' ? b : `${a}/${b}`);

/** A u64 (host order in a search header, little-endian on disk) as a number; RangeError past 2^53, as toSafeNumber. */
function u64At(view: DataView, at: number, le: boolean, what: string): number {
  const high = view.getUint32(at + (le ? 4 : 0), le);
  const low = view.getUint32(at + (le ? 0 : 4), le);
  if (high > 0x1fffff) return toSafeNumber(view.getBigUint64(at, le), what);
  return high * TWO_32 + low;
}

/**
 * The iteration logic, as operations a sync or an async driver runs. Not public: see
 * {@link SubvolumeIterator} and {@link AsyncSubvolumeIterator}.
 * @internal
 */
export class IteratorCore {
  fd: number | null = null;
  private stack: Frame[] = [];
  private started = false;
  private closed = false;
  private readonly privileged: boolean;
  private readonly ctx: StepContext;
  private readonly top: number;

  // ---- root mode ----
  /** The chunk: the last search over the root tree (in `chunkBuf`, from the spares), and its view. */
  private chunkBuf: Buffer | undefined;
  private chunk: Buffer | null = null;
  private view: DataView | null = null;
  /** Result bytes the next chunk asks for. */
  private chunkSize: number;
  /** The largest chunk, and the largest page of children (bytes). */
  private readonly chunkMax: number;
  private readonly pageMax: number;
  /**
   * The chunk's index, one row per subvolume id in it, ascending: where its ROOT_ITEM is (-1: not
   * there), where its ROOT_REF items start and end, and COMPLETE, or the first child id the chunk
   * stopped before (0 when it stopped before the ROOT_REF items).
   */
  private rows = 0;
  private rowId: Float64Array = new Float64Array(256);
  private rowItem: Int32Array = new Int32Array(256);
  private rowRefs: Int32Array = new Int32Array(256);
  private rowRefsEnd: Int32Array = new Int32Array(256);
  private rowMore: Float64Array = new Float64Array(256);
  /** Ids the chunk has read all items of: [from, to). */
  private from = 0;
  private to = 0;
  /** The largest child id in any page so far: chunks read no further. */
  private last = 0;
  /** What {@link walk} needs before it can go on, and for which id (or directory inode). */
  private need = NEED_JUMP;
  private needId = 0;
  /** The info infoById read for the child `walk` stopped at. */
  private fetched: SubvolumeInfo | null = null;
  /** Page buffers by depth, reused: the frame at depth d owns pagePool[d]. */
  private readonly pagePool: (Buffer | undefined)[] = [];
  private readonly pageViews: (DataView | undefined)[] = [];

  constructor(
    readonly target: Target,
    top: bigint,
    private readonly withInfo: boolean,
    private readonly postOrder: boolean,
    privileged = process.geteuid?.() === 0,
  ) {
    this.privileged = privileged;
    this.chunkMax = prefetchTuning.bufferSize;
    this.pageMax = prefetchTuning.pages * 16384;
    this.chunkSize = Math.min(FIRST_CHUNK, this.chunkMax);
    this.ctx = contextOf('subvolumes', 'SEARCH_FAILED', target);
    this.top = toSafeNumber(top, 'options.top');
  }

  /** Opens the top and pushes its frame. */
  *startOp(): Op<void> {
    if (this.started) return;
    this.started = true;
    this.fd = this.target.fd ?? (yield* open(this.target.path!, O_RDONLY, this.ctx));
    let top = this.top;
    if (top === 0) {
      top = Number(yield* lookupSubvolumeId(this.fd, this.ctx));
      const st: StatResult | number = yield { op: 'fstat', fd: this.fd };
      if (typeof st === 'number') throw sysError(st, 'fstat', { ...this.ctx, kind: 'STAT_FAILED' });
      if (st.ino !== 256) throw btrfsError('NOT_SUBVOLUME', -22, 'fstat', this.ctx);
    } else if (!this.privileged) {
      const own = Number(yield* lookupSubvolumeId(this.fd, this.ctx));
      if (own !== top) throw sysError(EPERM, 'ioctl', this.ctx, 'SEARCH_FAILED', 'BTRFS_IOC_TREE_SEARCH');
    }
    if (!this.privileged) {
      // The top frame needs an fd inside the top subvolume: the one we have.
      this.stack.push(frame(top, 0, 0, '', undefined, 0, this.fd));
      return;
    }
    // The first chunk reads on past the top's items: its children's usually follow.
    this.last = Number.MAX_SAFE_INTEGER;
    yield* this.jump(top);
    this.last = top;
    const row = this.find(top);
    const f = frame(top, 0, 0, '', undefined, null, null);
    if (row >= 0) this.fill(f, 0, row);
    else f.cursor = 0; // no items: let a listing say so
    this.stack.push(f);
  }

  /** The next entry, or undefined at the end. */
  *nextOp(): Op<SubvolumeEntry | undefined> {
    if (this.closed) return undefined;
    if (!this.started) yield* this.startOp();
    return this.privileged ? yield* this.nextRoot() : yield* this.nextUser();
  }

  /** Releases every descriptor the iterator opened (never the caller's). Idempotent. */
  *closeOp(): Op<void> {
    if (this.closed) return;
    this.closed = true;
    const frames = this.stack.splice(0);
    giveSpare(this.chunkBuf);
    for (const buf of this.pagePool) giveSpare(buf);
    this.chunkBuf = undefined;
    this.chunk = null;
    this.view = null;
    this.pagePool.length = 0;
    this.pageViews.length = 0;
    for (const f of frames) if (f.fd !== null && f.fd !== this.fd) yield* close(f.fd);
    if (this.fd !== null && this.target.fd === undefined) yield* close(this.fd);
    this.fd = null;
  }

  private entry(f: Frame): SubvolumeEntry {
    return this.withInfo ? { path: f.path, id: f.id, info: f.info } : { path: f.path, id: f.id };
  }

  // ---- root mode ----

  /**
   * The walk, up to the next entry as far as it goes without a system call: the entry, undefined
   * at the end, or null when it needs one first (`need` says which). It only moves past a child
   * once it has everything about it, so after the call it is asked again for the same child.
   */
  private walk(): SubvolumeEntry | undefined | null {
    for (;;) {
      const parent = this.stack[this.stack.length - 1];
      if (!parent) return undefined;
      if (parent.at === parent.end) {
        if (parent.cursor !== null) {
          this.need = NEED_LIST;
          return null;
        }
        this.stack.pop();
        if (this.postOrder && this.stack.length > 0) return this.entry(parent);
        continue;
      }
      // The next child, from the parent's page.
      const page = parent.buf!;
      const pview = parent.view!;
      const at = parent.at;
      const next = at + HEADER + pview.getUint32(at + H_LEN, HOST_LE);
      if (pview.getUint32(at + H_TYPE, HOST_LE) !== BTRFS_ROOT_REF_KEY) {
        parent.at = next;
        continue;
      }
      const id = u64At(pview, at + H_OFFSET, HOST_LE, 'id');
      const row = this.find(id);
      // Not in the chunk, or the chunk stopped inside its items: a chunk from it holds them, and what follows.
      if (row < 0 ? !(id >= this.from && id < this.to) : this.rowMore[row] !== COMPLETE && this.from !== id) {
        this.need = NEED_JUMP;
        this.needId = id;
        return null;
      }
      const dirid = u64At(pview, at + HEADER, true, 'dirid');
      let dir = '';
      if (dirid !== ROOT_DIR) {
        const known = parent.dirs?.get(dirid);
        if (known === undefined) {
          this.need = NEED_DIR;
          this.needId = dirid;
          return null;
        }
        dir = known;
      }
      let info: SubvolumeInfo | undefined;
      if (this.withInfo) {
        if (row >= 0 && this.rowItem[row]! >= 0) info = this.decode(this.rowItem[row]!, id, parent, dirid);
        else if (this.fetched?.id === id) info = this.fetched;
        else {
          this.need = NEED_INFO;
          this.needId = id;
          return null;
        }
        this.fetched = null;
      }
      parent.at = next;
      const name = page.toString('utf8', at + HEADER + REF_NAME, at + HEADER + REF_NAME + page.readUInt16LE(at + HEADER + REF_NAME_LEN));
      const path = joinPath(dir === '' ? parent.path : joinPath(parent.path, dir), name);
      // A leaf needs no frame. No row although the chunk covers it: no items left (deleted meanwhile).
      if (row < 0 || (this.rowRefs[row]! < 0 && this.rowMore[row] === COMPLETE)) {
        return this.withInfo ? { path, id, info } : { path, id };
      }
      const f = frame(id, parent.id, dirid, path, info, null, null);
      this.fill(f, this.stack.length, row);
      this.stack.push(f);
      if (!this.postOrder) return this.entry(f);
    }
  }

  /**
   * The next entry when getting it needs no system call (most, as root); null when it does, or
   * at the end: then {@link nextOp}.
   */
  fastNext(): SubvolumeEntry | null {
    if (!this.privileged || !this.started || this.closed) return null;
    return this.walk() ?? null;
  }

  private *nextRoot(): Op<SubvolumeEntry | undefined> {
    for (;;) {
      const entry = this.walk();
      if (entry !== null) return entry;
      const parent = this.stack[this.stack.length - 1]!;
      if (this.need === NEED_LIST) yield* this.list(parent);
      else if (this.need === NEED_JUMP) yield* this.jump(this.needId);
      else if (this.need === NEED_DIR) {
        const dir = (yield* inoLookupPath(this.fd!, BigInt(parent.id), BigInt(this.needId), this.ctx)).replace(/\/$/, '');
        const dirs = (parent.dirs ??= new Map());
        if (dirs.size >= DIR_CACHE) dirs.clear();
        dirs.set(this.needId, dir);
      } else {
        // No ROOT_ITEM in the chunk (deleted meanwhile): its own search, which says so.
        const dirid = u64At(parent.view!, parent.at + HEADER, true, 'dirid');
        this.fetched = yield* infoById(this.fd!, BigInt(this.needId), this.ctx, { parentId: BigInt(parent.id), dirId: BigInt(dirid) });
      }
    }
  }

  /** A ROOT_ITEM in the chunk (header at `at`) as a SubvolumeInfo. */
  private decode(at: number, id: number, parent: Frame, dirId: number): SubvolumeInfo {
    return rootItemInfoAt(this.chunk!, this.view!, at + HEADER, this.view!.getUint32(at + H_LEN, HOST_LE), id, parent.id, dirId);
  }

  /**
   * Gives frame `f` (at `depth`) the page of children chunk row `row` holds: its ROOT_REF items,
   * copied into the depth's page buffer, at most a page; the rest is listed when the page is done.
   */
  private fill(f: Frame, depth: number, row: number): void {
    const start = this.rowRefs[row]!;
    const more = this.rowMore[row]!;
    if (start < 0) {
      f.cursor = more === COMPLETE ? null : 0;
      return;
    }
    const view = this.view!;
    const cap = this.pageMax;
    let end = this.rowRefsEnd[row]!;
    let cursor: number | null = more === COMPLETE ? null : more;
    if (end - start > cap) {
      // Whole items up to a page; the first one left out is where the listing resumes.
      let at = start;
      for (;;) {
        const next = at + HEADER + view.getUint32(at + H_LEN, HOST_LE);
        if (next - start > cap) break;
        at = next;
      }
      end = at;
      cursor = u64At(view, at + H_OFFSET, HOST_LE, 'id');
    }
    const size = end - start;
    const buf = this.pageBuffer(depth, size);
    this.chunk!.copy(buf, 0, start, end);
    f.buf = buf;
    f.view = this.pageViews[depth]!;
    f.at = 0;
    f.end = size;
    f.cursor = cursor;
    f.listed = cursor !== null && cursor > 0; // many children: list full pages
    const lastId = u64At(view, this.lastItem(view, start, end) + H_OFFSET, HOST_LE, 'id');
    if (lastId > this.last) this.last = lastId;
  }

  /** The page buffer of `depth`, at least `size` bytes. */
  private pageBuffer(depth: number, size: number): Buffer {
    const buf = this.pagePool[depth];
    if (buf !== undefined && buf.length >= size) return buf;
    giveSpare(buf);
    const grown = takeSpare(Math.max(size, 2 * (buf?.length ?? 0), 1024));
    this.pagePool[depth] = grown;
    this.pageViews[depth] = viewOf(grown);
    return grown;
  }

  /** The offset of the last item in packed items [at, end). */
  private lastItem(view: DataView, at: number, end: number): number {
    let last = at;
    while (at < end) {
      last = at;
      at += HEADER + view.getUint32(at + H_LEN, HOST_LE);
    }
    return last;
  }

  /** The chunk row of subvolume `id`, or -1. */
  private find(id: number): number {
    let lo = 0;
    let hi = this.rows - 1;
    const rowId = this.rowId;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const v = rowId[mid]!;
      if (v === id) return mid;
      if (v < id) lo = mid + 1;
      else hi = mid - 1;
    }
    return -1;
  }

  /**
   * Reads a new chunk: the root tree from subvolume `id`'s first item on, up to the items of the
   * largest child id known (further holds nothing the walk may visit), in one search of up to
   * `chunkMax` bytes, and indexes it. A chunk read for one child usually holds its
   * siblings' items, its own children's and theirs.
   */
  private *jump(id: number): Op<void> {
    const size = this.chunkSize;
    if (this.chunk === null || this.chunk.length !== SEARCH_ARGS_V2_BUF_OFFSET + size) {
      const full = SEARCH_ARGS_V2_BUF_OFFSET + this.chunkMax;
      if (this.chunkBuf === undefined || this.chunkBuf.length < full) this.chunkBuf = takeSpare(full);
      this.chunk = this.chunkBuf.subarray(0, SEARCH_ARGS_V2_BUF_OFFSET + size);
      this.view = viewOf(this.chunk);
    }
    const max = Math.max(this.last, id);
    const search = new TreeSearch(
      this.fd!,
      {
        treeId: BTRFS_ROOT_TREE_OBJECTID,
        min: { objectid: BigInt(id), type: BTRFS_ROOT_ITEM_KEY, offset: 0n },
        max: { objectid: BigInt(max), type: BTRFS_ROOT_REF_KEY, offset: U64_MAX },
      },
      this.ctx,
      { bufferSize: size, maxItems: 0xffffffff, maxItemSize: ITEM_MAX, buffer: this.chunk },
    );
    this.rows = 0;
    this.from = id;
    this.to = id;
    const page = yield* search.rawPage();
    const position = search.position;
    if (page) this.index(page);
    if (position === null) {
      this.to = max + 1;
      return;
    }
    // The chunk stopped inside the items of position.objectid: its row is incomplete.
    const stopped = Number(position.objectid);
    this.to = position.type > BTRFS_ROOT_REF_KEY ? stopped + 1 : stopped;
    const row = this.rows > 0 && this.rowId[this.rows - 1] === stopped ? this.rows - 1 : -1;
    if (row >= 0 && position.type <= BTRFS_ROOT_REF_KEY) this.rowMore[row] = position.type === BTRFS_ROOT_REF_KEY ? Number(position.offset) : 0;
  }

  /** Builds the chunk index from a search page; the chunk grows when a page fills more than half of it. */
  private index(page: RawPage): void {
    if (page.buf !== this.chunk) {
      // TREE_SEARCH (v1) brings its own buffer.
      this.chunk = page.buf;
      this.view = viewOf(page.buf);
    }
    const view = this.view!;
    let rows = 0;
    let current = -1;
    let at = page.start;
    for (let i = 0; i < page.count; i++) {
      const high = view.getUint32(at + H_OBJECTID + (HOST_LE ? 4 : 0), HOST_LE);
      const low = view.getUint32(at + H_OBJECTID + (HOST_LE ? 0 : 4), HOST_LE);
      const objectid = high * TWO_32 + low; // the range holds no id past 2^53
      const type = view.getUint32(at + H_TYPE, HOST_LE);
      if (objectid !== current) {
        if (rows === this.rowId.length) this.growIndex();
        current = objectid;
        this.rowId[rows] = objectid;
        this.rowItem[rows] = -1;
        this.rowRefs[rows] = -1;
        this.rowMore[rows] = COMPLETE;
        rows++;
      }
      const next = at + HEADER + view.getUint32(at + H_LEN, HOST_LE);
      if (type === BTRFS_ROOT_ITEM_KEY) {
        if (this.rowItem[rows - 1]! < 0) this.rowItem[rows - 1] = at;
      } else if (type === BTRFS_ROOT_REF_KEY) {
        if (this.rowRefs[rows - 1]! < 0) this.rowRefs[rows - 1] = at;
        this.rowRefsEnd[rows - 1] = next;
      }
      at = next;
    }
    this.rows = rows;
    const size = this.chunk!.length - SEARCH_ARGS_V2_BUF_OFFSET;
    if ((at - page.start) * 2 > size && size < this.chunkMax) this.chunkSize = Math.min(size * 4, this.chunkMax);
  }

  private growIndex(): void {
    const n = this.rowId.length * 2;
    const grow64 = (a: Float64Array): Float64Array => {
      const b = new Float64Array(n);
      b.set(a);
      return b;
    };
    const grow32 = (a: Int32Array): Int32Array => {
      const b = new Int32Array(n);
      b.set(a);
      return b;
    };
    this.rowId = grow64(this.rowId);
    this.rowMore = grow64(this.rowMore);
    this.rowItem = grow32(this.rowItem);
    this.rowRefs = grow32(this.rowRefs);
    this.rowRefsEnd = grow32(this.rowRefsEnd);
  }

  /**
   * Lists `f`'s own ROOT_REF items from its cursor into its page buffer: the children a chunk did
   * not hold, or past a full page.
   */
  private *list(f: Frame): Op<void> {
    const cap = this.pageMax;
    const size = f.listed ? cap : Math.min(FIRST_LISTING, cap);
    f.listed = true;
    const depth = this.stack.length - 1;
    const buf = this.pageBuffer(depth, SEARCH_ARGS_V2_BUF_OFFSET + size).subarray(0, SEARCH_ARGS_V2_BUF_OFFSET + size);
    const search = new TreeSearch(
      this.fd!,
      {
        treeId: BTRFS_ROOT_TREE_OBJECTID,
        min: { objectid: BigInt(f.id), type: BTRFS_ROOT_REF_KEY, offset: BigInt(f.cursor!) },
        max: { objectid: BigInt(f.id), type: BTRFS_ROOT_REF_KEY, offset: U64_MAX },
      },
      this.ctx,
      { bufferSize: size, maxItems: 0xffffffff, maxItemSize: ROOT_REF_MAX, buffer: buf },
    );
    const page = yield* search.rawPage();
    const position = search.position;
    f.cursor = position === null ? null : Number(position.offset);
    if (!page) {
      f.at = f.end = 0;
      f.cursor = null;
      return;
    }
    // The pool buffer, or TREE_SEARCH (v1)'s own.
    const view = page.buf.buffer === buf.buffer ? this.pageViews[depth]! : viewOf(page.buf);
    f.buf = page.buf;
    f.view = view;
    f.at = page.start;
    f.end = page.start;
    for (let i = 0; i < page.count; i++) f.end += HEADER + view.getUint32(f.end + H_LEN, HOST_LE);
    const lastId = u64At(view, this.lastItem(view, page.start, f.end) + H_OFFSET, HOST_LE, 'id');
    if (lastId > this.last) this.last = lastId;
  }

  // ---- unprivileged mode ----

  private *nextUser(): Op<SubvolumeEntry | undefined> {
    for (;;) {
      const parent = this.stack[this.stack.length - 1];
      if (!parent) return undefined;
      if (parent.next === parent.pending.length && parent.cursor !== null) {
        parent.pending = [];
        parent.next = 0;
        yield* this.fetchUser(parent);
      }
      if (parent.next === parent.pending.length) {
        this.stack.pop();
        if (parent.fd !== null && parent.fd !== this.fd) yield* close(parent.fd);
        if (this.postOrder && this.stack.length > 0) return yield* this.entryUser(parent);
        continue;
      }
      const f = yield* this.visitUser(parent, parent.pending[parent.next++]!);
      this.stack.push(f);
      if (!this.postOrder) return yield* this.entryUser(f);
    }
  }

  private *entryUser(f: Frame): Op<SubvolumeEntry> {
    if (this.withInfo && f.info === undefined) {
      // GET_SUBVOL_INFO needs an fd inside it: one we could not open is an error.
      if (f.fd === null) throw sysError(EACCES, 'open', { ...this.ctx, kind: 'OPEN_FAILED', path: f.path });
      f.info = yield* infoOfFd(f.fd, this.ctx);
    }
    return this.entry(f);
  }

  /** The child's name and directory from INO_LOOKUP_USER; enters it to list its own children. */
  private *visitUser(parent: Frame, c: Child): Op<Frame> {
    const args = btrfs_ioctl_ino_lookup_user_args.encode({ dirid: BigInt(c.dirid), treeid: BigInt(c.id) });
    yield* ioctl(parent.fd!, BTRFS_IOC_INO_LOOKUP_USER, args, { ...this.ctx, kind: 'INO_LOOKUP_USER_FAILED' }, { name: 'BTRFS_IOC_INO_LOOKUP_USER' });
    const { name, path: dir } = btrfs_ioctl_ino_lookup_user_args.decode(args);
    const relative = dir === '' ? name : joinPath(dir.replace(/\/$/, ''), name);
    const path = parent.path === '' ? relative : joinPath(parent.path, relative);
    // A subvolume we may not open is listed but not entered.
    const fd: number = yield { op: 'open', path: `/proc/self/fd/${parent.fd}/${relative}`, flags: O_RDONLY | O_DIRECTORY };
    if (fd < 0 && fd !== EACCES && fd !== EPERM) throw sysError(fd, 'open', { ...this.ctx, kind: 'OPEN_FAILED', path });
    return frame(c.id, parent.id, c.dirid, path, undefined, fd < 0 ? null : 0, fd < 0 ? null : fd);
  }

  /** Fetches the next page of `f`'s children (GET_SUBVOL_ROOTREF) into `f.pending`. */
  private *fetchUser(f: Frame): Op<void> {
    if (f.fd === null) {
      f.cursor = null;
      return;
    }
    const args = btrfs_ioctl_get_subvol_rootref_args.encode({ min_treeid: BigInt(f.cursor!) });
    const result = yield* ioctl(f.fd, BTRFS_IOC_GET_SUBVOL_ROOTREF, args, { ...this.ctx, kind: 'GET_SUBVOL_ROOTREF_FAILED' }, {
      name: 'BTRFS_IOC_GET_SUBVOL_ROOTREF',
      allow: [EOVERFLOW], // "more to come", with a valid page
    });
    const count = btrfs_ioctl_get_subvol_rootref_args.get(args, 'num_items');
    for (let i = 0; i < count; i++) {
      const at = ROOTREF_OFFSET + i * ROOTREF_SIZE;
      f.pending.push({ id: toSafeNumber(args.readBigUInt64LE(at), 'id'), dirid: toSafeNumber(args.readBigUInt64LE(at + 8), 'dirid') });
    }
    f.cursor = result === EOVERFLOW ? toSafeNumber(btrfs_ioctl_get_subvol_rootref_args.get(args, 'min_treeid'), 'id') : null;
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
      // Most entries need no system call: no operation to drive for them.
      const value = this.core.fastNext() ?? runSync(this.core.nextOp());
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
  private busy = 0;

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

  /**
   * The next subvolume; `done` after the last (the descriptor is then released). Most entries need
   * no system call (a search reads hundreds at once): when no call is in flight they are taken here,
   * and only a walk that needs one goes to the thread pool.
   */
  next(): Promise<IteratorResult<SubvolumeEntry>> {
    if (this.busy === 0) {
      let value: SubvolumeEntry | null;
      try {
        value = this.core.fastNext();
      } catch (error) {
        return this.serial(() => this.fail(error));
      }
      if (value !== null) return Promise.resolve({ done: false, value });
    }
    return this.serial(() => this.finish(this.core.nextOp()));
  }

  /** Runs the rest of a `nextOp` off the event loop; closes at the end or on failure. */
  private async finish(op: Op<SubvolumeEntry | undefined>): Promise<IteratorResult<SubvolumeEntry>> {
    let value: SubvolumeEntry | undefined;
    try {
      value = await runAsync(op);
    } catch (error) {
      return this.fail(error);
    }
    if (value === undefined) {
      await runAsync(this.core.closeOp());
      return { done: true, value: undefined };
    }
    return { done: false, value };
  }

  private async fail(error: unknown): Promise<never> {
    await runAsync(this.core.closeOp());
    throw error;
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

  /**
   * Calls run one at a time: `next()` calls made without awaiting still see a consistent walk.
   * `busy` counts the calls queued or running; it drops before the caller sees the result.
   */
  private serial<T>(fn: () => Promise<T>): Promise<T> {
    this.busy++;
    const run = async (): Promise<T> => {
      try {
        return await fn();
      } finally {
        this.busy--;
      }
    };
    const result = this.queue.then(run, run);
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
