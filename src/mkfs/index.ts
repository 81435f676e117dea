/**
 * mkfs: makes a btrfs filesystem on a block device or an image file, written by this library in
 * TypeScript from the on-disk format (no mkfs.btrfs, no subprocess). On an image file it needs no
 * root and no native code: it is plain file I/O.
 *
 * Both forms run the same operation (write.ts, a generator of I/O steps) through a synchronous or
 * an asynchronous driver (io.ts), so they cannot differ in what they check or write.
 * @module
 */
import { checkMkfsArgs, type MkfsOptions } from './options';
import { runAsync, runSync } from './io';
import { mkfsOp, type MkfsResult } from './write';
import type { PathLike } from '../validate';
import { scanDevice, scanDeviceSync } from '../device';

export { CompatRoFeature, CsumType, IncompatFeature, RaidProfile } from './constants';
export type { FeatureName, RaidProfileName } from './constants';
export type { MkfsOptions } from './options';
export type { MkfsDevice, MkfsResult } from './write';

/**
 * Makes a new btrfs filesystem on one or more devices, like `mkfs.btrfs`. Defaults follow
 * mkfs.btrfs 6.2: metadata DUP and data single on one device, metadata RAID1 and data single on
 * several (mixed block groups: single for both), 16 KiB nodes, 4 KiB sectors, crc32c, features
 * extref, skinny-metadata, no-holes and free-space-tree.
 *
 * Every profile: single, dup, raid0, raid1, raid1c3, raid1c4, raid10, raid5 and raid6 (parity P and
 * Q written for every full stripe holding metadata), with the device counts mkfs.btrfs accepts;
 * devices may differ in size, and stripes go on the same devices as mkfs.btrfs puts them. The
 * RAID56 and RAID1C34 features are set when a profile needs them.
 *
 * Safe by construction: every option and every device is checked before the first write. A device
 * that is mounted (directly, through a loop device or as a member of a mounted btrfs), used as swap,
 * or open exclusively elsewhere is always refused; one holding a known signature (btrfs, ext2/3/4,
 * xfs, swap, MBR or GPT partition table, LUKS) is refused unless `force`. A refused device is left
 * byte for byte as it was. Superblocks are written last, after the trees are written and flushed,
 * and everything is fsynced before the promise resolves. Block devices are discarded first (unless
 * `discard: false`; a device without discard support is fine) and registered with the kernel
 * afterwards, so mounting any one of them mounts the filesystem at once. With several devices, one
 * refused device refuses them all, before anything is written to any; naming one device twice
 * (also under another path, through a link, or as an image file and a loop device over it) is an
 * error. The Promise form examines, wipes and writes the devices concurrently.
 *
 * Needs write access to the devices; root only for block devices that only root may open.
 *
 * @param devices the device or image file, or an array of them (devid 1, 2, ... in that order)
 * @param options see {@link MkfsOptions}
 * @returns what was made: uuid, label, sizes, checksum, features, devices and profiles
 * @throws TypeError (`ERR_INVALID_ARG_TYPE`, `ERR_INVALID_ARG_VALUE`) for bad options, conflicting
 *   features, a profile that needs more devices, a device named twice; RangeError (`ERR_OUT_OF_RANGE`) for sizes out of
 *   range, a device smaller than the layout's minimum (the message gives it), devices with no room
 *   for a chunk of the profile, or a byteCount larger than a device; BtrfsError (kind `INVALID_ARGUMENT`) with code `EBUSY` for a device in use,
 *   `EEXIST` for one with a signature (without force), `ENOTBLK` for something neither block device
 *   nor file; BtrfsError `STAT_FAILED`/`OPEN_FAILED` (`ENOENT`, `EACCES`, ...); a Node fs error for a
 *   failed read, write or fsync.
 * @example
 * ```ts
 * import { mkfs, CsumType } from 'btrfs';
 * const fs = await mkfs('/tmp/disk.img', { create: true, byteCount: 1 << 30, label: 'data' });
 * console.log(fs.uuid, fs.numBytes);
 * await mkfs('/dev/sdb', { csum: CsumType.XXHASH, features: ['block-group-tree'], force: true });
 * await mkfs(['/dev/sdb', '/dev/sdc', '/dev/sdd'], { metadataProfile: 'raid1c3', dataProfile: 'raid5', force: true });
 * ```
 * Equivalent: `mkfs.btrfs [-L label] [-U uuid] [-n nodesize] [-m profile] [-d profile] [-O feature] DEVICE...`.
 */
export async function mkfs(devices: PathLike | PathLike[], options?: MkfsOptions): Promise<MkfsResult> {
  const { result, blockPaths } = await runAsync(mkfsOp(checkMkfsArgs(devices, options)));
  // Registration is a convenience, as in mkfs.btrfs: the filesystem is made either way, and
  // `btrfs device scan` (or scanDevice) can still register a device that failed here.
  await Promise.all(blockPaths.map((path) => scanDevice(path).catch(() => undefined)));
  return result;
}

/**
 * Synchronous form of {@link mkfs}: same checks, same writes, on the calling thread.
 * @example
 * ```ts
 * const { uuid } = mkfsSync('/tmp/disk.img', { create: true, byteCount: 256 * 1024 * 1024 });
 * mkfsSync(['/dev/loop1', '/dev/loop2'], { dataProfile: 'raid1', force: true }); // RAID1 metadata by default
 * ```
 */
export function mkfsSync(devices: PathLike | PathLike[], options?: MkfsOptions): MkfsResult {
  const { result, blockPaths } = runSync(mkfsOp(checkMkfsArgs(devices, options)));
  for (const path of blockPaths) {
    try {
      scanDeviceSync(path);
    } catch {
      // see mkfs
    }
  }
  return result;
}
