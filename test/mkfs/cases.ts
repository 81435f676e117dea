/**
 * The mkfs test matrix: each case is our options plus the equivalent mkfs.btrfs arguments, and a
 * runner that makes both filesystems on sparse images and compares them (btrfs check, dump-super,
 * normalized dump-tree). Shared by images.test.ts (one factor at a time, plus pairs), mount.test.ts
 * and matrix.test.ts (the full cross product, behind MKFS_MATRIX=1).
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { closeSync, ftruncateSync, mkdtempSync, openSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { mkfsSync, type MkfsOptions, type MkfsResult } from '../../src/index';
import { dumpSuper, dumpTree, normalizeDumpTree, superCopies } from '../helpers/dump-tree';

export const MiB = 1024 * 1024;
export const GiB = 1024 * MiB;

export interface Case {
  name: string;
  options: MkfsOptions;
  /** Image size (sparse). Default 1 GiB. */
  size?: number;
  /** Compare dump-tree with mkfs.btrfs (false for features progs 6.2 does not know). */
  compare?: boolean;
  /** Run btrfs check (false for features progs 6.2 cannot open: squota, block-group-tree). */
  check?: boolean;
  /** mkfs.btrfs arguments, when {@link progsArgs} would not give the equivalent. */
  progs?: string[];
}

/** The mkfs.btrfs arguments meaning the same as `o`. */
export function progsArgs(o: MkfsOptions): string[] {
  const args: string[] = [];
  if (o.label !== undefined) args.push('-L', o.label);
  if (o.uuid !== undefined) args.push('-U', o.uuid);
  if (o.nodesize !== undefined) args.push('-n', String(o.nodesize));
  if (o.sectorsize !== undefined) args.push('-s', String(o.sectorsize));
  if (o.byteCount !== undefined) args.push('-b', String(o.byteCount));
  if (typeof o.metadataProfile === 'string') args.push('-m', o.metadataProfile);
  if (typeof o.dataProfile === 'string') args.push('-d', o.dataProfile);
  if (o.mixed) args.push('--mixed');
  if (typeof o.csum === 'string') args.push('--csum', o.csum);
  const runtime = ['quota', 'free-space-tree', '^free-space-tree', 'squota', '^quota'];
  const feats = Array.isArray(o.features) ? (o.features as string[]) : [];
  const O = feats.filter((f) => !runtime.includes(f));
  const R = feats.filter((f) => runtime.includes(f));
  if (O.length) args.push('-O', O.join(','));
  if (R.length) args.push('-R', R.join(','));
  return args;
}

/** A temp dir with sparse images, removed by `cleanup`. */
export function scratchDir(): { dir: string; image(name: string, size: number): string; cleanup(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'btrfs-mkfs-'));
  return {
    dir,
    image(name, size) {
      const path = join(dir, name);
      const fd = openSync(path, 'w');
      ftruncateSync(fd, size);
      closeSync(fd);
      return path;
    },
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}

export function btrfsCheck(image: string, lowmem = false): string {
  return execFileSync('btrfs', ['check', '--readonly', ...(lowmem ? ['--mode', 'lowmem'] : []), image], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

const FLAG_NAMES: Record<string, string> = {
  'mixed-bg': 'MIXED_GROUPS',
  extref: 'EXTENDED_IREF',
  raid56: 'RAID56',
  'skinny-metadata': 'SKINNY_METADATA',
  'no-holes': 'NO_HOLES',
  raid1c34: 'RAID1C34',
  'free-space-tree': 'FREE_SPACE_TREE',
  'block-group-tree': 'BLOCK_GROUP_TREE',
};

/** Checks dump-super's fields against what we meant. */
export function checkSuper(image: string, r: MkfsResult, c: Case): void {
  const s = dumpSuper(image);
  assert.equal(s.magic, '_BHRfS_M [match]');
  assert.match(s.csum!, /\[match\]$/);
  assert.equal(s.csum_type!.split(' ')[1], `(${r.csum === 'xxhash' ? 'xxhash64' : r.csum})`);
  assert.equal(s.fsid, r.uuid);
  if (c.options.uuid) assert.equal(s.fsid, c.options.uuid);
  // dump-super prints each byte outside printable ASCII as '.'.
  assert.equal(s.label ?? '', Buffer.from(r.label).toString('latin1').replace(/[^\x20-\x7e]/g, '.'));
  assert.equal(Number(s.nodesize), r.nodesize);
  assert.equal(Number(s['leafsize (deprecated)']), r.nodesize);
  assert.equal(Number(s.sectorsize), r.sectorsize);
  assert.equal(Number(s.total_bytes), r.numBytes);
  assert.equal(Number(s['dev_item.total_bytes']), r.devices[0]!.size);
  assert.equal(s['dev_item.uuid'], r.devices[0]!.uuid);
  assert.equal(s['dev_item.fsid'], `${r.uuid} [match]`);
  assert.equal(Number(s.num_devices), 1);
  assert.equal(s.root_dir, '6');
  assert.equal(s.generation, s.chunk_root_generation);
  assert.equal(Number(s.cache_generation), r.features.includes('free-space-tree') ? 0 : 2 ** 64 - 1);
  const sysStripes = r.profiles.system === 'dup' ? 2 : 1;
  assert.equal(Number(s.sys_array_size), 17 + 48 + 32 * sysStripes);
  const flags = (s.incompat_flags ?? '') + (s.compat_ro_flags ?? '');
  const all = execFileSync('btrfs', ['inspect-internal', 'dump-super', '-f', image], { encoding: 'utf8' });
  for (const f of r.features) if (FLAG_NAMES[f]) assert.ok(all.includes(FLAG_NAMES[f]!), `flag ${FLAG_NAMES[f]} for ${f}`);
  assert.ok(flags.length > 0);
  // Backup root slot 0 holds the final roots.
  assert.match(all, new RegExp(`backup 0:\\n\\s+backup_tree_root:\\s+${s.root}\\s+gen: ${s.generation}`));
  // A copy at every superblock offset that fits, each with a valid checksum.
  const expected = [65536, 64 * MiB, 256 * GiB].filter((o) => o + 4096 < r.numBytes);
  const copies = superCopies(image);
  assert.deepEqual(copies.map((x) => x.bytenr), expected);
  assert.ok(copies.every((x) => x.csumMatch && x.magicMatch));
}

/** Makes ours and (when comparing) theirs, and checks ours every way a test without root can. */
export function runCase(c: Case, dir: ReturnType<typeof scratchDir>, log?: (s: string) => void): MkfsResult {
  const size = c.size ?? GiB;
  const ours = dir.image(`ours-${process.pid}.img`, size);
  const r = mkfsSync(ours, c.options);
  try {
    if (c.check !== false) {
      const out = btrfsCheck(ours);
      assert.match(out, /no error found/);
      checkSuper(ours, r, c);
    }
    if (c.compare !== false) {
      const theirs = dir.image(`theirs-${process.pid}.img`, size);
      execFileSync('mkfs.btrfs', ['-q', '-f', ...(c.progs ?? progsArgs(c.options)), theirs], { stdio: 'ignore' });
      const a = normalizeDumpTree(dumpTree(ours));
      const b = normalizeDumpTree(dumpTree(theirs));
      rmSync(theirs);
      log?.(`${c.name}: mkfs.btrfs artefacts: ${b.artefacts.join('; ') || 'none'}`);
      assert.deepEqual(a.trees, b.trees);
      assert.deepEqual(a.levels, b.levels);
      assert.deepEqual(a.totals, b.totals);
    }
  } finally {
    rmSync(ours, { force: true });
  }
  return r;
}

/** One factor at a time, away from the default. */
export const FACTORS: Case[] = [
  { name: 'defaults', options: {} },
  { name: 'nodesize 4K', options: { nodesize: 4096 } },
  { name: 'nodesize 64K', options: { nodesize: 65536 } },
  { name: 'csum xxhash', options: { csum: 'xxhash' } },
  { name: 'csum sha256', options: { csum: 'sha256' } },
  { name: 'csum blake2', options: { csum: 'blake2' } },
  { name: 'mixed', options: { mixed: true } },
  { name: 'no skinny-metadata', options: { features: ['^skinny-metadata'] } },
  { name: 'no no-holes', options: { features: ['^no-holes'] } },
  { name: 'no extref', options: { features: ['^extref'] } },
  { name: 'no free-space-tree', options: { features: ['^free-space-tree'] } },
  { name: 'quota', options: { features: ['quota'] } },
  { name: 'raid56 flag', options: { features: ['raid56'] } },
  { name: 'raid1c34 flag', options: { features: ['raid1c34'] } },
  // mkfs.btrfs -O mixed-bg alone keeps 16K nodes and fails; ours defaults nodesize as --mixed does.
  { name: 'mixed-bg feature', options: { features: ['mixed-bg'] }, progs: ['--mixed'] },
  { name: 'block-group-tree', options: { features: ['block-group-tree'] }, compare: false, check: false },
  { name: 'squota', options: { features: ['squota'] }, compare: false, check: false },
  { name: 'label', options: { label: 'data-é-ünicode' } },
  { name: 'label 255 bytes', options: { label: 'x'.repeat(255) } },
  { name: 'uuid', options: { uuid: 'c0ffee00-1234-4abc-8def-0123456789ab' } },
  { name: 'metadata single', options: { metadataProfile: 'single' } },
  { name: 'data dup', options: { dataProfile: 'dup' } },
  { name: 'single/single', options: { metadataProfile: 'single', dataProfile: 'single' } },
  { name: 'dup/dup', options: { metadataProfile: 'dup', dataProfile: 'dup' } },
  { name: 'byteCount 512 MiB of 1 GiB', options: { byteCount: 512 * MiB } },
  { name: 'minimum default size (109 MiB)', options: {}, size: 114294784 },
  { name: 'minimum single/single (45 MiB)', options: { metadataProfile: 'single', dataProfile: 'single' }, size: 45 * MiB },
  { name: '256 MiB', options: {}, size: 256 * MiB },
  { name: '300 GiB sparse (three superblock copies)', options: {}, size: 300 * GiB },
  { name: '2 TiB sparse', options: {}, size: 2048 * GiB },
];

/** Pairs of factors that interact. */
export const PAIRS: Case[] = [
  { name: '4K + no skinny', options: { nodesize: 4096, features: ['^skinny-metadata'] } },
  { name: '4K + quota', options: { nodesize: 4096, features: ['quota'] } },
  { name: '64K + blake2', options: { nodesize: 65536, csum: 'blake2' } },
  { name: '64K + no skinny', options: { nodesize: 65536, features: ['^skinny-metadata'] } },
  { name: 'mixed + xxhash', options: { mixed: true, csum: 'xxhash' } },
  { name: 'mixed + dup', options: { mixed: true, metadataProfile: 'dup', dataProfile: 'dup' } },
  { name: 'mixed + no free-space-tree', options: { mixed: true, features: ['^free-space-tree'] } },
  { name: 'mixed + quota', options: { mixed: true, features: ['quota'] } },
  { name: 'no fst + no skinny', options: { features: ['^free-space-tree', '^skinny-metadata'] } },
  { name: 'quota + no skinny', options: { features: ['quota', '^skinny-metadata'] } },
  { name: 'dup/dup + sha256', options: { metadataProfile: 'dup', dataProfile: 'dup', csum: 'sha256' } },
  { name: 'single/single + 4K', options: { metadataProfile: 'single', dataProfile: 'single', nodesize: 4096 } },
  { name: 'label + uuid', options: { label: 'pair', uuid: '01234567-89ab-4def-8123-456789abcdef' } },
  { name: 'byteCount + 2 TiB device', options: { byteCount: 300 * GiB }, size: 2048 * GiB },
  { name: '2 TiB + 64K', options: { nodesize: 65536 }, size: 2048 * GiB },
  { name: 'block-group-tree + 4K (two-level root tree)', options: { nodesize: 4096, features: ['block-group-tree'] }, compare: false, check: false },
  { name: 'block-group-tree + quota + 4K', options: { nodesize: 4096, features: ['block-group-tree', 'quota'] }, compare: false, check: false },
];

/** A multi-device case on image files (no root): sizes per device. */
export interface MultiImageCase {
  name: string;
  sizes: number[];
  options: MkfsOptions;
}

/**
 * Makes ours and mkfs.btrfs's on image files of the given sizes and compares: both refuse, or both
 * make a filesystem with the same normalized dump-tree, and ours has a valid superblock with its
 * own dev_item on every device. Returns 'refused' or 'made'.
 */
export function runMultiCase(c: MultiImageCase, dir: ReturnType<typeof scratchDir>): 'refused' | 'made' {
  const ours = c.sizes.map((size, i) => dir.image(`mo${i}-${process.pid}.img`, size));
  const theirs = c.sizes.map((size, i) => dir.image(`mt${i}-${process.pid}.img`, size));
  try {
    let progsRefused = false;
    try {
      execFileSync('mkfs.btrfs', ['-q', '-f', ...progsArgs(c.options), ...theirs], { stdio: 'pipe' });
    } catch {
      progsRefused = true;
    }
    let r: MkfsResult | null = null;
    try {
      r = mkfsSync(ours, c.options);
    } catch (error) {
      if (!progsRefused) throw error;
      assert.ok(error instanceof TypeError || error instanceof RangeError, String(error));
      return 'refused';
    }
    assert.equal(progsRefused, false, 'mkfs.btrfs refused what we made');
    const a = normalizeDumpTree(dumpTree(...ours));
    const b = normalizeDumpTree(dumpTree(...theirs));
    assert.deepEqual(a.trees, b.trees);
    assert.deepEqual(a.levels, b.levels);
    assert.deepEqual(a.totals, b.totals);
    ours.forEach((img, i) => {
      const s = dumpSuper(img);
      assert.equal(Number(s.num_devices), c.sizes.length);
      assert.equal(Number(s['dev_item.devid']), i + 1);
      assert.equal(s['dev_item.uuid'], r!.devices[i]!.uuid);
      assert.equal(s['dev_item.fsid'], `${r!.uuid} [match]`);
      assert.ok(superCopies(img).every((x) => x.csumMatch && x.magicMatch));
    });
    return 'made';
  } finally {
    for (const f of [...ours, ...theirs]) rmSync(f, { force: true });
  }
}
