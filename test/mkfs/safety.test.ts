// Nothing lost: bad options fail before anything is opened; a device with a known signature is
// refused without force (and left byte for byte as it was); a mounted one always; sizes below the
// layout's minimum give the minimum. Signature detection is checked on images made by the real
// tools where this machine has them (mkfs.btrfs, mkfs.ext4, mkswap) and on hand-written magics.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { constants, readdirSync, existsSync, mkdirSync, readFileSync, readSync, openSync, writeSync, closeSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { CsumType, IncompatFeature, RaidProfile, mkfs, mkfsSync, type MkfsOptions } from '../../src/index';
import { detectSignatures } from '../../src/mkfs/signatures';
import { needsRoot } from '../helpers/scratch';
import { GiB, MiB, btrfsCheck, scratchDir } from './cases';

const dir = scratchDir();
after(() => dir.cleanup());

/** sha256 of a sparse image, reading it all (fine for the sizes used here). */
const hashOf = (path: string) => createHash('sha256').update(readFileSync(path)).digest('hex');

function expectCode(fn: () => unknown, type: new (...args: any[]) => Error, code: string): void {
  assert.throws(fn, (e: any) => {
    assert.ok(e instanceof type, `${e?.constructor?.name}: ${e?.message}`);
    assert.equal((e as any).code, code, e.message);
    return true;
  });
}

describe('option validation, before any I/O', () => {
  const img = '/nonexistent/never-opened.img';
  const bad: [string, unknown, MkfsOptions | unknown, new (...a: any[]) => Error, string][] = [
    ['devices not a path', 42, {}, TypeError, 'ERR_INVALID_ARG_TYPE'],
    ['no devices', [], {}, TypeError, 'ERR_INVALID_ARG_VALUE'],
    ['a device twice', [img, img], {}, TypeError, 'ERR_INVALID_ARG_VALUE'],
    ['options not an object', img, 'x', TypeError, 'ERR_INVALID_ARG_TYPE'],
    ['label not a string', img, { label: 1 }, TypeError, 'ERR_INVALID_ARG_TYPE'],
    ['label 256 bytes', img, { label: 'x'.repeat(256) }, TypeError, 'ERR_INVALID_ARG_VALUE'],
    ['label 128 two-byte chars', img, { label: 'é'.repeat(128) }, TypeError, 'ERR_INVALID_ARG_VALUE'],
    ['label with NUL', img, { label: 'a\0b' }, TypeError, 'ERR_INVALID_ARG_VALUE'],
    ['uuid malformed', img, { uuid: 'not-a-uuid' }, TypeError, 'ERR_INVALID_ARG_VALUE'],
    ['uuid nil', img, { uuid: '00000000-0000-0000-0000-000000000000' }, TypeError, 'ERR_INVALID_ARG_VALUE'],
    ['deviceUuid malformed', img, { deviceUuid: '1234' }, TypeError, 'ERR_INVALID_ARG_VALUE'],
    ['nodesize not a power of two', img, { nodesize: 12288 }, RangeError, 'ERR_OUT_OF_RANGE'],
    ['nodesize too big', img, { nodesize: 131072 }, RangeError, 'ERR_OUT_OF_RANGE'],
    ['nodesize too small', img, { nodesize: 2048 }, RangeError, 'ERR_OUT_OF_RANGE'],
    ['nodesize below sectorsize', img, { nodesize: 4096, sectorsize: 8192 }, RangeError, 'ERR_OUT_OF_RANGE'],
    ['sectorsize not a number', img, { sectorsize: '4096' }, TypeError, 'ERR_INVALID_ARG_TYPE'],
    ['mixed with nodesize != sectorsize', img, { mixed: true, nodesize: 16384 }, RangeError, 'ERR_OUT_OF_RANGE'],
    ['mixed with different profiles', img, { mixed: true, metadataProfile: 'dup', dataProfile: 'single' }, TypeError, 'ERR_INVALID_ARG_VALUE'],
    ['byteCount negative', img, { byteCount: -1 }, RangeError, 'ERR_OUT_OF_RANGE'],
    ['byteCount fractional', img, { byteCount: 1.5 }, RangeError, 'ERR_OUT_OF_RANGE'],
    ['byteCount a string', img, { byteCount: '1G' }, TypeError, 'ERR_INVALID_ARG_TYPE'],
    ['unknown profile', img, { dataProfile: 'raid7' }, TypeError, 'ERR_INVALID_ARG_VALUE'],
    ['unknown RaidProfile number', img, { dataProfile: 3 }, TypeError, 'ERR_INVALID_ARG_VALUE'],
    ['raid1 on one device', img, { metadataProfile: 'raid1' }, TypeError, 'ERR_INVALID_ARG_VALUE'],
    ['RAID1C3 constant on one device', img, { dataProfile: RaidProfile.RAID1C3 }, TypeError, 'ERR_INVALID_ARG_VALUE'],
    ['raid10 on one device', img, { dataProfile: 'raid10' }, TypeError, 'ERR_INVALID_ARG_VALUE'],
    ['raid5 on one device', img, { dataProfile: 'raid5' }, TypeError, 'ERR_INVALID_ARG_VALUE'],
    ['raid6 on one device', img, { metadataProfile: 'raid6' }, TypeError, 'ERR_INVALID_ARG_VALUE'],
    ['a device twice, spelled differently', [img, '/nonexistent/../nonexistent/never-opened.img'], {}, TypeError, 'ERR_INVALID_ARG_VALUE'],
    ['raid1c3 on two devices', [img, `${img}2`], { metadataProfile: 'raid1c3' }, TypeError, 'ERR_INVALID_ARG_VALUE'],
    ['raid1c4 on three devices', [img, `${img}2`, `${img}3`], { dataProfile: 'raid1c4' }, TypeError, 'ERR_INVALID_ARG_VALUE'],
    ['raid6 on two devices', [img, `${img}2`], { dataProfile: 'raid6' }, TypeError, 'ERR_INVALID_ARG_VALUE'],
    ['mixed with different profiles on two devices', [img, `${img}2`], { mixed: true, metadataProfile: 'raid1', dataProfile: 'raid0' }, TypeError, 'ERR_INVALID_ARG_VALUE'],
    ['raid56 turned off with raid5', [img, `${img}2`], { dataProfile: 'raid5', features: ['^raid56'] }, TypeError, 'ERR_INVALID_ARG_VALUE'],
    ['raid1c34 turned off with raid1c3', [img, `${img}2`, `${img}3`], { metadataProfile: 'raid1c3', features: ['^raid1c34'] }, TypeError, 'ERR_INVALID_ARG_VALUE'],
    ['unknown csum', img, { csum: 'md5' }, TypeError, 'ERR_INVALID_ARG_VALUE'],
    ['csum out of range', img, { csum: 4 }, RangeError, 'ERR_OUT_OF_RANGE'],
    ['unknown feature', img, { features: ['turbo'] }, TypeError, 'ERR_INVALID_ARG_VALUE'],
    ['feature on and off', img, { features: ['quota', '^quota'] }, TypeError, 'ERR_INVALID_ARG_VALUE'],
    ['block-group-tree without free-space-tree', img, { features: ['block-group-tree', '^free-space-tree'] }, TypeError, 'ERR_INVALID_ARG_VALUE'],
    ['block-group-tree without no-holes', img, { features: 'block-group-tree,^no-holes' }, TypeError, 'ERR_INVALID_ARG_VALUE'],
    ['quota and squota', img, { features: ['quota', 'squota'] }, TypeError, 'ERR_INVALID_ARG_VALUE'],
    ['^mixed-bg with mixed', img, { mixed: true, features: ['^mixed-bg'] }, TypeError, 'ERR_INVALID_ARG_VALUE'],
    ['ZONED by number', img, { features: IncompatFeature.ZONED }, TypeError, 'ERR_INVALID_ARG_VALUE'],
    ['features of the wrong type', img, { features: {} }, TypeError, 'ERR_INVALID_ARG_TYPE'],
    ['force not a boolean', img, { force: 'yes' }, TypeError, 'ERR_INVALID_ARG_TYPE'],
    ['create without byteCount', img, { create: true }, TypeError, 'ERR_INVALID_ARG_VALUE'],
  ];
  for (const [name, devices, options, type, code] of bad) {
    test(name, async () => {
      expectCode(() => mkfsSync(devices as string, options as MkfsOptions), type, code);
      await assert.rejects(mkfs(devices as string, options as MkfsOptions), (e: any) => e instanceof type && (e as any).code === code);
    });
  }
});

test('numeric constants are accepted wherever names are', () => {
  const img = dir.image('consts.img', 512 * MiB);
  const r = mkfsSync(img, {
    csum: CsumType.XXHASH,
    metadataProfile: RaidProfile.DUP,
    dataProfile: RaidProfile.SINGLE,
    features: IncompatFeature.NO_HOLES | IncompatFeature.MIXED_BACKREF,
  });
  assert.equal(r.csum, 'xxhash');
  assert.deepEqual(r.profiles, { data: 'single', metadata: 'dup', system: 'dup' });
  assert.match(btrfsCheck(img), /no error found/);
  const mixed = mkfsSync(dir.image('consts-mixed.img', 512 * MiB), { features: [IncompatFeature.MIXED_GROUPS], force: true });
  assert.deepEqual(mixed.profiles, { data: 'single', metadata: 'single', system: 'single' });
  assert.equal(mixed.nodesize, 4096);
});

describe('devices refused before any write, byte for byte unchanged', () => {
  test('missing file without create: ENOENT, nothing created', () => {
    const path = join(dir.dir, 'missing.img');
    expectCode(() => mkfsSync(path), Error, 'ENOENT');
    assert.equal(existsSync(path), false);
  });

  test('a directory: ENOTBLK', () => {
    const path = join(dir.dir, 'a-dir');
    mkdirSync(path);
    expectCode(() => mkfsSync(path), Error, 'ENOTBLK');
  });

  test('too small: RangeError naming the minimum, file unchanged', () => {
    const img = dir.image('small.img', 100 * MiB);
    const before = hashOf(img);
    assert.throws(() => mkfsSync(img), (e: any) => e instanceof RangeError && (e as any).code === 'ERR_OUT_OF_RANGE' && /114294784 bytes \(109 MiB\)/.test(e.message));
    assert.throws(() => mkfsSync(img, { metadataProfile: 'single', dataProfile: 'single', byteCount: 44 * MiB }), /47185920 bytes \(45 MiB\)/);
    assert.equal(hashOf(img), before);
  });

  test('create: a refused new file is removed again', () => {
    const path = join(dir.dir, 'created-small.img');
    assert.throws(() => mkfsSync(path, { create: true, byteCount: 10 * MiB }), RangeError);
    assert.equal(existsSync(path), false);
    const ok = join(dir.dir, 'created.img');
    mkfsSync(ok, { create: true, byteCount: GiB });
    assert.equal(statSync(ok).size, GiB);
    assert.ok(statSync(ok).blocks * 512 < 16 * MiB, 'the image stays sparse');
    assert.match(btrfsCheck(ok), /no error found/);
    expectCode(() => mkfsSync(ok, { create: true, byteCount: GiB }), Error, 'EEXIST'); // existing btrfs, no force
  });

  test('byteCount larger than the device: RangeError', () => {
    const img = dir.image('short.img', 256 * MiB);
    const before = hashOf(img);
    expectCode(() => mkfsSync(img, { byteCount: 512 * MiB }), RangeError, 'ERR_OUT_OF_RANGE');
    assert.equal(hashOf(img), before);
  });

  const tools: [string, (img: string) => void][] = [
    ['btrfs', (img) => execFileSync('mkfs.btrfs', ['-q', '-f', img])],
    ['ext4', (img) => execFileSync('mkfs.ext4', ['-q', '-F', img])],
    ['swap', (img) => execFileSync('mkswap', [img], { stdio: 'ignore' })],
  ];
  for (const [type, make] of tools) {
    test(`${type} made by its own tool: refused without force (EEXIST), formatted with force`, async () => {
      const img = dir.image(`sig-${type}.img`, 256 * MiB);
      make(img);
      const before = hashOf(img);
      expectCode(() => mkfsSync(img), Error, 'EEXIST');
      await assert.rejects(mkfs(img), (e: any) => e.code === 'EEXIST' && e.message.includes(type));
      assert.equal(hashOf(img), before);
      mkfsSync(img, { force: true });
      assert.match(btrfsCheck(img), /no error found/);
      // The old signature is gone (blkid sees only btrfs).
      assert.equal(execFileSync('blkid', ['-p', '-o', 'value', '-s', 'TYPE', img], { encoding: 'utf8' }).trim(), 'btrfs');
    });
  }

  test('a btrfs superblock mirror beyond byteCount is wiped, as mkfs.btrfs does', () => {
    const img = dir.image('mirror.img', GiB);
    execFileSync('mkfs.btrfs', ['-q', '-f', img]);
    const magicAt64M = () => {
      const fd = openSync(img, 'r');
      const b = Buffer.alloc(8);
      readSync(fd, b, 0, 8, 64 * MiB + 0x40);
      closeSync(fd);
      return b.toString('latin1');
    };
    assert.equal(magicAt64M(), '_BHRfS_M');
    mkfsSync(img, { force: true, byteCount: 60 * MiB, metadataProfile: 'single', dataProfile: 'single' });
    assert.equal(magicAt64M(), '\0'.repeat(8));
    assert.match(btrfsCheck(img), /no error found/);
  });
});

test('no descriptor leaks, on success or refusal, sync or async', async () => {
  const img = dir.image('fds.img', 256 * MiB);
  const before = readdirSync('/proc/self/fd').length;
  mkfsSync(img);
  assert.throws(() => mkfsSync(img), /EEXIST/);
  await mkfs(img, { force: true });
  await assert.rejects(mkfs(img, { byteCount: 8 * MiB, force: true }), RangeError);
  assert.equal(readdirSync('/proc/self/fd').length, before);
});

describe('signature detection by magic', () => {
  const page = (fill: (b: Buffer) => void) => {
    const b = Buffer.alloc(128 * 1024);
    fill(b);
    return b;
  };
  const cases: [string, Buffer][] = [
    ['xfs', page((b) => b.write('XFSB', 0, 'latin1'))],
    ['luks', page((b) => Buffer.from([0x4c, 0x55, 0x4b, 0x53, 0xba, 0xbe]).copy(b, 0))],
    ['luks', page((b) => Buffer.from([0x53, 0x4b, 0x55, 0x4c, 0xba, 0xbe]).copy(b, 0x4000))],
    ['gpt', page((b) => b.write('EFI PART', 512, 'latin1'))],
    ['dos', page((b) => { b[510] = 0x55; b[511] = 0xaa; b[446 + 4] = 0x83; })],
    ['swap', page((b) => b.write('SWAPSPACE2', 4086, 'latin1'))],
    ['ext4', page((b) => { b.writeUInt16LE(0xef53, 1080); })],
    ['btrfs', page((b) => b.write('_BHRfS_M', 0x10040, 'latin1'))],
  ];
  for (const [type, buf] of cases) {
    test(`${type}`, () => {
      assert.deepEqual(detectSignatures(buf).map((s) => s.type), [type]);
    });
  }
  test('zeros, and a stray 0x55AA with no partition entry, are nothing', () => {
    assert.deepEqual(detectSignatures(Buffer.alloc(128 * 1024)), []);
    const b = Buffer.alloc(4096);
    b[510] = 0x55;
    b[511] = 0xaa;
    assert.deepEqual(detectSignatures(b), []);
  });
  test('a btrfs mirror copy alone counts', () => {
    const m = Buffer.alloc(4096);
    m.write('_BHRfS_M', 0x40, 'latin1');
    assert.deepEqual(detectSignatures(Buffer.alloc(128 * 1024), new Map([[64 * MiB, m]])), [{ type: 'btrfs', offset: 64 * MiB + 0x40 }]);
  });
  test('a hand-made partition table on an image is refused, and blkid agrees it is one', () => {
    const img = dir.image('mbr.img', 256 * MiB);
    const fd = openSync(img, 'r+');
    const sector = Buffer.alloc(512);
    sector[446 + 4] = 0x83; // a Linux partition
    sector.writeUInt32LE(2048, 446 + 8);
    sector.writeUInt32LE(4096, 446 + 12);
    sector[510] = 0x55;
    sector[511] = 0xaa;
    writeSync(fd, sector, 0, 512, 0);
    closeSync(fd);
    assert.match(execFileSync('blkid', ['-p', '-o', 'value', '-s', 'PTTYPE', img], { encoding: 'utf8' }), /dos/);
    const before = hashOf(img);
    expectCode(() => mkfsSync(img), Error, 'EEXIST');
    assert.equal(hashOf(img), before);
  });
});

describe('in use: always refused, even with force', { skip: needsRoot }, () => {
  test('an image mounted through a loop device: EBUSY, unchanged', () => {
    const img = dir.image('mounted.img', 256 * MiB);
    execFileSync('mkfs.btrfs', ['-q', '-f', img]);
    const mnt = join(dir.dir, 'mnt');
    mkdirSync(mnt, { recursive: true });
    const loop = execFileSync('losetup', ['--find', '--show', img], { encoding: 'utf8' }).trim();
    try {
      execFileSync('mount', [loop, mnt]);
      try {
        execFileSync('sync');
        const before = hashOf(img);
        expectCode(() => mkfsSync(img, { force: true }), Error, 'EBUSY');
        expectCode(() => mkfsSync(loop, { force: true }), Error, 'EBUSY');
        assert.equal(hashOf(img), before);
      } finally {
        execFileSync('umount', [mnt]);
      }
      // Held open exclusively by someone else (here: this process, O_EXCL): EBUSY, unchanged.
      const held = openSync(loop, constants.O_RDONLY | constants.O_EXCL);
      try {
        const before = hashOf(img);
        expectCode(() => mkfsSync(loop, { force: true }), Error, 'EBUSY');
        assert.equal(hashOf(img), before);
      } finally {
        closeSync(held);
      }
      // Attached but not mounted: a block device that is free; force because it holds btrfs.
      const r = mkfsSync(loop, { force: true });
      assert.equal(r.devices[0]!.path, loop);
      // Registered with the kernel and mountable at once.
      execFileSync('mount', [loop, mnt]);
      execFileSync('umount', [mnt]);
      assert.match(btrfsCheck(loop), /no error found/);
    } finally {
      execFileSync('losetup', ['-d', loop]);
    }
  });
});

describe('several devices: one refused device refuses them all, every one byte for byte unchanged', () => {
  const hashOf = (path: string) => {
    // In 16 MiB reads: some of these images are larger than one Buffer may be.
    const h = createHash('sha256');
    const fd = openSync(path, 'r');
    const buf = Buffer.alloc(16 * MiB);
    try {
      for (let n; (n = readSync(fd, buf, 0, buf.length, null)) > 0; ) h.update(buf.subarray(0, n));
    } finally {
      closeSync(fd);
    }
    return h.digest('hex');
  };
  const trio = (name: string, sizes = [256 * MiB, 256 * MiB, 256 * MiB]) => sizes.map((s, i) => dir.image(`${name}-${i}.img`, s));
  const unchanged = async (images: string[], attempt: () => unknown, check: (e: any) => boolean) => {
    const before = images.map(hashOf);
    assert.throws(attempt as () => void, (e: any) => check(e));
    assert.deepEqual(images.map(hashOf), before);
  };

  test('one holds a signature (no force): EEXIST naming it; the others untouched too', async () => {
    const list = trio('sig');
    execFileSync('mkfs.ext4', ['-q', '-F', list[1]!]);
    await unchanged(list, () => mkfsSync(list), (e) => e.code === 'EEXIST' && e.message.includes(list[1]!) && /ext4/.test(e.message));
    const before = list.map(hashOf);
    await assert.rejects(mkfs(list), (e: any) => e.code === 'EEXIST');
    assert.deepEqual(list.map(hashOf), before);
  });

  test('one too small for the layout: RangeError with the minimum, nothing written anywhere', async () => {
    const images = trio('small', [512 * MiB, 100 * MiB, 512 * MiB]);
    execFileSync('mkfs.btrfs', ['-q', '-f', '-d', 'raid1', images[0]!, images[2]!]); // something to lose
    await unchanged(images, () => mkfsSync(images, { dataProfile: 'raid1', force: true }), (e) => e instanceof RangeError && /125 MiB/.test(e.message) && e.message.includes(images[1]!));
  });

  test('no room for a chunk on devices of very different sizes: RangeError, unchanged', async () => {
    const images = trio('room', [1536 * MiB, 130 * MiB, 130 * MiB]);
    await unchanged(images, () => mkfsSync(images, { metadataProfile: 'raid10', dataProfile: 'raid5' }), (e) => e instanceof RangeError && /no room for a raid5 data chunk/.test(e.message));
    // mkfs.btrfs refuses the same layout ("not enough free space to allocate chunk").
    assert.throws(() => execFileSync('mkfs.btrfs', ['-q', '-f', '-m', 'raid10', '-d', 'raid5', ...images], { stdio: 'pipe' }));
  });

  test('one missing: ENOENT, the others unchanged', async () => {
    const images = trio('missing');
    const list = [images[0]!, join(dir.dir, 'not-there.img'), images[1]!];
    await unchanged(images, () => mkfsSync(list), (e) => e.code === 'ENOENT');
  });

  test('the same file under two names (symlink, hard link, relative path): refused, unchanged', async () => {
    const [img] = trio('twice');
    const link = join(dir.dir, 'twice-link.img');
    const hard = join(dir.dir, 'twice-hard.img');
    execFileSync('ln', ['-sf', img!, link]);
    execFileSync('ln', ['-f', img!, hard]);
    const rel = `${img!.replace(/\/([^/]+)$/, '/./$1')}`;
    for (const other of [link, hard, rel]) {
      await unchanged([img!], () => mkfsSync([img!, other]), (e) => e instanceof TypeError && (e as any).code === 'ERR_INVALID_ARG_VALUE' && /twice/.test(e.message));
      await assert.rejects(mkfs([other, img!]), (e: any) => e.code === 'ERR_INVALID_ARG_VALUE');
    }
  });
});

describe('several devices, root: the same device twice, and a mounted member', { skip: needsRoot }, () => {
  test('a loop device and its own backing file, or two names of one loop device: refused, unchanged', () => {
    const img = dir.image('loop-twice.img', 256 * MiB);
    const other = dir.image('loop-twice-2.img', 256 * MiB);
    const loop = execFileSync('losetup', ['--find', '--show', img], { encoding: 'utf8' }).trim();
    const alias = join(dir.dir, 'loop-alias');
    try {
      execFileSync('ln', ['-sf', loop, alias]);
      for (const list of [[loop, img], [img, loop], [loop, alias, other]]) {
        const before = [img, other].map(hashOf);
        expectCode(() => mkfsSync(list), TypeError, 'ERR_INVALID_ARG_VALUE');
        assert.deepEqual([img, other].map(hashOf), before);
      }
    } finally {
      execFileSync('losetup', ['-d', loop]);
    }
  });

  test('a member of a mounted multi-device btrfs: EBUSY even with force, every device unchanged', () => {
    const images = [0, 1, 2].map((i) => dir.image(`member-${i}.img`, 256 * MiB));
    const loops = images.slice(0, 2).map((img) => execFileSync('losetup', ['--find', '--show', img], { encoding: 'utf8' }).trim());
    const mnt = join(dir.dir, 'mnt-member');
    mkdirSync(mnt, { recursive: true });
    try {
      mkfsSync(loops, { force: true });
      execFileSync('mount', [loops[0]!, mnt]);
      try {
        execFileSync('btrfs', ['filesystem', 'sync', mnt]);
        const before = images.map(hashOf);
        // loops[1] is not the mounted source, yet it is a member of the mounted filesystem.
        expectCode(() => mkfsSync([images[2]!, loops[1]!], { force: true }), Error, 'EBUSY');
        assert.deepEqual(images.map(hashOf), before);
      } finally {
        execFileSync('umount', [mnt]);
      }
    } finally {
      for (const loop of loops) {
        try {
          execFileSync('btrfs', ['device', 'scan', '--forget', loop]);
        } catch {
          // not registered
        }
        execFileSync('losetup', ['-d', loop]);
      }
    }
  });
});

test('async form: devices are examined, prepared and written concurrently (one step per device at once)', async () => {
  const { checkMkfsArgs } = await import('../../src/mkfs/options');
  const { mkfsOp } = await import('../../src/mkfs/write');
  const { execSync } = await import('../../src/mkfs/io');
  const images = [0, 1, 2, 3].map((i) => dir.image(`conc-${i}.img`, 256 * MiB));
  const op = mkfsOp(checkMkfsArgs(images, { metadataProfile: 'raid1c4', dataProfile: 'raid6' }));
  const batches: number[] = [];
  let next = op.next();
  while (!next.done) {
    if (next.value.op === 'all') batches.push(next.value.ops.length);
    next = op.next(execSync(next.value));
  }
  // identify, examine, discard + wipe, tree blocks, final fsync: each one batch over all four.
  assert.deepEqual(batches, [4, 4, 4, 4, 4]);
  assert.match(execFileSync('btrfs', ['inspect-internal', 'dump-super', images[3]!], { encoding: 'utf8' }), /num_devices\s+4/);
});
