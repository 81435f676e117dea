// mkfs on sparse image files, no root needed: every case passes `btrfs check --readonly`, shows the
// fields we meant in `dump-super`, and (unless progs 6.2 lacks the feature) has the same normalized
// dump-tree as mkfs.btrfs with the same options. One factor at a time, then pairs; the full cross
// product is `node scripts/mkfs-matrix.js`.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { FACTORS, PAIRS, btrfsCheck, runCase, scratchDir, MiB } from './cases';
import { mkfs, mkfsSync } from '../../src/index';

const dir = scratchDir();
after(() => dir.cleanup());

describe('one factor at a time', () => {
  for (const c of FACTORS) test(c.name, (t) => void runCase(c, dir, (s) => t.diagnostic(s)));
});

describe('pairs', () => {
  for (const c of PAIRS) test(c.name, (t) => void runCase(c, dir, (s) => t.diagnostic(s)));
});

test('lowmem check agrees on a few shapes', () => {
  for (const options of [{}, { nodesize: 4096, features: ['quota' as const] }, { mixed: true }, { features: ['^skinny-metadata' as const] }]) {
    const img = dir.image('lowmem.img', 1024 * MiB);
    mkfsSync(img, options);
    assert.match(btrfsCheck(img, true), /no error found/);
  }
});

test('mkfs (Promise) and mkfsSync make the same filesystem', async () => {
  const a = dir.image('async.img', 256 * MiB);
  const b = dir.image('sync.img', 256 * MiB);
  const opts = { uuid: '11111111-2222-4333-8444-555555555555', label: 'twin' };
  const ra = await mkfs(a, opts);
  const rb = mkfsSync(b, opts);
  assert.deepEqual({ ...ra, devices: ra.devices.map((d) => d.size) }, { ...rb, devices: rb.devices.map((d) => d.size) });
  assert.match(btrfsCheck(a), /no error found/);
});

test('result shape', () => {
  const img = dir.image('result.img', 512 * MiB);
  const r = mkfsSync(img, { label: 'L', deviceUuid: 'aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee' });
  assert.deepEqual(Object.keys(r).sort(), ['csum', 'devices', 'features', 'label', 'nodesize', 'numBytes', 'profiles', 'sectorsize', 'uuid']);
  assert.deepEqual(r.devices, [{ path: img, devid: 1, uuid: 'aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee', size: 512 * MiB }]);
  assert.deepEqual(r.profiles, { data: 'single', metadata: 'dup', system: 'dup' });
  assert.deepEqual(r.features, ['extref', 'free-space-tree', 'no-holes', 'skinny-metadata']);
  assert.equal(r.csum, 'crc32c');
  assert.equal(JSON.parse(JSON.stringify(r)).numBytes, 512 * MiB);
});
