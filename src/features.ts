/**
 * Which generation of ioctls to use. The library prefers the newer ioctls (SNAP_DESTROY_V2,
 * TREE_SEARCH_V2, GET_SUBVOL_INFO, ...) and falls back to the older ones when a kernel answers
 * ENOTTY on btrfs. Tests force the older path here so the fallback runs on a new kernel too.
 * @internal
 * @module
 */

let forced = process.env.BTRFS_LEGACY_IOCTLS === '1';

/** True when the older ioctls must be used (forced by {@link setLegacyIoctls} or `BTRFS_LEGACY_IOCTLS=1`). */
export function legacyIoctls(): boolean {
  return forced;
}

/** Forces (or stops forcing) the older ioctls, process-wide. For tests. @internal */
export function setLegacyIoctls(on: boolean): void {
  forced = on;
}

let dedicated = process.env.BTRFS_BLOCKING_CALLS !== 'pool';

/**
 * True when async calls marked blocking (commits, waits) run on dedicated threads, the default.
 * `BTRFS_BLOCKING_CALLS=pool` (or {@link setDedicatedThreads}) puts them on the libuv pool instead,
 * which exists to measure the difference.
 */
export function dedicatedThreads(): boolean {
  return dedicated;
}

/** Chooses where blocking async calls run, process-wide. For benchmarks and tests. @internal */
export function setDedicatedThreads(on: boolean): void {
  dedicated = on;
}
