/**
 * Scenario 3: create, snapshot and delete N (1,000) subvolumes. Sequential with the Sync API
 * against C doing the same calls (open the parent, the ioctl, close); concurrent with the Promise
 * API, 64 in flight, in one parent directory and spread over 64 (the kernel holds the destination
 * directory's lock across a snapshot's commit, so only distinct parents can share a commit); C and
 * python3-btrfsutil with 64 threads for reference, and a btrfs process per call.
 *
 * Every variant works in a fresh directory and starts from a quiet filesystem (synced, cleaner
 * drained). Figures are ms per 1,000 operations, whatever N the mode uses.
 */
import { constants, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { Ctx, Variant } from './context';
import type { Row } from './report';
import {
  createSnapshot,
  createSnapshotSync,
  createSubvolume,
  createSubvolumeSync,
  deleteSubvolume,
  deleteSubvolumeSync,
  syncSync,
} from '../src/index';
import { BTRFS_IOC_SNAP_DESTROY_V2, BTRFS_IOC_SUBVOL_CREATE_V2, btrfs_ioctl_vol_args_v2 } from '../src/kernel/subvol';
import { native } from '../src/native';
import { commandMs, idleLoopDelay, inFlight, limit, pick, run, Samples, timeSyncMs, withLoopDelay } from './util';

const OPS = ['create', 'snapshot', 'delete'] as const;
type OpName = (typeof OPS)[number];
const SPREAD = 64;
const WIDTH = 64;

export async function createSnapshotDelete(ctx: Ctx): Promise<Row[]> {
  const { opts } = ctx;
  const N = pick(opts, 1000, 300, 20);
  const CLI_N = pick(opts, 100, 30, 5);
  // Five rounds: a loop of 1,000 creates takes 26 or 42 ms from one round to the next here, the C
  // limit's and a bare addon loop's alike (the kernel's time varies), and a median of three was luck.
  const runs = pick(opts, 5, 2, 1);
  const scratch = ctx.scratch({ size: 8 * 1024 ** 3 });
  const mnt = scratch.mnt;
  const src = join(mnt, 'src');
  createSubvolumeSync(src);
  // A source with a real tree to share: 256 small files.
  for (let i = 0; i < 256; i++) writeFileSync(join(src, `file-${i}`), Buffer.alloc(4096, i));

  let serial = 0;
  /** A fresh work directory with c/ and s/ (and d0..d63 in each when spread). */
  const workDir = (spread: boolean) => {
    const w = join(mnt, `w${serial++}`);
    for (const sub of ['c', 's']) {
      mkdirSync(join(w, sub), { recursive: true });
      if (spread) for (let d = 0; d < SPREAD; d++) mkdirSync(join(w, sub, `d${d}`));
    }
    return w;
  };
  // Names built as the C limit and python build theirs (a format string per call), not with
  // path.join, whose normalising would be timed as ours.
  const name = (dir: string, spread: boolean, i: number) => (spread ? `${dir}/d${i % SPREAD}/s${i}` : `${dir}/s${i}`);
  /** Commits and waits for the cleaner, so a variant does not pay for the last one's deletions. */
  const quiesce = async () => {
    syncSync(mnt);
    await run('btrfs', ['subvolume', 'sync', mnt]);
  };
  /** Removes what a variant left: its created subvolumes (and snapshots if any), then the directory. */
  const finish = async (w: string, spread: boolean, snapshotsLeft: boolean) => {
    await limit('batch', 'delete', join(w, 'c'), N, spread ? SPREAD : 0, 8);
    if (snapshotsLeft) await limit('batch', 'delete', join(w, 's'), N, spread ? SPREAD : 0, 8);
    rmSync(w, { recursive: true });
    await quiesce();
  };
  const perK = (ms: number, n: number) => (ms * 1000) / n;
  const s = new Samples();
  const py = ctx.python();

  /** Event-loop worst delays of the variant running now (async drivers push here). */
  let eldNow: number[] = [];
  type Driver = (op: OpName, dir: string, spread: boolean) => Promise<number>;
  const ours = (kind: 'sync' | 'async'): Driver => async (op, dir, spread) => {
    const c = join(dir, 'c');
    const sn = join(dir, 's');
    if (kind === 'sync') {
      return timeSyncMs(() => {
        for (let i = 0; i < N; i++) {
          if (op === 'create') createSubvolumeSync(name(c, spread, i));
          else if (op === 'snapshot') createSnapshotSync(src, name(sn, spread, i));
          else deleteSubvolumeSync(name(sn, spread, i));
        }
      });
    }
    const start = performance.now();
    const { maxMs } = await withLoopDelay(() =>
      inFlight(WIDTH, N, (i) =>
        op === 'create' ? createSubvolume(name(c, spread, i)) : op === 'snapshot' ? createSnapshot(src, name(sn, spread, i)) : deleteSubvolume(name(sn, spread, i)),
      ),
    );
    const ms = performance.now() - start;
    eldNow.push(maxMs);
    return ms;
  };
  const cDriver = (threads: number): Driver => async (op, dir, spread) => {
    const r = await limit('batch', op, join(dir, op === 'create' ? 'c' : 's'), N, spread ? SPREAD : 0, threads, ...(op === 'snapshot' ? [src] : []));
    return r.ns / 1e6;
  };
  const pyDriver = (threads: number): Driver => async (op, dir, spread) => {
    const r = await py.run({ op: 'batch', kind: op, dir: join(dir, op === 'create' ? 'c' : 's'), n: N, spread: spread ? SPREAD : 0, threads, src });
    return r.ns / 1e6;
  };

  const configs: { key: string; spread: boolean; driver: Driver }[] = [
    { key: 'sync.same', spread: false, driver: ours('sync') },
    { key: 'async.same', spread: false, driver: ours('async') },
    { key: 'async.spread', spread: true, driver: ours('async') },
    { key: 'c.same', spread: false, driver: cDriver(1) },
    { key: 'c64.same', spread: false, driver: cDriver(WIDTH) },
    { key: 'c64.spread', spread: true, driver: cDriver(WIDTH) },
    { key: 'py.same', spread: false, driver: pyDriver(1) },
    { key: 'py64.spread', spread: true, driver: pyDriver(WIDTH) },
  ];
  const variants: Variant[] = configs.map((c) => ({
    name: c.key,
    run: async () => {
      const w = workDir(c.spread);
      eldNow = [];
      for (const op of OPS) {
        // Each timed loop starts from a committed filesystem: otherwise the first snapshot pays for
        // committing the creates, and how soon each variant's deletes follow its own snapshots
        // (no gap in-process, a process start for C) shifted the delete rows by 2-5 µs a call.
        await quiesce();
        s.add(`${op}.${c.key}`, perK(await c.driver(op, w, c.spread), N));
      }
      if (eldNow.length) s.add(`eld.${c.spread ? 'spread' : 'same'}`, Math.max(...eldNow));
      await finish(w, c.spread, false);
    },
  }));
  // The floor for the sequential rows: the same creates (open parent, SUBVOL_CREATE_V2, close in one
  // native crossing) from a bare loop over the addon, with no library code at all.
  const volArgs = Buffer.alloc(btrfs_ioctl_vol_args_v2.size);
  const nameAt = btrfs_ioctl_vol_args_v2.fields.name.offset;
  variants.push({
    name: 'bare',
    run: async () => {
      const w = workDir(false);
      const parent = join(w, 'c');
      const bare = (request: number, dir: string) =>
        perK(timeSyncMs(() => {
          for (let i = 0; i < N; i++) {
            volArgs.fill(0, 0, nameAt + 64);
            volArgs.write(`s${i}`, nameAt);
            const rc = native().ioctlAt(dir, constants.O_RDONLY | constants.O_DIRECTORY, request, volArgs, null);
            if (rc < 0) throw new Error(`bare ioctl ${request.toString(16)}: ${rc}`);
          }
        }), N);
      await quiesce();
      s.add('create.bare', bare(BTRFS_IOC_SUBVOL_CREATE_V2, parent));
      // Snapshots to delete, as the other variants delete theirs (made by C: not what is measured).
      await quiesce();
      await limit('batch', 'snapshot', join(w, 's'), N, 0, 1, src);
      await quiesce();
      s.add('delete.bare', bare(BTRFS_IOC_SNAP_DESTROY_V2, join(w, 's')));
      await finish(w, false, false);
    },
  });
  variants.push({ name: 'idle', run: async () => s.add('eld.idle', await idleLoopDelay(1000)) });
  // A btrfs process per call: fewer calls (each costs a process), scaled to 1,000.
  variants.push({
    name: 'cli',
    run: async () => {
      const w = workDir(false);
      await quiesce();
      const times: Record<OpName, number> = { create: 0, snapshot: 0, delete: 0 };
      for (let i = 0; i < CLI_N; i++) times.create += await commandMs('btrfs', ['subvolume', 'create', join(w, 'c', `s${i}`)]);
      for (let i = 0; i < CLI_N; i++) times.snapshot += await commandMs('btrfs', ['subvolume', 'snapshot', src, join(w, 's', `s${i}`)]);
      for (let i = 0; i < CLI_N; i++) times.delete += await commandMs('btrfs', ['subvolume', 'delete', join(w, 's', `s${i}`)]);
      for (const op of OPS) s.add(`${op}.cli`, perK(times[op], CLI_N));
      await limit('batch', 'delete', join(w, 'c'), CLI_N, 0, 8);
      rmSync(w, { recursive: true });
      await quiesce();
    },
  });
  await ctx.interleave(runs, variants, s);

  const rows: Row[] = [];
  const unit = 'ms/1k';
  for (const op of OPS) {
    const base = `3.${op}`;
    const api = op === 'create' ? 'createSubvolume' : op === 'snapshot' ? 'createSnapshot' : 'deleteSubvolume';
    rows.push({
      id: `${base}.sync.same`, scenario: 3, metric: `${api}Sync, sequential, one dir`, impl: 'btrfs', kind: 'ours', unit, better: 'lower', samples: s.get(`${op}.sync.same`),
      limit: `${base}.c.same`, peers: [`${base}.py.same`, `${base}.cli`], targets: [{ type: 'limit', max: 1.2 }],
    });
    rows.push({
      id: `${base}.async.same`, scenario: 3, metric: `${api}, ${WIDTH} in flight, one dir`, impl: 'btrfs', kind: 'ours', unit, better: 'lower', samples: s.get(`${op}.async.same`),
      limit: `${base}.c64.same`, peers: [`${base}.py.same`, `${base}.cli`],
    });
    rows.push({
      id: `${base}.async.spread`, scenario: 3, metric: `${api}, ${WIDTH} in flight, ${SPREAD} dirs`, impl: 'btrfs', kind: 'ours', unit, better: 'lower', samples: s.get(`${op}.async.spread`),
      limit: `${base}.c64.spread`, peers: [`${base}.py64.spread`, `${base}.py.same`, `${base}.cli`],
      targets: op === 'snapshot' ? [{ type: 'speedup', ref: `${base}.sync.same`, min: 4, text: '≥4x faster than sequential Sync' }] : undefined,
    });
    rows.push({ id: `${base}.c.same`, scenario: 3, metric: 'sequential, one dir', impl: 'C limit', kind: 'limit', unit, better: 'lower', samples: s.get(`${op}.c.same`) });
    rows.push({ id: `${base}.c64.same`, scenario: 3, metric: `${WIDTH} threads, one dir`, impl: 'C limit', kind: 'limit', unit, better: 'lower', samples: s.get(`${op}.c64.same`) });
    rows.push({ id: `${base}.c64.spread`, scenario: 3, metric: `${WIDTH} threads, ${SPREAD} dirs`, impl: 'C limit', kind: 'limit', unit, better: 'lower', samples: s.get(`${op}.c64.spread`) });
    rows.push({ id: `${base}.py.same`, scenario: 3, metric: 'sequential, one dir', impl: 'python3-btrfsutil', kind: 'peer', unit, better: 'lower', samples: s.get(`${op}.py.same`) });
    rows.push({ id: `${base}.py64.spread`, scenario: 3, metric: `${WIDTH} threads, ${SPREAD} dirs`, impl: 'python3-btrfsutil', kind: 'peer', unit, better: 'lower', samples: s.get(`${op}.py64.spread`) });
    rows.push({ id: `${base}.cli`, scenario: 3, metric: `btrfs subvolume ${op === 'snapshot' ? 'snapshot' : op}, a process per call (${CLI_N}, scaled)`, impl: 'btrfs CLI', kind: 'peer', unit, better: 'lower', samples: s.get(`${op}.cli`) });
  }
  for (const op of ['create', 'delete'] as const) {
    rows.push({
      id: `3.${op}.bare`, scenario: 3, metric: `breakdown: the same ${op === 'create' ? 'creates' : 'deletes'} from a bare loop over the addon (no library)`, impl: 'addon', kind: 'info', unit, better: 'lower',
      samples: s.get(`${op}.bare`), limit: `3.${op}.c.same`,
    });
  }
  rows.push({ id: '3.eld.idle', scenario: 3, metric: 'event-loop worst delay, idle for 1 s (noise floor)', impl: 'node', kind: 'info', unit: 'ms', better: 'lower', samples: s.get('eld.idle') });
  for (const where of ['same', 'spread'] as const) {
    rows.push({
      id: `3.eld.${where}`, scenario: 3, metric: `event-loop worst delay, ${WIDTH} in flight, ${where === 'same' ? 'one dir' : `${SPREAD} dirs`}`, impl: 'btrfs', kind: 'ours', unit: 'ms', better: 'lower',
      samples: s.get(`eld.${where}`), targets: [{ type: 'value', max: 10, text: '< 10 ms' }],
    });
  }
  return rows;
}
