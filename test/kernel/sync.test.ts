/**
 * sync, startSync, waitSync against the kernel, with the superblock generation printed by
 * `btrfs inspect-internal dump-super` as the oracle; and the promise that long kernel waits run off
 * the event loop and off the libuv pool.
 */
import assert from 'node:assert/strict';
import { closeSync, openSync, promises as fsp, writeFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import * as btrfs from '../../src/index';
import { btrfsProgs, needsRoot, type Scratch, scratchBtrfs } from '../helpers/scratch';

function superGeneration(device: string): number {
  const match = /^generation\s+(\d+)/m.exec(btrfsProgs('inspect-internal', 'dump-super', device));
  assert.ok(match, 'dump-super prints the generation');
  return Number(match[1]);
}

describe('sync, startSync, waitSync (kernel)', { skip: needsRoot }, () => {
  let s: Scratch;
  let m: string;
  before(() => {
    s = scratchBtrfs();
    m = s.mnt;
  });
  after(() => s?.cleanup());

  it('sync commits: the superblock generation moves past what it was', async () => {
    const before = superGeneration(s.device);
    writeFileSync(`${m}/f1`, 'data');
    await btrfs.sync(m);
    const mid = superGeneration(s.device);
    assert.ok(mid > before, `${mid} > ${before}`);
    writeFileSync(`${m}/f2`, 'data');
    btrfs.syncSync(`${m}/f2`); // any file of the filesystem will do
    assert.ok(superGeneration(s.device) > mid);
  });

  it('startSync returns the transaction id that waitSync then waits for', async () => {
    writeFileSync(`${m}/f3`, 'data');
    const transid = await btrfs.startSync(m);
    assert.ok(Number.isSafeInteger(transid) && transid > 0);
    await btrfs.waitSync(m, transid);
    assert.ok(superGeneration(s.device) >= transid);
    writeFileSync(`${m}/f4`, 'data');
    const next = btrfs.startSyncSync(m);
    assert.ok(next > transid);
    btrfs.waitSyncSync(m, next);
    assert.ok(superGeneration(s.device) >= next);
    // nothing dirty: the same transaction again
    assert.equal(btrfs.startSyncSync(m), next);
    await btrfs.waitSync(m); // 0: the current one
    btrfs.waitSyncSync(m, 0);
    const fd = openSync(m, 'r');
    try {
      btrfs.waitSyncSync(fd, await btrfs.startSync(fd));
    } finally {
      closeSync(fd);
    }
  });

  it('waitSync for a future transaction: WAIT_SYNC_FAILED EINVAL', async () => {
    const now = btrfs.startSyncSync(m);
    await assert.rejects(btrfs.waitSync(m, now + 1000), { name: 'BtrfsError', kind: 'WAIT_SYNC_FAILED', code: 'EINVAL', syscall: 'ioctl' });
    assert.throws(() => btrfs.waitSyncSync(m, now + 1000), { kind: 'WAIT_SYNC_FAILED' });
  });

  it('not on btrfs: NOT_BTRFS for each', async () => {
    await assert.rejects(btrfs.sync('/proc'), { kind: 'NOT_BTRFS', code: 'ENOTTY' });
    assert.throws(() => btrfs.startSyncSync('/proc'), { kind: 'NOT_BTRFS' });
    await assert.rejects(btrfs.waitSync('/proc'), { kind: 'NOT_BTRFS' });
  });

  it('long syncs run off the event loop and leave the libuv pool free for fs calls', async () => {
    // Dirty a few hundred MiB so each sync has real work, then start more syncs than the pool has
    // threads (4). Timers must keep firing and fs calls must complete while they are in flight.
    for (let i = 0; i < 4; i++) writeFileSync(`${m}/big${i}`, Buffer.alloc(64 << 20, i + 1));
    // Syncs on an open descriptor, so each call is a single ioctl and all 8 are queued before the stat.
    const fd = openSync(m, 'r');
    let ticks = 0;
    const timer = setInterval(() => ticks++, 1);
    let firstSyncAt = 0n;
    const started = process.hrtime.bigint();
    const syncs = Promise.all(
      Array.from({ length: 8 }, () =>
        btrfs.sync(fd).then(() => {
          firstSyncAt ||= process.hrtime.bigint();
        }),
      ),
    );
    const stat = await fsp.stat('/proc/self');
    const statAt = process.hrtime.bigint();
    await syncs;
    clearInterval(timer);
    closeSync(fd);
    const firstSyncMs = Number(firstSyncAt - started) / 1e6;
    assert.ok(stat.isDirectory());
    if (firstSyncMs > 50) {
      // Only meaningful when the syncs took long enough to be observed. On the libuv pool
      // (BTRFS_BLOCKING_CALLS=pool) the stat would queue behind them and this fails.
      assert.ok(statAt < firstSyncAt, `fs.stat waited for the syncs (first sync took ${firstSyncMs.toFixed(0)} ms)`);
      assert.ok(ticks >= 5, `only ${ticks} timer ticks during ${firstSyncMs.toFixed(0)} ms of syncs`);
    } else {
      console.log(`# syncs finished in ${firstSyncMs.toFixed(0)} ms: too fast to observe starvation`);
    }
  });
});
