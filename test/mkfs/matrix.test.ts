// The full cross product of the mkfs matrix, selected only by MKFS_MATRIX=1 (it takes tens of
// minutes): `node scripts/mkfs-matrix.js`. Each combination of nodesize, csum, mixed, feature
// set, label/uuid and size goes through runCase (check, dump-super, dump-tree against mkfs.btrfs);
// then every metadata x data profile pair (and mixed profile) on 1 to 5 image files of equal and
// of different sizes goes through runMultiCase: mkfs.btrfs and ours refuse together, or make the
// same normalized dump-tree. MKFS_MATRIX_FILTER=substring narrows it.
import { after, test } from 'node:test';
import { type Case, GiB, MiB, type MultiImageCase, runCase, runMultiCase, scratchDir } from './cases';
import type { FeatureName, MkfsOptions } from '../../src/index';

const enabled = process.env.MKFS_MATRIX === '1';
const dir = enabled ? scratchDir() : null;
after(() => dir?.cleanup());

type F = FeatureName | `^${FeatureName}`;
const nodesizes = [4096, 16384, 65536];
const csums = ['crc32c', 'xxhash', 'sha256', 'blake2'] as const;
const layouts: { name: string; o: MkfsOptions }[] = [
  { name: 'dup/single', o: {} },
  { name: 'single/single', o: { metadataProfile: 'single', dataProfile: 'single' } },
  { name: 'dup/dup', o: { metadataProfile: 'dup', dataProfile: 'dup' } },
  { name: 'mixed', o: { mixed: true } },
];
const featureSets: { name: string; f: F[]; progs: boolean }[] = [
  { name: 'default features', f: [], progs: true },
  { name: '^skinny', f: ['^skinny-metadata'], progs: true },
  { name: '^fst', f: ['^free-space-tree'], progs: true },
  { name: '^no-holes ^extref', f: ['^no-holes', '^extref'], progs: true },
  { name: 'quota', f: ['quota'], progs: true },
  { name: 'bgt', f: ['block-group-tree'], progs: false },
  { name: 'squota', f: ['squota'], progs: false },
];
const sizes: { name: string; size: number; byteCount?: number }[] = [
  { name: '256M', size: 256 * MiB },
  { name: '1G', size: GiB },
  { name: '1G, byteCount 512M', size: GiB, byteCount: 512 * MiB },
  { name: '2T', size: 2048 * GiB },
];
const idents = [{}, { label: 'matrix', uuid: 'feedface-0000-4000-8000-00000000cafe' }];

const cases: Case[] = [];
for (const nodesize of nodesizes)
  for (const csum of csums)
    for (const l of layouts)
      for (const fs of featureSets)
        for (const s of sizes)
          for (const id of idents) {
            if (l.o.mixed && nodesize !== 4096) continue; // mixed needs nodesize == sectorsize
            if (fs.f.includes('block-group-tree') && fs.f.includes('^free-space-tree')) continue;
            const options: MkfsOptions = { ...l.o, nodesize, csum, features: fs.f, ...id, ...(s.byteCount ? { byteCount: s.byteCount } : {}) };
            const name = `${nodesize} ${csum} ${l.name} ${fs.name} ${s.name}${'label' in id ? ' label+uuid' : ''}`;
            cases.push({ name, options, size: s.size, compare: fs.progs, check: fs.progs });
          }

const PROFILE_NAMES = ['single', 'dup', 'raid0', 'raid1', 'raid1c3', 'raid1c4', 'raid10', 'raid5', 'raid6'] as const;
const deviceSets: { name: string; sizes: number[] }[] = [];
for (const count of [1, 2, 3, 4, 5]) deviceSets.push({ name: `${count}x512M`, sizes: Array(count).fill(512 * MiB) });
deviceSets.push(
  { name: '768M+320M+512M', sizes: [768 * MiB, 320 * MiB, 512 * MiB] },
  { name: '2G+300M+300M+300M', sizes: [2 * GiB, 300 * MiB, 300 * MiB, 300 * MiB] },
  { name: '300M+1G', sizes: [300 * MiB, GiB] },
);
const multi: MultiImageCase[] = [];
for (const set of deviceSets) {
  for (const m of PROFILE_NAMES) for (const d of PROFILE_NAMES) multi.push({ name: `${set.name} -m ${m} -d ${d}`, sizes: set.sizes, options: { metadataProfile: m, dataProfile: d } });
  for (const p of PROFILE_NAMES) multi.push({ name: `${set.name} --mixed ${p}`, sizes: set.sizes, options: { mixed: true, metadataProfile: p, dataProfile: p } });
  multi.push({ name: `${set.name} defaults`, sizes: set.sizes, options: {} });
}

const filter = process.env.MKFS_MATRIX_FILTER;
// Without MKFS_MATRIX=1 this file defines no test at all (a skipped placeholder would prove nothing).
if (enabled) {
  for (const c of cases) {
    if (filter && !c.name.includes(filter)) continue;
    test(c.name, () => void runCase(c, dir!));
  }
  for (const c of multi) {
    if (filter && !c.name.includes(filter)) continue;
    test(c.name, (t) => t.diagnostic(runMultiCase(c, dir!)));
  }
}
