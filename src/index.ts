/**
 * btrfs for Node.js: subvolumes, snapshots and sync, talking to the kernel directly. Every
 * operation comes as a Promise-returning function and a `*Sync` twin.
 *
 * Number conventions (once for all): 64-bit kernel values (ids, transids, generations, byte counts,
 * qgroup ids) are JavaScript numbers, converted with a check that throws RangeError rather than
 * round past Number.MAX_SAFE_INTEGER; the kernel's all-ones "unset" becomes null. UUIDs are
 * lowercase 8-4-4-4-12 strings, null when all zero. Times are Dates.
 * @packageDocumentation
 */
export { BtrfsError, BtrfsErrorKind } from './errors';
export type { StepContext } from './errors';
export {
  AsyncSubvolumeIterator,
  SubvolumeIterator,
  subvolumes,
  subvolumesSync,
  type SubvolumeEntry,
  type SubvolumeIteratorOptions,
} from './iterator';
export {
  QgroupInherit,
  createSnapshot,
  createSnapshotSync,
  createSubvolume,
  createSubvolumeSync,
  deleteSubvolume,
  deleteSubvolumeSync,
  deletedSubvolumes,
  deletedSubvolumesSync,
  getDefaultSubvolume,
  getDefaultSubvolumeSync,
  getSubvolumeReadOnly,
  getSubvolumeReadOnlySync,
  isSubvolume,
  isSubvolumeSync,
  setDefaultSubvolume,
  setDefaultSubvolumeSync,
  setSubvolumeReadOnly,
  setSubvolumeReadOnlySync,
  subvolumeId,
  subvolumeIdSync,
  subvolumeInfo,
  subvolumeInfoSync,
  subvolumePath,
  subvolumePathSync,
  type CreateSnapshotOptions,
  type CreateSubvolumeOptions,
  type DeleteSubvolumeOptions,
  type QgroupInheritOption,
  type SubvolumeInfo,
} from './subvolume';
export { startSync, startSyncSync, sync, syncSync, waitSync, waitSyncSync } from './sync';
export type { HasFd, Id, PathLike, PathOrFd } from './validate';
export {
  MountFlags,
  UmountFlags,
  mount,
  mountData,
  mountSync,
  umount,
  umountSync,
  type MountDataObject,
  type MountFlag,
  type MountOptions,
  type UmountFlag,
  type UmountOptions,
} from './mount';
export {
  LoopDevice,
  attachLoopDevice,
  attachLoopDeviceSync,
  detachLoopDevice,
  detachLoopDeviceSync,
  loopDevices,
  loopDevicesSync,
  type AttachLoopOptions,
  type LoopDeviceInfo,
  type LoopDeviceRef,
} from './loop';
export {
  BTRFS_CONTROL,
  forgetDevice,
  forgetDeviceSync,
  isDeviceReady,
  isDeviceReadySync,
  scanDevice,
  scanDeviceSync,
} from './device';
export {
  QgroupLimitFlags,
  QgroupStatusFlags,
  QuotaCtl,
  formatQgroupId,
  parseQgroupId,
  qgroupAssign,
  qgroupAssignSync,
  qgroupCreate,
  qgroupCreateSync,
  qgroupDestroy,
  qgroupDestroySync,
  qgroupId,
  qgroupInfo,
  qgroupInfoSync,
  qgroupLimit,
  qgroupLimitSync,
  qgroupRemove,
  qgroupRemoveSync,
  quotaDisable,
  quotaDisableSync,
  quotaEnable,
  quotaEnableSimple,
  quotaEnableSimpleSync,
  quotaEnableSync,
  quotaRescan,
  quotaRescanStatus,
  quotaRescanStatusSync,
  quotaRescanSync,
  quotaRescanWait,
  quotaRescanWaitSync,
  quotaStatus,
  quotaStatusSync,
  type QgroupIdLike,
  type QgroupInfo,
  type QgroupLimits,
  type QuotaRescanStatus,
  type QuotaRescanWaitOptions,
  type QuotaStatus,
  type QuotaStatusDisabled,
  type QuotaStatusEnabled,
} from './quota';
export * from './mkfs/index';
