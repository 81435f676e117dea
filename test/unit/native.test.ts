/**
 * The native binding itself: misuse throws TypeError/RangeError instead of crashing, failures come
 * back as -errno, pointer patches write the target's address, and every async path settles. Needs
 * no root: it uses descriptors of ordinary files and invalid descriptors.
 */
import assert from 'node:assert/strict';
import { closeSync, openSync } from 'node:fs';
import { constants } from 'node:os';
import { describe, it } from 'node:test';
import { native } from '../../src/native';

const EBADF = -constants.errno.EBADF;
const ENOTTY = -constants.errno.ENOTTY;
// FIONREAD on a regular file: a harmless ioctl every filesystem answers, writing an int.
const FIONREAD = 0x541b;

describe('native binding', () => {
  const b = native();

  it('returns -errno for OS failures, sync and async, on the pool and on a dedicated thread', async () => {
    assert.equal(b.ioctl(-1, 0x5401, null), EBADF);
    assert.equal(await b.ioctlAsync(-1, 0x5401, null, null, false), EBADF);
    assert.equal(await b.ioctlAsync(-1, 0x5401, null, null, true), EBADF);
    const fd = openSync(__filename, 'r');
    try {
      // A request number above 2^31 (dir bits set) is passed unsigned: the kernel answers ENOTTY, not EINVAL.
      assert.equal(b.ioctl(fd, 0xc0709411, Buffer.alloc(4096)), ENOTTY);
      const arg = Buffer.alloc(8, 0xff);
      assert.equal(b.ioctl(fd, FIONREAD, arg), 0);
      assert.ok(arg.readInt32LE(0) > 0, 'FIONREAD wrote the byte count into the caller buffer');
      const asyncArg = Buffer.alloc(8, 0xff);
      assert.equal(await b.ioctlAsync(fd, FIONREAD, asyncArg, null, true), 0);
      assert.equal(asyncArg.readInt32LE(0), arg.readInt32LE(0));
    } finally {
      closeSync(fd);
    }
    assert.ok(b.umount2('/definitely/not/mounted', 0) < 0);
    assert.ok((await b.umount2Async('/definitely/not/mounted', 0, true)) < 0);
    assert.ok(b.mount(null, '/definitely/not/there', 'btrfs', 0, null) < 0);
  });

  it('ioctlAt: open + ioctl + close in one call; a failed open is told apart from a failed ioctl', async () => {
    const ENOENT = -constants.errno.ENOENT;
    const missing = '/definitely/missing/file';
    assert.equal(b.ioctlAt(missing, 0, FIONREAD, Buffer.alloc(8)), -(0x10000 - ENOENT));
    assert.equal(await b.ioctlAtAsync(missing, 0, FIONREAD, Buffer.alloc(8), null, false), -(0x10000 - ENOENT));
    assert.equal(b.ioctlAt(__filename, 0, 0x5401 /* TCGETS */, Buffer.alloc(64)), ENOTTY);
    const arg = Buffer.alloc(8, 0xff);
    assert.equal(await b.ioctlAtAsync(__filename, 0, FIONREAD, arg, null, true), 0);
    assert.ok(arg.readInt32LE(0) > 0);
    const before = (await import('node:fs')).readdirSync('/proc/self/fd').length;
    for (let i = 0; i < 100; i++) b.ioctlAt(__filename, 0, FIONREAD, arg);
    assert.equal((await import('node:fs')).readdirSync('/proc/self/fd').length, before, 'ioctlAt closes what it opens');
    assert.throws(() => b.ioctlAt(5 as unknown as string, 0, FIONREAD), { name: 'TypeError' });
    assert.throws(() => b.ioctlAt('/a\0b', 0, FIONREAD), { name: 'TypeError' });
  });

  it('writes the address of each patch target into the argument before the call', () => {
    const arg = Buffer.alloc(64);
    const first = Buffer.alloc(16);
    const second = Buffer.alloc(16);
    assert.equal(b.ioctl(-1, 0x5401, arg, [8, first, 32, second]), EBADF);
    const a1 = arg.readBigUInt64LE(8);
    const a2 = arg.readBigUInt64LE(32);
    assert.ok(a1 !== 0n && a2 !== 0n && a1 !== a2);
    assert.equal(arg.readBigUInt64LE(0), 0n, 'bytes outside the patches untouched');
    // the same buffer gives the same address: it is the buffer's memory, not a copy
    const again = Buffer.alloc(64);
    b.ioctl(-1, 0x5401, again, [8, first]);
    assert.equal(again.readBigUInt64LE(8), a1);
  });

  it('misuse throws TypeError/RangeError, never crashes', () => {
    const bad: [string, () => unknown, RegExp | object][] = [
      ['no args', () => (b.ioctl as (...a: unknown[]) => number)(), { name: 'TypeError' }],
      ['fd not a number', () => b.ioctl('3' as unknown as number, 1), { name: 'TypeError' }],
      ['request negative', () => b.ioctl(0, -1), { name: 'RangeError' }],
      ['request above 2^32', () => b.ioctl(0, 2 ** 32), { name: 'RangeError' }],
      ['request fractional', () => b.ioctl(0, 1.5), { name: 'RangeError' }],
      ['arg of wrong type', () => b.ioctl(0, 1, 'x' as unknown as number), { name: 'TypeError' }],
      ['integer arg negative', () => b.ioctl(0, 1, -5), { name: 'RangeError' }],
      ['patches not an array', () => b.ioctl(0, 1, Buffer.alloc(8), 7 as unknown as []), { name: 'TypeError' }],
      ['patch outside the buffer', () => b.ioctl(0, 1, Buffer.alloc(8), [4, Buffer.alloc(1)]), { name: 'RangeError' }],
      ['odd patch list', () => b.ioctl(0, 1, Buffer.alloc(16), [0]), { name: 'RangeError' }],
      ['too many patches', () => b.ioctl(0, 1, Buffer.alloc(128), [0, Buffer.alloc(1), 8, Buffer.alloc(1), 16, Buffer.alloc(1), 24, Buffer.alloc(1), 32, Buffer.alloc(1)]), { name: 'RangeError' }],
      ['patch target not bytes', () => b.ioctl(0, 1, Buffer.alloc(16), [0, 'x' as unknown as Buffer]), { name: 'TypeError' }],
      ['patches with an integer arg', () => b.ioctl(0, 1, 5, [0, Buffer.alloc(1)]), { name: 'TypeError' }],
      ['mount target missing', () => b.mount(null, null as unknown as string, null, 0, null), { name: 'TypeError' }],
      ['mount path with NUL', () => b.mount(null, '/a\0b', null, 0, null), { name: 'TypeError' }],
      ['mount flags negative', () => b.mount(null, '/x', null, -1, null), { name: 'RangeError' }],
      ['umount2 flags wrong type', () => b.umount2('/x', 'f' as unknown as number), { name: 'TypeError' }],
      ['async misuse throws synchronously', () => b.ioctlAsync('x' as unknown as number, 1, null, null, false), { name: 'TypeError' }],
    ];
    for (const [what, call, expected] of bad) assert.throws(call, expected, what);
  });

  it('many async calls in flight all settle (pool and dedicated threads)', async () => {
    const results = await Promise.all(
      Array.from({ length: 200 }, (_, i) => b.ioctlAsync(-1, 0x5401, Buffer.alloc(8), null, i % 2 === 0)),
    );
    assert.ok(results.every((r) => r === EBADF));
  });
});
