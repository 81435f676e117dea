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

test('placement: mkfs.btrfs 6.2 physical layouts (§4.9)', () => {
  const uuid = Buffer.alloc(16, 1);
  const where = (chunks: ReturnType<typeof planChunks>) =>
    Object.fromEntries(chunks.map((c) => [c.type, c.stripes.map((s) => `${s.devid}@${s.offset}`)]));
  const one = planChunks([{ devid: 1, size: GiB, uuid }], { system: P.dup!, metadata: P.dup!, data: P.single! }, false, 16384);
  assert.deepEqual(where(one), {
    [BG_SYSTEM | P.dup!.bits]: [`1@${21 * MiB}`, `1@${29 * MiB}`],
    [BG_METADATA | P.dup!.bits]: [`1@${37 * MiB}`, '1@92471296'],
    [BG_DATA]: [`1@${13 * MiB}`],
  });
  const dev = (devid: number, size = GiB) => ({ devid, size, uuid });
  const two = planChunks([dev(1), dev(2)], { system: P.raid1!, metadata: P.raid1!, data: P.single! }, false, 16384);
  assert.deepEqual(where(two), {
    [BG_SYSTEM | P.raid1!.bits]: [`1@${21 * MiB}`, `2@${MiB}`],
    [BG_METADATA | P.raid1!.bits]: [`1@${29 * MiB}`, `2@${9 * MiB}`],
    [BG_DATA]: [`1@${13 * MiB}`],
  });
  // Device selection as mkfs.btrfs 6.2 makes it (observed; mkfs-notes.md): the temporary chunks
  // make device 1 the fullest, and ties go to the highest devids, stripes in devid order.
  const devids = (chunks: ReturnType<typeof planChunks>) => chunks.map((c) => c.stripes.map((s) => s.devid));
  assert.deepEqual(devids(planChunks([dev(1), dev(2), dev(3), dev(4)], { system: P.raid1!, metadata: P.raid1!, data: P.raid1c3! }, false, 16384)), [
    [3, 4],
    [3, 4],
    [2, 3, 4],
  ]);
  assert.deepEqual(devids(planChunks([dev(1), dev(2), dev(3)], { system: P.dup!, metadata: P.dup!, data: P.raid0! }, false, 16384)), [
    [3, 3],
    [3, 3],
    [1, 2, 3],
  ]);
  // Different sizes: 4096 + 3 x 300 MiB, RAID1C4 metadata leaves the small ones no room for a
  // RAID0 data stripe, so the data chunk has one stripe of the size planned for four.
  const mixedSizes = planChunks([dev(1, 4 * GiB), dev(2, 300 * MiB), dev(3, 300 * MiB), dev(4, 300 * MiB)], { system: P.raid1c4!, metadata: P.raid1c4!, data: P.raid0! }, false, 16384);
  assert.deepEqual(devids(mixedSizes), [[1, 2, 3, 4], [1, 2, 3, 4], [1]]);
  assert.equal(mixedSizes[2]!.length, 130940928);
  assert.throws(
    () => planChunks([dev(1, 2 * GiB), dev(2, 150 * MiB), dev(3, 150 * MiB)], { system: P.raid10!, metadata: P.raid10!, data: P.raid5! }, false, 16384),
    (e: any) => e instanceof RangeError && (e as any).code === 'ERR_OUT_OF_RANGE' && /no room for a raid5 data chunk/.test(e.message),
  );
  // DUP metadata with no device able to hold two stripes of the planned size: the stripe shrinks to
  // half the roomiest device's free bytes; the RAID5 data chunk that follows finds four devices of
  // five, which go back to the list's head before the retry (stripe order 5, 3, 2, 1).
  const dupThenRaid5 = planChunks([1, 2, 3, 4, 5].map((i) => dev(i, 512 * MiB)), { system: P.dup!, metadata: P.dup!, data: P.raid5! }, false, 16384);
  assert.deepEqual(devids(dupThenRaid5), [[5, 5], [4, 4], [5, 3, 2, 1]]);
  assert.equal(dupThenRaid5[1]!.stripeSize, 267911168);
  // Extents never overlap.
  for (const chunks of [one, two, mixedSizes, dupThenRaid5]) {
    const extents = chunks.flatMap((c) => c.stripes.map((s) => [s.devid, s.offset, s.offset + c.stripeSize] as const));
    extents.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
    for (let i = 1; i < extents.length; i++) if (extents[i]![0] === extents[i - 1]![0]) assert.ok(extents[i]![1] >= extents[i - 1]![2]);
  }
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
