/**
 * Device registration through /dev/btrfs-control (linux/btrfs.h): SCAN_DEV, FORGET_DEV and
 * DEVICES_READY, each taking a btrfs_ioctl_vol_args whose name is a device path.
 * @module
 */
import { BTRFS_IOCTL_MAGIC as M } from './constants';
import { _IOR, _IOW } from './ioc';
import { btrfs_ioctl_vol_args } from './subvol';

/** linux/btrfs.h: request numbers. DEVICES_READY is _IOR but reads the path, and answers in its return value. */
export const BTRFS_IOC_SCAN_DEV = _IOW(M, 4, btrfs_ioctl_vol_args.size);
export const BTRFS_IOC_FORGET_DEV = _IOW(M, 5, btrfs_ioctl_vol_args.size);
export const BTRFS_IOC_DEVICES_READY = _IOR(M, 39, btrfs_ioctl_vol_args.size);
