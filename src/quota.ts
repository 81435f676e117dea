/**
 * Quotas and qgroups: pybtrfs' quota API (quota_enable, qgroup_limit, qgroup_info, ...) with Promise
 * and `*Sync` forms, plus {@link quotaStatus} and the qgroup relations, so callers can tell whether
 * the numbers are trustworthy and how groups nest. Everything here needs root (CAP_SYS_ADMIN).
 *
 * Facts it is built on (../shared/docs/kernel-interfaces.md §5.8): with quotas off every qgroup ioctl
 * fails with ENOTCONN and a search of the quota tree with ENOENT, which is reported as ENOTCONN too;
 * QGROUP_LIMIT touches only the fields whose flag is set, 2^64 - 1 clears a limit and 0 is a real
 * limit of zero bytes; QUOTA_RESCAN_WAIT restarts after signals (SA_RESTART), so the abortable wait
 * polls QUOTA_RESCAN_STATUS instead of blocking a thread it could not get back.
 * @module
 */
import * as fs from 'node:fs';
import { argTypeError, argValueError, BtrfsError, errnoText, rangeError, type StepContext, sysError } from './errors';
import { legacyIoctls } from './features';
import {
  BTRFS_QGROUP_INFO_KEY,
  BTRFS_QGROUP_LEVEL_SHIFT,
  BTRFS_QGROUP_LIMIT_KEY,
  BTRFS_QGROUP_RELATION_KEY,
  BTRFS_QGROUP_STATUS_KEY,
  BTRFS_QUOTA_TREE_OBJECTID,
} from './kernel/constants';
import {
  BTRFS_IOC_QGROUP_ASSIGN,
  BTRFS_IOC_QGROUP_CREATE,
  BTRFS_IOC_QGROUP_LIMIT,
  BTRFS_IOC_QUOTA_CTL,
  BTRFS_IOC_QUOTA_RESCAN,
  BTRFS_IOC_QUOTA_RESCAN_STATUS,
  BTRFS_IOC_QUOTA_RESCAN_WAIT,
  BTRFS_QGROUP_LIMIT_MAX_EXCL,
  BTRFS_QGROUP_LIMIT_MAX_RFER,
  BTRFS_QGROUP_LIMIT_RSV_EXCL,
  BTRFS_QGROUP_LIMIT_RSV_RFER,
  BTRFS_QGROUP_STATUS_FLAG_INCONSISTENT,
  BTRFS_QGROUP_STATUS_FLAG_ON,
  BTRFS_QGROUP_STATUS_FLAG_SIMPLE_MODE,
  BTRFS_QUOTA_CTL_DISABLE,
  BTRFS_QUOTA_CTL_ENABLE,
  BTRFS_QUOTA_CTL_ENABLE_SIMPLE_QUOTA,
  BTRFS_QUOTA_CTL_RESCAN__NOTUSED,
  btrfs_ioctl_qgroup_assign_args,
  btrfs_ioctl_qgroup_create_args,
  btrfs_ioctl_qgroup_limit_args,
  btrfs_ioctl_quota_ctl_args,
  btrfs_ioctl_quota_rescan_args,
  btrfs_qgroup_info_item,
  btrfs_qgroup_limit_item,
  btrfs_qgroup_status_item,
  statusItemEnableGen,
} from './kernel/quota';
import { BTRFS_IOC_TREE_SEARCH_V2, btrfs_ioctl_search_args_v2, btrfs_ioctl_search_key, SEARCH_ARGS_V2_BUF_OFFSET, type SearchItem } from './kernel/search';
import { le64Number, toNumberOrNull, toSafeNumber, U64_MAX, viewOf } from './kernel/struct';
import { argBuffer, classify, ioctl, type IoctlOptions, type Op, openTarget, releaseTarget, runAsync, runSync, targetIoctl, withTarget } from './op';
import { type Key, type SearchRange, TreeSearch } from './tree-search';
import { checkOptions, checkPathOrFd, checkQgroupId, contextOf, type PathOrFd, type Target } from './validate';

const { O_RDONLY } = fs.constants;
const EINTR = -4;
const ENOTTY = -25;
const ENOTCONN = -107;
const EBUSY = -16;

// ---- public constants and qgroup id helpers ----

/**
 * Flags of the quota status item ({@link QuotaStatusEnabled.flags}), as `btrfs inspect-internal
 * dump-tree -t quota` shows them. SIMPLE_MODE (8) is newer than the 6.1 UAPI headers.
 * @example
 * ```ts
 * const s = await quotaStatus('/mnt/data');
 * if (s.enabled && s.flags & QgroupStatusFlags.INCONSISTENT) await quotaRescan('/mnt/data');
 * ```
 */
export const QgroupStatusFlags = {
  /** Quotas are on. */
  ON: 1,
  /** A rescan is in progress. */
  RESCAN: 2,
  /** The numbers are known to be out of date until a rescan. */
  INCONSISTENT: 4,
  /** Simple quotas (squota): new extents are charged to the subvolume that wrote them. */
  SIMPLE_MODE: 8,
} as const;
/** One of the {@link QgroupStatusFlags} values. */
export type QgroupStatusFlags = (typeof QgroupStatusFlags)[keyof typeof QgroupStatusFlags];

/**
 * Which limits of a qgroup are set ({@link QgroupInfo.limitFlags}); a field whose flag is clear has
 * no limit, whatever value is stored.
 * @example
 * ```ts
 * const [root] = await qgroupInfo('/mnt/data');
 * console.log((root.limitFlags & QgroupLimitFlags.MAX_RFER) !== 0, root.maxRfer);
 * ```
 */
export const QgroupLimitFlags = {
  /** Referenced bytes are limited (maxRfer). */
  MAX_RFER: 1,
  /** Exclusive bytes are limited (maxExcl). */
  MAX_EXCL: 2,
  /** Referenced bytes are reserved (rsvRfer). */
  RSV_RFER: 4,
  /** Exclusive bytes are reserved (rsvExcl). */
  RSV_EXCL: 8,
} as const;
/** One of the {@link QgroupLimitFlags} values. */
export type QgroupLimitFlags = (typeof QgroupLimitFlags)[keyof typeof QgroupLimitFlags];

/**
 * The QUOTA_CTL commands, for parity with pybtrfs' `QuotaCtl`. The functions use them for you:
 * {@link quotaEnable} (ENABLE), {@link quotaEnableSimple} (ENABLE_SIMPLE_QUOTA, newer than the 6.1
 * headers) and {@link quotaDisable} (DISABLE). RESCAN__NOTUSED is refused by the kernel.
 */
export const QuotaCtl = {
  ENABLE: Number(BTRFS_QUOTA_CTL_ENABLE),
  DISABLE: Number(BTRFS_QUOTA_CTL_DISABLE),
  RESCAN__NOTUSED: Number(BTRFS_QUOTA_CTL_RESCAN__NOTUSED),
  ENABLE_SIMPLE_QUOTA: Number(BTRFS_QUOTA_CTL_ENABLE_SIMPLE_QUOTA),
} as const;
/** One of the {@link QuotaCtl} values. */
export type QuotaCtl = (typeof QuotaCtl)[keyof typeof QuotaCtl];

/**
 * A qgroup id as the functions accept it: the number `(level << 48) | id`, a bigint (for levels of
 * 32 and above, which numbers cannot hold exactly), or the string `'level/id'` (`'1/100'`).
 */
export type QgroupIdLike = number | bigint | string;

const SHIFT = BigInt(BTRFS_QGROUP_LEVEL_SHIFT);
const ID_MASK = (1n << SHIFT) - 1n;
const levelOf = (qgroupid: bigint): number => Number(qgroupid >> SHIFT);
const format = (qgroupid: bigint): string => `${qgroupid >> SHIFT}/${qgroupid & ID_MASK}`;

/** A qgroup id as a JavaScript number; RangeError for levels of 32 and above (not exact). */
/** A u64 qgroup id (little-endian) at `at` as a number; RangeError as qgroupNumber for level >= 32. */
function qgroupIdAt(view: DataView, at: number): number {
  const high = view.getUint32(at + 4, true);
  if (high === 0) return view.getUint32(at, true); // level 0: a small integer where it fits
  if (high > 0x1fffff) return qgroupNumber(view.getBigUint64(at, true), 'qgroupid');
  return high * 0x1_0000_0000 + view.getUint32(at, true);
}

function qgroupNumber(qgroupid: bigint, name: string, shown: unknown = format(qgroupid)): number {
  if (qgroupid > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw rangeError(name, 'a qgroup id of level < 32, to be exact as a number (use a bigint or a string)', shown);
  }
  return Number(qgroupid);
}

/**
 * The qgroup id of `level/id`: `level * 2^48 + id`. Level-0 qgroups are subvolumes (`qgroupId(0, 257)`
 * is 257); higher levels group them.
 * @param level 0 to 31 (a number holds ids of levels below 32 exactly)
 * @param id 0 to 2^48 - 1
 * @returns the qgroup id as a number
 * @throws RangeError (ERR_OUT_OF_RANGE) for a level or id out of range or not an integer; TypeError
 *   for a non-number
 * @example
 * ```ts
 * qgroupId(1, 100); // 281474976710756, the same as parseQgroupId('1/100')
 * ```
 */
export function qgroupId(level: number, id: number): number {
  if (typeof level !== 'number') throw argTypeError('level', 'of type number', level);
  if (typeof id !== 'number') throw argTypeError('id', 'of type number', id);
  if (!Number.isInteger(level) || level < 0 || level > 31) throw rangeError('level', 'an integer >= 0 and <= 31', level);
  if (!Number.isInteger(id) || id < 0 || id > Number(ID_MASK)) throw rangeError('id', 'an integer >= 0 and < 2^48', id);
  return Number((BigInt(level) << SHIFT) | BigInt(id));
}

/**
 * Parses `'level/id'` (as btrfs-progs prints qgroups) into a qgroup id.
 * @param text `'level/id'`, e.g. `'1/100'` or `'0/257'`
 * @returns the qgroup id as a number
 * @throws TypeError (ERR_INVALID_ARG_VALUE) for another shape; RangeError (ERR_OUT_OF_RANGE) for an
 *   id of 2^48 or more, or a level of 32 or more (not exact as a number)
 * @example
 * ```ts
 * parseQgroupId('1/100') === qgroupId(1, 100); // true
 * ```
 */
export function parseQgroupId(text: string): number {
  if (typeof text !== 'string') throw argTypeError('text', 'of type string', text);
  return qgroupNumber(checkQgroupId(text, 'text'), 'text', text);
}

/**
 * Formats a qgroup id as btrfs-progs does: `'level/id'`.
 * @param qgroupid a number, a bigint or already a `'level/id'` string
 * @example
 * ```ts
 * formatQgroupId(qgroupId(1, 100)); // '1/100'
 * formatQgroupId(257); // '0/257'
 * ```
 */
export function formatQgroupId(qgroupid: QgroupIdLike): string {
  return format(checkQgroupId(qgroupid));
}

// ---- errors ----

const QUOTAS_OFF = 'quotas are disabled on this filesystem (quotaEnable turns them on)';
/** The kernel charges a quota call's own transaction to the subvolume of the descriptor. */
const OWN_LIMIT =
  'disk quota exceeded: the subvolume containing the path is at its qgroup limit, and the kernel charges this call to it; call again with a path in another subvolume (the top level, say)';

/** The same error with `text` in place of the errno's description (and maybe another code). */
function reword(error: BtrfsError, text: string, errno = error.errno): BtrfsError {
  const [oldCode, oldText] = errnoText(error.errno);
  const prefix = `${oldCode}: ${oldText}`;
  const rest = error.message.startsWith(prefix) ? error.message.slice(prefix.length) : `, ${error.message}`;
  const [code] = errnoText(errno);
  const fields: ConstructorParameters<typeof BtrfsError>[1] = {
    code,
    errno,
    syscall: error.syscall,
    kind: error.kind,
    operation: error.operation,
  };
  if (error.path !== undefined) fields.path = error.path;
  if (error.dest !== undefined) fields.dest = error.dest;
  if (error.fd !== undefined) fields.fd = error.fd;
  if (error.ioctl !== undefined) fields.ioctl = error.ioctl;
  const better = new BtrfsError(`${code}: ${text}${rest}`, fields);
  const frames = error.stack?.split('\n').slice(1) ?? [];
  better.stack = [`${better.name}: ${better.message}`, ...frames].join('\n');
  return better;
}

/** Hints for errno codes, replacing the generic errno text in messages. */
type Hints = Partial<Record<string, string>>;

/** Explains a kernel refusal: ENOTCONN (and ENOENT from a quota tree search) as "quotas are disabled". */
function explain(error: unknown, hints: Hints = {}): unknown {
  if (!(error instanceof BtrfsError) || error.kind === 'NOT_BTRFS' || error.kind === 'NOT_SUBVOLUME') return error;
  if (error.code === 'ENOTCONN') return reword(error, QUOTAS_OFF);
  if (error.code === 'ENOENT' && error.ioctl?.startsWith('BTRFS_IOC_TREE_SEARCH')) return reword(error, QUOTAS_OFF, ENOTCONN);
  const hint = hints[error.code] ?? (error.code === 'EDQUOT' ? OWN_LIMIT : undefined);
  return hint ? reword(error, hint) : error;
}

/** ioctl() with the quota explanations applied to its failure. */
function* quotaIoctl(fd: number, request: number, arg: Uint8Array | null, ctx: StepContext, options: IoctlOptions, hints?: Hints): Op<number> {
  try {
    return yield* ioctl(fd, request, arg, ctx, options);
  } catch (error) {
    throw explain(error, hints);
  }
}

// ---- reading the quota tree ----

/** A bound on the payload of any quota tree item (they are 0 to 40 bytes). */
const ITEM_MARGIN = 1024;
/** Result buffer of one qgroupInfo search call: about 1,800 qgroups (info + limit items) per call. */
const INFO_BUFFER = 256 * 1024;
const INFO_MAX_ITEMS = 0x7fff_ffff;

/** Every item of the quota tree in `range`, in as few TREE_SEARCH calls as the buffer allows. */
function* searchQuotaTree(fd: number, range: SearchRange, ctx: StepContext, bufferSize: number, maxItems: number): Op<SearchItem[]> {
  // Quota items are 0 to 40 bytes: a page with room for one more proves the range exhausted.
  const search = new TreeSearch(fd, range, ctx, { bufferSize, maxItems, maxItemSize: ITEM_MARGIN });
  const out: SearchItem[] = [];
  try {
    for (;;) {
      const page = yield* search.page();
      // Payloads are views into the page's buffer, which the next call does not reuse: keep them.
      out.push(...page);
      if (page.length === 0 || search.done) return out;
    }
  } catch (error) {
    throw explain(error);
  }
}

const quotaKey = (type: number, offset = 0n) => ({ objectid: 0n, type, offset });

interface StatusItem {
  version: bigint;
  generation: bigint;
  flags: bigint;
  rescan: bigint;
  enableGen: bigint | null;
}

/** The quota status item, or null when quotas are off (the quota tree does not exist). */
function* readStatusItem(fd: number, ctx: StepContext): Op<StatusItem | null> {
  let items: SearchItem[];
  try {
    const range = { treeId: BTRFS_QUOTA_TREE_OBJECTID, min: quotaKey(BTRFS_QGROUP_STATUS_KEY), max: quotaKey(BTRFS_QGROUP_STATUS_KEY) };
    items = yield* searchQuotaTree(fd, range, ctx, 4096, 1);
  } catch (error) {
    if (error instanceof BtrfsError && error.errno === ENOTCONN && error.ioctl?.startsWith('BTRFS_IOC_TREE_SEARCH')) return null;
    throw error;
  }
  const item = items.find((i) => i.type === BTRFS_QGROUP_STATUS_KEY);
  if (!item || item.data.length < btrfs_qgroup_status_item.size) return null;
  return { ...btrfs_qgroup_status_item.decode(item.data), enableGen: statusItemEnableGen(item.data) };
}

// ---- enable / disable ----

function* quotaCtlOp(target: Target, cmd: bigint, operation: string): Op<void> {
  const ctx = contextOf(operation, 'QUOTA_CTL_FAILED', target);
  yield* withTarget(target, ctx, function* (fd) {
    if (cmd !== BTRFS_QUOTA_CTL_DISABLE) {
      // The kernel answers 0 to an enable in the other mode and changes nothing (§5.8): say so instead.
      let status: StatusItem | null = null;
      try {
        status = yield* readStatusItem(fd, { ...ctx, kind: 'SEARCH_FAILED' });
      } catch {
        // Best effort: QUOTA_CTL below reports EPERM and the like with the right kind.
      }
      if (status && status.flags & BTRFS_QGROUP_STATUS_FLAG_ON) {
        const simple = (status.flags & BTRFS_QGROUP_STATUS_FLAG_SIMPLE_MODE) !== 0n;
        const wantSimple = cmd === BTRFS_QUOTA_CTL_ENABLE_SIMPLE_QUOTA;
        if (simple !== wantSimple) {
          const now = simple ? 'simple' : 'full';
          const text = `quotas are already enabled in ${now} mode; quotaDisable first to switch modes`;
          throw reword(sysError(EBUSY, 'ioctl', ctx, ctx.kind, 'BTRFS_IOC_QUOTA_CTL'), text);
        }
      }
    }
    const arg = btrfs_ioctl_quota_ctl_args.encode({ cmd });
    // Enabling and disabling commit a transaction: a dedicated thread when async.
    yield* quotaIoctl(fd, BTRFS_IOC_QUOTA_CTL, arg, ctx, { name: 'BTRFS_IOC_QUOTA_CTL', blocking: true }, {
      EINVAL: cmd === BTRFS_QUOTA_CTL_ENABLE_SIMPLE_QUOTA ? 'this kernel does not support simple quotas (Linux 6.7 or later does)' : undefined,
    });
  });
}

/**
 * Enables quotas (full qgroup accounting). The kernel then starts a rescan by itself: the numbers are
 * consistent once it ends ({@link quotaRescanWait}). Enabling when already enabled does nothing.
 * Needs root. Like `btrfs quota enable`.
 * @param path any file or directory of the filesystem, or an open descriptor
 * @throws BtrfsError QUOTA_CTL_FAILED (EBUSY when simple quotas are on: quotaDisable first; EPERM),
 *   NOT_BTRFS, OPEN_FAILED
 * @example
 * ```ts
 * await quotaEnable('/mnt/data');
 * await quotaRescanWait('/mnt/data'); // numbers are consistent from here
 * ```
 */
export async function quotaEnable(path: PathOrFd): Promise<void> {
  return runAsync(quotaCtlOp(checkPathOrFd(path), BTRFS_QUOTA_CTL_ENABLE, 'quotaEnable'));
}
/** Synchronous form of {@link quotaEnable}. @example `quotaEnableSync('/mnt/data')` */
export function quotaEnableSync(path: PathOrFd): void {
  runSync(quotaCtlOp(checkPathOrFd(path), BTRFS_QUOTA_CTL_ENABLE, 'quotaEnable'));
}

/**
 * Enables simple quotas (squota, Linux 6.7+): extents are charged to the subvolume that wrote them,
 * with no backref walking and no rescan, so accounting is cheap; extents written before enabling are
 * not counted. The filesystem gains the SIMPLE_QUOTA incompat feature, which stays after
 * {@link quotaDisable}. Needs root. Like `btrfs quota enable --simple` (btrfs-progs 6.7+).
 * @throws BtrfsError QUOTA_CTL_FAILED (EBUSY when full quotas are on: quotaDisable first; EINVAL on
 *   kernels without simple quotas), NOT_BTRFS
 * @example
 * ```ts
 * await quotaEnableSimple('/mnt/data');
 * const s = await quotaStatus('/mnt/data'); // { enabled: true, mode: 'simple', ... }
 * ```
 */
export async function quotaEnableSimple(path: PathOrFd): Promise<void> {
  return runAsync(quotaCtlOp(checkPathOrFd(path), BTRFS_QUOTA_CTL_ENABLE_SIMPLE_QUOTA, 'quotaEnableSimple'));
}
/** Synchronous form of {@link quotaEnableSimple}. @example `quotaEnableSimpleSync('/mnt/data')` */
export function quotaEnableSimpleSync(path: PathOrFd): void {
  runSync(quotaCtlOp(checkPathOrFd(path), BTRFS_QUOTA_CTL_ENABLE_SIMPLE_QUOTA, 'quotaEnableSimple'));
}

/**
 * Disables quotas and deletes every qgroup, limit and relation (the quota tree). Disabling when
 * already disabled does nothing. Needs root. Like `btrfs quota disable`.
 * @throws BtrfsError QUOTA_CTL_FAILED (EPERM), NOT_BTRFS
 * @example
 * ```ts
 * await quotaDisable('/mnt/data');
 * await quotaStatus('/mnt/data'); // { enabled: false }
 * ```
 */
export async function quotaDisable(path: PathOrFd): Promise<void> {
  return runAsync(quotaCtlOp(checkPathOrFd(path), BTRFS_QUOTA_CTL_DISABLE, 'quotaDisable'));
}
/** Synchronous form of {@link quotaDisable}. @example `quotaDisableSync('/mnt/data')` */
export function quotaDisableSync(path: PathOrFd): void {
  runSync(quotaCtlOp(checkPathOrFd(path), BTRFS_QUOTA_CTL_DISABLE, 'quotaDisable'));
}

// ---- status ----

/** {@link quotaStatus} when quotas are off: nothing else is known. */
export interface QuotaStatusDisabled {
  enabled: false;
}

/** {@link quotaStatus} when quotas are on. */
export interface QuotaStatusEnabled {
  enabled: true;
  /** 'full' (qgroups, `btrfs quota enable`) or 'simple' (squota). */
  mode: 'full' | 'simple';
  /** The numbers are known to be out of date: rescan ({@link quotaRescan}) before trusting them. */
  inconsistent: boolean;
  /** A rescan is running now (QUOTA_RESCAN_STATUS, not the status item, which lags a little). */
  rescanning: boolean;
  /** While rescanning, the extent-tree position (a byte address) reached; otherwise null. */
  rescanProgress: number | null;
  /** Transaction that last wrote the status item. */
  generation: number;
  /** The status item's raw flags: {@link QgroupStatusFlags} bits. */
  flags: number;
  /** The status item's version (1). */
  version: number;
  /** Simple mode: the transaction quotas were enabled in (older extents are not counted); else null. */
  enableGeneration: number | null;
}

/** What {@link quotaStatus} returns: check `enabled` first. */
export type QuotaStatus = QuotaStatusDisabled | QuotaStatusEnabled;

/** What {@link quotaRescanStatus} returns. */
export interface QuotaRescanStatus {
  /** A rescan is running. */
  running: boolean;
  /**
   * The extent-tree position (a byte address) the running rescan has reached, 0 when none runs, and
   * null for the kernel's 2^64 - 1 (the walk has passed the last extent).
   */
  progress: number | null;
  /** The raw flags: 1 while running, else 0. */
  flags: number;
}

function* rescanStatusOnFd(fd: number, ctx: StepContext): Op<QuotaRescanStatus> {
  const arg = Buffer.alloc(btrfs_ioctl_quota_rescan_args.size);
  yield* quotaIoctl(fd, BTRFS_IOC_QUOTA_RESCAN_STATUS, arg, ctx, { name: 'BTRFS_IOC_QUOTA_RESCAN_STATUS' });
  const { flags, progress } = btrfs_ioctl_quota_rescan_args.decode(arg);
  return { running: flags !== 0n, progress: toNumberOrNull(progress, 'progress'), flags: toSafeNumber(flags, 'flags') };
}

function* quotaStatusOp(target: Target): Op<QuotaStatus> {
  const ctx = contextOf('quotaStatus', 'SEARCH_FAILED', target);
  return yield* withTarget(target, ctx, function* (fd): Op<QuotaStatus> {
    const item = yield* readStatusItem(fd, ctx);
    if (!item || !(item.flags & BTRFS_QGROUP_STATUS_FLAG_ON)) return { enabled: false };
    const live = yield* rescanStatusOnFd(fd, { ...ctx, kind: 'QUOTA_RESCAN_STATUS_FAILED' });
    const simple = (item.flags & BTRFS_QGROUP_STATUS_FLAG_SIMPLE_MODE) !== 0n;
    return {
      enabled: true,
      mode: simple ? 'simple' : 'full',
      inconsistent: (item.flags & BTRFS_QGROUP_STATUS_FLAG_INCONSISTENT) !== 0n,
      rescanning: live.running,
      rescanProgress: live.running ? live.progress : null,
      generation: toSafeNumber(item.generation, 'generation'),
      flags: toSafeNumber(item.flags, 'flags'),
      version: toSafeNumber(item.version, 'version'),
      enableGeneration: simple && item.enableGen !== null ? toSafeNumber(item.enableGen, 'enableGeneration') : null,
    };
  });
}

/**
 * Whether quotas are on, in which mode, and whether the numbers can be trusted (not inconsistent, no
 * rescan running). Reads the quota tree's status item; never fails because quotas are off, but
 * returns `{ enabled: false }`. Needs root. Like the status line of
 * `btrfs inspect-internal dump-tree -t quota`.
 * @throws BtrfsError SEARCH_FAILED (EPERM), NOT_BTRFS, OPEN_FAILED
 * @example
 * ```ts
 * const s = await quotaStatus('/mnt/data');
 * if (!s.enabled) await quotaEnable('/mnt/data');
 * else if (s.inconsistent && !s.rescanning) await quotaRescan('/mnt/data');
 * ```
 */
export async function quotaStatus(path: PathOrFd): Promise<QuotaStatus> {
  return runAsync(quotaStatusOp(checkPathOrFd(path)));
}
/** Synchronous form of {@link quotaStatus}. @example `quotaStatusSync('/mnt/data').enabled` */
export function quotaStatusSync(path: PathOrFd): QuotaStatus {
  return runSync(quotaStatusOp(checkPathOrFd(path)));
}

// ---- rescan ----

function* quotaRescanOp(target: Target): Op<void> {
  const ctx = contextOf('quotaRescan', 'QUOTA_RESCAN_FAILED', target);
  yield* withTarget(target, ctx, function* (fd) {
    const arg = Buffer.alloc(btrfs_ioctl_quota_rescan_args.size); // flags must be 0
    // Starting a rescan commits the current transaction first: a dedicated thread when async.
    yield* quotaIoctl(fd, BTRFS_IOC_QUOTA_RESCAN, arg, ctx, { name: 'BTRFS_IOC_QUOTA_RESCAN', blocking: true }, {
      EINPROGRESS: 'a rescan is already running (quotaRescanWait waits for it)',
      EINVAL: 'invalid argument (simple quotas cannot be rescanned)',
    });
  });
}

/**
 * Starts a rescan, which recomputes every qgroup's numbers from the extent tree in the background,
 * and returns at once; {@link quotaRescanWait} waits for it. Full mode only. Needs root.
 * Like `btrfs quota rescan`.
 * @throws BtrfsError QUOTA_RESCAN_FAILED (EINPROGRESS when one is running; EINVAL in simple mode;
 *   ENOTCONN when quotas are disabled), NOT_BTRFS
 * @example
 * ```ts
 * await quotaRescan('/mnt/data');
 * console.log(await quotaRescanStatus('/mnt/data')); // { running: true, progress: 30490624, flags: 1 }
 * await quotaRescanWait('/mnt/data');
 * ```
 */
export async function quotaRescan(path: PathOrFd): Promise<void> {
  return runAsync(quotaRescanOp(checkPathOrFd(path)));
}
/** Synchronous form of {@link quotaRescan}. @example `quotaRescanSync('/mnt/data')` */
export function quotaRescanSync(path: PathOrFd): void {
  runSync(quotaRescanOp(checkPathOrFd(path)));
}

function* rescanStatusOp(target: Target): Op<QuotaRescanStatus> {
  const ctx = contextOf('quotaRescanStatus', 'QUOTA_RESCAN_STATUS_FAILED', target);
  return yield* withTarget(target, ctx, (fd) => rescanStatusOnFd(fd, ctx));
}

/**
 * Whether a rescan is running and how far it got. With quotas disabled: not running. Needs root.
 * Like `btrfs quota rescan -s`.
 * @throws BtrfsError QUOTA_RESCAN_STATUS_FAILED (EPERM), NOT_BTRFS
 * @example
 * ```ts
 * const { running, progress } = await quotaRescanStatus('/mnt/data');
 * ```
 */
export async function quotaRescanStatus(path: PathOrFd): Promise<QuotaRescanStatus> {
  return runAsync(rescanStatusOp(checkPathOrFd(path)));
}
/** Synchronous form of {@link quotaRescanStatus}. @example `quotaRescanStatusSync('/mnt/data').running` */
export function quotaRescanStatusSync(path: PathOrFd): QuotaRescanStatus {
  return runSync(rescanStatusOp(checkPathOrFd(path)));
}

/** QUOTA_RESCAN_WAIT on `fd`: returns when no rescan runs (at once if none does). */
function* rescanWaitOnFd(fd: number, ctx: StepContext): Op<void> {
  for (;;) {
    // The kernel restarts the wait after a signal whose handler has SA_RESTART; without it, EINTR.
    const result = yield* quotaIoctl(fd, BTRFS_IOC_QUOTA_RESCAN_WAIT, null, ctx, {
      name: 'BTRFS_IOC_QUOTA_RESCAN_WAIT',
      blocking: true,
      allow: [EINTR],
    });
    if (result !== EINTR) return;
  }
}

function* rescanWaitOp(target: Target): Op<void> {
  const ctx = contextOf('quotaRescanWait', 'QUOTA_RESCAN_WAIT_FAILED', target);
  yield* withTarget(target, ctx, (fd) => rescanWaitOnFd(fd, ctx));
}

/** Options of {@link quotaRescanWait}. */
export interface QuotaRescanWaitOptions {
  /** Aborting rejects the wait with an `AbortError`; the rescan itself goes on. */
  signal?: AbortSignal;
}

/** Node's AbortError shape: `name` 'AbortError', `code` 'ABORT_ERR', the signal's reason as `cause`. */
class AbortError extends Error {
  readonly code = 'ABORT_ERR';
  constructor(signal: AbortSignal) {
    super('The operation was aborted', { cause: signal.reason });
  }
  override get name(): string {
    return 'AbortError';
  }
}

/** Polling intervals of the abortable wait: short at first (most rescans take milliseconds). */
const POLL_FIRST_MS = 2;
const POLL_MAX_MS = 50;

/** Resolves after `ms`, or rejects with an AbortError as soon as `signal` aborts. */
function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const onAbort = () => {
      clearTimeout(timer);
      reject(new AbortError(signal));
    };
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

/** `promise`, or an AbortError as soon as `signal` aborts (the promise still runs to its end). */
function abortable<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  promise.catch(() => {}); // an abandoned rejection is not unhandled
  if (signal.aborted) return Promise.reject(new AbortError(signal));
  return new Promise((resolve, reject) => {
    const onAbort = () => reject(new AbortError(signal));
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

/**
 * The abortable wait. QUOTA_RESCAN_WAIT cannot be cancelled from user space without a signal aimed
 * at the blocked thread (and restarts under SA_RESTART), so this polls QUOTA_RESCAN_STATUS with a
 * timer: an abort leaves no thread behind. Once the rescan reports done, one QUOTA_RESCAN_WAIT covers
 * the moment between the worker clearing its flag and writing the status item; it returns at once.
 */
async function rescanWaitPolling(target: Target, signal: AbortSignal): Promise<void> {
  if (signal.aborted) throw new AbortError(signal);
  const ctx = contextOf('quotaRescanWait', 'QUOTA_RESCAN_STATUS_FAILED', target);
  const fd = await runAsync(openTarget(target, ctx));
  let owned = true;
  try {
    for (let delay = POLL_FIRST_MS; ; delay = Math.min(delay * 2, POLL_MAX_MS)) {
      if (signal.aborted) throw new AbortError(signal);
      const { running } = await runAsync(rescanStatusOnFd(fd, ctx));
      if (!running) break;
      await sleep(delay, signal);
    }
    // From here the tail owns the descriptor: it is closed when the ioctl returns, not before.
    owned = false;
    const tail = (async () => {
      try {
        await runAsync(rescanWaitOnFd(fd, { ...ctx, kind: 'QUOTA_RESCAN_WAIT_FAILED' }));
      } finally {
        await runAsync(releaseTarget(target, fd));
      }
    })();
    await abortable(tail, signal);
  } finally {
    if (owned) await runAsync(releaseTarget(target, fd));
  }
}

function checkSignal(options: unknown): AbortSignal | undefined {
  const { signal } = checkOptions<QuotaRescanWaitOptions>(options);
  if (signal === undefined) return undefined;
  if (!(signal instanceof AbortSignal)) throw argTypeError('options.signal', 'an instance of AbortSignal', signal);
  return signal;
}

/**
 * Waits until no rescan is running (returns at once when none is). Needs root.
 * Like `btrfs quota rescan -w`.
 *
 * Without a signal the wait is QUOTA_RESCAN_WAIT on a thread of its own. With `signal`, it polls the
 * rescan status on a timer instead (every 2 ms at first, backing off to 50 ms), so that aborting
 * rejects at once with an `AbortError` (`name` 'AbortError', `code` 'ABORT_ERR', as Node's) and
 * leaves no thread blocked in the kernel; the rescan itself goes on.
 * @param options.signal an AbortSignal that cancels the wait (not the rescan)
 * @throws BtrfsError QUOTA_RESCAN_WAIT_FAILED / QUOTA_RESCAN_STATUS_FAILED (EPERM), NOT_BTRFS;
 *   AbortError on abort; TypeError for a bad signal
 * @example
 * ```ts
 * await quotaRescan('/mnt/data');
 * await quotaRescanWait('/mnt/data', { signal: AbortSignal.timeout(60_000) });
 * ```
 */
export async function quotaRescanWait(path: PathOrFd, options?: QuotaRescanWaitOptions): Promise<void> {
  const target = checkPathOrFd(path);
  const signal = checkSignal(options);
  if (signal) return rescanWaitPolling(target, signal);
  return runAsync(rescanWaitOp(target));
}
/**
 * Synchronous form of {@link quotaRescanWait}: blocks the calling thread until the rescan ends (it
 * cannot be aborted; use the Promise form with a signal for that).
 * @example `quotaRescanWaitSync('/mnt/data')`
 */
export function quotaRescanWaitSync(path: PathOrFd): void {
  runSync(rescanWaitOp(checkPathOrFd(path)));
}

// ---- qgroups: create, destroy, relations, limits ----

function* qgroupCreateOp(target: Target, qgroupid: bigint, create: boolean): Op<void> {
  const operation = create ? 'qgroupCreate' : 'qgroupDestroy';
  const ctx = contextOf(operation, 'QGROUP_CREATE_FAILED', target);
  const name = format(qgroupid);
  yield* withTarget(target, ctx, function* (fd) {
    const arg = btrfs_ioctl_qgroup_create_args.encode({ create: create ? 1n : 0n, qgroupid });
    // Joins a transaction, which may wait for a commit: a dedicated thread when async.
    yield* quotaIoctl(fd, BTRFS_IOC_QGROUP_CREATE, arg, ctx, { name: 'BTRFS_IOC_QGROUP_CREATE', blocking: true }, create
      ? { EEXIST: `qgroup ${name} exists already` }
      : {
          ENOENT: `no qgroup ${name}`,
          EBUSY: `qgroup ${name} still has relations, or belongs to a subvolume that exists`,
        });
  });
}

/** Checks a qgroup id for creation: level 1 or above. */
function checkNewQgroup(value: unknown): bigint {
  const qgroupid = checkQgroupId(value);
  if (qgroupid >> SHIFT === 0n) {
    throw rangeError(
      'qgroupid',
      'of level 1 or above: level-0 qgroups (0/<subvolume id>) come with their subvolumes and cannot be created',
      typeof value === 'string' ? value : format(qgroupid),
    );
  }
  return qgroupid;
}

/**
 * Creates a qgroup of level 1 or above, to group subvolumes (level 0) or lower-level qgroups with
 * {@link qgroupAssign}. Needs root; quotas must be enabled. Like `btrfs qgroup create`.
 * @param qgroupid `'level/id'` or `(level << 48) | id`, level >= 1
 * @throws BtrfsError QGROUP_CREATE_FAILED (EEXIST; ENOTCONN when quotas are disabled), NOT_BTRFS;
 *   RangeError for a level-0 id (those come with subvolumes) or an id out of range
 * @example
 * ```ts
 * await qgroupCreate('/mnt/data', '1/100');
 * ```
 */
export async function qgroupCreate(path: PathOrFd, qgroupid: QgroupIdLike): Promise<void> {
  return runAsync(qgroupCreateOp(checkPathOrFd(path), checkNewQgroup(qgroupid), true));
}
/** Synchronous form of {@link qgroupCreate}. @example `qgroupCreateSync('/mnt/data', '1/100')` */
export function qgroupCreateSync(path: PathOrFd, qgroupid: QgroupIdLike): void {
  runSync(qgroupCreateOp(checkPathOrFd(path), checkNewQgroup(qgroupid), true));
}

/**
 * Destroys a qgroup. It must have no relations left; a level-0 qgroup can only go once its subvolume
 * is deleted. Needs root. Like `btrfs qgroup destroy`.
 * @throws BtrfsError QGROUP_CREATE_FAILED (ENOENT, EBUSY while it has relations or its subvolume
 *   exists, ENOTCONN), NOT_BTRFS; RangeError for an id out of range
 * @example
 * ```ts
 * await qgroupDestroy('/mnt/data', '1/100');
 * ```
 */
export async function qgroupDestroy(path: PathOrFd, qgroupid: QgroupIdLike): Promise<void> {
  return runAsync(qgroupCreateOp(checkPathOrFd(path), checkQgroupId(qgroupid), false));
}
/** Synchronous form of {@link qgroupDestroy}. @example `qgroupDestroySync('/mnt/data', '1/100')` */
export function qgroupDestroySync(path: PathOrFd, qgroupid: QgroupIdLike): void {
  runSync(qgroupCreateOp(checkPathOrFd(path), checkQgroupId(qgroupid), false));
}

/** Checks a relation: the parent's level must be above the child's (so no relation can make a loop). */
function checkRelation(child: unknown, parent: unknown): [bigint, bigint] {
  const c = checkQgroupId(child, 'child');
  const p = checkQgroupId(parent, 'parent');
  if (levelOf(p) <= levelOf(c)) {
    throw rangeError('parent', `a qgroup of a level above the child's (${format(c)} is level ${levelOf(c)})`, format(p));
  }
  return [c, p];
}

function* qgroupAssignOp(target: Target, child: bigint, parent: bigint, assign: boolean): Op<void> {
  const operation = assign ? 'qgroupAssign' : 'qgroupRemove';
  const ctx = contextOf(operation, 'QGROUP_ASSIGN_FAILED', target);
  const relation = `${format(child)} -> ${format(parent)}`;
  yield* withTarget(target, ctx, function* (fd) {
    const arg = btrfs_ioctl_qgroup_assign_args.encode({ assign: assign ? 1n : 0n, src: child, dst: parent });
    yield* quotaIoctl(fd, BTRFS_IOC_QGROUP_ASSIGN, arg, ctx, { name: 'BTRFS_IOC_QGROUP_ASSIGN', blocking: true }, assign
      ? { EEXIST: `relation ${relation} exists already`, EINVAL: `qgroup ${format(child)} or ${format(parent)} does not exist` }
      : { ENOENT: `no relation ${relation}` });
  });
}

/**
 * Makes qgroup `child` a member of qgroup `parent` (of a higher level): the parent then counts the
 * child's extents. Where both share extents with other members the kernel may not update the numbers
 * exactly; {@link quotaStatus} then says `inconsistent` and a {@link quotaRescan} fixes them. Needs
 * root. Like `btrfs qgroup assign --no-rescan CHILD PARENT`.
 * @param child a subvolume's level-0 qgroup (`'0/257'`, or just its id 257) or a lower-level qgroup
 * @param parent a qgroup of a higher level than `child`
 * @throws BtrfsError QGROUP_ASSIGN_FAILED (EEXIST, EINVAL when either does not exist, ENOTCONN),
 *   NOT_BTRFS; RangeError when parent's level is not above child's (which also rules out loops)
 * @example
 * ```ts
 * await qgroupCreate('/mnt/data', '1/100');
 * await qgroupAssign('/mnt/data', await subvolumeId('/mnt/data/project_a'), '1/100');
 * ```
 */
export async function qgroupAssign(path: PathOrFd, child: QgroupIdLike, parent: QgroupIdLike): Promise<void> {
  return runAsync(qgroupAssignOp(checkPathOrFd(path), ...checkRelation(child, parent), true));
}
/** Synchronous form of {@link qgroupAssign}. @example `qgroupAssignSync('/mnt/data', '0/257', '1/100')` */
export function qgroupAssignSync(path: PathOrFd, child: QgroupIdLike, parent: QgroupIdLike): void {
  runSync(qgroupAssignOp(checkPathOrFd(path), ...checkRelation(child, parent), true));
}

/**
 * Removes the relation `child` -> `parent`. Needs root. Like `btrfs qgroup remove --no-rescan`.
 * @throws BtrfsError QGROUP_ASSIGN_FAILED (ENOENT when there is no such relation, ENOTCONN),
 *   NOT_BTRFS; RangeError when parent's level is not above child's
 * @example
 * ```ts
 * await qgroupRemove('/mnt/data', '0/257', '1/100');
 * ```
 */
export async function qgroupRemove(path: PathOrFd, child: QgroupIdLike, parent: QgroupIdLike): Promise<void> {
  return runAsync(qgroupAssignOp(checkPathOrFd(path), ...checkRelation(child, parent), false));
}
/** Synchronous form of {@link qgroupRemove}. @example `qgroupRemoveSync('/mnt/data', '0/257', '1/100')` */
export function qgroupRemoveSync(path: PathOrFd, child: QgroupIdLike, parent: QgroupIdLike): void {
  runSync(qgroupAssignOp(checkPathOrFd(path), ...checkRelation(child, parent), false));
}

/**
 * Limits for {@link qgroupLimit}, in bytes. A number sets the limit (0 is a real limit of zero bytes:
 * every further write fails with EDQUOT); `null` removes it; an omitted field keeps what is set.
 */
export interface QgroupLimits {
  /** Most bytes the qgroup may reference. */
  maxRfer?: number | bigint | null;
  /** Most bytes the qgroup may hold exclusively. */
  maxExcl?: number | bigint | null;
  /** Referenced bytes to reserve. */
  rsvRfer?: number | bigint | null;
  /** Exclusive bytes to reserve. */
  rsvExcl?: number | bigint | null;
}

const LIMIT_FIELDS = [
  ['maxRfer', 'max_rfer', BTRFS_QGROUP_LIMIT_MAX_RFER],
  ['maxExcl', 'max_excl', BTRFS_QGROUP_LIMIT_MAX_EXCL],
  ['rsvRfer', 'rsv_rfer', BTRFS_QGROUP_LIMIT_RSV_RFER],
  ['rsvExcl', 'rsv_excl', BTRFS_QGROUP_LIMIT_RSV_EXCL],
] as const;

interface LimitArgs {
  flags: bigint;
  max_rfer: bigint;
  max_excl: bigint;
  rsv_rfer: bigint;
  rsv_excl: bigint;
}

function checkLimits(value: unknown): LimitArgs {
  if (value === undefined || value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw argTypeError('limits', 'of type object', value);
  }
  const known = new Set<string>(LIMIT_FIELDS.map(([key]) => key));
  for (const key of Object.keys(value)) {
    if (!known.has(key)) {
      throw argValueError('limits', `has an unknown property '${key}' (expected maxRfer, maxExcl, rsvRfer or rsvExcl)`, key);
    }
  }
  const out: LimitArgs = { flags: 0n, max_rfer: 0n, max_excl: 0n, rsv_rfer: 0n, rsv_excl: 0n };
  for (const [key, field, flag] of LIMIT_FIELDS) {
    const v = (value as Record<string, unknown>)[key];
    const name = `limits.${key}`;
    if (v === undefined) continue;
    out.flags |= flag;
    if (v === null) {
      out[field] = U64_MAX; // with the flag set, 2^64 - 1 clears the limit
    } else if (typeof v === 'number') {
      if (!Number.isInteger(v)) throw rangeError(name, 'an integer', v);
      if (v < 0 || v > Number.MAX_SAFE_INTEGER) throw rangeError(name, '>= 0 and <= 2^53 - 1 (or null for no limit)', v);
      out[field] = BigInt(v);
    } else if (typeof v === 'bigint') {
      if (v < 0n || v >= U64_MAX) throw rangeError(name, '>= 0 and < 2^64 - 1 (or null for no limit)', v);
      out[field] = v;
    } else {
      throw argTypeError(name, 'of type number or bigint, or null', v);
    }
  }
  return out;
}

function* qgroupLimitOp(target: Target, qgroupid: bigint, lim: LimitArgs): Op<void> {
  const ctx = contextOf('qgroupLimit', 'QGROUP_LIMIT_FAILED', target);
  yield* withTarget(target, ctx, function* (fd) {
    const arg = btrfs_ioctl_qgroup_limit_args.encode({ qgroupid, lim });
    // QGROUP_LIMIT is _IOR in the headers but only read by the kernel; it joins a transaction.
    yield* quotaIoctl(fd, BTRFS_IOC_QGROUP_LIMIT, arg, ctx, { name: 'BTRFS_IOC_QGROUP_LIMIT', blocking: true }, {
      ENOENT: `no qgroup ${format(qgroupid)}`,
    });
  });
}

/**
 * Sets or removes a qgroup's limits. Each field of `limits` is a number of bytes (0 is a real limit
 * of zero bytes), `null` to remove that limit, or omitted to keep it. Writes past `maxRfer`/`maxExcl`
 * fail with EDQUOT. Needs root. Like `btrfs qgroup limit [-e] SIZE|none QGROUPID`.
 *
 * Porting from pybtrfs: `qgroup_limit(path, id, max_rfer=0)` means "no limit" there; here write
 * `{ maxRfer: null }`. Here `0` is what the kernel makes of it, a limit of zero bytes.
 * @param qgroupid the qgroup; 0 means the subvolume containing `path`
 * @throws BtrfsError QGROUP_LIMIT_FAILED (ENOENT for a missing qgroup, ENOTCONN), NOT_BTRFS;
 *   RangeError for a negative or fractional limit; TypeError for an unknown field (`max_rfer`)
 * @example
 * ```ts
 * await qgroupLimit('/mnt/data', '0/5', { maxRfer: 10 * 1024 ** 3 }); // 10 GiB
 * await qgroupLimit('/mnt/data', '1/100', { maxExcl: 50 * 1024 ** 3 }); // keeps maxRfer
 * await qgroupLimit('/mnt/data', '0/5', { maxRfer: null }); // no referenced limit any more
 * ```
 */
export async function qgroupLimit(path: PathOrFd, qgroupid: QgroupIdLike, limits: QgroupLimits): Promise<void> {
  return runAsync(qgroupLimitOp(checkPathOrFd(path), checkQgroupId(qgroupid), checkLimits(limits)));
}
/** Synchronous form of {@link qgroupLimit}. @example `qgroupLimitSync('/mnt/data', '0/5', { maxRfer: null })` */
export function qgroupLimitSync(path: PathOrFd, qgroupid: QgroupIdLike, limits: QgroupLimits): void {
  runSync(qgroupLimitOp(checkPathOrFd(path), checkQgroupId(qgroupid), checkLimits(limits)));
}

// ---- qgroupInfo ----

/** One qgroup, as {@link qgroupInfo} returns it (byte counts in bytes). */
export interface QgroupInfo {
  /** `(level << 48) | id`; {@link formatQgroupId} gives `'level/id'`. */
  qgroupid: number;
  /** 0 for a subvolume's own qgroup, higher for groups of qgroups. */
  level: number;
  /** Level 0: the subvolume id (the qgroup's id); higher levels: null. */
  subvolumeId: number | null;
  /** Transaction that last updated the numbers. */
  generation: number;
  /** Bytes referenced (shared or not). */
  rfer: number;
  /** Bytes referenced only by this qgroup. */
  excl: number;
  /** Referenced bytes as stored on disk, after compression (0 in simple mode). */
  rferCmpr: number;
  /** Exclusive bytes after compression (0 in simple mode). */
  exclCmpr: number;
  /** Limit on `rfer`, null when none (btrfs-progs: "none"). */
  maxRfer: number | null;
  /** Limit on `excl`, null when none. */
  maxExcl: number | null;
  /** Reserved referenced bytes, null when none set. */
  rsvRfer: number | null;
  /** Reserved exclusive bytes, null when none set. */
  rsvExcl: number | null;
  /** The limit item's flags: {@link QgroupLimitFlags} bits (unknown bits kept as stored). */
  limitFlags: number;
  /** Qgroups this one is a member of, ascending (btrfs-progs' "Parent" column). */
  parents: number[];
  /** Members of this qgroup, ascending (btrfs-progs' "Child" column). */
  children: number[];
}

// Everything from the info items to the relations: (0, 242, id) info, (0, 244, id) limits, then
// (a, 246, b) for each relation in both directions. Frozen: shared by every call.
const INFO_RANGE: SearchRange = Object.freeze({
  treeId: BTRFS_QUOTA_TREE_OBJECTID,
  min: Object.freeze(quotaKey(BTRFS_QGROUP_INFO_KEY)),
  max: Object.freeze({ objectid: U64_MAX, type: BTRFS_QGROUP_RELATION_KEY, offset: U64_MAX }),
});
const INFO_GENERATION = btrfs_qgroup_info_item.fields.generation.offset;
const INFO_RFER = btrfs_qgroup_info_item.fields.rfer.offset;
const INFO_EXCL = btrfs_qgroup_info_item.fields.excl.offset;
const INFO_RFER_CMPR = btrfs_qgroup_info_item.fields.rfer_cmpr.offset;
const INFO_EXCL_CMPR = btrfs_qgroup_info_item.fields.excl_cmpr.offset;
const LIMIT_FLAGS = btrfs_qgroup_limit_item.fields.flags.offset;
const LIMIT_MAX_RFER = btrfs_qgroup_limit_item.fields.max_rfer.offset;
const LIMIT_MAX_EXCL = btrfs_qgroup_limit_item.fields.max_excl.offset;
const LIMIT_RSV_RFER = btrfs_qgroup_limit_item.fields.rsv_rfer.offset;
const LIMIT_RSV_EXCL = btrfs_qgroup_limit_item.fields.rsv_excl.offset;
const MAX_RFER = Number(BTRFS_QGROUP_LIMIT_MAX_RFER);
const MAX_EXCL = Number(BTRFS_QGROUP_LIMIT_MAX_EXCL);
const RSV_RFER = Number(BTRFS_QGROUP_LIMIT_RSV_RFER);
const RSV_EXCL = Number(BTRFS_QGROUP_LIMIT_RSV_EXCL);

/** A qgroup as its info item gives it, every field in one literal: one hidden class for all results. */
function makeGroup(qgroupid: number, level: number, generation: number, rfer: number, excl: number, rferCmpr: number, exclCmpr: number): QgroupInfo {
  return {
    qgroupid,
    level,
    subvolumeId: level === 0 ? qgroupid : null,
    generation,
    rfer,
    excl,
    rferCmpr,
    exclCmpr,
    maxRfer: null,
    maxExcl: null,
    rsvRfer: null,
    rsvExcl: null,
    limitFlags: 0,
    parents: [],
    children: [],
  };
}

// V8 gives a field that first holds small integers the "Smi" representation and, at the first value
// past 2^31 (a 3 GiB rfer, a level-1 qgroupid), the "Double" one: from then on every result object
// carries a boxed number per such field, some 110 bytes per qgroup to allocate and collect. A field
// that has held both null and a number is "tagged": small integers cost nothing there, large values
// a number each, and no later value changes the shape (which would throw away optimized code). So
// the shape is primed once, here. A performance detail only: the results are the same either way.
{
  const primer = makeGroup(0, 0, 0, 0, 0, 0, 0) as unknown as Record<string, unknown>;
  const numbers = ['qgroupid', 'subvolumeId', 'generation', 'rfer', 'excl', 'rferCmpr', 'exclCmpr', 'maxRfer', 'maxExcl', 'rsvRfer', 'rsvExcl', 'limitFlags'];
  for (const key of numbers) {
    primer[key] = null;
    primer[key] = 0;
  }
}

/** {@link le64Number}, but a value below 2^32 comes back as read, a small integer where it fits. */
function le64At(view: DataView, at: number, what: string): number {
  return view.getUint32(at + 4, true) === 0 ? view.getUint32(at, true) : le64Number(view, at, what);
}

/**
 * What qgroupInfo has decoded so far. The tree's key order does the sorting: info items by qgroup
 * id, then limit items in the same order, then the relations by (a, b). So `groups[0, infos)` is
 * ascending, a cursor finds each limit item's group, and every list is built without a sort or a Map.
 */
interface InfoState {
  groups: QgroupInfo[];
  /** How many of `groups` come from info items (ascending); groups made for a lone limit item follow. */
  infos: number;
  /** The next group a limit item may belong to. */
  cursor: number;
  /** Relation (a, b) pairs, flat. */
  relations: number[];
}

/** The group `id`: binary search of the info groups, then the few made for lone limit items. */
function findGroup(s: InfoState, id: number): QgroupInfo | undefined {
  const g = s.groups;
  let lo = 0;
  let hi = s.infos;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    const q = g[mid]!.qgroupid;
    if (q === id) return g[mid];
    if (q < id) lo = mid + 1;
    else hi = mid;
  }
  for (let i = s.infos; i < g.length; i++) if (g[i]!.qgroupid === id) return g[i];
  return undefined;
}

/** A limit item's group when the cursor has none (no info item for it): found or made. */
function loneLimitGroup(s: InfoState, id: number, level: number): QgroupInfo {
  const found = findGroup(s, id);
  if (found) return found;
  const r = makeGroup(id, level, 0, 0, 0, 0, 0);
  s.groups.push(r);
  return r;
}

/**
 * Decodes one page of search results (`count` packed header + payload pairs from `at`) into `s`.
 * @returns where the page's last header starts: the next page starts just after its key
 */
function decodeInfoPage(view: DataView, at: number, count: number, s: InfoState): number {
  const groups = s.groups;
  let infos = s.infos;
  let cursor = s.cursor;
  let last = at;
  for (let i = 0; i < count; i++) {
    // struct btrfs_ioctl_search_header: transid, objectid, offset, type, len (host order = LE)
    last = at;
    const objectidZero = view.getUint32(at + 8, true) === 0 && view.getUint32(at + 12, true) === 0;
    const type = view.getUint32(at + 24, true);
    const len = view.getUint32(at + 28, true);
    const data = at + 32;
    if (objectidZero && type === BTRFS_QGROUP_INFO_KEY) {
      const id = qgroupIdAt(view, at + 16);
      const level = view.getUint32(at + 20, true) >>> 16;
      groups.push(
        len >= btrfs_qgroup_info_item.size
          ? makeGroup(
              id,
              level,
              le64At(view, data + INFO_GENERATION, 'generation'),
              le64At(view, data + INFO_RFER, 'rfer'),
              le64At(view, data + INFO_EXCL, 'excl'),
              le64At(view, data + INFO_RFER_CMPR, 'rferCmpr'),
              le64At(view, data + INFO_EXCL_CMPR, 'exclCmpr'),
            )
          : makeGroup(id, level, 0, 0, 0, 0, 0),
      );
      infos++;
    } else if (objectidZero && type === BTRFS_QGROUP_LIMIT_KEY) {
      const id = qgroupIdAt(view, at + 16);
      while (cursor < infos && groups[cursor]!.qgroupid < id) cursor++;
      let r: QgroupInfo;
      if (cursor < infos && groups[cursor]!.qgroupid === id) {
        r = groups[cursor++]!;
      } else {
        s.infos = infos;
        r = loneLimitGroup(s, id, view.getUint32(at + 20, true) >>> 16);
      }
      if (len >= btrfs_qgroup_limit_item.size) {
        const flags = le64At(view, data + LIMIT_FLAGS, 'limitFlags');
        r.limitFlags = flags;
        r.maxRfer = flags & MAX_RFER ? le64At(view, data + LIMIT_MAX_RFER, 'maxRfer') : null;
        r.maxExcl = flags & MAX_EXCL ? le64At(view, data + LIMIT_MAX_EXCL, 'maxExcl') : null;
        r.rsvRfer = flags & RSV_RFER ? le64At(view, data + LIMIT_RSV_RFER, 'rsvRfer') : null;
        r.rsvExcl = flags & RSV_EXCL ? le64At(view, data + LIMIT_RSV_EXCL, 'rsvExcl') : null;
      }
    } else if (type === BTRFS_QGROUP_RELATION_KEY) {
      s.relations.push(qgroupIdAt(view, at + 8), qgroupIdAt(view, at + 16));
    }
    at = data + len;
  }
  s.infos = infos;
  s.cursor = cursor;
  return last;
}

/** Adds each relation to both of its groups and returns the groups: the result of qgroupInfo. */
function finishInfo(s: InfoState): QgroupInfo[] {
  const { relations } = s;
  for (let i = 0; i < relations.length; i += 2) {
    // Each relation is stored twice, (child, parent) and (parent, child); the parent has the higher
    // level. Sorted by (a, b): each list grows ascending.
    const a = findGroup(s, relations[i]!);
    const b = findGroup(s, relations[i + 1]!);
    if (!a || !b || a.level === b.level) continue;
    if (a.level < b.level) a.parents.push(b.qgroupid);
    else a.children.push(b.qgroupid);
  }
  // Key order put the info items first: ascending, as the result promises.
  return s.groups;
}

const SEARCH_V2 = { name: 'BTRFS_IOC_TREE_SEARCH_V2', allow: [ENOTTY] } as const;
const NR_ITEMS = btrfs_ioctl_search_key.fields.nr_items.offset;

/**
 * The first page of the quota tree in one composite step (open + TREE_SEARCH_V2 + close of the
 * path, or the ioctl on the caller's descriptor): one trip to a thread when async, instead of three.
 * @returns where the next page starts, null when the range is exhausted, or the range's start again
 *   when this kernel has no TREE_SEARCH_V2 (TreeSearch then falls back to v1)
 */
function* firstInfoPage(target: Target, buf: Buffer, s: InfoState, ctx: StepContext): Op<Key | null> {
  btrfs_ioctl_search_args_v2.write(buf, {
    key: {
      tree_id: INFO_RANGE.treeId,
      min_objectid: INFO_RANGE.min.objectid,
      min_type: INFO_RANGE.min.type,
      min_offset: INFO_RANGE.min.offset,
      max_objectid: INFO_RANGE.max.objectid,
      max_type: INFO_RANGE.max.type,
      max_offset: INFO_RANGE.max.offset,
      min_transid: 0n,
      max_transid: U64_MAX,
      nr_items: INFO_MAX_ITEMS,
    },
    buf_size: BigInt(INFO_BUFFER),
  });
  const result = yield* targetIoctl(target, O_RDONLY, BTRFS_IOC_TREE_SEARCH_V2, buf, ctx, SEARCH_V2);
  if (result === ENOTTY) {
    // Not on btrfs: say so about this ioctl; on btrfs, a kernel before 3.16: TreeSearch falls back.
    const error = yield* classify(target.fd ?? target.path!, result, ctx, SEARCH_V2);
    if ((error as { kind?: string }).kind === 'NOT_BTRFS') throw error;
    return INFO_RANGE.min;
  }
  const view = viewOf(buf);
  const count = view.getUint32(NR_ITEMS, true);
  if (count === 0) return null;
  const last = decodeInfoPage(view, SEARCH_ARGS_V2_BUF_OFFSET, count, s);
  const used = last + 32 + view.getUint32(last + 28, true) - SEARCH_ARGS_V2_BUF_OFFSET;
  if (used > INFO_BUFFER) throw new RangeError('search result overruns its buffer');
  // Quota items are 0 to 40 bytes: a page with room for one more proves the range exhausted.
  if (count < INFO_MAX_ITEMS && INFO_BUFFER - used >= 32 + ITEM_MARGIN) return null;
  return keyAfter(view, last);
}

/** The key right after the one in the search header at `at`, or null past the last possible key. */
function keyAfter(view: DataView, at: number): Key | null {
  const objectid = view.getBigUint64(at + 8, true);
  const offset = view.getBigUint64(at + 16, true);
  const type = view.getUint32(at + 24, true);
  if (offset < U64_MAX) return { objectid, type, offset: offset + 1n };
  if (type < 255) return { objectid, type: type + 1, offset: 0n };
  return objectid < U64_MAX ? { objectid: objectid + 1n, type: 0, offset: 0n } : null;
}

function* qgroupInfoOp(target: Target): Op<QgroupInfo[]> {
  const ctx = contextOf('qgroupInfo', 'SEARCH_FAILED', target);
  const s: InfoState = { groups: [], infos: 0, cursor: 0, relations: [] };
  // Unzeroed and, when sync, reused across calls: only what the kernel reports writing is read. The
  // kernel faults in the whole buffer before copying, so fresh memory costs 64 page faults a call.
  const buf = argBuffer(SEARCH_ARGS_V2_BUF_OFFSET + INFO_BUFFER, false);
  try {
    // Up to about 1,800 qgroups (the common case) the first page is all there is.
    const next = legacyIoctls() ? INFO_RANGE.min : yield* firstInfoPage(target, buf, s, ctx);
    if (next === null) return finishInfo(s);
    // The rest through TreeSearch, on a descriptor held for all the pages.
    const range: SearchRange = { treeId: INFO_RANGE.treeId, min: next, max: INFO_RANGE.max };
    return yield* withTarget(target, ctx, function* (fd) {
      const search = new TreeSearch(fd, range, ctx, { bufferSize: INFO_BUFFER, maxItems: INFO_MAX_ITEMS, maxItemSize: ITEM_MARGIN, buffer: buf });
      for (;;) {
        const page = yield* search.rawPage();
        if (!page) break;
        decodeInfoPage(viewOf(page.buf), page.start, page.count, s);
        if (search.done) break;
      }
      return finishInfo(s);
    });
  } catch (error) {
    throw explain(error);
  }
}

/**
 * Every qgroup of the filesystem with its usage, limits and relations, ascending by qgroup id. Reads
 * the quota tree (one TREE_SEARCH_V2 call for up to about 1,800 qgroups). The numbers are those of the
 * last transaction commit; {@link quotaStatus} says whether they are consistent. Needs root.
 * Like `btrfs qgroup show --raw -pcre`.
 * @throws BtrfsError SEARCH_FAILED with code 'ENOTCONN' when quotas are disabled (EPERM unprivileged),
 *   NOT_BTRFS; RangeError for a qgroup of level 32 or more (its id is not exact as a number)
 * @example
 * ```ts
 * for (const q of await qgroupInfo('/mnt/data')) {
 *   console.log(formatQgroupId(q.qgroupid), q.rfer, q.excl, q.maxRfer ?? 'none', q.parents.map(formatQgroupId));
 * }
 * ```
 */
export async function qgroupInfo(path: PathOrFd): Promise<QgroupInfo[]> {
  return runAsync(qgroupInfoOp(checkPathOrFd(path)));
}
/** Synchronous form of {@link qgroupInfo}. @example `qgroupInfoSync('/mnt/data').length` */
export function qgroupInfoSync(path: PathOrFd): QgroupInfo[] {
  return runSync(qgroupInfoOp(checkPathOrFd(path)));
}
