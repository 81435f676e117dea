/**
 * Scenario 2: listing subvolumes. 10,000 in one parent (flat) and 100 x 100 (nested), each on a
 * filesystem of its own so that `btrfs subvolume list` (which always reads the whole filesystem)
 * lists the same set. subvolumes() with and without info, Sync and async, against C with full paths
 * (bench/limit.c `list`), python3-btrfsutil's SubvolumeIterator and `btrfs subvolume list`.
 *
 * Memory: a fresh Node process iterates 1k, 10k and 50k subvolumes; what iterating adds to its peak
 * RSS must not grow with the count (less than 4 MiB more at 50k than at 10k). The subvolumes are
 * made once per run by the C helper (about 60 µs each here).
 */
import { join } from 'node:path';
import type { Ctx } from './context';
import type { Row } from './report';
import { createSubvolumeSync, subvolumes, subvolumesSync, syncSync } from '../src/index';
import { childJob, commandMs, limit, pick, Samples, timeMs, timeSyncMs } from './util';

interface ListJobResult {
  n: number;
  beforeKiB: number;
  afterKiB: number;
}

const fmtCount = (n: number): string => (n >= 1000 && n % 1000 === 0 ? `${n / 1000}k` : String(n));

export async function listing(ctx: Ctx): Promise<Row[]> {
  const { opts } = ctx;
  const FLAT = pick(opts, 10000, 10000, 500);
  const OUTER = pick(opts, 100, 100, 10);
  const INNER = pick(opts, 100, 100, 20);
  const MEM = pick(opts, [1000, 10000, 50000], [1000, 10000, 50000], [100, 500, 2000]);
  const runs = pick(opts, 5, 3, 1);
  const memRuns = pick(opts, 3, 1, 1);

  ctx.log('  provisioning: flat, nested and memory filesystems (C helper)');
  const flatFs = ctx.scratch({ size: 4 * 1024 ** 3 });
  const flat = join(flatFs.mnt, 'flat');
  createSubvolumeSync(flat);
  await limit('batch', 'create', flat, FLAT, 0, 1);
  syncSync(flatFs.mnt);
  const nestedFs = ctx.scratch({ size: 4 * 1024 ** 3 });
  const nested = join(nestedFs.mnt, 'nested');
  createSubvolumeSync(nested);
  await limit('tree', nested, OUTER, INNER);
  syncSync(nestedFs.mnt);
  const memFs = ctx.scratch({ size: 16 * 1024 ** 3 });
  for (const count of MEM) {
    const dir = join(memFs.mnt, `m${count}`);
    createSubvolumeSync(dir);
    await limit('batch', 'create', dir, count, 0, 1);
  }
  syncSync(memFs.mnt);

  const s = new Samples();
  const py = ctx.python();
  const layouts = [
    { key: 'flat', path: flat, mnt: flatFs.mnt, count: FLAT, label: `${fmtCount(FLAT)} flat` },
    { key: 'nested', path: nested, mnt: nestedFs.mnt, count: OUTER * (INNER + 1), label: `${OUTER} x ${INNER} nested` },
  ];
  const check = (what: string, got: number, want: number) => {
    if (got !== want) throw new Error(`${what}: listed ${got} subvolumes, expected ${want}`);
  };
  const variants = layouts.flatMap((l) => [
    ...[false, true].flatMap((info) => {
      const tag = info ? '.info' : '';
      return [
        {
          name: `${l.key} sync${tag}`,
          run: () => {
            let n = 0;
            s.add(`${l.key}.sync${tag}`, timeSyncMs(() => { for (const _ of subvolumesSync(l.path, { info })) n++; }));
            check(`subvolumesSync ${l.key}`, n, l.count);
          },
        },
        {
          name: `${l.key} async${tag}`,
          run: async () => {
            let n = 0;
            s.add(`${l.key}.async${tag}`, await timeMs(async () => { for await (const _ of subvolumes(l.path, { info })) n++; }));
            check(`subvolumes ${l.key}`, n, l.count);
          },
        },
        {
          name: `${l.key} C${tag}`,
          run: async () => {
            const r = await limit('list', l.path, info ? 1 : 0);
            check(`C ${l.key}`, r.n, l.count);
            s.add(`${l.key}.c${tag}`, r.ns / 1e6);
          },
        },
        {
          name: `${l.key} py${tag}`,
          run: async () => {
            const r = await py.run({ op: 'list', path: l.path, info });
            check(`python ${l.key}`, r.n, l.count);
            s.add(`${l.key}.py${tag}`, r.ns / 1e6);
          },
        },
      ];
    }),
    { name: `${l.key} cli`, run: async () => s.add(`${l.key}.cli`, await commandMs('btrfs', ['subvolume', 'list', l.mnt])) },
  ]);
  await ctx.interleave(runs, variants, s);

  // Memory, in fresh processes, interleaved by count.
  const memVariants = [
    { key: 'sync', info: false, async: false, label: 'subvolumesSync()' },
    { key: 'sync.info', info: true, async: false, label: 'subvolumesSync({ info: true })' },
    { key: 'async.info', info: true, async: true, label: 'subvolumes({ info: true })' },
  ];
  ctx.log('  memory: fresh processes at each count');
  for (let r = 0; r < memRuns; r++) {
    for (const v of memVariants) {
      const added: Record<number, number> = {};
      for (const count of MEM) {
        const result = await childJob<ListJobResult>({ job: 'list', path: join(memFs.mnt, `m${count}`), info: v.info, async: v.async });
        check(`memory ${v.key}`, result.n, count);
        added[count] = (result.afterKiB - result.beforeKiB) / 1024;
        s.recording = true;
        s.add(`mem.${v.key}.${count}`, added[count]!);
        s.add(`mem.${v.key}.peak.${count}`, result.afterKiB / 1024);
      }
      s.add(`mem.${v.key}.growth`, added[MEM[2]!]! - added[MEM[1]!]!);
    }
    ctx.log(`  memory round ${r + 1}/${memRuns}`);
  }

  const rows: Row[] = [];
  for (const l of layouts) {
    const base = `2.${l.key}`;
    for (const info of [false, true]) {
      const tag = info ? '.info' : '';
      const what = info ? '{ info: true }' : '';
      for (const mode of ['sync', 'async'] as const) {
        rows.push({
          id: `${base}.${mode}${tag}`, scenario: 2, metric: `${l.label}: ${mode === 'sync' ? 'subvolumesSync' : 'subvolumes'}(${what})`, impl: 'btrfs', kind: 'ours', unit: 'ms', better: 'lower',
          samples: s.get(`${l.key}.${mode}${tag}`), limit: `${base}.c${tag}`, peers: [`${base}.py${tag}`, `${base}.cli`],
          targets: info
            ? [{ type: 'limit', max: 2 }, { type: 'peer', id: `${base}.py.info`, max: 1 / 3, name: 'python3-btrfsutil' }]
            : [{ type: 'limit', max: 1.5 }, { type: 'peer', id: `${base}.cli`, max: 1 / 1.5, name: 'btrfs subvolume list' }],
        });
      }
      rows.push({ id: `${base}.c${tag}`, scenario: 2, metric: info ? 'ROOT_REF search + ROOT_ITEM search per subvolume, full paths' : 'ROOT_REF search per subvolume, INO_LOOKUP, full paths', impl: 'C limit', kind: 'limit', unit: 'ms', better: 'lower', samples: s.get(`${l.key}.c${tag}`) });
      rows.push({ id: `${base}.py${tag}`, scenario: 2, metric: `SubvolumeIterator(info=${info ? 'True' : 'False'})`, impl: 'python3-btrfsutil', kind: 'peer', unit: 'ms', better: 'lower', samples: s.get(`${l.key}.py${tag}`) });
    }
    rows.push({ id: `${base}.cli`, scenario: 2, metric: 'btrfs subvolume list (whole filesystem)', impl: 'btrfs CLI', kind: 'peer', unit: 'ms', better: 'lower', samples: s.get(`${l.key}.cli`) });
  }
  for (const v of memVariants) {
    for (const count of MEM) {
      const peaks = s.get(`mem.${v.key}.peak.${count}`);
      rows.push({
        id: `2.mem.${v.key}.${count}`, scenario: 2, metric: `${v.label} over ${fmtCount(count)}: added to peak RSS`, impl: 'btrfs', kind: 'info', unit: 'MiB', better: 'lower',
        samples: s.get(`mem.${v.key}.${count}`), rssMiB: peaks.length ? Math.max(...peaks) : undefined,
      });
    }
    rows.push({
      id: `2.mem.${v.key}.growth`, scenario: 2, metric: `${v.label}: growth ${fmtCount(MEM[1]!)} -> ${fmtCount(MEM[2]!)}`, impl: 'btrfs', kind: 'ours', unit: 'MiB', better: 'lower',
      samples: s.get(`mem.${v.key}.growth`), targets: [{ type: 'value', max: 4, text: '< 4 MiB' }],
    });
  }
  return rows;
}
