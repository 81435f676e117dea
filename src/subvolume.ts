/**
 * Subvolumes and snapshots: the libbtrfsutil / pybtrfs API. Every function has a Promise form and a
 * `*Sync` twin, both running the same operation (see op.ts).
 *
 * Paths that name something existing also accept an open descriptor (an integer or a FileHandle);
 * the library never closes a descriptor it was given.
 * @module
 */
import * as fs from 'node:fs';
import { join, relative } from 'node:path';
import { argTypeError, btrfsError, ENOENT, type StepContext, sysError } from './errors';
import { legacyIoctls } from './features';
import { collectSubvolumes } from './iterator';
import {
  BTRFS_DIR_ITEM_KEY,
  BTRFS_FS_TREE_OBJECTID,
  BTRFS_FIRST_FREE_OBJECTID,
  BTRFS_ORPHAN_ITEM_KEY,
  BTRFS_ORPHAN_OBJECTID,
  BTRFS_ROOT_TREE_DIR_OBJECTID,
  BTRFS_ROOT_TREE_OBJECTID,
  BTRFS_SUBVOL_QGROUP_INHERIT,
  BTRFS_SUBVOL_RDONLY,
  BTRFS_SUBVOL_SPEC_BY_ID,
  BTRFS_SUPER_MAGIC,
} from './kernel/constants';
import { HOST_LE, toSafeNumber, u64Number, viewOf } from './kernel/struct';
import {
  BTRFS_IOC_DEFAULT_SUBVOL,
  BTRFS_IOC_GET_SUBVOL_INFO,
  BTRFS_IOC_INO_LOOKUP,
  BTRFS_IOC_SNAP_CREATE,
  BTRFS_IOC_SNAP_CREATE_V2,
  BTRFS_IOC_SNAP_DESTROY,
  BTRFS_IOC_SNAP_DESTROY_V2,
  BTRFS_IOC_SUBVOL_CREATE,
  BTRFS_IOC_SUBVOL_CREATE_V2,
  BTRFS_IOC_SUBVOL_GETFLAGS,
  BTRFS_IOC_SUBVOL_SETFLAGS,
  btrfs_ioctl_get_subvol_info_args,
  btrfs_ioctl_ino_lookup_args,
  btrfs_ioctl_vol_args,
  btrfs_ioctl_vol_args_v2,
  encodeQgroupInherit,
} from './kernel/subvol';
import { btrfs_dir_item } from './kernel/tree';
import {
  argBuffer,
  bind,
  callOp,
  classify,
  close,
  ioctl,
  ioctlAt,
  ioctlFailure,
  type IoctlOptions,
  type Op,
  type Operation,
  open,
  runAsync,
  runSync,
  type StatResult,
  type Step,
  TargetCall,
  targetIoctl,
  withDir,
  withTarget,
} from './op';
import {
  backRef,
  decodeSubvolInfo,
  infoById,
  infoOfFd,
  inoLookupPath,
  lookupSubvolumeId,
  pathOfId,
  type SubvolumeInfo,
} from './subvolume-core';
import { itemsOf, searchAll } from './tree-search';
import {
  checkBoolean,
  checkId,
  checkNewPath,
  checkOptionalId,
  checkOptions,
  checkPathOrFd,
  checkQgroupId,
  contextOf,
  type Id,
  type PathLike,
  type PathOrFd,
  type Target,
} from './validate';

export type { SubvolumeInfo } from './subvolume-core';

const { O_RDONLY, O_DIRECTORY } = fs.constants;
const ENOTTY = -25;

// ---- shared helpers ----

/** The path to hand to statfs/stat for a target. */
const statPath = (target: Target): string => (target.fd !== undefined ? `/proc/self/fd/${target.fd}` : target.path!);

/**
 * Qgroups a new subvolume or snapshot is added to (pybtrfs' `QgroupInherit`). Anywhere a
 * `qgroupInherit` option is taken, an array of qgroup ids works too.
 * @example
 * ```ts
 * const inherit = new QgroupInherit().addGroup('1/100');
 * await createSubvolume('/mnt/data/project', { qgroupInherit: inherit });
 * ```
 */
export class QgroupInherit {
  private readonly groups: bigint[] = [];

  /** @param groups qgroup ids to start with (numbers, bigints or 'level/id' strings) */
  constructor(groups: Iterable<number | bigint | string> = []) {
    for (const group of groups) this.addGroup(group);
  }

  /**
   * Adds a qgroup. @param qgroupid `(level << 48) | id`, or 'level/id'
   * @returns this, for chaining
   */
  addGroup(qgroupid: number | bigint | string): this {
    this.groups.push(checkQgroupId(qgroupid));
    return this;
  }

  /** The qgroup ids added so far, as numbers. */
  getGroups(): number[] {
    return this.groups.map((id) => toSafeNumber(id, 'qgroupid'));
  }

  /** @internal the ids as bigints */
  ids(): bigint[] {
    return [...this.groups];
  }
}

/** What the `qgroupInherit` option accepts. */
export type QgroupInheritOption = QgroupInherit | readonly (number | bigint | string)[];

function checkInherit(value: unknown): bigint[] | undefined {
  if (value === undefined || value === null) return undefined;
  if (value instanceof QgroupInherit) return value.ids();
  if (!Array.isArray(value)) throw argTypeError('options.qgroupInherit', 'an array of qgroup ids or a QgroupInherit', value);
  return value.map((id, i) => checkQgroupId(id, `options.qgroupInherit[${i}]`));
}

const V2 = btrfs_ioctl_vol_args_v2.fields;

/**
 * A zeroed vol_args_v2 (see {@link argBuffer}) holding `name`, `flags` and the source descriptor.
 * Written field by field: create and delete run it once per subvolume, and on a machine where a
 * fresh page costs a fault, the garbage of the generic layout writer showed in their timings.
 */
function volArgs(name: string, flags: bigint, sourceFd = 0): Buffer {
  const args = argBuffer(btrfs_ioctl_vol_args_v2.size);
  args.write(name, V2.name.offset, 'utf8'); // checkNewPath allowed at most 255 bytes: the NUL fits
  if (sourceFd !== 0 || flags !== 0n) {
    const view = viewOf(args); // host order, as every ioctl argument
    view.setBigInt64(V2.fd.offset, BigInt(sourceFd), HOST_LE);
    view.setBigUint64(V2.flags.offset, flags, HOST_LE);
  }
  return args;
}

/** Where a vol_args_v2 name (at most 255 bytes, checkNewPath) and its NUL end. */
const NAME_END = V2.name.offset + 256;

/** A one-call create or delete's vol_args_v2 (zeroed by the driver): the name in the parent. */
function writeName(args: Buffer, c: { dest: { name: string } }): void {
  args.write(c.dest.name, V2.name.offset, 'utf8'); // checkNewPath allowed at most 255 bytes: the NUL fits
}

/** The options of a create/snapshot ioctl: with the qgroup_inherit pointer patch when needed. */
function createOptions(args: Buffer, inherit: bigint[] | undefined, base: IoctlOptions): IoctlOptions {
  if (!inherit || inherit.length === 0) return base;
  const block = encodeQgroupInherit(inherit);
  const view = viewOf(args);
  view.setBigUint64(V2.flags.offset, view.getBigUint64(V2.flags.offset, HOST_LE) | BTRFS_SUBVOL_QGROUP_INHERIT, HOST_LE);
  view.setBigUint64(V2.size.offset, BigInt(block.length), HOST_LE);
  return { ...base, patches: [V2.qgroup_inherit.offset, block] };
}

const CREATE_V2_OPTIONS: IoctlOptions = { name: 'BTRFS_IOC_SUBVOL_CREATE_V2', blocking: true, allow: [ENOTTY] };
const SNAP_CREATE_V2_OPTIONS: IoctlOptions = { name: 'BTRFS_IOC_SNAP_CREATE_V2', blocking: true, allow: [ENOTTY] };
const SNAP_DESTROY_V2_OPTIONS: IoctlOptions = { name: 'BTRFS_IOC_SNAP_DESTROY_V2', blocking: true, allow: [ENOTTY] };

// ---- is / id / path / info ----

/**
 * Filesystem type by unique mount id. A mount's filesystem never changes and its unique id is never
 * reused while the system runs (Linux 6.8+), so after the first statfs of a mount, isSubvolume is
 * one statx: fewer syscalls than libbtrfsutil's statfs + stat. Bounded: cleared past 4,096 mounts.
 */
const fsTypeByMount = new Map<number, number>();

/** The filesystem type of a mount already seen, if any (no generator: the hot path). */
function knownFsType(st: StatResult): number | undefined {
  return st.mntId === null ? undefined : fsTypeByMount.get(st.mntId);
}

/** The filesystem type (statfs f_type) of the mount `st` was found on, or -errno from statfs. */
function* mountFsType(target: Target, st: StatResult): Op<number> {
  const type: number = yield { op: 'statfs', path: statPath(target) };
  if (type >= 0 && st.mntId !== null) {
    if (fsTypeByMount.size >= 4096) fsTypeByMount.clear();
    fsTypeByMount.set(st.mntId, type);
  }
  return type;
}

/** A stat or fstat step for the target (through statx). */
const statStep = (target: Target): Step => (target.fd !== undefined ? { op: 'fstat', fd: target.fd } : { op: 'stat', path: target.path! });

function* isSubvolumeOp(target: Target): Op<boolean> {
  // libbtrfsutil's kind for a path that cannot be examined at all (its statfs comes first).
  const ctx = contextOf('isSubvolume', 'STATFS_FAILED', target);
  const st: StatResult | number = yield statStep(target);
  if (typeof st === 'number') throw sysError(st, 'statx', ctx);
  const type = knownFsType(st) ?? (yield* mountFsType(target, st));
  if (type < 0) throw sysError(type, 'statfs', ctx);
  return type === BTRFS_SUPER_MAGIC && st.isDirectory && st.ino === 256;
}

/**
 * Whether `path` is a subvolume root (the top level included). Returns false, not an error, when
 * `path` is not on btrfs. Unprivileged. Like `btrfs subvolume show` succeeding.
 * @param path any path, or an open descriptor
 * @throws BtrfsError STATFS_FAILED (e.g. ENOENT: the path cannot be examined); TypeError for a bad path
 * @example
 * ```ts
 * if (await isSubvolume('/mnt/data/project')) console.log('a subvolume');
 * ```
 */
export async function isSubvolume(path: PathOrFd): Promise<boolean> {
  return runAsync(isSubvolumeOp(checkPathOrFd(path)));
}
/** Synchronous form of {@link isSubvolume}. @example `isSubvolumeSync('/mnt/data') // true` */
export function isSubvolumeSync(path: PathOrFd): boolean {
  return runSync(isSubvolumeOp(checkPathOrFd(path)));
}

const LOOKUP = btrfs_ioctl_ino_lookup_args.fields;
/** False once this kernel proved it has no statx stx_subvol (before 6.10): no statx spent per call. */
let statxHasSubvol = true;
const INO_LOOKUP_OPTIONS: IoctlOptions = { name: 'BTRFS_IOC_INO_LOOKUP' };

function* subvolumeIdOp(target: Target): Op<number> {
  const ctx = contextOf('subvolumeId', 'INO_LOOKUP_FAILED', target);
  // Linux 6.10+: statx reports the subvolume (btrfs and bcachefs: the mount's type decides), with
  // no descriptor to open. Anything else, failures included, takes the INO_LOOKUP path, which
  // reports errors as it always has.
  let withoutSubvol = false; // a statx that worked but gave no subvolume
  if (statxHasSubvol) {
    const st: StatResult | number = yield statStep(target);
    if (typeof st !== 'number' && st.subvol !== null && (knownFsType(st) ?? (yield* mountFsType(target, st))) === BTRFS_SUPER_MAGIC) return st.subvol;
    withoutSubvol = typeof st !== 'number' && st.subvol === null;
  }
  // Unzeroed: the kernel reads only treeid and objectid (set here) and writes the name it returns.
  const args = argBuffer(btrfs_ioctl_ino_lookup_args.size, false);
  const view = viewOf(args);
  view.setBigUint64(LOOKUP.treeid.offset, 0n, HOST_LE); // 0: the tree of the inode itself
  view.setBigUint64(LOOKUP.objectid.offset, BTRFS_FIRST_FREE_OBJECTID, HOST_LE);
  yield* targetIoctl(target, O_RDONLY, BTRFS_IOC_INO_LOOKUP, args, ctx, INO_LOOKUP_OPTIONS);
  // INO_LOOKUP worked, so this is btrfs: a statx that gave no subvolume means a kernel before 6.10.
  if (withoutSubvol) statxHasSubvol = false;
  return u64Number(view, LOOKUP.treeid.offset, 'id');
}

/**
 * The id of the subvolume containing `path` (any file or directory). Unprivileged.
 * Like `btrfs inspect-internal rootid`.
 * @throws BtrfsError OPEN_FAILED, NOT_BTRFS, INO_LOOKUP_FAILED
 * @example
 * ```ts
 * const id = await subvolumeId('/mnt/data/project/file.txt'); // e.g. 256
 * ```
 */
export async function subvolumeId(path: PathOrFd): Promise<number> {
  return runAsync(subvolumeIdOp(checkPathOrFd(path)));
}
/** Synchronous form of {@link subvolumeId}. @example `subvolumeIdSync('/mnt/data') // 5` */
export function subvolumeIdSync(path: PathOrFd): number {
  return runSync(subvolumeIdOp(checkPathOrFd(path)));
}

function* subvolumePathOp(target: Target, id: bigint): Op<string> {
  const ctx = contextOf('subvolumePath', 'SEARCH_FAILED', target);
  return yield* withTarget(target, ctx, function* (fd) {
    return yield* pathOfId(fd, id === 0n ? yield* lookupSubvolumeId(fd, ctx) : id, ctx);
  });
}

/**
 * The path of subvolume `id` (default: the one containing `path`) relative to the top level of the
 * filesystem, "" for the top level itself. Needs root (CAP_SYS_ADMIN), as in libbtrfsutil.
 * Like the path column of `btrfs subvolume list`.
 * @param id subvolume id; 0 or omitted: the subvolume containing `path`
 * @throws BtrfsError SUBVOLUME_NOT_FOUND (ENOENT), SEARCH_FAILED (EPERM unprivileged), NOT_BTRFS
 * @example
 * ```ts
 * await subvolumePath('/mnt/data', 257); // 'projects/a'
 * ```
 */
export async function subvolumePath(path: PathOrFd, id?: Id): Promise<string> {
  return runAsync(subvolumePathOp(checkPathOrFd(path), checkOptionalId(id, 'id')));
}
/** Synchronous form of {@link subvolumePath}. @example `subvolumePathSync('/mnt/data/a') // 'a'` */
export function subvolumePathSync(path: PathOrFd, id?: Id): string {
  return runSync(subvolumePathOp(checkPathOrFd(path), checkOptionalId(id, 'id')));
}

const GET_SUBVOL_INFO_OPTIONS: IoctlOptions = { name: 'BTRFS_IOC_GET_SUBVOL_INFO', allow: [ENOTTY] };
const infoContext = (target: Target): StepContext => contextOf('subvolumeInfo', 'GET_SUBVOL_INFO_FAILED', target);

/** The common question, one call: GET_SUBVOL_INFO on the path (or the caller's fd). */
const GET_SUBVOL_INFO = new TargetCall<Target, SubvolumeInfo>({
  request: BTRFS_IOC_GET_SUBVOL_INFO,
  openFlags: O_RDONLY,
  blocking: false,
  size: btrfs_ioctl_get_subvol_info_args.size,
  fill: null, // the kernel copies out the whole struct
  done: decodeSubvolInfo,
  *otherwise(target, errno) {
    const ctx = infoContext(target);
    if (errno !== ENOTTY) throw yield* ioctlFailure(target.fd ?? target.path!, errno, ctx, GET_SUBVOL_INFO_OPTIONS);
    // Not on btrfs: say so about this ioctl; on btrfs, a kernel before 4.18: the root tree instead.
    const error = yield* classify(target.fd ?? target.path!, errno, ctx, GET_SUBVOL_INFO_OPTIONS);
    if ((error as { kind?: string }).kind === 'NOT_BTRFS') throw error;
    return yield* infoFromTree(target, 0n, ctx);
  },
});

function subvolumeInfoOp(target: Target, id: bigint): Operation<SubvolumeInfo> {
  return id === 0n && !legacyIoctls() ? bind(GET_SUBVOL_INFO, target) : infoFromTree(target, id, infoContext(target));
}

/** Subvolume info the long way: INO_LOOKUP and the root tree (root), for an id or an old kernel. */
function* infoFromTree(target: Target, id: bigint, ctx: StepContext): Op<SubvolumeInfo> {
  return yield* withTarget(target, ctx, function* (fd) {
    return id === 0n ? yield* infoOfFd(fd, ctx) : yield* infoById(fd, id, ctx);
  });
}

/**
 * Information about a subvolume: the one containing `path`, or subvolume `id` of the same
 * filesystem. Without `id` it works unprivileged (GET_SUBVOL_INFO); with `id` it needs root.
 * Like `btrfs subvolume show`.
 * @param id subvolume id; 0 or omitted: the subvolume containing `path`
 * @throws BtrfsError SUBVOLUME_NOT_FOUND, NOT_BTRFS, GET_SUBVOL_INFO_FAILED, SEARCH_FAILED
 * @example
 * ```ts
 * const snap = await subvolumeInfo('/mnt/data/project-snap');
 * const src = await subvolumeInfo('/mnt/data/project');
 * console.log(snap.parentUuid === src.uuid, snap.readOnly);
 * ```
 */
export async function subvolumeInfo(path: PathOrFd, id?: Id): Promise<SubvolumeInfo> {
  return runAsync(subvolumeInfoOp(checkPathOrFd(path), checkOptionalId(id, 'id')));
}
/** Synchronous form of {@link subvolumeInfo}. @example `subvolumeInfoSync('/mnt/data').id // 5` */
export function subvolumeInfoSync(path: PathOrFd, id?: Id): SubvolumeInfo {
  return runSync(subvolumeInfoOp(checkPathOrFd(path), checkOptionalId(id, 'id')));
}

// ---- read-only flag ----

function* getFlags(fd: number, ctx: StepContext): Op<bigint> {
  const arg = Buffer.alloc(8);
  yield* ioctl(fd, BTRFS_IOC_SUBVOL_GETFLAGS, arg, { ...ctx, kind: 'SUBVOL_GETFLAGS_FAILED' }, {
    name: 'BTRFS_IOC_SUBVOL_GETFLAGS',
    needsSubvolume: true,
  });
  return viewOf(arg).getBigUint64(0, true);
}

const GETFLAGS_OPTIONS: IoctlOptions = { name: 'BTRFS_IOC_SUBVOL_GETFLAGS', needsSubvolume: true };
const SUBVOL_RDONLY = Number(BTRFS_SUBVOL_RDONLY);

/** SUBVOL_GETFLAGS on the target, one call (see TargetCall). */
const GET_READ_ONLY = new TargetCall<Target, boolean>({
  request: BTRFS_IOC_SUBVOL_GETFLAGS,
  openFlags: O_RDONLY,
  blocking: false,
  size: 8,
  fill: null, // the kernel writes the whole u64
  done: (arg) => (arg[0]! & SUBVOL_RDONLY) !== 0,
  *otherwise(target, errno) {
    const ctx = contextOf('getSubvolumeReadOnly', 'SUBVOL_GETFLAGS_FAILED', target);
    throw yield* ioctlFailure(target.fd ?? target.path!, errno, ctx, GETFLAGS_OPTIONS);
  },
});

/** Sets or clears the read-only flag of the subvolume open at `fd`. */
function* setReadOnlyOnFd(fd: number, readOnly: boolean, ctx: StepContext): Op<void> {
  const flags = yield* getFlags(fd, ctx);
  const wanted = readOnly ? flags | BTRFS_SUBVOL_RDONLY : flags & ~BTRFS_SUBVOL_RDONLY;
  if (wanted === flags) return;
  const arg = Buffer.alloc(8);
  viewOf(arg).setBigUint64(0, wanted, true);
  yield* ioctl(fd, BTRFS_IOC_SUBVOL_SETFLAGS, arg, { ...ctx, kind: 'SUBVOL_SETFLAGS_FAILED' }, {
    name: 'BTRFS_IOC_SUBVOL_SETFLAGS',
    needsSubvolume: true,
    blocking: true, // joins a transaction, which may wait for a commit
  });
}

function* setReadOnlyOp(target: Target, readOnly: boolean): Op<void> {
  const ctx = contextOf('setSubvolumeReadOnly', 'SUBVOL_SETFLAGS_FAILED', target);
  yield* withTarget(target, ctx, (fd) => setReadOnlyOnFd(fd, readOnly, ctx));
}

/**
 * Whether the subvolume at `path` is read-only. Unprivileged. Like `btrfs property get PATH ro`.
 * @param path a subvolume root, or an open descriptor of one
 * @throws BtrfsError NOT_SUBVOLUME (EINVAL), NOT_BTRFS, SUBVOL_GETFLAGS_FAILED
 * @example
 * ```ts
 * await getSubvolumeReadOnly('/mnt/data/project-snap'); // true
 * ```
 */
export async function getSubvolumeReadOnly(path: PathOrFd): Promise<boolean> {
  return runAsync(bind(GET_READ_ONLY, checkPathOrFd(path)));
}
/** Synchronous form of {@link getSubvolumeReadOnly}. @example `getSubvolumeReadOnlySync('/mnt/data') // false` */
export function getSubvolumeReadOnlySync(path: PathOrFd): boolean {
  return runSync(bind(GET_READ_ONLY, checkPathOrFd(path)));
}

/**
 * Makes the subvolume at `path` read-only, or read-write with `readOnly = false`. Needs ownership of
 * the subvolume (or root). Like `btrfs property set PATH ro true|false`.
 * @param readOnly default true
 * @throws BtrfsError NOT_SUBVOLUME, NOT_BTRFS, SUBVOL_SETFLAGS_FAILED (EPERM)
 * @example
 * ```ts
 * await setSubvolumeReadOnly('/mnt/data/project-snap', false);
 * ```
 */
export async function setSubvolumeReadOnly(path: PathOrFd, readOnly = true): Promise<void> {
  return runAsync(setReadOnlyOp(checkPathOrFd(path), checkBoolean(readOnly, 'readOnly', true)));
}
/** Synchronous form of {@link setSubvolumeReadOnly}. @example `setSubvolumeReadOnlySync('/mnt/data/snap')` */
export function setSubvolumeReadOnlySync(path: PathOrFd, readOnly = true): void {
  runSync(setReadOnlyOp(checkPathOrFd(path), checkBoolean(readOnly, 'readOnly', true)));
}

// ---- default subvolume ----

function* getDefaultOp(target: Target): Op<number> {
  const ctx = contextOf('getDefaultSubvolume', 'SEARCH_FAILED', target);
  return yield* withTarget(target, ctx, function* (fd) {
    const items = yield* searchAll(fd, itemsOf(BTRFS_ROOT_TREE_OBJECTID, BTRFS_ROOT_TREE_DIR_OBJECTID, BTRFS_DIR_ITEM_KEY), BTRFS_DIR_ITEM_KEY, ctx);
    for (const item of items) {
      // One DIR_ITEM payload may pack several entries (hash collisions): walk them all.
      for (let at = 0; at + btrfs_dir_item.size <= item.data.length; ) {
        const entry = btrfs_dir_item.decode(item.data, at);
        const nameAt = at + btrfs_dir_item.size;
        if (item.data.toString('utf8', nameAt, nameAt + entry.name_len) === 'default') {
          return toSafeNumber(entry.location_objectid, 'id');
        }
        at = nameAt + entry.name_len + entry.data_len;
      }
    }
    return Number(BTRFS_FS_TREE_OBJECTID);
  });
}

/**
 * The id of the default subvolume (the one mounted when no `subvol=` is given). Needs root.
 * Like `btrfs subvolume get-default`.
 * @throws BtrfsError SEARCH_FAILED (EPERM unprivileged), NOT_BTRFS
 * @example
 * ```ts
 * await getDefaultSubvolume('/mnt/data'); // 5
 * ```
 */
export async function getDefaultSubvolume(path: PathOrFd): Promise<number> {
  return runAsync(getDefaultOp(checkPathOrFd(path)));
}
/** Synchronous form of {@link getDefaultSubvolume}. @example `getDefaultSubvolumeSync('/mnt/data') // 5` */
export function getDefaultSubvolumeSync(path: PathOrFd): number {
  return runSync(getDefaultOp(checkPathOrFd(path)));
}

function* setDefaultOp(target: Target, id: bigint): Op<void> {
  const ctx = contextOf('setDefaultSubvolume', 'DEFAULT_SUBVOL_FAILED', target);
  yield* withTarget(target, ctx, function* (fd) {
    const arg = Buffer.alloc(8);
    viewOf(arg).setBigUint64(0, id === 0n ? yield* lookupSubvolumeId(fd, ctx) : id, true);
    yield* ioctl(fd, BTRFS_IOC_DEFAULT_SUBVOL, arg, ctx, { name: 'BTRFS_IOC_DEFAULT_SUBVOL', blocking: true });
  });
}

/**
 * Sets the default subvolume: subvolume `id`, or with `id` 0/omitted the one containing `path`.
 * Needs root. Like `btrfs subvolume set-default`.
 * @throws BtrfsError DEFAULT_SUBVOL_FAILED (ENOENT for a missing id, EPERM), NOT_BTRFS
 * @example
 * ```ts
 * await setDefaultSubvolume('/mnt/data/rootfs'); // boot into this subvolume next time
 * ```
 */
export async function setDefaultSubvolume(path: PathOrFd, id?: Id): Promise<void> {
  return runAsync(setDefaultOp(checkPathOrFd(path), checkOptionalId(id, 'id')));
}
/** Synchronous form of {@link setDefaultSubvolume}. @example `setDefaultSubvolumeSync('/mnt/data', 5)` */
export function setDefaultSubvolumeSync(path: PathOrFd, id?: Id): void {
  runSync(setDefaultOp(checkPathOrFd(path), checkOptionalId(id, 'id')));
}

// ---- create ----

/** Options for {@link createSubvolume}. */
export interface CreateSubvolumeOptions {
  /** Qgroups the new subvolume's qgroup becomes a member of (ids or 'level/id'). */
  qgroupInherit?: QgroupInheritOption;
}

/** A path to create or delete, checked (see checkNewPath). */
type NewPath = { path: string; parent: string; name: string };

/** The context of a call made in the parent directory of `dest`: the target is the parent. */
interface InParent {
  path: string;
  fd?: undefined;
  dest: NewPath;
}

const createContext = (dest: NewPath): StepContext => ({ operation: 'createSubvolume', kind: 'SUBVOL_CREATE_FAILED', path: dest.path });

/**
 * A one-call operation on a name in its parent directory (create, delete): open the parent, the V2
 * ioctl with the name in vol_args_v2, close. ENOTTY (a kernel without the V2 ioctl, or not btrfs)
 * goes to `older`; any other failure is classified and thrown.
 */
function inParentCall(
  request: number,
  options: IoctlOptions,
  context: (dest: NewPath) => StepContext,
  older: (dest: NewPath, ctx: StepContext) => Op<void>,
): TargetCall<InParent, void> {
  return new TargetCall<InParent, void>({
    request,
    openFlags: O_RDONLY | O_DIRECTORY,
    blocking: true,
    size: btrfs_ioctl_vol_args_v2.size,
    fill: writeName,
    fillBytes: NAME_END,
    done: () => undefined,
    *otherwise(c, errno) {
      const ctx = context(c.dest);
      if (errno !== ENOTTY) throw yield* ioctlFailure(c.path, errno, ctx, options);
      yield* older(c.dest, ctx);
    },
  });
}

/** The common create, one call: SUBVOL_CREATE_V2 in the parent. */
const CREATE_V2 = inParentCall(BTRFS_IOC_SUBVOL_CREATE_V2, CREATE_V2_OPTIONS, createContext, (dest, ctx) => createV1(dest, undefined, ctx));

function createSubvolumeOp(dest: NewPath, inherit: bigint[] | undefined): Operation<void> {
  if (!inherit?.length && !legacyIoctls()) return bind(CREATE_V2, { path: dest.parent, dest });
  return createInheritingOp(dest, inherit);
}

/** A create with qgroups to inherit (a pointer patch), or with the legacy ioctls forced. */
function* createInheritingOp(dest: NewPath, inherit: bigint[] | undefined): Op<void> {
  const ctx = createContext(dest);
  if (!legacyIoctls()) {
    const args = volArgs(dest.name, 0n);
    const options = createOptions(args, inherit, CREATE_V2_OPTIONS);
    const result = yield* ioctlAt(dest.parent, O_RDONLY | O_DIRECTORY, BTRFS_IOC_SUBVOL_CREATE_V2, args, ctx, options);
    if (result !== ENOTTY) return;
    if (inherit?.length) throw yield* classify(dest.parent, result, ctx, options); // v1 cannot inherit
  }
  yield* createV1(dest, inherit, ctx);
}

/** SUBVOL_CREATE (v1, kernels without the V2 ioctl): no qgroup inheritance. */
function* createV1(dest: NewPath, inherit: bigint[] | undefined, ctx: StepContext): Op<void> {
  yield* withDir(dest.parent, ctx, function* (dfd) {
    if (inherit?.length) {
      throw sysError(-95 /* EOPNOTSUPP */, 'ioctl', ctx, 'SUBVOL_CREATE_FAILED', 'BTRFS_IOC_SUBVOL_CREATE');
    }
    const args = btrfs_ioctl_vol_args.encode({ name: dest.name });
    yield* ioctl(dfd, BTRFS_IOC_SUBVOL_CREATE, args, ctx, { name: 'BTRFS_IOC_SUBVOL_CREATE', blocking: true });
  });
}

/**
 * Creates a subvolume at `path` (its parent directory must exist). Unprivileged in a writable
 * directory. Like `btrfs subvolume create [-i qgroup]`.
 * @param path the new subvolume; its last component is the name (1 to 255 bytes)
 * @throws BtrfsError SUBVOL_CREATE_FAILED (EEXIST, EACCES, ENOENT for a listed qgroup that does not
 *   exist), OPEN_FAILED for the parent, NOT_BTRFS; TypeError for a bad path or option
 * @example
 * ```ts
 * await createSubvolume('/mnt/data/project');
 * await createSubvolume('/mnt/data/tenant-a', { qgroupInherit: ['1/100'] });
 * ```
 */
export async function createSubvolume(path: PathLike, options?: CreateSubvolumeOptions): Promise<void> {
  const dest = checkNewPath(path);
  const opts = checkOptions<CreateSubvolumeOptions>(options);
  return runAsync(createSubvolumeOp(dest, checkInherit(opts.qgroupInherit)));
}
/** Synchronous form of {@link createSubvolume}. @example `createSubvolumeSync('/mnt/data/project')` */
export function createSubvolumeSync(path: PathLike, options?: CreateSubvolumeOptions): void {
  const dest = checkNewPath(path);
  const opts = checkOptions<CreateSubvolumeOptions>(options);
  runSync(createSubvolumeOp(dest, checkInherit(opts.qgroupInherit)));
}

/** Options for {@link createSnapshot}. */
export interface CreateSnapshotOptions {
  /** Make the snapshot read-only (every nested one too, with `recursive`). Default false. */
  readOnly?: boolean;
  /** Also snapshot the subvolumes nested in `source`, into the same places. Default false. Needs root. */
  recursive?: boolean;
  /** Qgroups the new snapshot's qgroup becomes a member of. */
  qgroupInherit?: QgroupInheritOption;
}

/** One SNAP_CREATE: `sourceFd` into directory `dfd` as `name`. */
function* snapshotOnce(sourceFd: number, dfd: number, name: string, readOnly: boolean, inherit: bigint[] | undefined, ctx: StepContext): Op<void> {
  if (!legacyIoctls()) {
    const args = volArgs(name, readOnly ? BTRFS_SUBVOL_RDONLY : 0n, sourceFd);
    const options = createOptions(args, inherit, SNAP_CREATE_V2_OPTIONS);
    const result = yield* ioctl(dfd, BTRFS_IOC_SNAP_CREATE_V2, args, ctx, options);
    if (result !== ENOTTY) return;
    if (inherit?.length) throw yield* classify(dfd, result, ctx, options);
  } else if (inherit?.length) {
    throw sysError(-95 /* EOPNOTSUPP */, 'ioctl', ctx, 'SNAP_CREATE_FAILED', 'BTRFS_IOC_SNAP_CREATE');
  }
  // v1 has no flags: make it read-only right after (not atomic, the best an old kernel allows).
  const args = btrfs_ioctl_vol_args.encode({ fd: BigInt(sourceFd), name });
  yield* ioctl(dfd, BTRFS_IOC_SNAP_CREATE, args, ctx, { name: 'BTRFS_IOC_SNAP_CREATE', blocking: true });
  if (readOnly) {
    const created = yield* open(`/proc/self/fd/${dfd}/${name}`, O_RDONLY | O_DIRECTORY, ctx);
    try {
      yield* setReadOnlyOnFd(created, true, ctx);
    } finally {
      yield* close(created);
    }
  }
}

function* createSnapshotOp(
  source: Target,
  dest: { path: string; parent: string; name: string },
  readOnly: boolean,
  recursive: boolean,
  inherit: bigint[] | undefined,
): Op<void> {
  const ctx: StepContext = { ...contextOf('createSnapshot', 'SNAP_CREATE_FAILED', source), dest: dest.path };
  yield* withTarget(source, ctx, function* (sfd) {
    const nested = recursive ? yield* collectSubvolumes(sfd, 0n, false) : [];
    // With nested subvolumes, everything is made read-write first: their placeholders inside the
    // new snapshot must be replaced. Read-only comes last, once the tree is complete.
    yield* withDir(dest.parent, ctx, (dfd) => snapshotOnce(sfd, dfd, dest.name, readOnly && nested.length === 0, inherit, ctx));
    if (nested.length === 0) return;
    const made: string[] = [dest.path];
    try {
      for (const child of nested) {
        const placeholder = join(dest.path, child.path);
        const removed: number = yield { op: 'rmdir', path: placeholder };
        if (removed < 0) throw sysError(removed, 'rmdir', { ...ctx, kind: 'RMDIR_FAILED', path: placeholder });
        const childFd = yield* open(`/proc/self/fd/${sfd}/${child.path}`, O_RDONLY | O_DIRECTORY, ctx);
        try {
          yield* withDir(join(placeholder, '..'), ctx, (dfd) =>
            snapshotOnce(childFd, dfd, placeholder.slice(placeholder.lastIndexOf('/') + 1), false, undefined, ctx),
          );
        } finally {
          yield* close(childFd);
        }
        made.push(placeholder);
      }
      if (readOnly) {
        for (const path of [...made].reverse()) {
          yield* withDir(path, ctx, (fd) => setReadOnlyOnFd(fd, true, ctx));
        }
      }
    } catch (error) {
      // Nothing half-done: remove what this call created, deepest first, then report the failure.
      for (const path of made.reverse()) yield* destroyPathQuietly(path);
      throw error;
    }
  });
}

/** Best-effort removal of a subvolume this library just created (rollback). */
function* destroyPathQuietly(path: string): Op<void> {
  const slash = path.lastIndexOf('/');
  const parent = slash <= 0 ? '/' : path.slice(0, slash);
  const fd: number = yield { op: 'open', path: parent, flags: O_RDONLY | O_DIRECTORY };
  if (fd < 0) return;
  try {
    const sub: number = yield { op: 'open', path, flags: O_RDONLY | O_DIRECTORY };
    if (sub >= 0) {
      const flags = Buffer.alloc(8);
      yield { op: 'ioctl', fd: sub, request: BTRFS_IOC_SUBVOL_SETFLAGS, arg: flags, patches: null, blocking: true };
      yield* close(sub);
    }
    const args = btrfs_ioctl_vol_args.encode({ name: path.slice(slash + 1) });
    yield { op: 'ioctl', fd, request: BTRFS_IOC_SNAP_DESTROY, arg: args, patches: null, blocking: true };
  } finally {
    yield* close(fd);
  }
}

/**
 * Snapshots subvolume `source` as `path`. Unprivileged for one's own subvolumes (not `recursive`).
 * Like `btrfs subvolume snapshot [-r] [-i qgroup]`.
 * @param source a subvolume root, or an open descriptor of one
 * @param path the new snapshot; its parent directory must exist
 * @throws BtrfsError SNAP_CREATE_FAILED (EEXIST, EINVAL when source is not a subvolume, EXDEV across
 *   filesystems), NOT_BTRFS, OPEN_FAILED; with `recursive`, a failure removes every snapshot the call
 *   created before rethrowing
 * @example
 * ```ts
 * await createSnapshot('/mnt/data/project', '/mnt/data/project-snap', { readOnly: true });
 * ```
 */
export async function createSnapshot(source: PathOrFd, path: PathLike, options?: CreateSnapshotOptions): Promise<void> {
  const src = checkPathOrFd(source, 'source');
  const dest = checkNewPath(path);
  const opts = checkOptions<CreateSnapshotOptions>(options);
  const readOnly = checkBoolean(opts.readOnly, 'options.readOnly', false);
  const recursive = checkBoolean(opts.recursive, 'options.recursive', false);
  return runAsync(createSnapshotOp(src, dest, readOnly, recursive, checkInherit(opts.qgroupInherit)));
}
/** Synchronous form of {@link createSnapshot}. @example `createSnapshotSync('/mnt/data/a', '/mnt/data/a.snap', { readOnly: true })` */
export function createSnapshotSync(source: PathOrFd, path: PathLike, options?: CreateSnapshotOptions): void {
  const src = checkPathOrFd(source, 'source');
  const dest = checkNewPath(path);
  const opts = checkOptions<CreateSnapshotOptions>(options);
  const readOnly = checkBoolean(opts.readOnly, 'options.readOnly', false);
  const recursive = checkBoolean(opts.recursive, 'options.recursive', false);
  runSync(createSnapshotOp(src, dest, readOnly, recursive, checkInherit(opts.qgroupInherit)));
}

// ---- delete ----

/** Options for {@link deleteSubvolume}. */
export interface DeleteSubvolumeOptions {
  /** Delete nested subvolumes first (deepest first). Default false. */
  recursive?: boolean;
  /**
   * Delete subvolume `id` instead of the one at `path`; `path` is then any directory (or
   * descriptor) on the same filesystem. Uses SNAP_DESTROY_V2 by id (Linux 5.7+).
   */
  id?: Id;
}

/** SNAP_DESTROY of `name` in directory `dfd` (V2 by name, falling back to v1). */
function* destroyByName(dfd: number, name: string, ctx: StepContext): Op<void> {
  if (!legacyIoctls()) {
    // (a delete by path calls SNAP_DESTROY_V2 through DESTROY_V2, one crossing; this serves the rest)
    const result = yield* ioctl(dfd, BTRFS_IOC_SNAP_DESTROY_V2, volArgs(name, 0n), ctx, SNAP_DESTROY_V2_OPTIONS);
    if (result !== ENOTTY) return;
  }
  const args = btrfs_ioctl_vol_args.encode({ name });
  yield* ioctl(dfd, BTRFS_IOC_SNAP_DESTROY, args, ctx, { name: 'BTRFS_IOC_SNAP_DESTROY', blocking: true });
}

/** The path of the directory `fd` refers to, from the top level of its filesystem. Needs root. */
function* fsPathOfFd(fd: number, ctx: StepContext): Op<string> {
  const subvolume = yield* lookupSubvolumeId(fd, ctx);
  const st: StatResult | number = yield { op: 'fstat', fd };
  if (typeof st === 'number') throw sysError(st, 'fstat', { ...ctx, kind: 'STAT_FAILED' });
  const base = yield* pathOfId(fd, subvolume, ctx);
  const inner = st.ino === 256 ? '' : yield* inoLookupPath(fd, subvolume, BigInt(st.ino), ctx);
  return join('/', base, inner);
}

/** SNAP_DESTROY of subvolume `id`, from any directory `fd` of the filesystem. */
function* destroyById(fd: number, id: bigint, ctx: StepContext): Op<void> {
  if (!legacyIoctls()) {
    const args = btrfs_ioctl_vol_args_v2.encode({ flags: BTRFS_SUBVOL_SPEC_BY_ID, subvolid: id });
    const result = yield* ioctl(fd, BTRFS_IOC_SNAP_DESTROY_V2, args, ctx, { name: 'BTRFS_IOC_SNAP_DESTROY_V2', blocking: true, allow: [ENOTTY] });
    if (result !== ENOTTY) return;
  }
  // Older kernels delete by name only: find where the subvolume hangs, relative to `fd`.
  const ref = yield* backRef(fd, id, ctx);
  if (!ref) throw btrfsError('SUBVOLUME_NOT_FOUND', ENOENT, 'ioctl', ctx);
  const parentPath = yield* pathOfId(fd, ref.parentId, ctx);
  const dir = ref.dirId === 256n ? '' : yield* inoLookupPath(fd, ref.parentId, ref.dirId, ctx);
  const from = relative(yield* fsPathOfFd(fd, ctx), join('/', parentPath, dir));
  if (from.startsWith('..')) throw btrfsError('SUBVOLUME_NOT_FOUND', ENOENT, 'open', ctx); // not reachable from fd
  yield* withDir(`/proc/self/fd/${fd}/${from}`, ctx, (dfd) => destroyByName(dfd, ref.name, ctx));
}

const deleteContext = (dest: NewPath): StepContext => ({ operation: 'deleteSubvolume', kind: 'SNAP_DESTROY_FAILED', path: dest.path });

/** The common delete, one call: SNAP_DESTROY_V2 by name in the parent. */
const DESTROY_V2 = inParentCall(BTRFS_IOC_SNAP_DESTROY_V2, SNAP_DESTROY_V2_OPTIONS, deleteContext, (dest, ctx) =>
  withDir(dest.parent, ctx, (dfd) => destroyByName(dfd, dest.name, ctx)),
);

function deleteByPathOp(dest: NewPath, recursive: boolean): Operation<void> {
  if (!recursive && !legacyIoctls()) return bind(DESTROY_V2, { path: dest.parent, dest });
  return deleteNestedOp(dest, recursive);
}

/** A delete of the subvolumes nested in `dest` first (deepest first), or with the legacy ioctls forced. */
function* deleteNestedOp(dest: NewPath, recursive: boolean): Op<void> {
  const ctx = deleteContext(dest);
  if (recursive) {
    yield* withDir(dest.path, ctx, function* (fd) {
      for (const child of yield* collectSubvolumes(fd, 0n, true)) yield* destroyById(fd, BigInt(child.id), { ...ctx, path: join(dest.path, child.path) });
    });
  }
  if (legacyIoctls()) yield* withDir(dest.parent, ctx, (dfd) => destroyByName(dfd, dest.name, ctx));
  else yield* callOp(DESTROY_V2, { path: dest.parent, dest });
}

function* deleteByIdOp(target: Target, id: bigint, recursive: boolean): Op<void> {
  const ctx = contextOf('deleteSubvolume', 'SNAP_DESTROY_FAILED', target);
  yield* withTarget(target, ctx, function* (fd) {
    if (recursive) for (const child of yield* collectSubvolumes(fd, id, true)) yield* destroyById(fd, BigInt(child.id), ctx);
    yield* destroyById(fd, id, ctx);
  });
}

/**
 * Deletes the subvolume or snapshot at `path` (or subvolume `options.id`). Root, or unprivileged on
 * a filesystem mounted with `user_subvol_rm_allowed`. The space is freed later by the cleaner; see
 * {@link deletedSubvolumes}. Like `btrfs subvolume delete [-R] [-i id]`.
 * @throws BtrfsError SNAP_DESTROY_FAILED (ENOTEMPTY when it holds subvolumes and not `recursive`,
 *   EPERM, EINVAL when `path` is not a subvolume), SUBVOLUME_NOT_FOUND, NOT_BTRFS, OPEN_FAILED
 * @example
 * ```ts
 * await deleteSubvolume('/mnt/data/project-snap');
 * await deleteSubvolume('/mnt/data', { id: 258 });
 * ```
 */
export async function deleteSubvolume(path: PathOrFd, options?: DeleteSubvolumeOptions): Promise<void> {
  return runAsync(deleteOp(path, options));
}
/** Synchronous form of {@link deleteSubvolume}. @example `deleteSubvolumeSync('/mnt/data/old', { recursive: true })` */
export function deleteSubvolumeSync(path: PathOrFd, options?: DeleteSubvolumeOptions): void {
  runSync(deleteOp(path, options));
}

function deleteOp(path: PathOrFd, options: DeleteSubvolumeOptions | undefined): Operation<void> {
  const opts = checkOptions<DeleteSubvolumeOptions>(options);
  const recursive = checkBoolean(opts.recursive, 'options.recursive', false);
  if (opts.id !== undefined) {
    const id = checkId(opts.id, 'options.id');
    return deleteByIdOp(checkPathOrFd(path), id, recursive);
  }
  if (typeof path === 'number' || (typeof path === 'object' && path !== null && 'fd' in path && !(path instanceof URL) && !Buffer.isBuffer(path))) {
    throw argTypeError('path', 'a path (a descriptor needs options.id)', path);
  }
  return deleteByPathOp(checkNewPath(path), recursive);
}

function* deletedOp(target: Target): Op<number[]> {
  const ctx = contextOf('deletedSubvolumes', 'SEARCH_FAILED', target);
  return yield* withTarget(target, ctx, function* (fd) {
    const items = yield* searchAll(fd, itemsOf(BTRFS_ROOT_TREE_OBJECTID, BTRFS_ORPHAN_OBJECTID, BTRFS_ORPHAN_ITEM_KEY), BTRFS_ORPHAN_ITEM_KEY, ctx, 65536);
    return items.map((item) => toSafeNumber(item.offset, 'id'));
  });
}

/**
 * Ids of subvolumes deleted but not yet cleaned up by the kernel. Needs root.
 * Like `btrfs subvolume list -d`.
 * @throws BtrfsError SEARCH_FAILED (EPERM), NOT_BTRFS
 * @example
 * ```ts
 * await deleteSubvolume('/mnt/data/old');
 * console.log(await deletedSubvolumes('/mnt/data')); // [258] until the cleaner is done
 * ```
 */
export async function deletedSubvolumes(path: PathOrFd): Promise<number[]> {
  return runAsync(deletedOp(checkPathOrFd(path)));
}
/** Synchronous form of {@link deletedSubvolumes}. @example `deletedSubvolumesSync('/mnt/data') // []` */
export function deletedSubvolumesSync(path: PathOrFd): number[] {
  return runSync(deletedOp(checkPathOrFd(path)));
}
