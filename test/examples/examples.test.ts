/**
 * The scripts in examples/ run, as a user would run them, against a scratch filesystem: they cannot
 * rot, and each is checked for the effect it promises.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import * as btrfs from '../../src/index';
import { needsRoot, type Scratch, scratchBtrfs, scratchImages } from '../helpers/scratch';

const EXAMPLES = join(__dirname, '..', '..', 'examples');

function run(name: string, ...args: string[]): string {
  const result = spawnSync(process.execPath, [join(EXAMPLES, `${name}.js`), ...args], { encoding: 'utf8' });
  assert.equal(result.status, 0, `${name}: ${result.stderr}`);
  return result.stdout;
}

describe('examples/ (kernel)', { skip: needsRoot }, () => {
  let s: Scratch;
  let m: string;
  before(() => {
    s = scratchBtrfs();
    m = s.mnt;
  });
  after(() => s?.cleanup());

  it('snapshot-before-upgrade: success keeps the change; failure rolls back to the snapshot', () => {
    btrfs.createSubvolumeSync(`${m}/app`);
    writeFileSync(`${m}/app/VERSION`, '1.0\n');
    assert.match(run('snapshot-before-upgrade', `${m}/app`), /^upgraded/);
    assert.equal(readFileSync(`${m}/app/VERSION`, 'utf8'), '2.0\n');
    writeFileSync(`${m}/app/VERSION`, '1.0\n');
    assert.match(run('snapshot-before-upgrade', `${m}/app`, '--fail'), /^rolled back/);
    assert.equal(readFileSync(`${m}/app/VERSION`, 'utf8'), '1.0\n');
    assert.equal(btrfs.isSubvolumeSync(`${m}/app`), true);
    assert.equal(btrfs.getSubvolumeReadOnlySync(`${m}/app`), false);
    assert.deepEqual([...btrfs.subvolumesSync(m, { top: 5 })].map((e) => e.path), ['app'], 'no snapshot left behind');
  });

  it('retention: keeps the newest N snapshots of the source', () => {
    btrfs.createSubvolumeSync(`${m}/data`);
    btrfs.createSubvolumeSync(`${m}/snaps`);
    for (let i = 0; i < 5; i++) run('retention', `${m}/data`, `${m}/snaps`, '3');
    const kept = [...btrfs.subvolumesSync(`${m}/snaps`)];
    assert.equal(kept.length, 3);
    const uuid = btrfs.subvolumeInfoSync(`${m}/data`).uuid;
    for (const k of kept) assert.equal(btrfs.subvolumeInfoSync(`${m}/snaps/${k.path}`).parentUuid, uuid);
  });

  it('tenant-quotas: each tenant subvolume in its own limited level-1 qgroup', () => {
    const out = run('tenant-quotas', m, 'alice=64', 'bob=32');
    assert.match(out, /alice: subvolume \d+ in 1\/100, \d+ of 67108864 bytes used/);
    assert.match(out, /bob: subvolume \d+ in 1\/101, \d+ of 33554432 bytes used/);
    const groups = btrfs.qgroupInfoSync(m);
    const alice = btrfs.subvolumeIdSync(`${m}/alice`);
    const parent = groups.find((g) => g.qgroupid === btrfs.qgroupId(0, alice))!.parents;
    assert.deepEqual(parent, [btrfs.qgroupId(1, 100)]);
    btrfs.quotaDisableSync(m);
  });
});

describe('examples/mount-image-readonly (kernel)', { skip: needsRoot }, () => {
  let s: ReturnType<typeof scratchImages>;
  before(() => {
    s = scratchImages({ size: 256 * 1024 ** 2 });
  });
  after(() => s?.cleanup());

  it('lists the subvolumes of an image mounted read-only, and leaves nothing mounted', () => {
    btrfs.mountSync(s.images[0]!, s.mnt, { loop: true });
    btrfs.createSubvolumeSync(`${s.mnt}/inside`);
    btrfs.umountSync(s.mnt);
    const out = run('mount-image-readonly', s.images[0]!, s.mnt);
    assert.match(out, /^256 inside$/m);
    assert.equal(existsSync(`${s.mnt}/inside`), false, 'unmounted again');
  });
});
