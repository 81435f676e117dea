/**
 * Errors from the kernel: Node's fs error shape plus libbtrfsutil's kinds, NOT_BTRFS whatever ioctl
 * failed, descriptors reported as `fd`, and bad input refused without touching the filesystem.
 */
import assert from 'node:assert/strict';
import { closeSync, mkdirSync, openSync, writeFileSync } from 'node:fs';
import { constants } from 'node:os';
import { after, before, describe, it } from 'node:test';
import * as btrfs from '../../src/index';
import { subvolumeList } from '../helpers/oracle';
import { needsRoot, type Scratch, scratchBtrfs } from '../helpers/scratch';

describe('errors (kernel)', { skip: needsRoot }, () => {
  let s: Scratch;
  let m: string;
  before(() => {
    s = scratchBtrfs();
    m = s.mnt;
    btrfs.createSubvolumeSync(`${m}/sv`);
  });
  after(() => s?.cleanup());

  it('every call on a path outside btrfs reports NOT_BTRFS (isSubvolume: false)', async () => {
    const notBtrfs = { name: 'BtrfsError', kind: 'NOT_BTRFS' };
    const calls: [string, () => unknown][] = [
      ['subvolumeId', () => btrfs.subvolumeIdSync('/proc')],
      ['subvolumePath', () => btrfs.subvolumePathSync('/proc')],
      ['subvolumeInfo', () => btrfs.subvolumeInfoSync('/proc')],
      ['subvolumeInfo(id)', () => btrfs.subvolumeInfoSync('/proc', 256)],
      ['getSubvolumeReadOnly', () => btrfs.getSubvolumeReadOnlySync('/proc')],
      ['setSubvolumeReadOnly', () => btrfs.setSubvolumeReadOnlySync('/proc')],
      ['getDefaultSubvolume', () => btrfs.getDefaultSubvolumeSync('/proc')],
      ['setDefaultSubvolume', () => btrfs.setDefaultSubvolumeSync('/proc', 5)],
      ['createSubvolume', () => btrfs.createSubvolumeSync('/proc/x')],
      ['createSnapshot', () => btrfs.createSnapshotSync('/proc', '/proc/x')],
      ['deleteSubvolume', () => btrfs.deleteSubvolumeSync('/proc/self')],
      ['deleteSubvolume(id)', () => btrfs.deleteSubvolumeSync('/proc', { id: 256 })],
      ['deletedSubvolumes', () => btrfs.deletedSubvolumesSync('/proc')],
      ['subvolumesSync', () => btrfs.subvolumesSync('/proc')],
      ['sync', () => btrfs.syncSync('/proc')],
    ];
    for (const [name, call] of calls) assert.throws(call, notBtrfs, name);
    await assert.rejects(btrfs.subvolumeInfo('/proc'), notBtrfs);
    await assert.rejects(btrfs.createSnapshot('/proc', '/proc/x'), notBtrfs);
    await assert.rejects(btrfs.subvolumes('/proc').next(), notBtrfs);
    assert.equal(await btrfs.isSubvolume('/proc'), false);
  });

  it("errors have Node's fs shape: code, negative errno, syscall, path, and a message naming them", async () => {
    const error = await btrfs.subvolumeInfo('/proc').then(
      () => assert.fail('resolved'),
      (e: unknown) => e,
    );
    assert.ok(error instanceof btrfs.BtrfsError);
    assert.ok(error instanceof Error);
    assert.equal(error.name, 'BtrfsError');
    assert.equal(error.code, 'ENOTTY');
    assert.equal(error.errno, -constants.errno.ENOTTY);
    assert.equal(error.syscall, 'ioctl');
    assert.equal(error.path, '/proc');
    assert.equal(error.fd, undefined);
    assert.equal(error.operation, 'subvolumeInfo');
    assert.match(error.message, /^ENOTTY: .*'\/proc'.*subvolumeInfo/);
    assert.ok(error.stack?.includes('BtrfsError'));

    const missing = (await btrfs.subvolumeId(`${m}/missing`).catch((e: btrfs.BtrfsError) => e)) as btrfs.BtrfsError;
    assert.equal(missing.code, 'ENOENT');
    assert.equal(missing.errno, -constants.errno.ENOENT);
    assert.equal(missing.syscall, 'open');
    assert.equal(missing.kind, 'OPEN_FAILED');
    assert.equal(missing.path, `${m}/missing`);
  });

  it('a descriptor argument is reported as fd, not path', () => {
    const fd = openSync('/proc', 'r');
    try {
      assert.throws(() => btrfs.subvolumeIdSync(fd), (e: btrfs.BtrfsError) => e.fd === fd && e.path === undefined && e.kind === 'NOT_BTRFS');
    } finally {
      closeSync(fd);
    }
    assert.throws(() => btrfs.subvolumeIdSync(987654), { code: 'EBADF', fd: 987654 });
  });

  it('NOT_SUBVOLUME where a subvolume root is needed; step kinds otherwise', async () => {
    mkdirSync(`${m}/sv/dir`, { recursive: true });
    writeFileSync(`${m}/sv/file`, 'x');
    assert.throws(() => btrfs.getSubvolumeReadOnlySync(`${m}/sv/dir`), { kind: 'NOT_SUBVOLUME', code: 'EINVAL' });
    assert.throws(() => btrfs.subvolumesSync(`${m}/sv/dir`), { kind: 'NOT_SUBVOLUME' });
    await assert.rejects(btrfs.createSnapshot(`${m}/sv/dir`, `${m}/x`), { kind: 'SNAP_CREATE_FAILED', code: 'EINVAL' });
    assert.throws(() => btrfs.createSubvolumeSync(`${m}/sv/file/x`), { kind: 'OPEN_FAILED', code: 'ENOTDIR' });
  });

  it('one-call operations: the Sync form (the addon called directly) and the Promise form (a step) answer alike', async () => {
    mkdirSync(`${m}/sv/plain`, { recursive: true });
    /** What a caller can see of an error. */
    const shape = (e: unknown) => {
      const { name, message, code, errno, syscall, path, fd, kind, operation } = e as btrfs.BtrfsError;
      return { name, message, code, errno, syscall, path, fd, kind, operation };
    };
    const outcome = async (sync: () => unknown, promise: () => Promise<unknown>) => {
      let fromSync: unknown;
      try {
        fromSync = { value: sync() };
      } catch (e) {
        fromSync = { error: shape(e) };
      }
      const fromPromise = await promise().then(
        (value) => ({ value }),
        (e: unknown) => ({ error: shape(e) }),
      );
      assert.deepEqual(fromPromise, fromSync);
      return fromSync as { value?: unknown; error?: ReturnType<typeof shape> };
    };
    for (const path of [`${m}/sv`, `${m}/sv/plain`, `${m}/missing`, '/proc']) {
      await outcome(() => btrfs.getSubvolumeReadOnlySync(path), () => btrfs.getSubvolumeReadOnly(path));
      await outcome(() => btrfs.subvolumeInfoSync(path), () => btrfs.subvolumeInfo(path));
    }
    assert.equal((await outcome(() => btrfs.getSubvolumeReadOnlySync(`${m}/sv/plain`), () => btrfs.getSubvolumeReadOnly(`${m}/sv/plain`))).error?.kind, 'NOT_SUBVOLUME');
    assert.equal((await outcome(() => btrfs.subvolumeInfoSync(`${m}/missing`), () => btrfs.subvolumeInfo(`${m}/missing`))).error?.kind, 'OPEN_FAILED');
    // Failures change nothing, so each form meets the same state.
    const exists = await outcome(() => btrfs.createSubvolumeSync(`${m}/sv`), () => btrfs.createSubvolume(`${m}/sv`));
    assert.equal(exists.error?.code, 'EEXIST');
    assert.equal(exists.error?.kind, 'SUBVOL_CREATE_FAILED');
    assert.equal((await outcome(() => btrfs.createSubvolumeSync(`${m}/missing/x`), () => btrfs.createSubvolume(`${m}/missing/x`))).error?.kind, 'OPEN_FAILED');
    assert.equal((await outcome(() => btrfs.deleteSubvolumeSync(`${m}/sv/plain`), () => btrfs.deleteSubvolume(`${m}/sv/plain`))).error?.code, 'EINVAL');
    assert.equal((await outcome(() => btrfs.deleteSubvolumeSync(`${m}/nothing`), () => btrfs.deleteSubvolume(`${m}/nothing`))).error?.code, 'ENOENT');
    assert.equal((await outcome(() => btrfs.deleteSubvolumeSync('/proc/self'), () => btrfs.deleteSubvolume('/proc/self'))).error?.kind, 'NOT_BTRFS');
  });

  it('bad arguments throw TypeError/RangeError before any syscall, and change nothing', async () => {
    const before = subvolumeList(m);
    assert.throws(() => btrfs.createSubvolumeSync(`${m}/${'n'.repeat(256)}`), { name: 'TypeError', code: 'ERR_INVALID_ARG_VALUE' });
    await assert.rejects(btrfs.createSubvolume(`${m}/bad\0name`), { name: 'TypeError', code: 'ERR_INVALID_ARG_VALUE' });
    await assert.rejects(btrfs.createSubvolume(42 as unknown as string), { name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE' });
    await assert.rejects(btrfs.createSnapshot(`${m}/sv`, `${m}/snap`, { readOnly: 1 as unknown as boolean }), { code: 'ERR_INVALID_ARG_TYPE' });
    await assert.rejects(btrfs.createSnapshot(`${m}/sv`, `${m}/snap`, { qgroupInherit: ['x/y'] }), { code: 'ERR_INVALID_ARG_VALUE' });
    assert.throws(() => btrfs.deleteSubvolumeSync(m, { id: -1 }), { name: 'RangeError', code: 'ERR_OUT_OF_RANGE' });
    assert.throws(() => btrfs.subvolumeInfoSync(m, 2 ** 53), { name: 'RangeError' });
    assert.throws(() => btrfs.subvolumeInfoSync(-1 as unknown as string), { name: 'RangeError' });
    assert.throws(() => btrfs.deleteSubvolumeSync(0), { name: 'TypeError' }); // a descriptor has no name to delete
    assert.deepEqual(subvolumeList(m), before);
  });
});
