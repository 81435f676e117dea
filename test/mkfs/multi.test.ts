// Several devices, through the kernel (root): for every profile and 2, 3 and 4 loop devices (where
// the profile allows that many, §4.2), plus the defaults, mixed block groups, devices of different
// sizes and a few data/metadata pairs:
// - mkfs.btrfs on the same loop devices with the same options gives the reference: its normalized
//   dump-tree and its `btrfs filesystem usage -b` once mounted;
// - ours: btrfs check --readonly clean, the same normalized dump-tree, every device carrying its
//   own superblock copies with its own dev_item;
// - where the profiles tolerate losing devices: those devices wiped (blkdiscard) right after mkfs,
//   and the filesystem still mounts degraded, read-only: that reads what mkfs wrote, mirrors and
//   RAID5/6 parity (scrub does not check mkfs's parity, format doc §7.6);
// - made again: mounted by naming any one device (mkfs registered them all), the same usage as
//   mkfs.btrfs's, files of several sizes written and synced, scrub clean, unmounted; the tolerated
//   number of devices wiped; mounted with -o degraded; every file reads back with its hash.
// One pool of four equal loop devices and one of three different sizes serve every case.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { closeSync, ftruncateSync, mkdirSync, openSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { mkfs, mkfsSync, type MkfsOptions, type RaidProfileName } from '../../src/index';
import { PROFILES } from '../../src/mkfs/plan';
import { needsRoot } from '../helpers/scratch';
import { dumpSuper, dumpTree, normalizeDumpTree } from '../helpers/dump-tree';
import { MiB, btrfsCheck, progsArgs, scratchDir } from './cases';

const run = (cmd: string, ...args: string[]) => execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });

export interface MultiCase {
  name: string;
  /** Device sizes in bytes, one per device. */
  sizes: number[];
  options: MkfsOptions;
}

/** Devices a filesystem with these profiles survives losing (0: none). */
export function tolerated(o: MkfsOptions, count: number): number {
  const name = (p: unknown, fallback: string) => (typeof p === 'string' ? p : fallback);
  const meta = name(o.metadataProfile, o.mixed ? name(o.dataProfile, 'single') : count > 1 ? 'raid1' : 'dup');
  const data = name(o.dataProfile, o.mixed ? meta : 'single');
  const of = (p: string) => {
    const info = PROFILES[p]!;
    if (info.name === 'dup' || info.name === 'raid0' || info.bits === 0) return 0;
    return info.parity > 0 ? info.parity : info.copies - 1;
  };
  return Math.min(of(meta), of(data), count - 1);
}

const EQUAL = 512 * MiB;
const UNEQUAL = [768 * MiB, 320 * MiB, 512 * MiB];
const ALL: RaidProfileName[] = ['single', 'dup', 'raid0', 'raid1', 'raid1c3', 'raid1c4', 'raid10', 'raid5', 'raid6'];

/** The default run: every profile x 2/3/4 devices, and the cases around them. */
export const CASES: MultiCase[] = [];
for (const p of ALL) {
  for (const count of [2, 3, 4]) {
    if (count < PROFILES[p]!.minDevices) continue;
    CASES.push({ name: `${p} x${count}`, sizes: Array(count).fill(EQUAL), options: { metadataProfile: p, dataProfile: p } });
  }
}
for (const count of [2, 3, 4]) CASES.push({ name: `defaults (raid1/single) x${count}`, sizes: Array(count).fill(EQUAL), options: {} });
CASES.push(
  { name: 'mixed x2 (single)', sizes: [EQUAL, EQUAL], options: { mixed: true } },
  { name: 'mixed raid1 x2', sizes: [EQUAL, EQUAL], options: { mixed: true, metadataProfile: 'raid1', dataProfile: 'raid1' } },
  { name: 'mixed raid5 x3', sizes: [EQUAL, EQUAL, EQUAL], options: { mixed: true, metadataProfile: 'raid5', dataProfile: 'raid5' } },
  { name: 'mixed raid6 x4 + xxhash', sizes: Array(4).fill(EQUAL), options: { mixed: true, metadataProfile: 'raid6', dataProfile: 'raid6', csum: 'xxhash' } },
  { name: 'different sizes: defaults x3', sizes: UNEQUAL, options: {} },
  { name: 'different sizes: raid5 x3', sizes: UNEQUAL, options: { metadataProfile: 'raid5', dataProfile: 'raid5' } },
  { name: 'different sizes: raid1c3/raid0 x3', sizes: UNEQUAL, options: { metadataProfile: 'raid1c3', dataProfile: 'raid0' } },
  { name: 'raid1/raid0 x3 + 4K nodes', sizes: Array(3).fill(EQUAL), options: { metadataProfile: 'raid1', dataProfile: 'raid0', nodesize: 4096 } },
  { name: 'raid10/raid6 x4 + quota + label', sizes: Array(4).fill(EQUAL), options: { metadataProfile: 'raid10', dataProfile: 'raid6', features: ['quota'], label: 'multi' } },
);

/** Loop devices over sparse images, attached once for the whole file. */
interface Pool {
  images: string[];
  loops: string[];
}

const dir = scratchDir();
const mnt = join(dir.dir, 'mnt');
const pools = new Map<string, Pool>();

function attach(key: string, sizes: number[]): Pool {
  const images = sizes.map((size, i) => {
    const path = join(dir.dir, `${key}-${i}.img`);
    const fd = openSync(path, 'w');
    ftruncateSync(fd, size);
    closeSync(fd);
    return path;
  });
  const pool: Pool = { images, loops: [] };
  pools.set(key, pool);
  for (const image of images) pool.loops.push(run('losetup', '--find', '--show', image).trim());
  return pool;
}

function unmount(): void {
  for (let i = 0; i < 20; i++) {
    const mounted = readFileSync('/proc/self/mountinfo', 'utf8').split('\n').some((l) => l.split(' ')[4] === mnt);
    if (!mounted) return;
    try {
      run('umount', mnt);
    } catch {
      execFileSync('sleep', ['0.2']);
    }
  }
}

function teardown(): void {
  unmount();
  for (const pool of pools.values()) {
    for (const loop of pool.loops) {
      try {
        run('btrfs', 'device', 'scan', '--forget', loop);
      } catch {
        // not registered
      }
      try {
        run('losetup', '-d', loop);
      } catch {
        // gone already
      }
    }
  }
  pools.clear();
  dir.cleanup();
}

/** `btrfs filesystem usage -b` of the filesystem on `loops`, mounted through the first one. */
function usage(loops: string[]): string {
  run('mount', loops[0]!, mnt);
  try {
    return run('btrfs', 'filesystem', 'usage', '-b', mnt);
  } finally {
    unmount();
  }
}

const FILE_SIZES = [0, 1, 4095, 4097, 65537, MiB + 3, 3 * MiB];
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/** Makes files of several sizes, syncs; returns name -> hash. */
function writeFiles(): Map<string, string> {
  const hashes = new Map<string, string>();
  mkdirSync(join(mnt, 'dir'));
  FILE_SIZES.forEach((size, i) => {
    const data = randomBytes(size);
    const name = i % 2 ? `dir/f${i}` : `f${i}`;
    writeFileSync(join(mnt, name), data);
    hashes.set(name, sha(data));
  });
  run('btrfs', 'filesystem', 'sync', mnt);
  return hashes;
}

function wipe(loop: string): void {
  run('blkdiscard', '-f', loop);
}

describe('several devices, every profile: mkfs.btrfs agrees and the kernel mounts, scrubs and survives lost devices', { skip: needsRoot }, () => {
  before(() => {
    mkdirSync(mnt, { recursive: true });
    attach('eq', Array(4).fill(EQUAL));
    attach('uneq', UNEQUAL);
  });
  after(teardown);

  CASES.forEach((c, index) => {
    test(c.name, async (t) => {
      const pool = pools.get(c.sizes.every((s) => s === EQUAL) ? 'eq' : 'uneq')!;
      const loops = pool.loops.slice(0, c.sizes.length);

      // The reference.
      run('mkfs.btrfs', '-q', '-f', ...progsArgs(c.options), ...loops);
      for (const loop of loops) run('btrfs', 'device', 'scan', loop);
      const theirTree = normalizeDumpTree(dumpTree(...loops));
      const theirUsage = usage(loops);

      // Ours, once: check, trees, superblocks; then the devices it can lose, before any mount.
      const options: MkfsOptions = { ...c.options, force: true };
      const r = index % 2 ? mkfsSync(loops, options) : await mkfs(loops, options);
      assert.equal(r.devices.length, loops.length);
      assert.match(btrfsCheck(loops[0]!), /no error found/);
      const ourTree = normalizeDumpTree(dumpTree(...loops));
      assert.deepEqual(ourTree.trees, theirTree.trees);
      assert.deepEqual(ourTree.levels, theirTree.levels);
      assert.deepEqual(ourTree.totals, theirTree.totals);
      r.devices.forEach((d, i) => {
        const s = dumpSuper(loops[i]!, true);
        assert.equal(s.fsid, r.uuid);
        assert.equal(Number(s.num_devices), loops.length);
        assert.equal(Number(s['dev_item.devid']), i + 1);
        assert.equal(s['dev_item.uuid'], d.uuid);
        assert.equal(Number(s['dev_item.total_bytes']), c.sizes[i]);
        assert.match(s.csum!, /\[match\]$/);
      });
      const lose = tolerated(c.options, loops.length);
      if (lose > 0) {
        for (const loop of loops.slice(-lose)) wipe(loop);
        run('mount', '-o', 'degraded,ro', loops[0]!, mnt);
        try {
          assert.deepEqual(readdirSync(mnt), []);
        } finally {
          unmount();
        }
        // Made again for the rest.
        await mkfs(loops, options);
      }

      // Mounted by any one device: same allocation as mkfs.btrfs's.
      assert.equal(usage(loops), theirUsage);
      run('mount', loops[loops.length - 1]!, mnt);
      let hashes: Map<string, string>;
      try {
        hashes = writeFiles();
        const scrub = run('btrfs', 'scrub', 'start', '-B', mnt);
        assert.match(scrub, /no errors found/);
      } finally {
        unmount();
      }
      assert.match(btrfsCheck(loops[0]!), /no error found/);
      if (lose === 0) return;
      for (const loop of loops.slice(-lose)) wipe(loop);
      run('mount', '-o', 'degraded', loops[0]!, mnt);
      try {
        for (const [name, hash] of hashes) assert.equal(sha(readFileSync(join(mnt, name))), hash, name);
        t.diagnostic(`${lose} of ${loops.length} devices wiped; ${hashes.size} files read back`);
      } finally {
        unmount();
      }
    });
  });

  test('stress (the seed multi-device test): raid1 + xxhash on two devices, many files written and read back', async () => {
    const loops = pools.get('eq')!.loops.slice(0, 2);
    await mkfs(loops, { metadataProfile: 'raid1', dataProfile: 'raid1', csum: 'xxhash', force: true });
    run('mount', loops[1]!, mnt);
    const hashes = new Map<string, string>();
    try {
      for (let i = 0; i < 300; i++) {
        const size = i % 50 === 0 ? 2 * MiB + i : (i * 7919) % 70000;
        const data = randomBytes(size);
        const name = `s${i % 10}/f${i}`;
        mkdirSync(join(mnt, `s${i % 10}`), { recursive: true });
        writeFileSync(join(mnt, name), data);
        hashes.set(name, sha(data));
      }
      run('btrfs', 'filesystem', 'sync', mnt);
    } finally {
      unmount();
    }
    run('mount', loops[0]!, mnt);
    try {
      for (const [name, hash] of hashes) assert.equal(sha(readFileSync(join(mnt, name))), hash, name);
      assert.match(run('btrfs', 'scrub', 'start', '-B', mnt), /no errors found/);
    } finally {
      unmount();
    }
    assert.match(btrfsCheck(loops[0]!), /no error found/);
  });
});
