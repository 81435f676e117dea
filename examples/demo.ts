/**
 * The whole library at work on throwaway image files, step by step (`npm run demo`, as root):
 * mkfs of a RAID1 filesystem on two loop-backed images, subvolumes and read-only snapshots, the
 * subvolume tree, quotas with a limit that a write hits, usage per qgroup, then unmount, detach
 * and delete everything. Nothing is left behind, even on Ctrl-C half way: every resource is
 * recorded as it is made and released in reverse order.
 */
import { mkdtempSync, rmSync, writeFileSync, closeSync, ftruncateSync, openSync } from 'node:fs';
import { mkdir, open } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { constants, tmpdir } from 'node:os';
import { join } from 'node:path';
import * as btrfs from '../src/index'; // in your project: from 'btrfs'

const MiB = 1024 * 1024;
const say = (text: string) => console.log(text);
const step = (n: number, text: string) => say(`\n[${n}] ${text}`);

/** What has been made so far, undone last-made-first. Synchronous, so it also runs on SIGINT. */
const undo: { what: string; run: () => void }[] = [];

function cleanup(): void {
  while (undo.length > 0) {
    const { what, run } = undo.pop()!;
    try {
      run();
      say(`    cleaned up: ${what}`);
    } catch (error) {
      say(`    could not clean up ${what}: ${(error as Error).message}`);
    }
  }
}

function size(bytes: number | null): string {
  return bytes === null ? 'none' : `${(bytes / MiB).toFixed(1)} MiB`;
}

export async function demo(): Promise<void> {
  step(1, 'Two sparse 1 GiB image files on loop devices');
  const dir = mkdtempSync(join(tmpdir(), 'btrfs-demo-'));
  undo.push({ what: dir, run: () => rmSync(dir, { recursive: true, force: true }) });
  const images = ['disk0.img', 'disk1.img'].map((name) => join(dir, name));
  const loops: btrfs.LoopDevice[] = [];
  for (const image of images) {
    const fd = openSync(image, 'w');
    ftruncateSync(fd, 1024 * MiB);
    closeSync(fd);
    const loop = await btrfs.attachLoopDevice(image);
    undo.push({ what: loop.path, run: () => loop.detachSync() });
    loops.push(loop);
    say(`    ${image} -> ${loop.path}`);
  }

  step(2, 'mkfs: RAID1 data and metadata across both devices (written by this library)');
  const made = await btrfs.mkfs(loops.map((l) => l.path), { label: 'demo', dataProfile: 'raid1', metadataProfile: 'raid1' });
  say(`    uuid ${made.uuid}, ${size(made.numBytes)} in all, profiles ${JSON.stringify(made.profiles)}`);
  for (const loop of loops) undo.push({ what: `btrfs registration of ${loop.path}`, run: () => btrfs.forgetDeviceSync(loop.path) });

  step(3, 'Mount by naming one device (the kernel knows both after the scan)');
  const mnt = join(dir, 'mnt');
  await mkdir(mnt);
  for (const loop of loops) await btrfs.scanDevice(loop.path);
  await btrfs.mount(loops[0]!.path, mnt, { data: { compress: 'zstd' } });
  undo.push({ what: `mount on ${mnt}`, run: () => btrfs.umountSync(mnt, { flags: btrfs.UmountFlags.DETACH }) });
  say(`    mounted on ${mnt} with compress=zstd`);

  step(4, 'Subvolumes and read-only snapshots');
  for (const name of ['home', 'www', 'www/uploads']) {
    await btrfs.createSubvolume(join(mnt, name));
    say(`    created subvolume ${name}`);
  }
  writeFileSync(join(mnt, 'www', 'index.html'), '<h1>hello</h1>\n');
  await mkdir(join(mnt, 'snapshots'));
  await btrfs.createSnapshot(join(mnt, 'www'), join(mnt, 'snapshots', 'www@1'), { readOnly: true, recursive: true });
  await btrfs.createSnapshot(join(mnt, 'home'), join(mnt, 'snapshots', 'home@1'), { readOnly: true });
  const snap = await btrfs.subvolumeInfo(join(mnt, 'snapshots', 'www@1'));
  const www = await btrfs.subvolumeInfo(join(mnt, 'www'));
  say(`    snapshots/www@1 is read-only: ${snap.readOnly}; its parent uuid is www's uuid: ${snap.parentUuid === www.uuid}`);

  step(5, 'The subvolume tree');
  const entries: btrfs.SubvolumeEntry[] = [];
  for await (const entry of btrfs.subvolumes(mnt, { top: 5, info: true })) entries.push(entry);
  for (const { path, id, info } of entries) {
    // Indent by subvolume nesting: how many listed subvolumes contain this one.
    const depth = entries.filter((e) => path.startsWith(`${e.path}/`)).length;
    say(`    ${'  '.repeat(depth)}${path}  (id ${id}${info!.readOnly ? ', read-only' : ''})`);
  }

  step(6, 'Quotas: a 32 MiB limit on www, then a write that hits it');
  await btrfs.quotaEnable(mnt);
  await btrfs.quotaRescanWait(mnt);
  const wwwGroup = btrfs.qgroupId(0, www.id);
  await btrfs.qgroupLimit(mnt, wwwGroup, { maxRfer: 32 * MiB });
  say(`    limit on ${btrfs.formatQgroupId(wwwGroup)}: 32 MiB referenced`);
  const file = await open(join(mnt, 'www', 'big.bin'), 'w');
  let written = 0;
  try {
    // Random bytes: zstd would shrink a repeated pattern to almost nothing, and the limit counts
    // what is stored.
    const chunk = randomBytes(MiB);
    for (let i = 0; i < 64; i++) {
      await file.write(chunk);
      written += chunk.length;
      if (i % 8 === 7) await file.sync(); // account as we go, so the limit bites
    }
    await file.sync();
    say(`    wrote ${size(written)} without hitting the limit (unexpected)`);
  } catch (error) {
    // Node has no name for EDQUOT (libuv lacks it): compare the number.
    const quota = (error as NodeJS.ErrnoException).errno === -constants.errno.EDQUOT;
    say(`    the write stopped after ${size(written)}: ${quota ? 'EDQUOT, disk quota exceeded, as the limit says' : (error as Error).message}`);
  } finally {
    await file.close().catch(() => undefined);
  }

  step(7, 'Usage per qgroup');
  await btrfs.sync(mnt);
  const names = new Map(entries.map((e) => [btrfs.qgroupId(0, e.id), e.path]));
  names.set(btrfs.qgroupId(0, 5), '<top level>');
  for (const group of await btrfs.qgroupInfo(mnt)) {
    const label = names.get(group.qgroupid) ?? '';
    say(`    ${btrfs.formatQgroupId(group.qgroupid).padEnd(8)} ${label.padEnd(22)} referenced ${size(group.rfer).padStart(10)}  exclusive ${size(group.excl).padStart(10)}  limit ${size(group.maxRfer)}`);
  }

  step(8, 'Unmount, detach, delete');
  cleanup();
  say('\nDone: nothing left mounted, attached or on disk.');
}

if (require.main === module) {
  if (process.geteuid?.() !== 0) {
    console.error('The demo makes loop devices and mounts: run it as root.');
    process.exit(1);
  }
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.on(signal, () => {
      say(`\n${signal}: cleaning up before exit`);
      cleanup();
      process.exit(130);
    });
  }
  demo().catch((error) => {
    console.error(`\ndemo failed: ${(error as Error).message}`);
    cleanup();
    process.exitCode = 1;
  });
}
