/**
 * src/errors.ts: the shape of BtrfsError (Node's fs error fields plus kind/operation), the argument
 * error builders, and the BtrfsErrorKind vocabulary (libbtrfsutil's enum btrfs_util_error).
 */
import assert from 'node:assert/strict';
import { openSync } from 'node:fs';
import { describe, it } from 'node:test';
import { getSystemErrorName } from 'node:util';
import {
  argTypeError,
  argValueError,
  btrfsError,
  BtrfsError,
  BtrfsErrorKind,
  errnoText,
  rangeError,
  sysError,
} from '../../src/errors';
import * as publicApi from '../../src/index';

describe('sysError', () => {
  const ctx = { operation: 'subvolumeInfo', kind: 'GET_SUBVOL_INFO_FAILED', path: '/mnt/data/sub' } as const;

  it('builds a BtrfsError shaped like a Node fs error', () => {
    const err = sysError(-25, 'ioctl', ctx);
    assert.ok(err instanceof BtrfsError);
    assert.ok(err instanceof Error);
    assert.equal(err.name, 'BtrfsError');
    assert.equal(err.code, 'ENOTTY');
    assert.equal(err.errno, -25);
    assert.equal(err.syscall, 'ioctl');
    assert.equal(err.path, '/mnt/data/sub');
    assert.equal(err.fd, undefined);
    assert.ok(!('fd' in err), 'no fd key when a path was given');
    assert.equal(err.kind, 'GET_SUBVOL_INFO_FAILED');
    assert.equal(err.operation, 'subvolumeInfo');
    assert.equal(Object.prototype.toString.call(err), '[object Error]');
    assert.match(String(err), /^BtrfsError: /);
    assert.match(err.stack ?? '', /^BtrfsError: ENOTTY/);
  });

  it('says what failed: code, path and operation in the message', () => {
    const { message } = sysError(-25, 'ioctl', ctx, undefined, 'BTRFS_IOC_GET_SUBVOL_INFO');
    assert.ok(message.includes('ENOTTY'), message);
    assert.ok(message.includes("'/mnt/data/sub'"), message);
    assert.ok(message.includes('subvolumeInfo'), message);
    assert.ok(message.includes('BTRFS_IOC_GET_SUBVOL_INFO'), message);
    assert.ok(message.includes('ioctl'), message);
  });

  it('carries the same fields as an error from node:fs', () => {
    let fsError: NodeJS.ErrnoException | undefined;
    try {
      openSync('/nonexistent-btrfs-test-path/x', 'r');
    } catch (e) {
      fsError = e as NodeJS.ErrnoException;
    }
    assert.ok(fsError);
    const ours = sysError(fsError.errno!, 'open', { operation: 'isSubvolume', kind: 'OPEN_FAILED', path: fsError.path! });
    for (const key of ['code', 'errno', 'syscall', 'path'] as const) assert.equal(ours[key], fsError[key], key);
  });

  it('uses Node’s errno names', () => {
    for (const errno of [-1, -2, -13, -17, -22, -25, -39, -75, -95]) {
      assert.equal(sysError(errno, 'ioctl', ctx).code, getSystemErrorName(errno));
    }
    assert.deepEqual(errnoText(-2), ['ENOENT', 'no such file or directory']);
  });

  it('names the descriptor when given one instead of a path', () => {
    const err = sysError(-9, 'ioctl', { operation: 'sync', kind: 'SYNC_FAILED', fd: 7 });
    assert.equal(err.fd, 7);
    assert.equal(err.path, undefined);
    assert.ok(!('path' in err));
    assert.equal(err.code, 'EBADF');
    assert.match(err.message, /fd 7/);
    assert.match(err.message, /sync/);
  });

  it('takes a kind override, a destination and the ioctl name', () => {
    const err = sysError(-22, 'ioctl', { operation: 'createSnapshot', kind: 'SNAP_CREATE_FAILED', path: '/a', dest: '/b' }, 'NOT_SUBVOLUME', 'BTRFS_IOC_SNAP_CREATE_V2');
    assert.equal(err.kind, 'NOT_SUBVOLUME');
    assert.equal(err.dest, '/b');
    assert.equal(err.ioctl, 'BTRFS_IOC_SNAP_CREATE_V2');
    assert.match(err.message, /'\/a' -> '\/b'/);
  });

  it('survives an errno Node does not know', () => {
    const err = sysError(-99999, 'ioctl', ctx);
    assert.equal(err.errno, -99999);
    assert.equal(typeof err.code, 'string');
  });

  it('btrfsError classifies library-detected failures the same way', () => {
    const err = btrfsError('SUBVOLUME_NOT_FOUND', -2, 'ioctl', ctx);
    assert.ok(err instanceof BtrfsError);
    assert.equal(err.kind, 'SUBVOLUME_NOT_FOUND');
    assert.equal(err.code, 'ENOENT');
    assert.equal(err.errno, -2);
  });
});

describe('argument errors', () => {
  it('argTypeError: TypeError, ERR_INVALID_ARG_TYPE, names the argument and what was received', () => {
    const err = argTypeError('path', 'of type string', 123);
    assert.equal(err.constructor, TypeError);
    assert.equal((err as { code?: string }).code, 'ERR_INVALID_ARG_TYPE');
    assert.match(err.message, /"path"/);
    assert.match(err.message, /of type string/);
    assert.match(err.message, /Received type number \(123\)/);
    assert.match(argTypeError('x', 'y', null).message, /Received null/);
    assert.match(argTypeError('x', 'y', new Map()).message, /Received an instance of Map/);
  });

  it('argValueError: TypeError, ERR_INVALID_ARG_VALUE', () => {
    const err = argValueError('path', 'must not be empty', '');
    assert.equal(err.constructor, TypeError);
    assert.equal((err as { code?: string }).code, 'ERR_INVALID_ARG_VALUE');
    assert.match(err.message, /'path' must not be empty/);
  });

  it('rangeError: RangeError, ERR_OUT_OF_RANGE', () => {
    const err = rangeError('id', '>= 0', -1);
    assert.equal(err.constructor, RangeError);
    assert.equal((err as { code?: string }).code, 'ERR_OUT_OF_RANGE');
    assert.match(err.message, /"id" is out of range/);
    assert.match(err.message, /-1/);
    assert.match(rangeError('id', '< 2^64', 2n ** 64n).message, /18446744073709551616n/);
  });
});

describe('BtrfsErrorKind', () => {
  /** libbtrfsutil's enum btrfs_util_error, in order (seed/pybtrfs-api.md lists it as required). */
  const LIBBTRFSUTIL = [
    'OK',
    'STOP_ITERATION',
    'NO_MEMORY',
    'INVALID_ARGUMENT',
    'NOT_BTRFS',
    'NOT_SUBVOLUME',
    'SUBVOLUME_NOT_FOUND',
    'OPEN_FAILED',
    'RMDIR_FAILED',
    'UNLINK_FAILED',
    'STAT_FAILED',
    'STATFS_FAILED',
    'SEARCH_FAILED',
    'INO_LOOKUP_FAILED',
    'SUBVOL_GETFLAGS_FAILED',
    'SUBVOL_SETFLAGS_FAILED',
    'SUBVOL_CREATE_FAILED',
    'SNAP_CREATE_FAILED',
    'SNAP_DESTROY_FAILED',
    'DEFAULT_SUBVOL_FAILED',
    'SYNC_FAILED',
    'START_SYNC_FAILED',
    'WAIT_SYNC_FAILED',
    'GET_SUBVOL_INFO_FAILED',
    'GET_SUBVOL_ROOTREF_FAILED',
    'INO_LOOKUP_USER_FAILED',
    'FS_INFO_FAILED',
  ];

  it('contains the whole libbtrfsutil set, each value equal to its name', () => {
    const kinds = BtrfsErrorKind as Record<string, string>;
    for (const name of LIBBTRFSUTIL) assert.equal(kinds[name], name, `BtrfsErrorKind.${name}`);
    for (const [key, value] of Object.entries(kinds)) assert.equal(value, key);
  });

  it('every kind yields a message (no kind lacks its text)', () => {
    for (const kind of Object.values(BtrfsErrorKind)) {
      const err = sysError(-1, 'ioctl', { operation: 'op', kind, path: '/p' });
      assert.equal(err.kind, kind);
      assert.doesNotMatch(err.message, /undefined/, kind);
    }
  });

  it('is exported from the package with BtrfsError', () => {
    assert.equal(publicApi.BtrfsErrorKind, BtrfsErrorKind);
    assert.equal(publicApi.BtrfsError, BtrfsError);
  });
});
