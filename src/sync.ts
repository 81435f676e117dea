/**
 * Filesystem sync: a full sync, or starting a commit and waiting for it. All run off the event
 * loop on a thread of their own, since a commit can take seconds. Unprivileged.
 * @module
 */
import { toSafeNumber, viewOf } from './kernel/struct';
import { BTRFS_IOC_START_SYNC, BTRFS_IOC_SYNC, BTRFS_IOC_WAIT_SYNC } from './kernel/subvol';
import { argBuffer, type Op, runAsync, runSync, targetIoctl } from './op';
import { checkOptionalId, checkPathOrFd, contextOf, type Id, type PathOrFd, type Target } from './validate';
import * as fs from 'node:fs';

function* syncOp(target: Target): Op<void> {
  const ctx = contextOf('sync', 'SYNC_FAILED', target);
  yield* targetIoctl(target, fs.constants.O_RDONLY, BTRFS_IOC_SYNC, null, ctx, { name: 'BTRFS_IOC_SYNC', blocking: true });
}

function* startSyncOp(target: Target): Op<number> {
  const ctx = contextOf('startSync', 'START_SYNC_FAILED', target);
  const arg = argBuffer(8);
  yield* targetIoctl(target, fs.constants.O_RDONLY, BTRFS_IOC_START_SYNC, arg, ctx, { name: 'BTRFS_IOC_START_SYNC', blocking: true });
  return toSafeNumber(viewOf(arg).getBigUint64(0, true), 'transid');
}

function* waitSyncOp(target: Target, transid: bigint): Op<void> {
  const ctx = contextOf('waitSync', 'WAIT_SYNC_FAILED', target);
  const arg = argBuffer(8);
  viewOf(arg).setBigUint64(0, transid, true);
  yield* targetIoctl(target, fs.constants.O_RDONLY, BTRFS_IOC_WAIT_SYNC, arg, ctx, { name: 'BTRFS_IOC_WAIT_SYNC', blocking: true });
}

/**
 * Commits the filesystem's current transaction and waits for it (data included). Like
 * `btrfs filesystem sync`.
 * @param path any file or directory on the filesystem, or an open descriptor
 * @throws BtrfsError SYNC_FAILED, NOT_BTRFS, OPEN_FAILED
 * @example
 * ```ts
 * await sync('/mnt/data');
 * ```
 */
export async function sync(path: PathOrFd): Promise<void> {
  return runAsync(syncOp(checkPathOrFd(path)));
}
/** Synchronous form of {@link sync}. @example `syncSync('/mnt/data')` */
export function syncSync(path: PathOrFd): void {
  runSync(syncOp(checkPathOrFd(path)));
}

/**
 * Starts committing the current transaction without waiting; returns its id for {@link waitSync}.
 * @throws BtrfsError START_SYNC_FAILED, NOT_BTRFS, OPEN_FAILED
 * @example
 * ```ts
 * const transid = await startSync('/mnt/data');
 * await waitSync('/mnt/data', transid);
 * ```
 */
export async function startSync(path: PathOrFd): Promise<number> {
  return runAsync(startSyncOp(checkPathOrFd(path)));
}
/** Synchronous form of {@link startSync}. @example `const transid = startSyncSync('/mnt/data')` */
export function startSyncSync(path: PathOrFd): number {
  return runSync(startSyncOp(checkPathOrFd(path)));
}

/**
 * Waits until transaction `transid` is committed (0 or omitted: the current one).
 * @param transid a transaction id from {@link startSync}; default 0
 * @throws BtrfsError WAIT_SYNC_FAILED (EINVAL for a future transid), NOT_BTRFS; RangeError for a bad id
 * @example
 * ```ts
 * await waitSync('/mnt/data', await startSync('/mnt/data'));
 * ```
 */
export async function waitSync(path: PathOrFd, transid?: Id): Promise<void> {
  return runAsync(waitSyncOp(checkPathOrFd(path), checkOptionalId(transid, 'transid')));
}
/** Synchronous form of {@link waitSync}. @example `waitSyncSync('/mnt/data')` */
export function waitSyncSync(path: PathOrFd, transid?: Id): void {
  runSync(waitSyncOp(checkPathOrFd(path), checkOptionalId(transid, 'transid')));
}
