/**
 * The native layer's generic support for what btrfs ioctls need, on a real btrfs: the buffer the
 * kernel filled is still the caller's after EOVERFLOW (TREE_SEARCH_V2 writes the size it needs,
 * GET_SUBVOL_ROOTREF a valid page), and request numbers above 2^31 reach the kernel intact.
 */
import assert from 'node:assert/strict';
import { closeSync, openSync } from 'node:fs';
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
