/**
 * Scenario 1: one question per call. The Sync API against C doing the same syscalls per call
 * (open + ioctl + close; statfs + stat for isSubvolume), python3-btrfsutil and a btrfs process per
 * call; then the Promise API with 64 calls in flight, against C on 4 threads (the libuv pool's size),
 * with the event loop's delay meanwhile.
 *
 * Breakdown rows split the Sync cost, so a change in the library shows where it went: the call on an
 * open descriptor (no open/close), Node's own fs.openSync + fs.closeSync, and the bare native
 * binding (the addon crossing with a reused buffer, no codec).
 */
import { closeSync, openSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { join } from 'node:path';
import { type Ctx } from './context';
import type { Row } from './report';
import {
  createSubvolumeSync,
  getSubvolumeReadOnly,
  getSubvolumeReadOnlySync,
  isSubvolume,
  isSubvolumeSync,
  subvolumeId,
  subvolumeIdSync,
  subvolumeInfo,
  subvolumeInfoSync,
} from '../src/index';
import { native } from '../src/native';
import { BTRFS_IOC_GET_SUBVOL_INFO, BTRFS_IOC_SUBVOL_GETFLAGS, btrfs_ioctl_get_subvol_info_args } from '../src/kernel/subvol';
import { commandMs, idleLoopDelay, inFlight, limit, pick, Samples, timeSyncMs, withLoopDelay } from './util';

interface CallOp {
  key: 'is' | 'id' | 'info' | 'ro';
  name: string;
  sync: (p: string | number) => unknown;
  async: (p: string) => Promise<unknown>;
  cText: string;
  cli: string[];
  cliText: string;
}

export async function perCall(ctx: Ctx): Promise<Row[]> {
  const { opts } = ctx;
  const scratch = ctx.scratch({ size: 1024 ** 3 });
  const sub = join(scratch.mnt, 'sub');
  createSubvolumeSync(sub);
  const N = pick(opts, 10000, 5000, 300);
  const CLI_N = pick(opts, 10, 5, 2);
  const ASYNC_N = pick(opts, 10000, 5000, 500);
  const runs = pick(opts, 7, 3, 1);
  const ops: CallOp[] = [
    { key: 'is', name: 'isSubvolume', sync: isSubvolumeSync, async: isSubvolume, cText: 'statfs + stat', cli: ['subvolume', 'show', sub], cliText: 'btrfs subvolume show' },
    { key: 'id', name: 'subvolumeId', sync: subvolumeIdSync, async: subvolumeId, cText: 'open + INO_LOOKUP + close', cli: ['inspect-internal', 'rootid', sub], cliText: 'btrfs inspect-internal rootid' },
    { key: 'info', name: 'subvolumeInfo', sync: subvolumeInfoSync, async: subvolumeInfo, cText: 'open + GET_SUBVOL_INFO + close', cli: ['subvolume', 'show', sub], cliText: 'btrfs subvolume show' },
    { key: 'ro', name: 'getSubvolumeReadOnly', sync: getSubvolumeReadOnlySync, async: getSubvolumeReadOnly, cText: 'open + SUBVOL_GETFLAGS + close', cli: ['property', 'get', sub, 'ro'], cliText: 'btrfs property get ro' },
  ];
  const s = new Samples();
  const py = ctx.python();
  const us = (ms: number, n: number) => (ms * 1000) / n;
  const fd = openSync(sub, 'r');
  const infoBuf = Buffer.alloc(btrfs_ioctl_get_subvol_info_args.size);
  const flagsBuf = Buffer.alloc(8);
  const variants: { name: string; run: () => Promise<void> | void }[] = [];
  for (const op of ops) {
    variants.push({ name: `${op.key} sync`, run: () => s.add(`${op.key}.sync`, us(timeSyncMs(() => { for (let i = 0; i < N; i++) op.sync(sub); }), N)) });
    variants.push({ name: `${op.key} C`, run: async () => { const r = await limit('call', op.key, sub, N); s.add(`${op.key}.c`, r.ns / 1000 / r.n); } });
    variants.push({ name: `${op.key} py`, run: async () => { const r = await py.run({ op: 'call', fn: op.key, path: sub, n: N }); s.add(`${op.key}.py`, r.ns / 1000 / r.n); } });
    variants.push({ name: `${op.key} cli`, run: async () => { let ms = 0; for (let i = 0; i < CLI_N; i++) ms += await commandMs('btrfs', op.cli); s.add(`${op.key}.cli`, us(ms, CLI_N)); } });
  }
  // breakdown
  for (const key of ['id', 'info'] as const) {
    const fn = key === 'id' ? subvolumeIdSync : subvolumeInfoSync;
    variants.push({ name: `${key} fd`, run: () => s.add(`${key}.fd`, us(timeSyncMs(() => { for (let i = 0; i < N; i++) fn(fd); }), N)) });
    variants.push({ name: `${key} C fd`, run: async () => { const r = await limit('call', `${key}-fd`, sub, N); s.add(`${key}.cfd`, r.ns / 1000 / r.n); } });
  }
  variants.push({ name: 'open+close', run: () => s.add('openclose', us(timeSyncMs(() => { for (let i = 0; i < N; i++) closeSync(openSync(sub, 'r')); }), N)) });
  variants.push({ name: 'native ioctl', run: () => s.add('native.ioctl', us(timeSyncMs(() => { for (let i = 0; i < N; i++) native().ioctl(fd, BTRFS_IOC_GET_SUBVOL_INFO, infoBuf, null); }), N)) });
  variants.push({ name: 'alloc', run: () => s.add('alloc', us(timeSyncMs(() => { for (let i = 0; i < N; i++) Buffer.alloc(4096); }), N)) });
  variants.push({ name: 'decode', run: () => s.add('decode', us(timeSyncMs(() => { for (let i = 0; i < N; i++) btrfs_ioctl_get_subvol_info_args.decode(infoBuf); }), N)) });
  const hasIoctlAt = typeof (native() as { ioctlAt?: unknown }).ioctlAt === 'function';
  if (hasIoctlAt) {
    variants.push({ name: 'native ioctlAt', run: () => s.add('native.ioctlAt', us(timeSyncMs(() => { for (let i = 0; i < N; i++) native().ioctlAt(sub, 0, BTRFS_IOC_GET_SUBVOL_INFO, infoBuf, null); }), N)) });
    // The floor for getSubvolumeReadOnlySync: its one crossing, with no library code around it.
    variants.push({ name: 'native ioctlAt getflags', run: () => s.add('native.getflags', us(timeSyncMs(() => { for (let i = 0; i < N; i++) native().ioctlAt(sub, 0, BTRFS_IOC_SUBVOL_GETFLAGS, flagsBuf, null); }), N)) });
  }
  // async: 64 in flight
  for (const op of ops) {
    variants.push({
      name: `${op.key} async`,
      run: async () => {
        const start = performance.now();
        const { maxMs } = await withLoopDelay(() => inFlight(64, ASYNC_N, () => op.async(sub)));
        s.add(`${op.key}.async`, ASYNC_N / ((performance.now() - start) / 1000));
        s.add(`${op.key}.async.eld`, maxMs);
      },
    });
    variants.push({ name: `${op.key} C 4 threads`, run: async () => { const r = await limit('calls', op.key, sub, ASYNC_N, 4); s.add(`${op.key}.c4`, r.n / (r.ns / 1e9)); } });
  }
  variants.push({ name: 'idle', run: async () => s.add('eld.idle', await idleLoopDelay(500)) });
  try {
    await ctx.interleave(runs, variants, s);
  } finally {
    closeSync(fd);
  }

  const rows: Row[] = [];
  for (const op of ops) {
    const base = `1.${op.key}`;
    rows.push({
      id: `${base}.sync`, scenario: 1, metric: `${op.name}Sync(path)`, impl: 'btrfs', kind: 'ours', unit: 'µs/call', better: 'lower', samples: s.get(`${op.key}.sync`),
      limit: `${base}.c`, peers: [`${base}.py`, `${base}.cli`],
      targets: [{ type: 'limit', max: 1.5 }, { type: 'peer', id: `${base}.py`, max: 1, name: 'python3-btrfsutil' }],
    });
    rows.push({ id: `${base}.c`, scenario: 1, metric: op.cText, impl: 'C limit', kind: 'limit', unit: 'µs/call', better: 'lower', samples: s.get(`${op.key}.c`) });
    rows.push({ id: `${base}.py`, scenario: 1, metric: op.key === 'is' ? 'is_subvolume' : op.key === 'id' ? 'subvolume_id' : op.key === 'info' ? 'subvolume_info' : 'get_subvolume_read_only', impl: 'python3-btrfsutil', kind: 'peer', unit: 'µs/call', better: 'lower', samples: s.get(`${op.key}.py`) });
    rows.push({ id: `${base}.cli`, scenario: 1, metric: op.cliText, impl: 'btrfs CLI', kind: 'peer', unit: 'µs/call', better: 'lower', samples: s.get(`${op.key}.cli`) });
  }
  for (const key of ['id', 'info'] as const) {
    const name = key === 'id' ? 'subvolumeIdSync(fd)' : 'subvolumeInfoSync(fd)';
    rows.push({ id: `1.${key}.fd`, scenario: 1, metric: name, impl: 'btrfs', kind: 'ours', unit: 'µs/call', better: 'lower', samples: s.get(`${key}.fd`), limit: `1.${key}.cfd`, note: 'breakdown: no open/close' });
    rows.push({ id: `1.${key}.cfd`, scenario: 1, metric: key === 'id' ? 'INO_LOOKUP on an open fd' : 'GET_SUBVOL_INFO on an open fd', impl: 'C limit', kind: 'limit', unit: 'µs/call', better: 'lower', samples: s.get(`${key}.cfd`) });
  }
  rows.push({ id: '1.openclose', scenario: 1, metric: 'breakdown: fs.openSync + fs.closeSync', impl: 'node:fs', kind: 'info', unit: 'µs/call', better: 'lower', samples: s.get('openclose') });
  rows.push({ id: '1.native.ioctl', scenario: 1, metric: 'breakdown: native ioctl(fd, GET_SUBVOL_INFO), buffer reused', impl: 'addon', kind: 'info', unit: 'µs/call', better: 'lower', samples: s.get('native.ioctl'), limit: '1.info.cfd' });
  if (hasIoctlAt) {
    rows.push({
      id: '1.native.getflags', scenario: 1, metric: 'breakdown: native ioctlAt(path, SUBVOL_GETFLAGS), buffer reused', impl: 'addon', kind: 'info', unit: 'µs/call', better: 'lower',
      samples: s.get('native.getflags'), limit: '1.ro.c', peers: ['1.ro.py'],
    });
  }
  if (hasIoctlAt) rows.push({ id: '1.native.ioctlAt', scenario: 1, metric: 'breakdown: native ioctlAt(path, GET_SUBVOL_INFO), buffer reused', impl: 'addon', kind: 'info', unit: 'µs/call', better: 'lower', samples: s.get('native.ioctlAt'), limit: '1.info.c' });
  rows.push({ id: '1.alloc', scenario: 1, metric: 'breakdown: Buffer.alloc(4096) in a tight loop (ino_lookup_args, search buffers)', impl: 'node:buffer', kind: 'info', unit: 'µs/call', better: 'lower', samples: s.get('alloc') });
  rows.push({ id: '1.decode', scenario: 1, metric: 'breakdown: generic layout decode of get_subvol_info_args', impl: 'codec', kind: 'info', unit: 'µs/call', better: 'lower', samples: s.get('decode') });
  rows.push({ id: '1.eld.idle', scenario: 1, metric: 'event-loop delay, idle for 0.5 s (noise floor)', impl: 'node', kind: 'info', unit: 'ms', better: 'lower', samples: s.get('eld.idle') });
  for (const op of ops) {
    const base = `1.${op.key}`;
    rows.push({
      id: `${base}.async`, scenario: 1, metric: `${op.name}(path), 64 in flight`, impl: 'btrfs', kind: 'ours', unit: 'calls/s', better: 'higher', samples: s.get(`${op.key}.async`),
      limit: `${base}.c4`,
    });
    rows.push({ id: `${base}.c4`, scenario: 1, metric: `${op.cText}, 4 threads`, impl: 'C limit', kind: 'limit', unit: 'calls/s', better: 'higher', samples: s.get(`${op.key}.c4`) });
    rows.push({ id: `${base}.async.eld`, scenario: 1, metric: `event-loop delay meanwhile (max)`, impl: 'btrfs', kind: 'info', unit: 'ms', better: 'lower', samples: s.get(`${op.key}.async.eld`) });
  }
  return rows;
}
