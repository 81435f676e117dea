/**
 * Scenario 4: qgroupInfo with 1,000 qgroups (a quota-enabled filesystem with 1,000 subvolumes, each
 * with its level-0 qgroup, plus 0/5), against C reading the quota tree with TREE_SEARCH_V2 and
 * `btrfs qgroup show --raw`.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Ctx } from './context';
import type { Row } from './report';
import { qgroupInfo, qgroupInfoSync, quotaEnableSync, quotaRescanWaitSync, syncSync } from '../src/index';
import { commandMs, limit, pick, Samples, timeMs, timeSyncMs } from './util';

export async function qgroups(ctx: Ctx): Promise<Row[]> {
  const { opts } = ctx;
  const GROUPS = pick(opts, 1000, 1000, 100);
  const K = pick(opts, 20, 10, 2);
  const CLI_K = pick(opts, 5, 3, 1);
  const runs = pick(opts, 7, 3, 1);
  const scratch = ctx.scratch({ size: 4 * 1024 ** 3 });
  const mnt = scratch.mnt;
  quotaEnableSync(mnt);
  mkdirSync(join(mnt, 'q'));
  await limit('batch', 'create', join(mnt, 'q'), GROUPS, 0, 1);
  syncSync(mnt);
  quotaRescanWaitSync(mnt);
  syncSync(mnt);
  const expected = qgroupInfoSync(mnt).length;
  if (expected < GROUPS) throw new Error(`qgroupInfo lists ${expected} qgroups, expected at least ${GROUPS}`);

  const s = new Samples();
  await ctx.interleave(
    runs,
    [
      { name: 'sync', run: () => s.add('sync', timeSyncMs(() => { for (let i = 0; i < K; i++) qgroupInfoSync(mnt); }) / K) },
      { name: 'async', run: async () => s.add('async', (await timeMs(async () => { for (let i = 0; i < K; i++) await qgroupInfo(mnt); })) / K) },
      {
        name: 'C',
        run: async () => {
          const r = await limit('qgroups', mnt, K);
          if (r.groups !== expected) throw new Error(`C counted ${r.groups} qgroups, qgroupInfo ${expected}`);
          s.add('c', r.ns / 1e6 / K);
        },
      },
      { name: 'cli', run: async () => { let ms = 0; for (let i = 0; i < CLI_K; i++) ms += await commandMs('btrfs', ['qgroup', 'show', '--raw', mnt]); s.add('cli', ms / CLI_K); } },
    ],
    s,
  );
  const label = `${expected} qgroups`;
  return [
    {
      id: '4.sync', scenario: 4, metric: `qgroupInfoSync, ${label}`, impl: 'btrfs', kind: 'ours', unit: 'ms', better: 'lower', samples: s.get('sync'),
      limit: '4.c', peers: ['4.cli'], targets: [{ type: 'limit', max: 1.5 }, { type: 'peer', id: '4.cli', max: 0.1, name: 'btrfs qgroup show' }],
    },
    {
      id: '4.async', scenario: 4, metric: `qgroupInfo, ${label}`, impl: 'btrfs', kind: 'ours', unit: 'ms', better: 'lower', samples: s.get('async'),
      limit: '4.c', peers: ['4.cli'], targets: [{ type: 'limit', max: 1.5 }, { type: 'peer', id: '4.cli', max: 0.1, name: 'btrfs qgroup show' }],
    },
    { id: '4.c', scenario: 4, metric: 'open + TREE_SEARCH_V2 of the quota tree + close', impl: 'C limit', kind: 'limit', unit: 'ms', better: 'lower', samples: s.get('c') },
    { id: '4.cli', scenario: 4, metric: 'btrfs qgroup show --raw', impl: 'btrfs CLI', kind: 'peer', unit: 'ms', better: 'lower', samples: s.get('cli') },
  ];
}
