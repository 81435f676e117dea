/**
 * Scenario 5: mkfs against mkfs.btrfs on the same input, interleaved: a fresh 1 GiB and a fresh
 * 2 TiB sparse image file, a 1 GiB loop device, RAID1 on two loop devices, four 1 GiB and four
 * 1 TiB loop devices, and every profile once (DUP on one device; RAID0, RAID1C3, RAID1C4, RAID10,
 * RAID5 and RAID6 on four). mkfs.btrfs runs as a process from Node, as a program without this
 * library would run it.
 *
 * Memory: a fresh Node process makes the filesystem; what mkfs adds to its peak RSS must stay under
 * 32 MiB whatever the size. mkfs.btrfs's own peak RSS is shown for comparison.
 */
import { closeSync, ftruncateSync, openSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Ctx, Variant } from './context';
import type { Row } from './report';
import { mkfs, mkfsSync } from '../src/index';
import { childJob, commandMs, limit, pick, Samples, sh, timeMs, timeSyncMs } from './util';

const GiB = 1024 ** 3;
const TiB = 1024 ** 4;

function sparse(path: string, size: number): void {
  rmSync(path, { force: true });
  const fd = openSync(path, 'w');
  ftruncateSync(fd, size);
  closeSync(fd);
}

export async function mkfsScenario(ctx: Ctx): Promise<Row[]> {
  const { opts } = ctx;
  const runs = pick(opts, 7, 3, 1);
  const memRuns = pick(opts, 3, 1, 1);
  const work = ctx.images({ count: 3, size: GiB, mkfs: false });
  const [loopImage, raidA, raidB] = work.images as [string, string, string];
  const attach = (image: string) => sh('losetup', '--find', '--show', image).trim();
  const loopDev = attach(loopImage);
  const raidDevs = [attach(raidA), attach(raidB)];
  // Four devices of 1 GiB and four of 1 TiB (sparse backing files), for the multi-device rows.
  const four1g = ctx.images({ count: 4, size: GiB, mkfs: false }).images.map(attach);
  const four1t = ctx.images({ count: 4, size: TiB, mkfs: false }).images.map(attach);
  const file = join(work.dir, 'fresh.img');

  interface Input {
    key: string;
    label: string;
    /** Prepares the input (untimed) and returns the device argument(s). */
    prepare: () => string[];
    oursOptions: Record<string, unknown>;
    progsArgs: string[];
  }
  const inputs: Input[] = [
    { key: 'file1g', label: '1 GiB image file', prepare: () => (sparse(file, GiB), [file]), oursOptions: {}, progsArgs: [] },
    { key: 'file2t', label: '2 TiB sparse image file', prepare: () => (sparse(file, 2 * TiB), [file]), oursOptions: {}, progsArgs: [] },
    { key: 'loop', label: '1 GiB loop device', prepare: () => [loopDev], oursOptions: { force: true }, progsArgs: [] },
    { key: 'raid1', label: 'RAID1 on two 1 GiB loop devices', prepare: () => raidDevs, oursOptions: { force: true, dataProfile: 'raid1', metadataProfile: 'raid1' }, progsArgs: ['-d', 'raid1', '-m', 'raid1'] },
    { key: 'four1g', label: 'four 1 GiB loop devices', prepare: () => four1g, oursOptions: { force: true }, progsArgs: [] },
    { key: 'four1t', label: 'four 1 TiB loop devices (sparse)', prepare: () => four1t, oursOptions: { force: true }, progsArgs: [] },
    // Every profile once (the defaults above are single data with dup or raid1 metadata, and RAID1
    // has its own row): data and metadata both in the profile.
    { key: 'dup', label: 'DUP on a 1 GiB loop device', prepare: () => [loopDev], oursOptions: { force: true, dataProfile: 'dup', metadataProfile: 'dup' }, progsArgs: ['-d', 'dup', '-m', 'dup'] },
    ...(['raid0', 'raid1c3', 'raid1c4', 'raid10', 'raid5', 'raid6'] as const).map((profile) => ({
      key: `four1g.${profile}`,
      label: `${profile.toUpperCase()} on four 1 GiB loop devices`,
      prepare: () => four1g,
     
      oursOptions: { force: true, dataProfile: profile, metadataProfile: profile },
      progsArgs: ['-d', profile, '-m', profile],
    })),
  ];
  const s = new Samples();
  const variants: Variant[] = [];
  for (const input of inputs) {
    variants.push({ name: `${input.key} sync`, run: () => { const dev = input.prepare(); s.add(`${input.key}.sync`, timeSyncMs(() => mkfsSync(dev.length === 1 ? dev[0]! : dev, input.oursOptions))); } });
    variants.push({ name: `${input.key} async`, run: async () => { const dev = input.prepare(); s.add(`${input.key}.async`, await timeMs(() => mkfs(dev.length === 1 ? dev[0]! : dev, input.oursOptions))); } });
    variants.push({ name: `${input.key} mkfs.btrfs`, run: async () => { const dev = input.prepare(); s.add(`${input.key}.progs`, await commandMs('mkfs.btrfs', ['-q', '-f', ...input.progsArgs, ...dev])); } });
  }
  try {
    await ctx.interleave(runs, variants, s);

    // Peak RSS: ours in a fresh Node process, mkfs.btrfs through wait4.
    s.recording = true;
    for (let r = 0; r < memRuns; r++) {
      for (const input of inputs.slice(0, 2)) {
        const size = input.key === 'file1g' ? GiB : 2 * TiB;
        const result = await childJob<{ beforeKiB: number; afterKiB: number }>({ job: 'mkfs', path: file, size, async: false });
        s.add(`${input.key}.rss.added`, (result.afterKiB - result.beforeKiB) / 1024);
        s.add(`${input.key}.rss.peak`, result.afterKiB / 1024);
        sparse(file, size);
        s.add(`${input.key}.progs.rss`, (await limit('rusage', 'mkfs.btrfs', '-q', '-f', file)).maxrssKiB! / 1024);
      }
    }
  } finally {
    for (const dev of [loopDev, ...raidDevs, ...four1g, ...four1t]) {
      try {
        sh('losetup', '-d', dev);
      } catch {
        // the sweep at the scenario's end detaches what is left
      }
    }
    rmSync(file, { force: true });
  }

  const rows: Row[] = [];
  const maxOf = (xs: number[]) => (xs.length ? Math.max(...xs) : undefined);
  for (const input of inputs) {
    const base = `5.${input.key}`;
    for (const mode of ['sync', 'async'] as const) {
      rows.push({
        id: `${base}.${mode}`, scenario: 5, metric: `${mode === 'sync' ? 'mkfsSync' : 'mkfs'}: ${input.label}`, impl: 'btrfs', kind: 'ours', unit: 'ms', better: 'lower', samples: s.get(`${input.key}.${mode}`),
        peers: [`${base}.progs`], targets: [{ type: 'peer', id: `${base}.progs`, max: 1, name: 'mkfs.btrfs' }],
      });
    }
    rows.push({
      id: `${base}.progs`, scenario: 5, metric: `mkfs.btrfs -f ${input.progsArgs.join(' ')}`.trimEnd(), impl: 'mkfs.btrfs', kind: 'peer', unit: 'ms', better: 'lower', samples: s.get(`${input.key}.progs`),
      rssMiB: maxOf(s.get(`${input.key}.progs.rss`)),
    });
  }
  for (const input of inputs.slice(0, 2)) {
    rows.push({
      id: `5.${input.key}.rss`, scenario: 5, metric: `mkfsSync ${input.label}: added to peak RSS`, impl: 'btrfs', kind: 'ours', unit: 'MiB', better: 'lower', samples: s.get(`${input.key}.rss.added`),
      rssMiB: maxOf(s.get(`${input.key}.rss.peak`)), targets: [{ type: 'value', max: 32, text: '< 32 MiB' }],
    });
  }
  return rows;
}
