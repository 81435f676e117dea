// The full cross product of the mkfs matrix, selected only by MKFS_MATRIX=1 (it takes tens of
// minutes): `node scripts/mkfs-matrix.js`. Each combination of nodesize, csum, mixed, feature
// set, label/uuid and size goes through runCase (check, dump-super, dump-tree against mkfs.btrfs).
// MKFS_MATRIX_FILTER=substring narrows it.
import { after, test } from 'node:test';
import { type Case, GiB, MiB, runCase, scratchDir } from './cases';
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

const filter = process.env.MKFS_MATRIX_FILTER;
if (!enabled) test(`full mkfs matrix (${cases.length} cases)`, { skip: 'set MKFS_MATRIX=1 (node scripts/mkfs-matrix.js)' }, () => {});
else {
  for (const c of cases) {
    if (filter && !c.name.includes(filter)) continue;
    test(c.name, () => void runCase(c, dir!));
  }
}
