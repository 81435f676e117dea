/**
 * The operation runners: one generator, two drivers. Steps that need no kernel (buffers, fs calls
 * on ordinary files) show the contract: results are -errno rather than throws, `finally` blocks
 * still run their steps after an error, and the sync driver's reused buffers never alias.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { argBuffer, bind, close, type Op, open, runAsync, runSync, TargetCall } from '../../src/op';

describe('op runners', () => {
  it('buffers: distinct within one run, zeroed when reused by the next', async () => {
    function* op(): Op<Buffer[]> {
      const a = argBuffer(16);
      const b = argBuffer(16);
      const same = a.equals(Buffer.alloc(16)) && b.equals(Buffer.alloc(16));
      a.fill(1);
      b.fill(2);
      assert.ok(same, 'fresh or reused, a buffer starts zeroed');
      return [a, b];
    }
    const [a, b] = runSync(op());
    assert.notEqual(a, b);
    assert.equal(a[0], 1);
    assert.equal(b[0], 2);
    runSync(op()); // reuses them: zeroed again inside, as asserted
    const [c, d] = await runAsync(op());
    assert.notEqual(c, d);
  });

  it('async runs that interleave never share a borrowed buffer, and get them back when they end', async () => {
    const ctx = { operation: 't', kind: 'OPEN_FAILED' as const, path: __filename };
    function* op(mark: number): Op<Buffer> {
      const buf = argBuffer(32);
      buf.fill(mark);
      // a real step between borrowing and reading: the other runs go on meanwhile
      const fd = yield* open(__filename, 0, ctx);
      yield* close(fd);
      assert.ok(buf.every((byte) => byte === mark), `run ${mark} kept its buffer to itself`);
      return buf;
    }
    const bufs = await Promise.all([1, 2, 3, 4].map((mark) => runAsync(op(mark))));
    assert.equal(new Set(bufs).size, 4);
    const again = await Promise.all([5, 6, 7, 8].map((mark) => runAsync(op(mark))));
    assert.ok(again.some((buf) => bufs.includes(buf)), 'buffers are reused once their run has ended');
  });

  it('a failed step returns -errno; an exception still runs the finally steps', async () => {
    function* op(): Op<number> {
      const fd = yield* open(__filename, 0, { operation: 't', kind: 'OPEN_FAILED', path: __filename });
      try {
        throw new Error('boom');
      } finally {
        yield* close(fd);
      }
    }
    const before = (await import('node:fs')).readdirSync('/proc/self/fd').length;
    assert.throws(() => runSync(op()), /boom/);
    await assert.rejects(runAsync(op()), /boom/);
    assert.equal((await import('node:fs')).readdirSync('/proc/self/fd').length, before);
    function* missing(): Op<number> {
      return yield { op: 'open', path: '/definitely/missing', flags: 0 };
    }
    assert.equal(runSync(missing()), -2);
    assert.equal(await runAsync(missing()), -2);
    assert.throws(() => runSync(open('/definitely/missing', 0, { operation: 't', kind: 'OPEN_FAILED' })), { name: 'BtrfsError', code: 'ENOENT', kind: 'OPEN_FAILED', path: '/definitely/missing' });
  });

  it("'all' makes independent steps together and returns their results in order; a background close still closes", async () => {
    const fds = () => readdirSync('/proc/self/fd').length;
    function* op(): Op<[number, number]> {
      const [fd, missing] = (yield { op: 'all', steps: [{ op: 'open', path: __filename, flags: 0 }, { op: 'open', path: '/definitely/missing', flags: 0 }] }) as [number, number];
      assert.ok(fd >= 0);
      yield { op: 'close', fd, background: true };
      return [fd, missing];
    }
    const before = fds();
    const [syncFd, syncMissing] = runSync(op());
    assert.equal(syncMissing, -2);
    assert.equal(fds(), before, 'Sync: closed at once');
    const [asyncFd, asyncMissing] = await runAsync(op());
    assert.ok(syncFd >= 0 && asyncFd >= 0);
    assert.equal(asyncMissing, -2);
    // Async does not wait for a background close; it is done soon after.
    for (let i = 0; i < 100 && fds() !== before; i++) await new Promise((done) => setTimeout(done, 10));
    assert.equal(fds(), before, 'async: closed in the background');
  });

  it('a TargetCall: one call in both drivers, its result from `done`, a failure from `otherwise`', async () => {
    // FIONREAD on a regular file: the VFS answers bytes left to read (size - position) into an
    // int, with no privilege and on any filesystem.
    const FIONREAD = 0x541b;
    const dir = mkdtempSync(join(tmpdir(), 'btrfs-op-'));
    try {
      const file = join(dir, 'f');
      writeFileSync(file, Buffer.alloc(1234));
      const failures: number[] = [];
      const spec = {
        request: FIONREAD,
        openFlags: 0,
        blocking: false,
        done: (arg: Buffer) => arg.readInt32LE(0),
        *otherwise(_target: { path?: string; fd?: number }, errno: number): Op<number> {
          failures.push(errno);
          return errno;
        },
      };
      const bytesLeft = new TargetCall({ ...spec, size: 4, fill: null });
      const fds = readdirSync('/proc/self/fd').length;
      assert.equal(runSync(bind(bytesLeft, { path: file })), 1234);
      assert.equal(await runAsync(bind(bytesLeft, { path: file })), 1234);
      assert.deepEqual(await Promise.all([1, 2, 3].map(() => runAsync(bind(bytesLeft, { path: file })))), [1234, 1234, 1234]);
      // The path's open failing reaches `otherwise` (OPEN_FAILED_BASE + ENOENT), Sync and async alike.
      assert.equal(runSync(bind(bytesLeft, { path: join(dir, 'missing') })), -(0x10000 + 2));
      assert.equal(await runAsync(bind(bytesLeft, { path: join(dir, 'missing') })), -(0x10000 + 2));
      // Size 0: the ioctl gets no argument (0, a NULL pointer here: EFAULT), never a buffer.
      const noArgument = new TargetCall({ ...spec, size: 0, fill: null });
      assert.equal(runSync(bind(noArgument, { path: file })), -14);
      assert.equal(await runAsync(bind(noArgument, { path: file })), -14);
      assert.deepEqual(failures, [-(0x10000 + 2), -(0x10000 + 2), -14, -14]);
      assert.equal(readdirSync('/proc/self/fd').length, fds, 'every path the calls opened is closed');
      assert.throws(() => new TargetCall({ ...spec, size: 0, fill: () => undefined }), RangeError);
      assert.equal(statSync(file).size, 1234);
    } finally {
      rmSync(dir, { recursive: true });
    }
  });
});
