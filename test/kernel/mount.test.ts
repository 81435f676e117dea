/**
 * mount/umount against the kernel: flags and options as /proc/self/mountinfo shows them, read-only
 * binds that are read-only, image files through autoclear loop devices, and the kernel's refusals.
 */
import assert from 'node:assert/strict';
import { mkdirSync, openSync, closeSync, writeFileSync, chmodSync, readFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import * as btrfs from '../../src/index';
import { loopsBelow, mountsBelow, needsRoot, type ScratchImages, scratchImages } from '../helpers/scratch';

interface MountInfo {
  root: string;
  target: string;
  options: string[];
  fstype: string;
  source: string;
  superOptions: string[];
}

/** The mountinfo line for `target` (the top one when stacked). */
function mountInfo(target: string): MountInfo | undefined {
  let found: MountInfo | undefined;
  for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    const [left, right] = line.split(' - ');
    if (!left || !right) continue;
    const f = left.split(' ');
    const r = right.split(' ');
    if (f[4] !== target) continue;
    found = { root: f[3]!, target: f[4]!, options: f[5]!.split(','), fstype: r[0]!, source: r[1]!, superOptions: r[2]!.split(',') };
  }
  return found;
}

async function waitUntil(predicate: () => boolean, ms = 2000): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (predicate()) return true;
    await new Promise((r) => setTimeout(r, 20));
  }
  return predicate();
}

describe('mount and umount (kernel)', { skip: needsRoot }, () => {
  let s: ScratchImages;
  let image: string;
  let m: string;
  before(() => {
    s = scratchImages();
    image = s.images[0]!;
    m = s.mnt;
  });
  after(() => s?.cleanup());

  it('mounts an image file with { loop: true }; umount leaves no loop device attached', async () => {
    await btrfs.mount(image, m, { loop: true, data: { compress: 'zstd', space_cache: 'v2' } });
    const info = mountInfo(m);
    assert.ok(info, 'mounted');
    assert.equal(info.fstype, 'btrfs');
    assert.match(info.source, /^\/dev\/loop\d+$/);
    assert.ok(info.superOptions.some((o) => o.startsWith('compress=zstd')), info.superOptions.join());
    assert.ok(info.superOptions.includes('space_cache=v2'));
    assert.deepEqual(loopsBelow(s.dir), [info.source]);
    assert.equal(btrfs.loopDevicesSync().find((l) => l.path === info.source)?.autoclear, true);
    writeFileSync(`${m}/file`, 'hello');
    await btrfs.umount(m);
    assert.equal(mountInfo(m), undefined);
    assert.ok(await waitUntil(() => loopsBelow(s.dir).length === 0), 'the autoclear loop device went with the unmount');
    // Sync twin, and a failed mount releases its loop device too
    btrfs.mountSync(image, m, { loop: true });
    assert.equal(readFileSync(`${m}/file`, 'utf8'), 'hello');
    btrfs.umountSync(m);
    assert.throws(() => btrfs.mountSync(image, m, { loop: true, data: 'bogusopt' }), { name: 'BtrfsError', code: 'EINVAL', syscall: 'mount', path: m, kind: 'MOUNT_FAILED' });
    assert.ok(await waitUntil(() => loopsBelow(s.dir).length === 0));
  });

  it('read-only: writes fail with EROFS; remount read-write; mountinfo shows ro/rw', async () => {
    await btrfs.mount(image, m, { loop: true, flags: btrfs.MountFlags.RDONLY });
    try {
      assert.ok(mountInfo(m)!.options.includes('ro'));
      assert.throws(() => writeFileSync(`${m}/x`, 'x'), { code: 'EROFS' });
      // the loop device itself is read-only, so a read-write remount is refused by the kernel
      await assert.rejects(btrfs.mount(null, m, { flags: btrfs.MountFlags.REMOUNT }), { code: 'EACCES' });
    } finally {
      await btrfs.umount(m);
    }
    await btrfs.mount(image, m, { loop: true });
    try {
      await btrfs.mount(null, m, { flags: btrfs.MountFlags.REMOUNT | btrfs.MountFlags.RDONLY });
      assert.ok(mountInfo(m)!.options.includes('ro'));
      assert.throws(() => writeFileSync(`${m}/x`, 'x'), { code: 'EROFS' });
      btrfs.mountSync(null, m, { flags: btrfs.MountFlags.REMOUNT });
      assert.ok(mountInfo(m)!.options.includes('rw'));
      writeFileSync(`${m}/x`, 'x');
      await btrfs.mount(null, m, { flags: btrfs.MountFlags.REMOUNT, data: { compress: 'zstd' } });
      assert.ok(mountInfo(m)!.superOptions.some((o) => o.startsWith('compress=zstd')));
    } finally {
      await btrfs.umount(m);
    }
  });

  it('subvol= mounts that subvolume; mountinfo shows it', async () => {
    await btrfs.mount(image, m, { loop: true });
    try {
      await btrfs.createSubvolume(`${m}/home`);
      writeFileSync(`${m}/home/inside`, 'x');
    } finally {
      await btrfs.umount(m);
    }
    await btrfs.mount(image, m, { loop: true, flags: btrfs.MountFlags.NOATIME, data: btrfs.mountData({ subvol: 'home', ssd: false }) });
    try {
      const info = mountInfo(m)!;
      assert.equal(info.root, '/home');
      assert.ok(info.superOptions.includes('subvol=/home'), info.superOptions.join());
      assert.ok(info.options.includes('noatime'));
      assert.equal(readFileSync(`${m}/inside`, 'utf8'), 'x');
      await assert.rejects(btrfs.mount(image, `${s.dir}/nope`, { loop: true }), { code: 'ENOENT', path: `${s.dir}/nope` });
    } finally {
      await btrfs.umount(m);
    }
    assert.ok(await waitUntil(() => loopsBelow(s.dir).length === 0));
  });

  it('bind mounts: plain, read-only (two mount calls), noexec honoured', async () => {
    await btrfs.mount(image, m, { loop: true });
    const bindRo = `${s.dir}/bind-ro`;
    const bindRw = `${s.dir}/bind-rw`;
    const noexec = `${s.dir}/noexec`;
    for (const d of [bindRo, bindRw, noexec]) mkdirSync(d);
    try {
      writeFileSync(`${m}/script.sh`, '#!/bin/sh\necho ran\n');
      chmodSync(`${m}/script.sh`, 0o755);
      await btrfs.mount(m, bindRw, { flags: btrfs.MountFlags.BIND });
      writeFileSync(`${bindRw}/via-bind`, 'x');
      assert.equal(readFileSync(`${m}/via-bind`, 'utf8'), 'x');

      await btrfs.mount(m, bindRo, { flags: btrfs.MountFlags.BIND | btrfs.MountFlags.RDONLY });
      assert.ok(mountInfo(bindRo)!.options.includes('ro'), mountInfo(bindRo)!.options.join());
      assert.throws(() => writeFileSync(`${bindRo}/x`, 'x'), { code: 'EROFS' });
      writeFileSync(`${m}/still-rw`, 'x'); // the original stays read-write

      btrfs.mountSync(m, noexec, { flags: btrfs.MountFlags.BIND | btrfs.MountFlags.NOEXEC });
      assert.ok(mountInfo(noexec)!.options.includes('noexec'));
      assert.equal(spawnSync(`${m}/script.sh`, { encoding: 'utf8' }).stdout, 'ran\n');
      const refused = spawnSync(`${noexec}/script.sh`);
      assert.equal((refused.error as NodeJS.ErrnoException | undefined)?.code, 'EACCES');
    } finally {
      for (const d of [noexec, bindRo, bindRw]) if (mountInfo(d)) btrfs.umountSync(d);
      await btrfs.umount(m);
    }
    assert.ok(await waitUntil(() => loopsBelow(s.dir).length === 0), 'binds gone, the loop device released');
  });

  it('umount: EBUSY while a file is open, DETACH succeeds and the filesystem lives on until closed', async () => {
    // Earlier tests' autoclear devices are released asynchronously: start from none.
    assert.ok(await waitUntil(() => loopsBelow(s.dir).length === 0));
    await btrfs.mount(image, m, { loop: true });
    const fd = openSync(`${m}/held`, 'w');
    try {
      await assert.rejects(btrfs.umount(m), { name: 'BtrfsError', code: 'EBUSY', syscall: 'umount2', path: m, kind: 'UMOUNT_FAILED' });
      assert.ok(mountInfo(m));
      await btrfs.umount(m, { flags: btrfs.UmountFlags.DETACH });
      assert.equal(mountInfo(m), undefined);
      writeFileSync(fd, 'still writable through the open descriptor');
      assert.equal(loopsBelow(s.dir).length, 1, 'device busy until the last descriptor closes');
    } finally {
      closeSync(fd);
    }
    assert.ok(await waitUntil(() => loopsBelow(s.dir).length === 0));
  });

  it("the kernel's refusals come back as fs-style errors with the target as path", async () => {
    await assert.rejects(btrfs.mount(image, m), { code: 'ENOTBLK', errno: -15, syscall: 'mount', path: m });
    await assert.rejects(btrfs.mount('/dev/does-not-exist', m), { code: 'ENOENT' });
    await assert.rejects(btrfs.mount(image, `${image}`, { loop: true }), { code: 'ENOTDIR' });
    await assert.rejects(btrfs.mount(image, m, { loop: true, fstype: 'nosuchfs' }), { code: 'ENODEV' });
    assert.ok(await waitUntil(() => loopsBelow(s.dir).length === 0), 'failed loop mounts release their device');
    await assert.rejects(btrfs.umount(m), { code: 'EINVAL', syscall: 'umount2' });
    await assert.rejects(btrfs.umount(`${s.dir}/missing`), { code: 'ENOENT' });
    assert.deepEqual(mountsBelow(s.dir), []);
  });

  it('bad arguments: TypeError/RangeError before any syscall', async () => {
    assert.equal(btrfs.mountData({ compress: 'zstd', space_cache: 'v2', ssd: true, subvol: 'home' }), 'compress=zstd,space_cache=v2,ssd,subvol=home');
    assert.equal(btrfs.mountData({ a: false, b: undefined, c: null, commit: 30 }), 'commit=30');
    assert.throws(() => btrfs.mountData({ subvol: 'a,b' }), { name: 'TypeError', code: 'ERR_INVALID_ARG_VALUE' });
    assert.throws(() => btrfs.mountData({ subvol: 'a\nb' }), { code: 'ERR_INVALID_ARG_VALUE' });
    assert.throws(() => btrfs.mountData({ 'a=b': true }), { code: 'ERR_INVALID_ARG_VALUE' });
    assert.throws(() => btrfs.mountData({ x: {} as unknown as string }), { code: 'ERR_INVALID_ARG_TYPE' });
    await assert.rejects(btrfs.mount(image, m, { data: { subvol: 'x,ro' } }), { code: 'ERR_INVALID_ARG_VALUE' });
    await assert.rejects(btrfs.mount(image, m, { flags: 1 << 30 }), { name: 'RangeError', code: 'ERR_OUT_OF_RANGE' });
    await assert.rejects(btrfs.mount(image, m, { flags: -1 }), { name: 'RangeError' });
    await assert.rejects(btrfs.mount(null, m), { code: 'ERR_INVALID_ARG_VALUE' });
    await assert.rejects(btrfs.umount(m, { flags: 0x100 }), { name: 'RangeError' });
    assert.throws(() => btrfs.umountSync(42 as unknown as string), { name: 'TypeError' });
    assert.deepEqual(mountsBelow(s.dir), []);
    assert.deepEqual(loopsBelow(s.dir), []);
  });

  it('MountFlags and UmountFlags carry the kernel values', () => {
    assert.equal(btrfs.MountFlags.RDONLY, 1);
    assert.equal(btrfs.MountFlags.BIND, 0x1000);
    assert.equal(btrfs.MountFlags.REC, 0x4000);
    assert.equal(btrfs.MountFlags.PRIVATE, 0x40000);
    assert.equal(btrfs.MountFlags.STRICTATIME, 0x1000000);
    assert.deepEqual(btrfs.UmountFlags, { FORCE: 1, DETACH: 2, EXPIRE: 4, NOFOLLOW: 8 });
  });
});
