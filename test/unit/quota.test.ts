/**
 * src/quota.ts and src/kernel/quota.ts without a filesystem: qgroup id helpers, the public constants
 * against the kernel's, the codecs against hex, the ioctl numbers against the table in
 * ../shared/docs/kernel-interfaces.md §2, and argument checks that run before any syscall (the path
 * used does not exist, so reaching the filesystem would give a BtrfsError instead).
 */
import assert from 'node:assert/strict';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { BtrfsErrorKind } from '../../src/errors';
import * as api from '../../src/index';
import * as k from '../../src/kernel/quota';

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');
const M = join(tmpdir(), `btrfs-quota-unit-missing-${process.pid}-${Date.now()}`);

/** An assertion that `e` is an argument error (not a BtrfsError from a syscall). */
function argError(ctor: typeof TypeError | typeof RangeError, code: string, message?: RegExp) {
  return (e: unknown): boolean => {
    assert.ok(!(e instanceof api.BtrfsError), `reached the filesystem: ${String(e)}`);
    assert.equal((e as Error).constructor, ctor, String(e));
    assert.equal((e as { code?: string }).code, code, String(e));
    if (message) assert.match((e as Error).message, message);
    return true;
  };
}

describe('qgroup id helpers', () => {
  it('qgroupId(level, id) is level * 2^48 + id', () => {
    assert.equal(api.qgroupId(0, 5), 5);
    assert.equal(api.qgroupId(1, 100), 2 ** 48 + 100);
    assert.equal(api.qgroupId(31, 2 ** 48 - 1), 2 ** 53 - 1); // the largest exact one
    assert.equal(api.qgroupId(2, 0), 2 ** 49);
  });

  it('qgroupId refuses what a number cannot hold exactly, and non-integers', () => {
    assert.throws(() => api.qgroupId(32, 0), argError(RangeError, 'ERR_OUT_OF_RANGE'));
    assert.throws(() => api.qgroupId(-1, 0), argError(RangeError, 'ERR_OUT_OF_RANGE'));
    assert.throws(() => api.qgroupId(1.5, 0), argError(RangeError, 'ERR_OUT_OF_RANGE'));
    assert.throws(() => api.qgroupId(0, 2 ** 48), argError(RangeError, 'ERR_OUT_OF_RANGE'));
    assert.throws(() => api.qgroupId(0, -1), argError(RangeError, 'ERR_OUT_OF_RANGE'));
    assert.throws(() => api.qgroupId(0, Number.NaN), argError(RangeError, 'ERR_OUT_OF_RANGE'));
    assert.throws(() => api.qgroupId('1' as never, 0), argError(TypeError, 'ERR_INVALID_ARG_TYPE'));
    assert.throws(() => api.qgroupId(1, 5n as never), argError(TypeError, 'ERR_INVALID_ARG_TYPE'));
  });

  it("parseQgroupId('level/id') and formatQgroupId round-trip", () => {
    assert.equal(api.parseQgroupId('1/100'), api.qgroupId(1, 100));
    assert.equal(api.parseQgroupId('0/257'), 257);
    assert.equal(api.parseQgroupId('31/281474976710655'), Number.MAX_SAFE_INTEGER);
    assert.equal(api.formatQgroupId(api.qgroupId(1, 100)), '1/100');
    assert.equal(api.formatQgroupId(257), '0/257');
    assert.equal(api.formatQgroupId((65535n << 48n) | 7n), '65535/7'); // bigints cover every level
    assert.equal(api.formatQgroupId('2/200'), '2/200');
    for (const level of [0, 1, 7, 31]) {
      for (const id of [0, 1, 100, 2 ** 48 - 1]) {
        const q = api.qgroupId(level, id);
        assert.equal(api.parseQgroupId(api.formatQgroupId(q)), q);
      }
    }
  });

  it('parseQgroupId refuses other shapes and levels a number cannot hold', () => {
    for (const bad of ['', '1', '1/', '/1', '1/2/3', ' 1/2', '1/-2', '0x1/2', '1.5/2']) {
      assert.throws(() => api.parseQgroupId(bad), argError(TypeError, 'ERR_INVALID_ARG_VALUE'), bad);
    }
    assert.throws(() => api.parseQgroupId('32/0'), argError(RangeError, 'ERR_OUT_OF_RANGE', /level < 32/));
    assert.throws(() => api.parseQgroupId('65536/0'), argError(RangeError, 'ERR_OUT_OF_RANGE'));
    assert.throws(() => api.parseQgroupId('0/281474976710656'), argError(RangeError, 'ERR_OUT_OF_RANGE'));
    assert.throws(() => api.parseQgroupId(5 as never), argError(TypeError, 'ERR_INVALID_ARG_TYPE'));
    assert.throws(() => api.formatQgroupId(-1), argError(RangeError, 'ERR_OUT_OF_RANGE'));
    assert.throws(() => api.formatQgroupId(null as never), argError(TypeError, 'ERR_INVALID_ARG_TYPE'));
  });
});

describe('quota constants', () => {
  it('QgroupStatusFlags, QgroupLimitFlags and QuotaCtl carry the kernel values', () => {
    assert.deepEqual(api.QgroupStatusFlags, { ON: 1, RESCAN: 2, INCONSISTENT: 4, SIMPLE_MODE: 8 });
    assert.equal(BigInt(api.QgroupStatusFlags.ON), k.BTRFS_QGROUP_STATUS_FLAG_ON);
    assert.equal(BigInt(api.QgroupStatusFlags.RESCAN), k.BTRFS_QGROUP_STATUS_FLAG_RESCAN);
    assert.equal(BigInt(api.QgroupStatusFlags.INCONSISTENT), k.BTRFS_QGROUP_STATUS_FLAG_INCONSISTENT);
    assert.equal(BigInt(api.QgroupStatusFlags.SIMPLE_MODE), k.BTRFS_QGROUP_STATUS_FLAG_SIMPLE_MODE);
    assert.deepEqual(api.QgroupLimitFlags, { MAX_RFER: 1, MAX_EXCL: 2, RSV_RFER: 4, RSV_EXCL: 8 });
    assert.equal(BigInt(api.QgroupLimitFlags.MAX_RFER), k.BTRFS_QGROUP_LIMIT_MAX_RFER);
    assert.equal(BigInt(api.QgroupLimitFlags.MAX_EXCL), k.BTRFS_QGROUP_LIMIT_MAX_EXCL);
    assert.equal(BigInt(api.QgroupLimitFlags.RSV_RFER), k.BTRFS_QGROUP_LIMIT_RSV_RFER);
    assert.equal(BigInt(api.QgroupLimitFlags.RSV_EXCL), k.BTRFS_QGROUP_LIMIT_RSV_EXCL);
    assert.deepEqual(api.QuotaCtl, { ENABLE: 1, DISABLE: 2, RESCAN__NOTUSED: 3, ENABLE_SIMPLE_QUOTA: 4 });
  });

  it('the quota error kinds exist and name themselves', () => {
    for (const kind of [
      'QUOTA_CTL_FAILED',
      'QUOTA_RESCAN_FAILED',
      'QUOTA_RESCAN_STATUS_FAILED',
      'QUOTA_RESCAN_WAIT_FAILED',
      'QGROUP_CREATE_FAILED',
      'QGROUP_ASSIGN_FAILED',
      'QGROUP_LIMIT_FAILED',
    ]) {
      assert.equal((BtrfsErrorKind as Record<string, string>)[kind], kind);
    }
  });
});

describe('src/kernel/quota.ts', () => {
  it('ioctl numbers match kernel-interfaces.md §2', () => {
    assert.equal(k.BTRFS_IOC_QUOTA_CTL, 0xc0109428);
    assert.equal(k.BTRFS_IOC_QUOTA_RESCAN, 0x4040942c);
    assert.equal(k.BTRFS_IOC_QUOTA_RESCAN_STATUS, 0x8040942d);
    assert.equal(k.BTRFS_IOC_QUOTA_RESCAN_WAIT, 0x0000942e);
    assert.equal(k.BTRFS_IOC_QGROUP_CREATE, 0x4010942a);
    assert.equal(k.BTRFS_IOC_QGROUP_ASSIGN, 0x40189429);
    assert.equal(k.BTRFS_IOC_QGROUP_LIMIT, 0x8030942b); // _IOR, though the kernel only reads it
  });

  it('encodes the ioctl arguments (host order, little-endian on both targets)', () => {
    assert.deepEqual(k.btrfs_ioctl_quota_ctl_args.encode({ cmd: 4n }), hex('0400000000000000 0000000000000000'));
    assert.deepEqual(
      k.btrfs_ioctl_qgroup_create_args.encode({ create: 1n, qgroupid: (1n << 48n) | 100n }),
      hex('0100000000000000 6400000000000100'),
    );
    assert.deepEqual(
      k.btrfs_ioctl_qgroup_assign_args.encode({ assign: 1n, src: 257n, dst: (2n << 48n) | 1n }),
      hex('0100000000000000 0101000000000000 0100000000000200'),
    );
    const limit = k.btrfs_ioctl_qgroup_limit_args.encode({
      qgroupid: 5n,
      lim: { flags: 3n, max_rfer: 0x1000n, max_excl: 0xffff_ffff_ffff_ffffn, rsv_rfer: 0n, rsv_excl: 0n },
    });
    assert.deepEqual(
      limit,
      hex('0500000000000000 0300000000000000 0010000000000000 ffffffffffffffff 0000000000000000 0000000000000000'),
    );
    const rescan = hex('01000000000000000000c00100000000' + '00'.repeat(48));
    assert.deepEqual(k.btrfs_ioctl_quota_rescan_args.decode(rescan), { flags: 1n, progress: 0x1c00000n });
  });

  it('decodes the quota tree items (packed little-endian)', () => {
    const status = hex('0100000000000000 0900000000000000 0100000000000000 ffffffffffffffff');
    assert.deepEqual(k.btrfs_qgroup_status_item.decode(status), { version: 1n, generation: 9n, flags: 1n, rescan: 0xffff_ffff_ffff_ffffn });
    assert.equal(k.statusItemEnableGen(status), null); // the 32-byte item of older kernels
    const status40 = Buffer.concat([hex('0100000000000000 0e00000000000000 0900000000000000 0000000000000000'), hex('0f00000000000000')]);
    assert.equal(k.statusItemEnableGen(status40), 15n);
    const info = hex('0900000000000000 0040000000000000 0040000000000000 0030000000000000 0020000000000000');
    assert.deepEqual(k.btrfs_qgroup_info_item.decode(info), { generation: 9n, rfer: 0x4000n, rfer_cmpr: 0x4000n, excl: 0x3000n, excl_cmpr: 0x2000n });
    const limit = hex('0200000000000000 0000000000000000 0000400100000000 0000000000000000 0000000000000000');
    assert.deepEqual(k.btrfs_qgroup_limit_item.decode(limit), { flags: 2n, max_rfer: 0n, max_excl: 20971520n, rsv_rfer: 0n, rsv_excl: 0n });
  });
});

describe('quota API: bad input is refused before any syscall', () => {
  it("a level-0 qgroupCreate says why: level-0 qgroups come with subvolumes", async () => {
    await assert.rejects(api.qgroupCreate(M, '0/257'), argError(RangeError, 'ERR_OUT_OF_RANGE', /come with their subvolumes/));
    assert.throws(() => api.qgroupCreateSync(M, 5), argError(RangeError, 'ERR_OUT_OF_RANGE', /level 1 or above/));
    assert.throws(() => api.qgroupCreateSync(M, 5n), argError(RangeError, 'ERR_OUT_OF_RANGE', /'0\/5'/));
  });

  it("qgroupAssign/qgroupRemove need the parent's level above the child's (no loops)", async () => {
    await assert.rejects(api.qgroupAssign(M, '2/1', '1/1'), argError(RangeError, 'ERR_OUT_OF_RANGE', /level above the child's/));
    assert.throws(() => api.qgroupAssignSync(M, '1/1', '1/2'), argError(RangeError, 'ERR_OUT_OF_RANGE'));
    assert.throws(() => api.qgroupRemoveSync(M, 257, 258), argError(RangeError, 'ERR_OUT_OF_RANGE'));
  });

  it('qgroupLimit: limits are non-negative integers or null, under their own names', async () => {
    const cases: [unknown, typeof TypeError | typeof RangeError, string][] = [
      [{ maxRfer: -1 }, RangeError, 'ERR_OUT_OF_RANGE'],
      [{ maxExcl: -0.5 }, RangeError, 'ERR_OUT_OF_RANGE'],
      [{ rsvRfer: 1.5 }, RangeError, 'ERR_OUT_OF_RANGE'],
      [{ rsvExcl: Number.POSITIVE_INFINITY }, RangeError, 'ERR_OUT_OF_RANGE'],
      [{ maxRfer: 2 ** 53 }, RangeError, 'ERR_OUT_OF_RANGE'],
      [{ maxRfer: -1n }, RangeError, 'ERR_OUT_OF_RANGE'],
      [{ maxRfer: 2n ** 64n - 1n }, RangeError, 'ERR_OUT_OF_RANGE'], // that value means "clear": write null
      [{ maxRfer: '1G' }, TypeError, 'ERR_INVALID_ARG_TYPE'],
      [{ maxRfer: true }, TypeError, 'ERR_INVALID_ARG_TYPE'],
      [{ max_rfer: 10 }, TypeError, 'ERR_INVALID_ARG_VALUE'],
      [{ maxRfer: 1, extra: 1 }, TypeError, 'ERR_INVALID_ARG_VALUE'],
      [null, TypeError, 'ERR_INVALID_ARG_TYPE'],
      [[1], TypeError, 'ERR_INVALID_ARG_TYPE'],
      [10, TypeError, 'ERR_INVALID_ARG_TYPE'],
    ];
    for (const [limits, ctor, code] of cases) {
      await assert.rejects(api.qgroupLimit(M, 5, limits as api.QgroupLimits), argError(ctor, code), JSON.stringify(String(limits)));
      assert.throws(() => api.qgroupLimitSync(M, 5, limits as api.QgroupLimits), argError(ctor, code));
    }
  });

  it('quotaRescanWait checks its signal, and an aborted one rejects with an AbortError at once', async () => {
    await assert.rejects(api.quotaRescanWait(M, { signal: {} as AbortSignal }), argError(TypeError, 'ERR_INVALID_ARG_TYPE'));
    await assert.rejects(api.quotaRescanWait(M, 'x' as never), argError(TypeError, 'ERR_INVALID_ARG_TYPE'));
    const reason = new Error('stop');
    await assert.rejects(api.quotaRescanWait(M, { signal: AbortSignal.abort(reason) }), (e: Error & { code?: string }) => {
      assert.equal(e.name, 'AbortError');
      assert.equal(e.code, 'ABORT_ERR');
      assert.equal(e.cause, reason);
      assert.ok(e instanceof Error);
      return true;
    });
    // Without an abort, the same call reaches the filesystem.
    await assert.rejects(api.quotaRescanWait(M, { signal: new AbortController().signal }), { name: 'BtrfsError', code: 'ENOENT' });
    await assert.rejects(api.quotaRescanWait(M, {}), { name: 'BtrfsError', code: 'ENOENT' });
  });
});
