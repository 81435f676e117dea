/**
 * mount(2) and umount2(2), with what a user needs around them: mount options built from an object,
 * read-only bind mounts that really are read-only, and image files mounted through an autoclear loop
 * device that goes away with the unmount. Needs root.
 * @module
 */
import { argTypeError, argValueError, rangeError, type StepContext, sysError } from './errors';
import * as k from './kernel/mount';
import { type AttachLoopOptions, LoopDevice, attachLoopDevice, attachLoopDeviceSync } from './loop';
import { type Op, runAsync, runSync } from './op';
import { checkBoolean, checkOptions, checkPath, type PathLike } from './validate';

/**
 * mount(2) flags (`MS_*`), for {@link MountOptions.flags}; combine with `|`.
 * @example
 * ```ts
 * await mount('/dev/loop0', '/mnt/ro', { flags: MountFlags.RDONLY | MountFlags.NOATIME });
 * ```
 */
export const MountFlags = {
  RDONLY: k.MS_RDONLY,
  NOSUID: k.MS_NOSUID,
  NODEV: k.MS_NODEV,
  NOEXEC: k.MS_NOEXEC,
  SYNCHRONOUS: k.MS_SYNCHRONOUS,
  REMOUNT: k.MS_REMOUNT,
  MANDLOCK: k.MS_MANDLOCK,
  DIRSYNC: k.MS_DIRSYNC,
  NOSYMFOLLOW: k.MS_NOSYMFOLLOW,
  NOATIME: k.MS_NOATIME,
  NODIRATIME: k.MS_NODIRATIME,
  BIND: k.MS_BIND,
  MOVE: k.MS_MOVE,
  REC: k.MS_REC,
  SILENT: k.MS_SILENT,
  UNBINDABLE: k.MS_UNBINDABLE,
  PRIVATE: k.MS_PRIVATE,
  SLAVE: k.MS_SLAVE,
  SHARED: k.MS_SHARED,
  RELATIME: k.MS_RELATIME,
  STRICTATIME: k.MS_STRICTATIME,
  LAZYTIME: k.MS_LAZYTIME,
} as const;
/** One of the {@link MountFlags} values. */
export type MountFlag = (typeof MountFlags)[keyof typeof MountFlags];

/**
 * umount2(2) flags, for {@link UmountOptions.flags}.
 * @example
 * ```ts
 * await umount('/mnt/data', { flags: UmountFlags.DETACH }); // lazy: detach now, clean up when unused
 * ```
 */
export const UmountFlags = {
  FORCE: k.MNT_FORCE,
  DETACH: k.MNT_DETACH,
  EXPIRE: k.MNT_EXPIRE,
  NOFOLLOW: k.UMOUNT_NOFOLLOW,
} as const;
/** One of the {@link UmountFlags} values. */
export type UmountFlag = (typeof UmountFlags)[keyof typeof UmountFlags];

const ALL_MOUNT_FLAGS = Object.values(MountFlags).reduce((a, b) => a | b, 0);
const ALL_UMOUNT_FLAGS = Object.values(UmountFlags).reduce((a, b) => a | b, 0);
/** Per-mount flags the kernel ignores on a new bind mount and applies only on a remount. */
const BIND_REMOUNT_FLAGS =
  k.MS_RDONLY | k.MS_NOSUID | k.MS_NODEV | k.MS_NOEXEC | k.MS_NOATIME | k.MS_NODIRATIME | k.MS_RELATIME | k.MS_STRICTATIME | k.MS_NOSYMFOLLOW;

/** Mount options as an object: `true` is a bare flag, `false`/`undefined`/`null` leave it out. */
export type MountDataObject = Record<string, string | number | boolean | null | undefined>;

/**
 * Builds a mount(2) data string from an object (pybtrfs' `mount_data`). Keys and values that
 * mount(2) cannot carry (a comma, a NUL or other control character, an `=` in a key, an empty key)
 * are refused rather than passed on.
 * @example
 * ```ts
 * mountData({ compress: 'zstd', space_cache: 'v2', ssd: true, subvol: 'home' });
 * // 'compress=zstd,space_cache=v2,ssd,subvol=home'
 * ```
 */
export function mountData(options: MountDataObject): string {
  if (options === null || typeof options !== 'object' || Array.isArray(options)) throw argTypeError('options', 'of type object', options);
  const parts: string[] = [];
  for (const [key, value] of Object.entries(options)) {
    if (key === '' || /[,=\s\p{Cc}]/u.test(key)) throw argValueError(`options.${key}`, 'is not a mount option name (no comma, =, space or control character)', key);
    if (value === undefined || value === null || value === false) continue;
    if (value === true) {
      parts.push(key);
      continue;
    }
    if (typeof value === 'number') {
      if (!Number.isFinite(value)) throw rangeError(`options.${key}`, 'a finite number', value);
      parts.push(`${key}=${value}`);
      continue;
    }
    if (typeof value !== 'string') throw argTypeError(`options.${key}`, 'a string, number or boolean', value);
    if (/[,\p{Cc}]/u.test(value)) throw argValueError(`options.${key}`, 'cannot contain a comma or a control character (mount(2) splits options on commas)', value);
    parts.push(`${key}=${value}`);
  }
  return parts.join(',');
}

/** Options for {@link mount}. */
export interface MountOptions {
  /** Filesystem type. Default 'btrfs'. */
  fstype?: string;
  /** {@link MountFlags} combined with `|`. Default 0. */
  flags?: number;
  /**
   * Filesystem options: a string ('compress=zstd,ssd') or an object for {@link mountData}. Generic
   * options that mount(8) turns into flags (ro, noatime, nodev, ...) go in `flags` here; btrfs
   * refuses them in `data` with EINVAL.
   */
  data?: string | MountDataObject;
  /**
   * `source` is an image file: attach it to a loop device (autoclear, read-only with RDONLY) and
   * mount that; the unmount then releases the loop device. Default false.
   */
  loop?: boolean;
}

/** Options for {@link umount}. */
export interface UmountOptions {
  /** {@link UmountFlags} combined with `|`. Default 0. */
  flags?: number;
}

interface MountPlan {
  source: string | null;
  target: string;
  fstype: string | null;
  flags: number;
  data: string | null;
  loop: boolean;
}

function checkMount(source: unknown, target: unknown, options: unknown): MountPlan {
  const opts = checkOptions<MountOptions>(options);
  const plan: MountPlan = {
    source: source === null || source === undefined ? null : checkPath(source, 'source'),
    target: checkPath(target, 'target'),
    fstype: 'btrfs',
    flags: 0,
    data: null,
    loop: checkBoolean(opts.loop, 'options.loop', false),
  };
  if (opts.fstype !== undefined) {
    if (typeof opts.fstype !== 'string' || opts.fstype === '' || /[\p{Cc}\s]/u.test(opts.fstype)) throw argValueError('options.fstype', 'must be a filesystem type name', opts.fstype);
    plan.fstype = opts.fstype;
  }
  if (opts.flags !== undefined) {
    if (typeof opts.flags !== 'number') throw argTypeError('options.flags', 'of type number', opts.flags);
    if (!Number.isInteger(opts.flags) || opts.flags < 0 || (opts.flags & ~ALL_MOUNT_FLAGS) !== 0) throw rangeError('options.flags', 'a combination of MountFlags', opts.flags);
    plan.flags = opts.flags;
  }
  if (opts.data !== undefined && opts.data !== null) {
    if (typeof opts.data === 'string') {
      if (/\p{Cc}/u.test(opts.data)) throw argValueError('options.data', 'cannot contain a control character', opts.data);
      plan.data = opts.data;
    } else plan.data = mountData(opts.data);
  }
  if (plan.loop && plan.source === null) throw argValueError('source', 'must name an image file with options.loop', source);
  if ((plan.flags & (k.MS_REMOUNT | k.MS_BIND | k.MS_MOVE)) !== 0) plan.fstype = null; // ignored by the kernel there
  if (plan.source === null && (plan.flags & (k.MS_REMOUNT | k.MS_PRIVATE | k.MS_SHARED | k.MS_SLAVE | k.MS_UNBINDABLE)) === 0) {
    throw argValueError('source', 'is needed except for remount and propagation changes', source);
  }
  return plan;
}

/** The mount(2) calls a plan needs: one, or two for a bind mount with per-mount flags. */
function* mountCalls(plan: MountPlan, source: string | null, ctx: StepContext): Op<void> {
  const bindExtras = plan.flags & BIND_REMOUNT_FLAGS;
  const isNewBind = (plan.flags & k.MS_BIND) !== 0 && (plan.flags & k.MS_REMOUNT) === 0;
  const first = isNewBind ? plan.flags & ~BIND_REMOUNT_FLAGS : plan.flags;
  const result: number = yield { op: 'mount', source, target: plan.target, fstype: plan.fstype, flags: first, data: plan.data };
  if (result < 0) throw sysError(result, 'mount', ctx);
  if (!isNewBind || bindExtras === 0) return;
  // The kernel ignores MS_RDONLY (and the other per-mount flags) on a new bind mount: apply them
  // with a bind remount, and undo the bind if that fails so nothing is left half-done.
  const remount: number = yield { op: 'mount', source: null, target: plan.target, fstype: null, flags: k.MS_REMOUNT | k.MS_BIND | bindExtras, data: null };
  if (remount < 0) {
    yield { op: 'umount2', target: plan.target, flags: 0 };
    throw sysError(remount, 'mount', ctx);
  }
}

function mountContext(plan: MountPlan): StepContext {
  return { operation: 'mount', kind: 'MOUNT_FAILED', path: plan.target };
}

function* mountOp(plan: MountPlan): Op<void> {
  yield* mountCalls(plan, plan.source, mountContext(plan));
}

function loopOptions(plan: MountPlan): AttachLoopOptions {
  return { autoclear: true, readOnly: (plan.flags & k.MS_RDONLY) !== 0 };
}

/** Mounts through a held autoclear loop device, then lets go of it: the mount keeps it alive. */
async function mountLoop(plan: MountPlan, loop: LoopDevice): Promise<void> {
  try {
    await runAsync(mountCalls(plan, loop.path, mountContext(plan)));
  } finally {
    await loop.close(); // on failure, this releases the device again
  }
}

/**
 * Mounts `source` on `target` (pybtrfs' `mount`). Needs root. Like `mount -t btrfs -o DATA SRC DIR`.
 * @param source a block device, an image file with `loop: true`, the directory to bind with BIND, or
 *   null for a remount or a propagation change
 * @param target an existing directory
 * @throws BtrfsError MOUNT_FAILED with syscall 'mount' and path = target (ENOENT, ENOTBLK for a file
 *   without `loop`, EINVAL for an unknown option, EBUSY, EPERM); TypeError/RangeError for bad options,
 *   before any syscall
 * @example
 * ```ts
 * await mount('/dev/loop0', '/mnt/data', { data: { compress: 'zstd', space_cache: 'v2' } });
 * await mount('/var/tmp/disk.img', '/mnt/img', { loop: true, flags: MountFlags.RDONLY });
 * await mount('/mnt/data/snap', '/srv/snap', { flags: MountFlags.BIND | MountFlags.RDONLY });
 * ```
 */
export async function mount(source: PathLike | null, target: PathLike, options?: MountOptions): Promise<void> {
  const plan = checkMount(source, target, options);
  if (!plan.loop) return runAsync(mountOp(plan));
  return mountLoop(plan, await attachLoopDevice(plan.source!, loopOptions(plan)));
}

/** Synchronous form of {@link mount}. @example `mountSync('/dev/loop0', '/mnt/data')` */
export function mountSync(source: PathLike | null, target: PathLike, options?: MountOptions): void {
  const plan = checkMount(source, target, options);
  if (!plan.loop) return runSync(mountOp(plan));
  const loop = attachLoopDeviceSync(plan.source!, loopOptions(plan));
  try {
    runSync(mountCalls(plan, loop.path, mountContext(plan)));
  } finally {
    loop.closeSync();
  }
}

function checkUmount(target: unknown, options: unknown): { target: string; flags: number } {
  const path = checkPath(target, 'target');
  const opts = checkOptions<UmountOptions>(options);
  let flags = 0;
  if (opts.flags !== undefined) {
    if (typeof opts.flags !== 'number') throw argTypeError('options.flags', 'of type number', opts.flags);
    if (!Number.isInteger(opts.flags) || opts.flags < 0 || (opts.flags & ~ALL_UMOUNT_FLAGS) !== 0) throw rangeError('options.flags', 'a combination of UmountFlags', opts.flags);
    flags = opts.flags;
  }
  return { target: path, flags };
}

function* umountOp(target: string, flags: number): Op<void> {
  const result: number = yield { op: 'umount2', target, flags };
  if (result < 0) throw sysError(result, 'umount2', { operation: 'umount', kind: 'UMOUNT_FAILED', path: target });
}

/**
 * Unmounts `target` (pybtrfs' `umount`). A filesystem mounted with `loop: true` releases its loop
 * device. Needs root. Like `umount DIR`.
 * @throws BtrfsError UMOUNT_FAILED with syscall 'umount2' (EBUSY while in use, EINVAL when not a
 *   mount point, ENOENT)
 * @example
 * ```ts
 * await umount('/mnt/data');
 * ```
 */
export async function umount(target: PathLike, options?: UmountOptions): Promise<void> {
  const { target: path, flags } = checkUmount(target, options);
  return runAsync(umountOp(path, flags));
}
/** Synchronous form of {@link umount}. @example `umountSync('/mnt/data')` */
export function umountSync(target: PathLike, options?: UmountOptions): void {
  const { target: path, flags } = checkUmount(target, options);
  runSync(umountOp(path, flags));
}
