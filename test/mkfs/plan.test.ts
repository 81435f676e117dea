// Chunk planning against the sizes mkfs.btrfs 6.2 produced (format doc §4.3, observed table),
// including the multi-device rows the plan is written for (issue 7 will use them), the minimum
// sizes of §4.8, and the write order: an mkfs interrupted before its superblocks leaves nothing
// that looks like btrfs.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { openSync, readSync, closeSync } from 'node:fs';
import { BG_DATA, BG_METADATA, BG_SYSTEM } from '../../src/mkfs/constants';
import { PROFILES, minDeviceSize, planChunks, stripeCount, stripeSizeFor } from '../../src/mkfs/plan';
import { checkMkfsArgs } from '../../src/mkfs/options';
import { mkfsOp } from '../../src/mkfs/write';
import { execSync, type IoStep } from '../../src/mkfs/io';
import { GiB, MiB, scratchDir } from './cases';

const P = PROFILES as Record<string, (typeof PROFILES)[string]>;
const dir = scratchDir();
after(() => dir.cleanup());

const size = (type: number, profile: string, devices: number, devSize: number) => {
  const p = P[profile]!;
  const n = stripeCount(p, devices, (type & BG_SYSTEM) !== 0, 16384);
  const s = stripeSizeFor(type, p, devices * devSize, n);
  return { stripe: s, chunk: p.name === 'raid0' ? s * n : p.name === 'raid10' ? (s * n) / 2 : p.parity ? s * (n - p.parity) : s };
};

test('one device: sizes mkfs.btrfs 6.2 chose (§4.3 table)', () => {
  assert.equal(size(BG_METADATA, 'dup', 1, GiB).chunk, 53673984);
  assert.equal(size(BG_SYSTEM, 'dup', 1, GiB).chunk, 8 * MiB);
  assert.equal(size(BG_DATA, 'single', 1, GiB).chunk, 8 * MiB);
  assert.equal(size(BG_METADATA, 'dup', 1, 256 * MiB).chunk, 32 * MiB);
  assert.equal(size(BG_METADATA, 'dup', 1, 110 * MiB).chunk, 32 * MiB);
  assert.equal(size(BG_METADATA, 'dup', 1, 64 * GiB).chunk, GiB);
  assert.equal(size(BG_METADATA, 'dup', 1, 300 * GiB).chunk, GiB);
  assert.equal(size(BG_DATA, 'dup', 1, GiB).chunk, 64 * MiB);
  assert.equal(size(BG_DATA | BG_METADATA, 'single', 1, GiB).chunk, 8 * MiB);
  assert.equal(size(BG_SYSTEM, 'single', 1, GiB).chunk, 4 * MiB); // the kept temporary chunk's size
});

test('several devices: sizes mkfs.btrfs 6.2 chose (§4.3 table)', () => {
  assert.equal(size(BG_METADATA, 'raid1', 2, GiB).chunk, 107347968);
  assert.equal(size(BG_DATA, 'raid1', 2, GiB).chunk, 107347968);
  assert.equal(size(BG_METADATA, 'raid0', 2, GiB).chunk, 214695936);
  assert.equal(size(BG_SYSTEM, 'raid0', 2, GiB).chunk, 16 * MiB);
  assert.equal(size(BG_METADATA, 'raid10', 4, GiB).chunk, 128 * MiB);
  assert.equal(size(BG_DATA, 'raid10', 4, GiB).chunk, 214695936);
  assert.equal(size(BG_METADATA, 'raid5', 3, GiB).chunk, 178913280);
  assert.equal(size(BG_DATA, 'raid5', 3, GiB).chunk, 214695936);
  assert.equal(size(BG_METADATA, 'raid6', 4, GiB).chunk, 128 * MiB);
  assert.equal(size(BG_METADATA, 'raid1c3', 3, GiB).chunk, 256 * MiB);
  assert.equal(size(BG_DATA, 'raid1c4', 4, GiB).chunk, 107347968);
  assert.equal(size(BG_SYSTEM, 'raid1', 2, GiB).chunk, 8 * MiB);
  assert.equal(size(BG_DATA | BG_METADATA, 'raid1', 2, 4 * GiB).chunk, 429457408);
});

test('minimum device sizes (§4.8)', () => {
  assert.equal(minDeviceSize(P.dup!, P.single!, false, 16384), 114294784);
  assert.equal(minDeviceSize(P.single!, P.single!, false, 16384), 45 * MiB);
  assert.equal(minDeviceSize(P.raid1!, P.single!, false, 16384), 69 * MiB);
  assert.equal(minDeviceSize(P.dup!, P.dup!, false, 16384), 229 * MiB);
  assert.equal(minDeviceSize(P.raid1!, P.raid1!, false, 16384), 125 * MiB);
  assert.equal(minDeviceSize(P.single!, P.single!, true, 4096), 16 * MiB);
});

test('placement: stripes from 1 MiB, no overlap, logical back to back, two devices spread', () => {
  const uuid = Buffer.alloc(16, 1);
  const one = planChunks([{ devid: 1, size: GiB, uuid }], { system: P.dup!, metadata: P.dup!, data: P.single! }, false, 16384);
  assert.deepEqual(one.map((c) => c.start), [MiB, MiB + 8 * MiB, MiB + 8 * MiB + 53673984]);
  const extents = one.flatMap((c) => c.stripes.map((s) => [s.offset, s.offset + c.stripeSize]));
  extents.sort((a, b) => a[0]! - b[0]!);
  assert.equal(extents[0]![0], MiB);
  for (let i = 1; i < extents.length; i++) assert.ok(extents[i]![0]! >= extents[i - 1]![1]!);
  const two = planChunks(
    [{ devid: 1, size: GiB, uuid }, { devid: 2, size: GiB, uuid }],
    { system: P.raid1!, metadata: P.raid1!, data: P.raid0! },
    false,
    16384,
  );
  assert.deepEqual(two.map((c) => c.stripes.map((s) => s.devid).sort()), [[1, 2], [1, 2], [1, 2]]);
});

test('interrupted before the superblocks: the old btrfs is gone and nothing looks like btrfs', () => {
  const img = dir.image('interrupt.img', GiB);
  execFileSync('mkfs.btrfs', ['-q', '-f', img]);
  const op = mkfsOp(checkMkfsArgs(img, { force: true }));
  let next = op.next();
  let superWrites = 0;
  while (!next.done) {
    const step: IoStep = next.value;
    // Superblock copies are the 4096-byte writes at 64 KiB and 64 MiB: stop at the first one.
    if (step.op === 'pwrite' && step.buffer.length === 4096 && step.buffer.readBigUInt64LE(0x40) !== 0n) {
      superWrites++;
      // Abandon the operation; its finally still yields the close, which we carry out.
      let rest = op.return(undefined as never);
      while (!rest.done) rest = op.next(execSync(rest.value));
      break;
    }
    next = op.next(execSync(step));
  }
  assert.equal(superWrites, 1);
  for (const at of [0x10040, 64 * MiB + 0x40]) {
    const fd = openSync(img, 'r');
    const b = Buffer.alloc(8);
    readSync(fd, b, 0, 8, at);
    closeSync(fd);
    assert.notEqual(b.toString('latin1'), '_BHRfS_M', `magic at ${at}`);
  }
  assert.throws(() => execFileSync('blkid', ['-p', img], { stdio: 'pipe' })); // exit 2: nothing found
});
