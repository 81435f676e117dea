/**
 * The operation runners: one generator, two drivers. Steps that need no kernel (buffers, fs calls
 * on ordinary files) show the contract: results are -errno rather than throws, `finally` blocks
 * still run their steps after an error, and the sync driver's reused buffers never alias.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { buffer, close, type Op, open, runAsync, runSync } from '../../src/op';

describe('op runners', () => {
  it('buffers: distinct within one run, zeroed when reused by the next', async () => {
    function* op(): Op<Buffer[]> {
      const a = yield* buffer(16);
      const b = yield* buffer(16);
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
});
