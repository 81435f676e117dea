/**
 * Quota rescans long enough to watch: status while one runs (against `btrfs quota rescan -s`), the
 * waits (Promise, Sync, with a signal), aborting a wait, and proof that an aborted wait leaves no
 * thread behind: a child process that aborts its wait exits while the rescan still runs.
 *
 * The fixture makes a rescan last well over a second: a file of many separate 4 KiB extents (holes
 * between them keep them apart), in a subvolume snapshotted until the measured rescan is long
 * enough. A rescan's cost grows with extents times the roots sharing them.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { closeSync, fsyncSync, openSync, writeSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import * as btrfs from '../../src/index';
import { btrfsProgs, needsRoot, type Scratch, scratchBtrfs } from '../helpers/scratch';

const EXTENTS = 20_000;
const TARGET_MS = 2000;
const MAX_SNAPSHOTS = 480;

/** A file of `count` separate 4 KiB extents: writes at every other 4 KiB block. */
function fragmentedFile(path: string, count: number): void {
  const fd = openSync(path, 'w');
  const block = Buffer.alloc(4096, 0x61);
  try {
    for (let i = 0; i < count; i++) writeSync(fd, block, 0, block.length, i * 8192);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** `btrfs quota rescan -s`: true when btrfs-progs says a rescan is running. */
function progsSaysRunning(path: string): boolean {
  const out = btrfsProgs('quota', 'rescan', '-s', path);
  if (/no rescan operation in progress/.test(out)) return false;
  if (/rescan operation running/.test(out)) return true;
  throw new Error(`unexpected output of btrfs quota rescan -s: ${out}`);
}

const timeMs = (start: bigint): number => Number(process.hrtime.bigint() - start) / 1e6;

/** Runs `code` in a child node process with the library loaded as `btrfs`; resolves with its exit and output. */
function child(code: string, env: Record<string, string>): Promise<{ status: number | null; stdout: string; stderr: string; ms: number }> {
  const index = resolve(__dirname, '..', '..', 'src', 'index.js');
  const started = process.hrtime.bigint();
  return new Promise((done, fail) => {
    const p = spawn(process.execPath, ['-e', `const btrfs = require(${JSON.stringify(index)});\n${code}`], {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d) => (stdout += d));
    p.stderr.on('data', (d) => (stderr += d));
    p.on('error', fail);
    p.on('close', (status) => done({ status, stdout, stderr, ms: timeMs(started) }));
  });
}

describe('quota rescans (kernel)', { skip: needsRoot }, () => {
  let s: Scratch;
  let m: string;
  let rescanMs = 0;
  let snapshots = 0;

  /** Starts a rescan and waits for it with the Sync form; returns how long it took. */
  function timedRescan(): number {
    const start = process.hrtime.bigint();
    btrfs.quotaRescanSync(m);
    btrfs.quotaRescanWaitSync(m);
    return timeMs(start);
  }

  before(async () => {
    s = scratchBtrfs({ size: 2 * 1024 ** 3 });
    m = s.mnt;
    const t0 = process.hrtime.bigint();
    await btrfs.createSubvolume(join(m, 'big'));
    fragmentedFile(join(m, 'big', 'frag'), EXTENTS);
    const written = timeMs(t0);
    await btrfs.quotaEnable(m);
    await btrfs.quotaRescanWait(m);
    // Snapshot until a rescan lasts TARGET_MS: each measurement sets how many more are needed.
    let batch = 60;
    for (;;) {
      for (let i = 0; i < batch; i++) btrfs.createSnapshotSync(join(m, 'big'), join(m, `snap${snapshots++}`), { readOnly: true });
      btrfs.syncSync(m);
      rescanMs = timedRescan();
      if (rescanMs >= TARGET_MS || snapshots >= MAX_SNAPSHOTS) break;
      batch = Math.min(MAX_SNAPSHOTS - snapshots, Math.ceil(snapshots * (TARGET_MS / rescanMs - 1) * 1.2) + 1);
    }
    console.log(
      `# fixture: ${EXTENTS} extents written in ${written.toFixed(0)} ms, ${snapshots} snapshots, ` +
        `rescan ${rescanMs.toFixed(0)} ms; set up in ${timeMs(t0).toFixed(0)} ms`,
    );
    assert.ok(rescanMs >= 1000, `the fixture's rescan lasts ${rescanMs.toFixed(0)} ms, at least a second`);
  });
  after(() => s?.cleanup());

  it('status while a rescan runs (as btrfs quota rescan -s says), EINPROGRESS for a second one, and the wait returns when it is done', async (t) => {
    const start = process.hrtime.bigint();
    await btrfs.quotaRescan(m);
    const first = await btrfs.quotaRescanStatus(m);
    assert.equal(first.running, true);
    assert.equal(first.flags, 1);
    assert.ok(progsSaysRunning(m), 'btrfs-progs sees it running too');
    const st = await btrfs.quotaStatus(m);
    assert.ok(st.enabled && st.rescanning, 'quotaStatus: rescanning');
    assert.ok(st.flags & btrfs.QgroupStatusFlags.RESCAN, 'the status item has the RESCAN flag');
    assert.ok(st.rescanProgress === null || Number.isSafeInteger(st.rescanProgress));
    await assert.rejects(btrfs.quotaRescan(m), { name: 'BtrfsError', code: 'EINPROGRESS', kind: 'QUOTA_RESCAN_FAILED', message: /already running/ });

    // Progress moves through the extent tree while it runs.
    const seen: number[] = [];
    for (let i = 0; i < 10; i++) {
      const now = btrfs.quotaRescanStatusSync(m);
      if (!now.running) break;
      if (now.progress !== null) seen.push(now.progress);
      await new Promise((r) => setTimeout(r, 25));
    }
    assert.ok(seen.length >= 2, `sampled progress ${seen}`);
    assert.ok(seen.at(-1)! > seen[0]!, `progress rises: ${seen}`);

    // Child processes exiting (SIGCHLD) while the thread waits in QUOTA_RESCAN_WAIT do not end the wait early.
    const wait = btrfs.quotaRescanWait(m);
    for (let i = 0; i < 3; i++) assert.equal(progsSaysRunning(m), true);
    await wait;
    const ms = timeMs(start);
    assert.equal((await btrfs.quotaRescanStatus(m)).running, false, 'not running once the wait returns');
    assert.equal(progsSaysRunning(m), false);
    const after = await btrfs.quotaStatus(m);
    assert.ok(after.enabled && !after.rescanning && !after.inconsistent && after.rescanProgress === null);
    assert.equal(after.flags & btrfs.QgroupStatusFlags.RESCAN, 0, 'the status item is written before the wait returns');
    t.diagnostic(`rescan + Promise wait: ${ms.toFixed(0)} ms; progress samples ${seen.length}`);
  });

  it('quotaRescanWaitSync blocks until the rescan is done', (t) => {
    const ms = timedRescan();
    assert.equal(btrfs.quotaRescanStatusSync(m).running, false);
    t.diagnostic(`rescan + Sync wait: ${ms.toFixed(0)} ms`);
  });

  it('with a signal: the wait resolves when the rescan ends; an abort rejects at once with an AbortError and the rescan goes on', async (t) => {
    let start = process.hrtime.bigint();
    await btrfs.quotaRescan(m);
    await btrfs.quotaRescanWait(m, { signal: new AbortController().signal });
    const waited = timeMs(start);
    assert.equal((await btrfs.quotaRescanStatus(m)).running, false);
    const st = await btrfs.quotaStatus(m);
    assert.ok(st.enabled && !st.rescanning && (st.flags & btrfs.QgroupStatusFlags.RESCAN) === 0);

    start = process.hrtime.bigint();
    await btrfs.quotaRescan(m);
    const controller = new AbortController();
    const reason = new Error('user cancelled');
    let abortedAt = 0n;
    setTimeout(() => {
      abortedAt = process.hrtime.bigint();
      controller.abort(reason);
    }, 200);
    await assert.rejects(btrfs.quotaRescanWait(m, { signal: controller.signal }), (e: Error & { code?: string }) => {
      assert.equal(e.name, 'AbortError');
      assert.equal(e.code, 'ABORT_ERR');
      assert.equal(e.cause, reason);
      return true;
    });
    const latency = timeMs(abortedAt);
    assert.ok(latency < 250, `rejected ${latency.toFixed(1)} ms after the abort`);
    assert.equal((await btrfs.quotaRescanStatus(m)).running, true, 'the rescan itself goes on');
    assert.ok(progsSaysRunning(m));

    // A timeout signal, a second waiter, then the end.
    await assert.rejects(btrfs.quotaRescanWait(m, { signal: AbortSignal.timeout(50) }), { name: 'AbortError' });
    await btrfs.quotaRescanWait(m);
    assert.equal((await btrfs.quotaRescanStatus(m)).running, false);
    t.diagnostic(`signal wait: ${waited.toFixed(0)} ms; abort to rejection: ${latency.toFixed(1)} ms; aborted rescan lasted ${timeMs(start).toFixed(0)} ms`);
  });

  it('an aborted wait leaves no thread behind: a child process exits while the rescan still runs', async (t) => {
    // The child starts the rescan itself (so its own start-up time does not count), waits with a
    // signal it aborts after 100 ms, and does not call process.exit: it ends when nothing keeps its
    // event loop alive. It prints when the rescan started, on the parent's clock (CLOCK_MONOTONIC).
    const aborting = `
      btrfs.quotaRescan(process.env.MNT).then(() => {
        console.log(String(process.hrtime.bigint()));
        const controller = new AbortController();
        setTimeout(() => controller.abort(), 100);
        return btrfs.quotaRescanWait(process.env.MNT, { signal: controller.signal });
      }).then(() => console.log('resolved'), (e) => console.log(e.name));`;
    const aborted = await child(aborting, { MNT: m });
    const exitedAt = process.hrtime.bigint();
    assert.equal(aborted.status, 0, aborted.stderr);
    const [startedAt, outcome] = aborted.stdout.trim().split('\n');
    assert.equal(outcome, 'AbortError');
    const lived = Number(exitedAt - BigInt(startedAt!)) / 1e6;
    assert.equal((await btrfs.quotaRescanStatus(m)).running, true, `the child exited ${lived.toFixed(0)} ms after starting the rescan, before it ended`);
    await btrfs.quotaRescanWait(m);

    // The control: without a signal the child's wait (a thread in QUOTA_RESCAN_WAIT) keeps it alive
    // until the rescan is over.
    const waiting = await child(
      `btrfs.quotaRescan(process.env.MNT).then(() => btrfs.quotaRescanWait(process.env.MNT)).then(() => console.log('resolved'));`,
      { MNT: m },
    );
    assert.equal(waiting.stdout.trim(), 'resolved', waiting.stderr);
    assert.equal((await btrfs.quotaRescanStatus(m)).running, false, 'the waiting child outlived the rescan');
    t.diagnostic(
      `child with an aborted wait exited ${lived.toFixed(0)} ms after starting its rescan (${aborted.ms.toFixed(0)} ms in all); ` +
        `the waiting child after ${waiting.ms.toFixed(0)} ms`,
    );
  });
});
