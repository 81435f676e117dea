/**
 * The native layer's generic support for what btrfs ioctls need, on a real btrfs: the buffer the
 * kernel filled is still the caller's after EOVERFLOW (TREE_SEARCH_V2 writes the size it needs,
 * GET_SUBVOL_ROOTREF a valid page), and request numbers above 2^31 reach the kernel intact.
 */
import assert from 'node:assert/strict';
import { closeSync, openSync, readdirSync, readFileSync } from 'node:fs';
import { constants } from 'node:os';
import { after, before, describe, it } from 'node:test';
import * as btrfs from '../../src/index';
import { BTRFS_IOC_TREE_SEARCH_V2, btrfs_ioctl_search_args_v2, SEARCH_ARGS_V2_BUF_OFFSET } from '../../src/kernel/search';
import { BTRFS_IOC_GET_SUBVOL_ROOTREF, btrfs_ioctl_get_subvol_rootref_args } from '../../src/kernel/subvol';
import { U64_MAX } from '../../src/kernel/struct';
import { native } from '../../src/native';
import { needsRoot, type Scratch, scratchBtrfs } from '../helpers/scratch';

const EOVERFLOW = -constants.errno.EOVERFLOW;

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
