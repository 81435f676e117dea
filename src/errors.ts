/**
 * Errors. OS failures become {@link BtrfsError}s shaped like Node's fs errors (`code`, `errno`,
 * `syscall`, `path` or `fd`) plus a `kind` saying which step of the operation failed, in
 * libbtrfsutil's vocabulary. Bad arguments are `TypeError`/`RangeError` with Node's `ERR_*` codes.
 * @module
 */
import { getSystemErrorMap, inspect } from 'node:util';

/**
 * Why a btrfs operation failed: libbtrfsutil's classification (`enum btrfs_util_error`), carried on
 * {@link BtrfsError.kind}. The `*_FAILED` kinds name the step that failed; `code`/`errno` say why.
 *
 * @example
 * ```ts
 * try { await subvolumeInfo('/tmp'); }
 * catch (e) { if (e instanceof BtrfsError && e.kind === BtrfsErrorKind.NOT_BTRFS) console.log('not btrfs'); }
 * ```
 */
export const BtrfsErrorKind = {
  OK: 'OK',
  STOP_ITERATION: 'STOP_ITERATION',
  NO_MEMORY: 'NO_MEMORY',
  INVALID_ARGUMENT: 'INVALID_ARGUMENT',
  NOT_BTRFS: 'NOT_BTRFS',
  NOT_SUBVOLUME: 'NOT_SUBVOLUME',
  SUBVOLUME_NOT_FOUND: 'SUBVOLUME_NOT_FOUND',
  OPEN_FAILED: 'OPEN_FAILED',
  RMDIR_FAILED: 'RMDIR_FAILED',
  UNLINK_FAILED: 'UNLINK_FAILED',
  STAT_FAILED: 'STAT_FAILED',
  STATFS_FAILED: 'STATFS_FAILED',
  SEARCH_FAILED: 'SEARCH_FAILED',
  INO_LOOKUP_FAILED: 'INO_LOOKUP_FAILED',
  SUBVOL_GETFLAGS_FAILED: 'SUBVOL_GETFLAGS_FAILED',
  SUBVOL_SETFLAGS_FAILED: 'SUBVOL_SETFLAGS_FAILED',
  SUBVOL_CREATE_FAILED: 'SUBVOL_CREATE_FAILED',
  SNAP_CREATE_FAILED: 'SNAP_CREATE_FAILED',
  SNAP_DESTROY_FAILED: 'SNAP_DESTROY_FAILED',
  DEFAULT_SUBVOL_FAILED: 'DEFAULT_SUBVOL_FAILED',
  SYNC_FAILED: 'SYNC_FAILED',
  START_SYNC_FAILED: 'START_SYNC_FAILED',
  WAIT_SYNC_FAILED: 'WAIT_SYNC_FAILED',
  GET_SUBVOL_INFO_FAILED: 'GET_SUBVOL_INFO_FAILED',
  GET_SUBVOL_ROOTREF_FAILED: 'GET_SUBVOL_ROOTREF_FAILED',
  INO_LOOKUP_USER_FAILED: 'INO_LOOKUP_USER_FAILED',
  FS_INFO_FAILED: 'FS_INFO_FAILED',
  // Beyond libbtrfsutil: mount, loop devices and device registration.
  MOUNT_FAILED: 'MOUNT_FAILED',
  UMOUNT_FAILED: 'UMOUNT_FAILED',
  LOOP_CONTROL_FAILED: 'LOOP_CONTROL_FAILED',
  LOOP_CONFIGURE_FAILED: 'LOOP_CONFIGURE_FAILED',
  LOOP_CLEAR_FAILED: 'LOOP_CLEAR_FAILED',
  SCAN_DEV_FAILED: 'SCAN_DEV_FAILED',
  FORGET_DEV_FAILED: 'FORGET_DEV_FAILED',
  DEVICES_READY_FAILED: 'DEVICES_READY_FAILED',
  // Beyond libbtrfsutil: quotas and qgroups, one kind per ioctl (code 'ENOTCONN': quotas are off).
  QUOTA_CTL_FAILED: 'QUOTA_CTL_FAILED',
  QUOTA_RESCAN_FAILED: 'QUOTA_RESCAN_FAILED',
  QUOTA_RESCAN_STATUS_FAILED: 'QUOTA_RESCAN_STATUS_FAILED',
  QUOTA_RESCAN_WAIT_FAILED: 'QUOTA_RESCAN_WAIT_FAILED',
  QGROUP_CREATE_FAILED: 'QGROUP_CREATE_FAILED',
  QGROUP_ASSIGN_FAILED: 'QGROUP_ASSIGN_FAILED',
  QGROUP_LIMIT_FAILED: 'QGROUP_LIMIT_FAILED',
} as const;

/** One of the {@link BtrfsErrorKind} values. */
export type BtrfsErrorKind = (typeof BtrfsErrorKind)[keyof typeof BtrfsErrorKind];

/** Short human text for each kind, used in messages. */
const KIND_TEXT: Record<BtrfsErrorKind, string> = {
  OK: 'success',
  STOP_ITERATION: 'stop iteration',
  NO_MEMORY: 'cannot allocate memory',
  INVALID_ARGUMENT: 'invalid argument',
  NOT_BTRFS: 'not a btrfs filesystem',
  NOT_SUBVOLUME: 'not a btrfs subvolume',
  SUBVOLUME_NOT_FOUND: 'subvolume not found',
  OPEN_FAILED: 'could not open',
  RMDIR_FAILED: 'could not rmdir',
  UNLINK_FAILED: 'could not unlink',
  STAT_FAILED: 'could not stat',
  STATFS_FAILED: 'could not statfs',
  SEARCH_FAILED: 'could not search B-tree',
  INO_LOOKUP_FAILED: 'could not look up inode',
  SUBVOL_GETFLAGS_FAILED: 'could not get subvolume flags',
  SUBVOL_SETFLAGS_FAILED: 'could not set subvolume flags',
  SUBVOL_CREATE_FAILED: 'could not create subvolume',
  SNAP_CREATE_FAILED: 'could not create snapshot',
  SNAP_DESTROY_FAILED: 'could not destroy subvolume/snapshot',
  DEFAULT_SUBVOL_FAILED: 'could not set default subvolume',
  SYNC_FAILED: 'could not sync filesystem',
  START_SYNC_FAILED: 'could not start filesystem sync',
  WAIT_SYNC_FAILED: 'could not wait for filesystem sync',
  GET_SUBVOL_INFO_FAILED: 'could not get subvolume information',
  GET_SUBVOL_ROOTREF_FAILED: 'could not get rootref information',
  INO_LOOKUP_USER_FAILED: 'could not resolve subvolume path',
  FS_INFO_FAILED: 'could not get filesystem information',
  MOUNT_FAILED: 'could not mount',
  UMOUNT_FAILED: 'could not unmount',
  LOOP_CONTROL_FAILED: 'could not get a free loop device',
  LOOP_CONFIGURE_FAILED: 'could not set up the loop device',
  LOOP_CLEAR_FAILED: 'could not detach the loop device',
  SCAN_DEV_FAILED: 'could not register the device with btrfs',
  FORGET_DEV_FAILED: 'could not make btrfs forget the device',
  DEVICES_READY_FAILED: 'could not ask whether the filesystem has all its devices',
  QUOTA_CTL_FAILED: 'could not enable or disable quotas',
  QUOTA_RESCAN_FAILED: 'could not start a quota rescan',
  QUOTA_RESCAN_STATUS_FAILED: 'could not get the quota rescan status',
  QUOTA_RESCAN_WAIT_FAILED: 'could not wait for the quota rescan',
  QGROUP_CREATE_FAILED: 'could not create or destroy qgroup',
  QGROUP_ASSIGN_FAILED: 'could not add or remove qgroup relation',
  QGROUP_LIMIT_FAILED: 'could not set qgroup limit',
};

/** What an operation step was doing when it failed; enough to build a useful error. */
export interface StepContext {
  /** The public operation, e.g. `'createSnapshot'`. */
  operation: string;
  /** The step's kind, used when no better classification applies. */
  kind: BtrfsErrorKind;
  /** The path involved, when the caller named one. */
  path?: string;
  /** The descriptor involved, when the caller passed one instead of a path. */
  fd?: number;
  /** Set on a second path (a snapshot's destination, say). */
  dest?: string;
}

/**
 * The error every failed btrfs operation throws or rejects with. It has the shape of Node's fs
 * errors, so code that reads `err.code === 'ENOENT'` works unchanged, plus `kind`.
 *
 * @example
 * ```ts
 * try { getSubvolumeReadOnlySync('/mnt/data/not-a-subvolume'); }
 * catch (e) {
 *   if (e instanceof BtrfsError) console.log(e.code, e.errno, e.kind, e.syscall, e.path);
 *   // EINVAL -22 NOT_SUBVOLUME ioctl /mnt/data/not-a-subvolume
 * }
 * ```
 */
export class BtrfsError extends Error {
  /** The errno name, as in Node: `'ENOTTY'`, `'EPERM'`, ... */
  code: string;
  /** The errno, negative as in Node's fs errors (`-25` for ENOTTY). */
  errno: number;
  /** The failing system call: `'open'`, `'ioctl'`, `'statfs'`, `'mount'`, ... */
  syscall: string;
  /** The path the operation was given, when it was given a path. */
  declare path?: string;
  /** Destination path, for two-path operations such as `createSnapshot`. */
  declare dest?: string;
  /** The descriptor the operation was given, when it was given one instead of a path. */
  declare fd?: number;
  /** For ioctl failures, the request's name (`'BTRFS_IOC_SNAP_CREATE_V2'`). */
  declare ioctl?: string;
  /** Which step failed, or a btrfs-level classification (`NOT_BTRFS`, `NOT_SUBVOLUME`, ...). */
  kind: BtrfsErrorKind;
  /** The public operation that failed, e.g. `'createSnapshot'`. */
  operation: string;

  /** @internal Build through {@link sysError} or {@link btrfsError}. */
  constructor(message: string, fields: Omit<BtrfsError, 'name' | 'message' | 'stack' | 'cause'>) {
    super(message);
    this.code = fields.code;
    this.errno = fields.errno;
    this.syscall = fields.syscall;
    this.kind = fields.kind;
    this.operation = fields.operation;
    if (fields.path !== undefined) this.path = fields.path;
    if (fields.dest !== undefined) this.dest = fields.dest;
    if (fields.fd !== undefined) this.fd = fields.fd;
    if (fields.ioctl !== undefined) this.ioctl = fields.ioctl;
  }

  override get name(): string {
    return 'BtrfsError';
  }
}

/**
 * Errnos that libuv (and so Node's error map) does not name, with their Linux (asm-generic)
 * numbers: btrfs and loop devices return several of them (ENOTBLK from mount or SCAN_DEV on a file,
 * EDQUOT past a qgroup limit, EINPROGRESS from a second quota rescan, EUCLEAN from a corrupt tree).
 */
const EXTRA_ERRNOS: Record<number, [code: string, text: string]> = {
  8: ['ENOEXEC', 'exec format error'],
  10: ['ECHILD', 'no child processes'],
  15: ['ENOTBLK', 'block device required'],
  33: ['EDOM', 'numerical argument out of domain'],
  35: ['EDEADLK', 'resource deadlock avoided'],
  37: ['ENOLCK', 'no locks available'],
  42: ['ENOMSG', 'no message of desired type'],
  43: ['EIDRM', 'identifier removed'],
  61: ['ENODATA', 'no data available'],
  62: ['ETIME', 'timer expired'],
  74: ['EBADMSG', 'bad message'],
  102: ['ENETRESET', 'network dropped connection on reset'],
  115: ['EINPROGRESS', 'operation now in progress'],
  116: ['ESTALE', 'stale file handle'],
  117: ['EUCLEAN', 'structure needs cleaning'],
  121: ['EREMOTEIO', 'remote I/O error'],
  122: ['EDQUOT', 'disk quota exceeded'],
  123: ['ENOMEDIUM', 'no medium found'],
  124: ['EMEDIUMTYPE', 'wrong medium type'],
};

/** The errno name and description, as Node gives them (`-25` gives `['ENOTTY', 'inappropriate ioctl for device']`). */
export function errnoText(errno: number): [code: string, text: string] {
  const entry = getSystemErrorMap().get(errno) ?? EXTRA_ERRNOS[-errno];
  if (entry) return entry;
  return [`E${-errno}`, `unknown error ${-errno}`];
}

/**
 * Builds the error for a failed system call.
 * @param errno negative errno, as the native layer returns it
 * @param syscall the system call (`'ioctl'`, `'open'`, ...)
 * @param ctx what the operation was doing
 * @param kind classification overriding `ctx.kind` (`NOT_BTRFS`, `NOT_SUBVOLUME`, ...)
 * @param ioctl the ioctl request name, for ioctl failures
 */
export function sysError(
  errno: number,
  syscall: string,
  ctx: StepContext,
  kind: BtrfsErrorKind = ctx.kind,
  ioctl?: string,
): BtrfsError {
  const [code, text] = errnoText(errno);
  const where = ctx.path !== undefined ? ` '${ctx.path}'` : ctx.fd !== undefined ? ` (fd ${ctx.fd})` : '';
  const dest = ctx.dest !== undefined ? ` -> '${ctx.dest}'` : '';
  const call = ioctl ? `${syscall} ${ioctl}` : syscall;
  const message = `${code}: ${text}, ${call}${where}${dest} (${ctx.operation}: ${KIND_TEXT[kind]})`;
  const fields: ConstructorParameters<typeof BtrfsError>[1] = {
    code,
    errno,
    syscall,
    kind,
    operation: ctx.operation,
  };
  if (ctx.path !== undefined) fields.path = ctx.path;
  if (ctx.dest !== undefined) fields.dest = ctx.dest;
  if (ctx.fd !== undefined) fields.fd = ctx.fd;
  if (ioctl !== undefined) fields.ioctl = ioctl;
  const error = new BtrfsError(message, fields);
  Error.captureStackTrace?.(error, sysError);
  return error;
}

/** Errno values used when the kernel gave none (a search that found nothing, say). */
export const ENOENT = -2;
export const EINVAL = -22;

/** A btrfs-level failure found by the library itself, not returned by a syscall. */
export function btrfsError(kind: BtrfsErrorKind, errno: number, syscall: string, ctx: StepContext): BtrfsError {
  return sysError(errno, syscall, ctx, kind);
}

/** A `TypeError` with Node's `ERR_INVALID_ARG_TYPE`: `name` was not `expected`. */
export function argTypeError(name: string, expected: string, actual: unknown): TypeError {
  const error = new TypeError(`The "${name}" argument must be ${expected}. Received ${describe(actual)}`);
  return Object.assign(error, { code: 'ERR_INVALID_ARG_TYPE' });
}

/** A `TypeError` with Node's `ERR_INVALID_ARG_VALUE`: right type, unusable value. */
export function argValueError(name: string, reason: string, actual: unknown): TypeError {
  const error = new TypeError(`The argument '${name}' ${reason}. Received ${describe(actual)}`);
  return Object.assign(error, { code: 'ERR_INVALID_ARG_VALUE' });
}

/** A `RangeError` with Node's `ERR_OUT_OF_RANGE`. */
export function rangeError(name: string, range: string, actual: unknown): RangeError {
  const error = new RangeError(`The value of "${name}" is out of range. It must be ${range}. Received ${describe(actual)}`);
  return Object.assign(error, { code: 'ERR_OUT_OF_RANGE' });
}

function describe(value: unknown): string {
  if (value === null || value === undefined) return String(value);
  if (typeof value === 'function') return `function ${value.name || '<anonymous>'}`;
  if (typeof value === 'object') {
    if (value.constructor?.name) return `an instance of ${value.constructor.name}`;
    return inspect(value, { depth: -1 });
  }
  let shown = inspect(value, { colors: false });
  if (shown.length > 40) shown = `${shown.slice(0, 37)}...`;
  return `type ${typeof value} (${shown})`;
}
