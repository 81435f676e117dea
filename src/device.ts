/**
 * btrfs device registration through /dev/btrfs-control: tell the kernel which block devices hold
 * which filesystem, so a filesystem on several devices mounts by naming any one of them (what
 * `btrfs device scan` does). Needs root.
 * @module
 */
import * as fs from 'node:fs';
import type { StepContext } from './errors';
import { BTRFS_IOC_DEVICES_READY, BTRFS_IOC_FORGET_DEV, BTRFS_IOC_SCAN_DEV } from './kernel/device';
import { btrfs_ioctl_vol_args } from './kernel/subvol';
import { close, ioctl, type Op, open, runAsync, runSync } from './op';
import { argValueError } from './errors';
import { checkAbsolutePath, type PathLike } from './validate';

/** The control device every registration ioctl goes through. */
export const BTRFS_CONTROL = '/dev/btrfs-control';

function checkDevice(value: unknown, name = 'device'): string {
  const path = checkAbsolutePath(value, name);
  if (Buffer.byteLength(path) >= btrfs_ioctl_vol_args.fields.name.size) throw argValueError(name, 'must be shorter than 4088 bytes', value);
  return path;
}

/** Opens the control device, runs one ioctl with `name` in a vol_args, and returns its result. */
function* controlIoctl(request: number, requestName: string, name: string, ctx: StepContext): Op<number> {
  const fd = yield* open(BTRFS_CONTROL, fs.constants.O_RDWR, { ...ctx, path: BTRFS_CONTROL });
  try {
    // Validation ran first; the kernel reads the path and answers in the return value (DEVICES_READY).
    return yield* ioctl(fd, request, btrfs_ioctl_vol_args.encode({ name }), ctx, { name: requestName, onBtrfs: false });
  } finally {
    yield* close(fd);
  }
}

function* scanOp(device: string): Op<void> {
  yield* controlIoctl(BTRFS_IOC_SCAN_DEV, 'BTRFS_IOC_SCAN_DEV', device, { operation: 'scanDevice', kind: 'SCAN_DEV_FAILED', path: device });
}

function* forgetOp(device: string | undefined): Op<void> {
  const ctx: StepContext = { operation: 'forgetDevice', kind: 'FORGET_DEV_FAILED' };
  if (device !== undefined) ctx.path = device;
  yield* controlIoctl(BTRFS_IOC_FORGET_DEV, 'BTRFS_IOC_FORGET_DEV', device ?? '', ctx);
}

function* readyOp(device: string): Op<boolean> {
  const ctx: StepContext = { operation: 'isDeviceReady', kind: 'DEVICES_READY_FAILED', path: device };
  // 0: every device of the filesystem is known; 1: some are still missing.
  return (yield* controlIoctl(BTRFS_IOC_DEVICES_READY, 'BTRFS_IOC_DEVICES_READY', device, ctx)) === 0;
}

/**
 * Registers a block device holding (part of) a btrfs filesystem with the kernel, so that the
 * filesystem can be mounted by naming any of its devices. Needs root. Like `btrfs device scan DEV`.
 * @param device a block device path (relative paths are resolved against the working directory)
 * @throws BtrfsError SCAN_DEV_FAILED (ENOTBLK for a regular file, ENOENT, EPERM), OPEN_FAILED for
 *   /dev/btrfs-control; TypeError for a bad path
 * @example
 * ```ts
 * await scanDevice('/dev/loop1');
 * await scanDevice('/dev/loop2');
 * await mount('/dev/loop1', '/mnt/raid');
 * ```
 */
export async function scanDevice(device: PathLike): Promise<void> {
  return runAsync(scanOp(checkDevice(device)));
}
/** Synchronous form of {@link scanDevice}. @example `scanDeviceSync('/dev/loop1')` */
export function scanDeviceSync(device: PathLike): void {
  runSync(scanOp(checkDevice(device)));
}

/**
 * Makes the kernel forget a registered device of an unmounted filesystem, or with no argument every
 * device of every unmounted btrfs (everyone's, on this machine: prefer naming the device). Forgetting
 * an unknown device succeeds. Needs root. Like `btrfs device scan --forget [DEV]`.
 * @throws BtrfsError FORGET_DEV_FAILED (EBUSY when its filesystem is mounted)
 * @example
 * ```ts
 * await forgetDevice('/dev/loop2');
 * ```
 */
export async function forgetDevice(device?: PathLike): Promise<void> {
  return runAsync(forgetOp(device === undefined ? undefined : checkDevice(device)));
}
/** Synchronous form of {@link forgetDevice}. @example `forgetDeviceSync('/dev/loop2')` */
export function forgetDeviceSync(device?: PathLike): void {
  runSync(forgetOp(device === undefined ? undefined : checkDevice(device)));
}

/**
 * Whether every device of the filesystem on `device` has been registered, i.e. whether a mount
 * without `degraded` can succeed. Registers `device` itself as a side effect, as the kernel does.
 * Needs root. Like `btrfs device ready DEV`.
 * @throws BtrfsError DEVICES_READY_FAILED (ENOTBLK, ENOENT, EINVAL when it holds no btrfs)
 * @example
 * ```ts
 * if (!(await isDeviceReady('/dev/loop1'))) await scanDevice('/dev/loop2');
 * ```
 */
export async function isDeviceReady(device: PathLike): Promise<boolean> {
  return runAsync(readyOp(checkDevice(device)));
}
/** Synchronous form of {@link isDeviceReady}. @example `isDeviceReadySync('/dev/loop1') // true` */
export function isDeviceReadySync(device: PathLike): boolean {
  return runSync(readyOp(checkDevice(device)));
}
