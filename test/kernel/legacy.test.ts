/**
 * The fallback to older ioctls (SUBVOL_CREATE, SNAP_CREATE, SNAP_DESTROY, TREE_SEARCH v1, info and
 * delete-by-id without GET_SUBVOL_INFO / SNAP_DESTROY_V2), forced on this kernel with the internal
 * switch, and checked against btrfs-progs like the default path.
 */
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { setLegacyIoctls } from '../../src/features';
import * as btrfs from '../../src/index';
import { orNull, subvolumeList, subvolumeShow } from '../helpers/oracle';
import { btrfsProgs, needsRoot, type Scratch, scratchBtrfs } from '../helpers/scratch';

describe('older ioctls, forced (kernel)', { skip: needsRoot }, () => {
  let s: Scratch;
  let m: string;
  before(() => {
    s = scratchBtrfs();
    m = s.mnt;
    setLegacyIoctls(true);
  });
  after(() => {
    setLegacyIoctls(false);
    s?.cleanup();
  });

  it('create, snapshot (read-only), info and path agree with btrfs-progs', async () => {
    await btrfs.createSubvolume(`${m}/a`);
    mkdirSync(`${m}/a/d`);
    btrfs.createSubvolumeSync(`${m}/a/d/b`);
    writeFileSync(`${m}/a/f`, 'x');
    await btrfs.createSnapshot(`${m}/a`, `${m}/a-ro`, { readOnly: true });
    btrfs.createSnapshotSync(`${m}/a`, `${m}/a-rw`);
    btrfs.syncSync(m); // TREE_SEARCH reads root items, which lag until commit
    for (const path of [`${m}/a`, `${m}/a-ro`, `${m}/a-rw`, `${m}/a/d/b`]) {
      const show = subvolumeShow(path);
      const info = await btrfs.subvolumeInfo(path); // no GET_SUBVOL_INFO: INO_LOOKUP + TREE_SEARCH v1
      assert.equal(info.id, Number(show['Subvolume ID']));
      assert.equal(info.uuid, orNull(show.UUID));
      assert.equal(info.parentUuid, orNull(show['Parent UUID']));
      assert.equal(info.generation, Number(show.Generation));
      assert.equal(info.readOnly, show.Flags === 'readonly');
    }
    assert.equal(btrfs.getSubvolumeReadOnlySync(`${m}/a-ro`), true);
    assert.equal(btrfs.getSubvolumeReadOnlySync(`${m}/a-rw`), false);
    assert.equal(btrfs.subvolumePathSync(`${m}/a/d/b`), 'a/d/b');
  });

  it('iteration with TREE_SEARCH v1 equals `btrfs subvolume list`', async () => {
    await Promise.all(Array.from({ length: 150 }, (_, i) => btrfs.createSubvolume(`${m}/a/s${i}`))); // more than one v1 page
    const progs = subvolumeList(m).map((r) => `${r.id} ${r.path}`).sort();
    const ours = [...btrfs.subvolumesSync(m, { top: 5 })].map((e) => `${e.id} ${e.path}`).sort();
    assert.deepEqual(ours, progs);
    assert.equal(btrfs.getDefaultSubvolumeSync(m), 5);
  });

  it('delete by name and by id (resolved to a name), recursive; deletedSubvolumes', async () => {
    await btrfs.deleteSubvolume(`${m}/a-rw`);
    const id = btrfs.subvolumeIdSync(`${m}/a/d/b`);
    // by id from the top level: the library finds a/d and deletes "b" there with SNAP_DESTROY v1
    await btrfs.deleteSubvolume(m, { id });
    assert.ok(!subvolumeList(m).some((r) => r.id === id));
    // from a directory that cannot reach the victim: refused, nothing deleted
    btrfs.createSubvolumeSync(`${m}/other`);
    const victim = btrfs.subvolumeIdSync(`${m}/a`);
    assert.throws(() => btrfs.deleteSubvolumeSync(`${m}/other`, { id: victim }), { kind: 'SUBVOLUME_NOT_FOUND' });
    assert.ok(subvolumeList(m).some((r) => r.id === victim));
    await btrfs.deleteSubvolume(`${m}/a`, { recursive: true });
    assert.deepEqual(subvolumeList(m).map((r) => r.path).sort(), ['a-ro', 'other']);
    btrfs.syncSync(m);
    btrfsProgs('subvolume', 'sync', m);
    assert.deepEqual(btrfs.deletedSubvolumesSync(m), []);
  });

  it('qgroupInherit cannot be honoured by the v1 ioctls: ENOTSUP (the name Node gives EOPNOTSUPP), nothing created', async () => {
    const before = subvolumeList(m);
    await assert.rejects(btrfs.createSubvolume(`${m}/q`, { qgroupInherit: ['1/100'] }), { code: 'ENOTSUP', kind: 'SUBVOL_CREATE_FAILED' });
    assert.throws(() => btrfs.createSnapshotSync(`${m}/other`, `${m}/q`, { qgroupInherit: [256] }), { code: 'ENOTSUP' });
    assert.deepEqual(subvolumeList(m), before);
  });
});
