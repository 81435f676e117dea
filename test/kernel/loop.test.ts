/**
 * Loop devices and btrfs device registration against the kernel, with losetup/sysfs and the kernel's
 * own answers as the oracle.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { closeSync, constants as fsc, ftruncateSync, openSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setLegacyIoctls } from '../../src/features';
import * as btrfs from '../../src/index';
import { LOOP_CTL_REMOVE } from '../../src/kernel/loop';
import { native } from '../../src/native';
import { loopsBelow, mountsBelow, needsRoot, openFds, type ScratchImages, scratchImages } from '../helpers/scratch';

/** `losetup --list --json` rows for devices backed by files below `dir`. */
function losetup(dir: string): { name: string; 'back-file': string; offset: number | string; sizelimit: number | string; ro: boolean | string; autoclear: boolean | string; dio: boolean | string }[] {
  const out = JSON.parse(execFileSync('losetup', ['--list', '--json', '-O', 'NAME,BACK-FILE,OFFSET,SIZELIMIT,RO,AUTOCLEAR,DIO'], { encoding: 'utf8' }) || '{"loopdevices":[]}');
  return out.loopdevices.filter((row: { 'back-file': string }) => row['back-file']?.startsWith(`${dir}/`));
}

const truthy = (v: unknown) => v === true || v === '1' || v === 1;

describe('loop devices (kernel)', { skip: needsRoot }, () => {
  let s: ScratchImages;
  before(() => {
    s = scratchImages({ count: 1, mkfs: false, size: 64 * 1024 ** 2 });
  });
  after(() => s?.cleanup());

  it('attach with options; loopDevices and losetup agree; detach', async () => {
    const image = s.images[0]!;
    const loop = await btrfs.attachLoopDevice(image, { offset: 1 << 20, sizeLimit: 16 << 20, readOnly: true, directIo: false });
    try {
      assert.match(loop.path, /^\/dev\/loop\d+$/);
      assert.equal(loop.path, `/dev/loop${loop.number}`);
      assert.equal(loop.backingFile, image);
      const ours = (await btrfs.loopDevices()).find((l) => l.path === loop.path);
      assert.deepEqual(ours, {
        path: loop.path,
        number: loop.number,
        backingFile: image,
        offset: 1 << 20,
        sizeLimit: 16 << 20,
        autoclear: false,
        readOnly: true,
        directIo: false,
        partscan: false,
      });
      const row = losetup(s.dir).find((r) => r.name === loop.path)!;
      assert.equal(Number(row.offset), 1 << 20);
      assert.equal(Number(row.sizelimit), 16 << 20);
      assert.ok(truthy(row.ro));
      assert.equal(execFileSync('blockdev', ['--getsize64', loop.path], { encoding: 'utf8' }).trim(), String(16 << 20));
    } finally {
      await loop.detach();
    }
    assert.deepEqual(loopsBelow(s.dir), []);
    assert.deepEqual(losetup(s.dir), []);
    const notAttached = { name: 'BtrfsError', code: 'ENXIO', kind: 'LOOP_CLEAR_FAILED', syscall: 'ioctl', path: loop.path };
    await assert.rejects(btrfs.detachLoopDevice(loop.path), notAttached);
    assert.throws(() => btrfs.detachLoopDeviceSync(loop.number), notAttached);
  });

  it('autoclear: the handle holds the device; closing it releases the device', async () => {
    const image = s.images[0]!;
    const loop = btrfs.attachLoopDeviceSync(image, { autoclear: true, directIo: true, partscan: true });
    assert.equal(typeof loop.fd, 'number');
    const info = btrfs.loopDevicesSync().find((l) => l.path === loop.path)!;
    assert.equal(info.autoclear, true);
    assert.equal(info.partscan, true);
    assert.equal(info.directIo, true);
    assert.equal(readFileSync(`/sys/block/loop${loop.number}/loop/dio`, 'utf8').trim(), '1');
    await loop.close();
    await loop.close();
    for (let i = 0; i < 100 && loopsBelow(s.dir).length > 0; i++) await new Promise((r) => setTimeout(r, 20));
    assert.deepEqual(loopsBelow(s.dir), []);
  });

  it('autoclear: detach() clears the device through the held descriptor (Sync and Promise), no fd left', async () => {
    const fds = openFds();
    const image = s.images[0]!;
    const sync = btrfs.attachLoopDeviceSync(image, { autoclear: true });
    sync.detachSync();
    const later = await btrfs.attachLoopDevice(image, { autoclear: true });
    await later.detach();
    for (let i = 0; i < 100 && loopsBelow(s.dir).length > 0; i++) await new Promise((r) => setTimeout(r, 20));
    assert.deepEqual(loopsBelow(s.dir), []);
    assert.deepEqual(losetup(s.dir), []);
    assert.deepEqual(openFds(), fds);
  });

  it('50 concurrent attaches get 50 distinct devices (EBUSY races retried); all detach; no fd leak', async () => {
    const fds = openFds();
    const images = Array.from({ length: 50 }, (_, i) => `${s.dir}/many${i}.img`);
    for (const image of images) {
      const fd = openSync(image, 'w');
      ftruncateSync(fd, 1 << 20);
      closeSync(fd);
    }
    const loops = await Promise.all(images.map((image) => btrfs.attachLoopDevice(image)));
    try {
      assert.equal(new Set(loops.map((l) => l.path)).size, 50, 'no two attaches share a device');
      const listed = new Map(btrfs.loopDevicesSync().map((l) => [l.path, l.backingFile]));
      for (const loop of loops) assert.equal(listed.get(loop.path), loop.backingFile);
    } finally {
      await Promise.all(loops.map((l) => l.detach()));
    }
    for (let i = 0; i < 100 && loopsBelow(s.dir).length > 0; i++) await new Promise((r) => setTimeout(r, 20));
    assert.deepEqual(loopsBelow(s.dir), []);
    assert.deepEqual(openFds(), fds);
  });

  it('the LOOP_SET_FD + LOOP_SET_STATUS64 fallback gives the same device', async () => {
    setLegacyIoctls(true);
    try {
      const loop = await btrfs.attachLoopDevice(s.images[0]!, { offset: 4096, autoclear: false, readOnly: true });
      try {
        const info = btrfs.loopDevicesSync().find((l) => l.path === loop.path)!;
        assert.equal(info.offset, 4096);
        assert.equal(info.readOnly, true);
        assert.equal(info.backingFile, s.images[0]);
      } finally {
        loop.detachSync();
      }
    } finally {
      setLegacyIoctls(false);
    }
    assert.deepEqual(loopsBelow(s.dir), []);
  });

  it('the device detached last is tried first; taken meanwhile, or gone, another free one is used', async () => {
    const fds = openFds();
    const [image, other] = [s.images[0]!, `${s.dir}/other.img`];
    const fd = openSync(other, 'w');
    ftruncateSync(fd, 1 << 20);
    closeSync(fd);
    const first = btrfs.attachLoopDeviceSync(image);
    first.detachSync();
    // Free again: the next attach (Sync or Promise) binds the same device, as GET_FREE would.
    const again = await btrfs.attachLoopDevice(image);
    assert.equal(again.path, first.path);
    await again.detach();
    // Another process binds it before our next attach: that attach must leave it alone (Sync, and
    // Promise, whose guess is one call of its own).
    for (const attach of [btrfs.attachLoopDeviceSync, btrfs.attachLoopDevice]) {
      const guess = await attach(image);
      guess.detachSync();
      const taken = execFileSync('losetup', ['--show', guess.path, other], { encoding: 'utf8' }).trim();
      assert.equal(taken, guess.path);
      try {
        const elsewhere = await attach(image);
        try {
          assert.notEqual(elsewhere.path, guess.path);
          assert.equal(readFileSync(`/sys/block/loop${guess.number}/loop/backing_file`, 'utf8').trim(), other, 'the taken device is untouched');
          assert.equal(btrfs.loopDevicesSync().find((l) => l.path === elsewhere.path)?.backingFile, image);
        } finally {
          elsewhere.detachSync();
        }
      } finally {
        execFileSync('losetup', ['-d', guess.path]);
      }
    }
    // A missing image after a detach: OPEN_FAILED on the image, and the guessed device stays free.
    const last = btrfs.attachLoopDeviceSync(image);
    await last.detach();
    const missing = { name: 'BtrfsError', code: 'ENOENT', kind: 'OPEN_FAILED', syscall: 'open', path: `${s.dir}/missing.img` };
    await assert.rejects(btrfs.attachLoopDevice(`${s.dir}/missing.img`), missing);
    assert.throws(() => readFileSync(`/sys/block/loop${last.number}/loop/backing_file`), { code: 'ENOENT' });
    btrfs.attachLoopDeviceSync(image).detachSync();
    assert.throws(() => btrfs.attachLoopDeviceSync(`${s.dir}/missing.img`), missing);
    // A relative image path: the device's backing file is the absolute one.
    const relative = btrfs.attachLoopDeviceSync(path.relative(process.cwd(), image));
    assert.equal(relative.backingFile, image);
    assert.equal(readFileSync(`/sys/block/loop${relative.number}/loop/backing_file`, 'utf8').trim(), image);
    relative.detachSync();
    // The guessed device removed (LOOP_CTL_REMOVE): the attach asks GET_FREE instead.
    const removable = btrfs.attachLoopDeviceSync(image);
    removable.detachSync();
    assert.ok(native().ioctlAt('/dev/loop-control', fsc.O_RDWR, LOOP_CTL_REMOVE, removable.number) >= 0);
    const after = await btrfs.attachLoopDevice(image, { autoclear: true });
    await after.detach();
    assert.deepEqual(loopsBelow(s.dir), []);
    assert.deepEqual(openFds(), fds);
  });

  it('bad input: errors before anything is attached', async () => {
    await assert.rejects(btrfs.attachLoopDevice(`${s.dir}/missing.img`), { name: 'BtrfsError', code: 'ENOENT', kind: 'OPEN_FAILED' });
    await assert.rejects(btrfs.attachLoopDevice(s.dir), { code: 'EISDIR' });
    await assert.rejects(btrfs.attachLoopDevice(s.images[0]!, { offset: -1 }), { name: 'RangeError' });
    await assert.rejects(btrfs.attachLoopDevice(s.images[0]!, { sizeLimit: 1.5 }), { name: 'RangeError' });
    await assert.rejects(btrfs.attachLoopDevice(s.images[0]!, { readOnly: 'yes' as unknown as boolean }), { name: 'TypeError' });
    await assert.rejects(btrfs.detachLoopDevice('/dev/sda'), { code: 'ERR_INVALID_ARG_VALUE' });
    await assert.rejects(btrfs.detachLoopDevice(-1), { name: 'RangeError' });
    assert.deepEqual(loopsBelow(s.dir), []);
  });
});

describe('btrfs device registration (kernel)', { skip: needsRoot }, () => {
  let s: ScratchImages;
  const loops: btrfs.LoopDevice[] = [];
  before(async () => {
    s = scratchImages({ count: 2, size: 512 * 1024 ** 2, mkfs: ['-d', 'raid1', '-m', 'raid1'] });
    for (const image of s.images) loops.push(await btrfs.attachLoopDevice(image));
  });
  after(() => {
    for (const d of mountsBelow(s.dir)) btrfs.umountSync(d, { flags: btrfs.UmountFlags.DETACH });
    for (const loop of loops) {
      try {
        btrfs.forgetDeviceSync(loop.path);
      } catch {
        // still mounted or already gone
      }
    }
    s?.cleanup();
  });

  it('a two-device filesystem mounts after scanning both devices, and not once the kernel forgot them', async () => {
    const [a, b] = loops.map((l) => l.path) as [string, string];
    await btrfs.forgetDevice(a);
    btrfs.forgetDeviceSync(b);
    await assert.rejects(btrfs.mount(a, s.mnt), { name: 'BtrfsError', code: 'ENOENT', syscall: 'mount' });
    assert.equal(await btrfs.isDeviceReady(a), false, 'only a is known now (ready registers it)');
    await btrfs.scanDevice(b);
    assert.equal(btrfs.isDeviceReadySync(a), true);
    await btrfs.mount(a, s.mnt);
    try {
      assert.ok(mountsBelow(s.dir).includes(s.mnt));
      const show = execFileSync('btrfs', ['filesystem', 'show', s.mnt], { encoding: 'utf8' });
      assert.match(show, /Total devices 2/);
      assert.ok(!/missing/i.test(show), show);
      await assert.rejects(btrfs.forgetDevice(a), { code: 'EBUSY', kind: 'FORGET_DEV_FAILED' });
    } finally {
      await btrfs.umount(s.mnt);
    }
    btrfs.forgetDeviceSync(a);
    btrfs.forgetDeviceSync(b);
    btrfs.scanDeviceSync(a);
    btrfs.scanDeviceSync(b);
    btrfs.mountSync(b, s.mnt); // by the other device this time
    btrfs.umountSync(s.mnt);
  });

  it('refusals: regular file ENOTBLK, missing ENOENT; forgetting an unregistered device is fine', async () => {
    await assert.rejects(btrfs.scanDevice(s.images[0]!), { name: 'BtrfsError', code: 'ENOTBLK', kind: 'SCAN_DEV_FAILED', path: s.images[0] });
    assert.throws(() => btrfs.scanDeviceSync(`${s.dir}/missing`), { code: 'ENOENT', kind: 'SCAN_DEV_FAILED' });
    await assert.rejects(btrfs.isDeviceReady('/dev/null'), { code: 'ENOTBLK', kind: 'DEVICES_READY_FAILED' });
    await btrfs.forgetDevice(loops[0]!.path);
    await btrfs.forgetDevice(loops[0]!.path); // already forgotten: still 0
    await assert.rejects(btrfs.forgetDevice(`${s.dir}/missing`), { code: 'ENOENT', kind: 'FORGET_DEV_FAILED' });
    assert.throws(() => btrfs.scanDeviceSync(''), { name: 'TypeError' });
  });
});
