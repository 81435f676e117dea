/**
 * The native layer's generic support for what btrfs ioctls need, on a real btrfs: the buffer the
 * kernel filled is still the caller's after EOVERFLOW (TREE_SEARCH_V2 writes the size it needs,
 * GET_SUBVOL_ROOTREF a valid page), request numbers above 2^31 reach the kernel intact, and a
 * descriptor patch hands the kernel a file the call opened itself.
 */
import assert from 'node:assert/strict';
import { closeSync, constants as fsc, existsSync, openSync, readdirSync, readFileSync } from 'node:fs';
import { constants } from 'node:os';
import { after, before, describe, it } from 'node:test';
import * as btrfs from '../../src/index';
import { BTRFS_IOC_TREE_SEARCH_V2, btrfs_ioctl_search_args_v2, SEARCH_ARGS_V2_BUF_OFFSET } from '../../src/kernel/search';
import { BTRFS_IOC_GET_SUBVOL_ROOTREF, BTRFS_IOC_SNAP_CREATE_V2, btrfs_ioctl_get_subvol_rootref_args, btrfs_ioctl_vol_args_v2 } from '../../src/kernel/subvol';
import { U64_MAX } from '../../src/kernel/struct';
import { FILE_OPEN_FAILED_BASE, native, OPEN_FAILED_BASE, type Patches } from '../../src/native';
import { needsRoot, openFds, type Scratch, scratchBtrfs } from '../helpers/scratch';

const EOVERFLOW = -constants.errno.EOVERFLOW;
const ENOENT = constants.errno.ENOENT;

describe('native layer on btrfs (kernel)', { skip: needsRoot }, () => {
  let s: Scratch;
  let fd: number;
  before(async () => {
    s = scratchBtrfs();
    await Promise.all(Array.from({ length: 300 }, (_, i) => btrfs.createSubvolume(`${s.mnt}/c${i}`)));
    fd = openSync(s.mnt, 'r');
  });
  after(() => {
    if (fd !== undefined) closeSync(fd);
    s?.cleanup();
  });

  it('TREE_SEARCH_V2 with a too-small buffer: EOVERFLOW and the needed size written back', async () => {
    for (const async of [false, true]) {
      const args = Buffer.alloc(SEARCH_ARGS_V2_BUF_OFFSET + 16);
      btrfs_ioctl_search_args_v2.write(args, {
        key: { tree_id: 1n, min_objectid: 5n, max_objectid: 5n, min_type: 156, max_type: 156, min_offset: 0n, max_offset: U64_MAX, min_transid: 0n, max_transid: U64_MAX, nr_items: 1 },
        buf_size: 16n,
      });
      const rc = async ? await native().ioctlAsync(fd, BTRFS_IOC_TREE_SEARCH_V2, args, null, false) : native().ioctl(fd, BTRFS_IOC_TREE_SEARCH_V2, args);
      assert.equal(rc, EOVERFLOW);
      assert.ok(BTRFS_IOC_TREE_SEARCH_V2 > 2 ** 31);
      assert.ok(btrfs_ioctl_search_args_v2.get(args, 'buf_size') >= 32n, 'kernel wrote the size it needs');
    }
  });

  it('blocking calls run on SCHED_BATCH threads (a woken one never preempts the event loop), the event loop stays SCHED_OTHER', async () => {
    /** Scheduling policy of each thread of this process (field 41 of /proc/self/task/TID/stat). */
    const policies = () =>
      readdirSync('/proc/self/task').map((tid) => {
        const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
        return { tid: Number(tid), policy: Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[38]) };
      });
    const SCHED_OTHER = 0;
    const SCHED_BATCH = 3;
    // 16 blocking calls at once (BTRFS_IOC_SYNC commits): threads of the pool serve them and then
    // linger idle for the next call, long enough to be looked at.
    await Promise.all(Array.from({ length: 16 }, () => btrfs.sync(s.mnt)));
    const threads = policies();
    assert.equal(threads.find((t) => t.tid === process.pid)?.policy, SCHED_OTHER, 'the event loop thread');
    const batch = threads.filter((t) => t.policy === SCHED_BATCH);
    assert.ok(batch.length >= 1, 'the pool threads are SCHED_BATCH');
    assert.ok(threads.some((t) => t.policy === SCHED_OTHER && t.tid !== process.pid), "libuv's and V8's threads are left as they were");
  });

  it('a descriptor patch: the call opens the file, writes its descriptor (8 bytes here) into the argument and closes it', async () => {
    const fds = openFds();
    const source = `${s.mnt}/c0`;
    const fdAt = btrfs_ioctl_vol_args_v2.fields.fd.offset;
    const snapshotArgs = (name: string) => btrfs_ioctl_vol_args_v2.encode({ fd: 0n, name });
    const patches = (path: string): Patches => [fdAt, { path, flags: fsc.O_RDONLY, size: 8 }];
    const call = (async: boolean, dir: string, args: Buffer, p: Patches) =>
      async
        ? native().ioctlAtAsync(dir, fsc.O_RDONLY, BTRFS_IOC_SNAP_CREATE_V2, args, p, true)
        : Promise.resolve(native().ioctlAt(dir, fsc.O_RDONLY, BTRFS_IOC_SNAP_CREATE_V2, args, p));
    for (const async of [false, true]) {
      // SNAP_CREATE_V2 reads the source subvolume from vol_args_v2.fd (a __s64): a snapshot of c0.
      const name = `patched-${async}`;
      assert.equal(await call(async, s.mnt, snapshotArgs(name), patches(source)), 0);
      assert.equal(btrfs.isSubvolumeSync(`${s.mnt}/${name}`), true);
      assert.equal(btrfs.subvolumeInfoSync(`${s.mnt}/${name}`).parentUuid, btrfs.subvolumeInfoSync(source).uuid);
      // The file's open fails first: its own code, and no ioctl made.
      assert.equal(await call(async, s.mnt, snapshotArgs(`missing-${async}`), patches(`${s.mnt}/no-such`)), -(FILE_OPEN_FAILED_BASE + ENOENT));
      assert.equal(existsSync(`${s.mnt}/missing-${async}`), false);
      // The target's open fails after the file's: the target's code, and the file closed again.
      assert.equal(await call(async, `${s.mnt}/no-dir`, snapshotArgs('x'), patches(source)), -(OPEN_FAILED_BASE + ENOENT));
    }
    assert.deepEqual(openFds(), fds, 'no descriptor left open');
    const args = snapshotArgs('misuse');
    const misuse: [Patches, string][] = [
      [[fdAt, { path: source, flags: 0, size: 2 as 8 }], 'RangeError'],
      [[args.length - 4, { path: source, flags: 0, size: 8 }], 'RangeError'],
      [[fdAt, { path: source, flags: 0, size: 8 }, 0, { path: source, flags: 0, size: 4 }], 'RangeError'],
      [[fdAt, { path: 7 as unknown as string, flags: 0, size: 8 }], 'TypeError'],
    ];
    for (const [p, name] of misuse) assert.throws(() => native().ioctlAt(s.mnt, fsc.O_RDONLY, BTRFS_IOC_SNAP_CREATE_V2, args, p), { name });
    assert.equal(existsSync(`${s.mnt}/misuse`), false);
    for (const async of [false, true]) btrfs.deleteSubvolumeSync(`${s.mnt}/patched-${async}`); // the ROOTREF test counts c*
  });

  it('GET_SUBVOL_ROOTREF with 300 children: EOVERFLOW with a valid page of 255, then the rest', async () => {
    const args = btrfs_ioctl_get_subvol_rootref_args.encode({ min_treeid: 0n });
    assert.equal(await native().ioctlAsync(fd, BTRFS_IOC_GET_SUBVOL_ROOTREF, args, null, false), EOVERFLOW);
    assert.equal(btrfs_ioctl_get_subvol_rootref_args.get(args, 'num_items'), 255);
    const next = btrfs_ioctl_get_subvol_rootref_args.get(args, 'min_treeid');
    assert.equal(next, BigInt(args.readBigUInt64LE(8 + 254 * 16)) + 1n, 'min_treeid = last + 1');
    assert.equal(native().ioctl(fd, BTRFS_IOC_GET_SUBVOL_ROOTREF, args), 0);
    assert.equal(btrfs_ioctl_get_subvol_rootref_args.get(args, 'num_items'), 45);
  });
});
