/**
 * The subvolume API against the real kernel, checked against btrfs-progs on the same filesystem.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, openSync, closeSync, rmSync, statSync, writeFileSync, promises as fsp, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import * as btrfs from '../../src/index';
import { statx, STATX_MNT_ID_UNIQUE, STATX_SUBVOL, STATX_SUBVOL_OFFSET } from '../../src/kernel/stat';
import { native } from '../../src/native';
import { subvolumeList, subvolumeShow, orNull } from '../helpers/oracle';
import { btrfsProgs, needsRoot, openFds, type Scratch, scratchBtrfs } from '../helpers/scratch';

describe('subvolumes and snapshots (kernel, checked with btrfs-progs)', { skip: needsRoot }, () => {
  let s: Scratch;
  let m: string;
  before(() => {
    s = scratchBtrfs();
    m = s.mnt;
  });
  after(() => s?.cleanup());

  it('isSubvolume: true for subvolume roots, false for directories, files and non-btrfs paths', async () => {
    btrfs.createSubvolumeSync(`${m}/is`);
    mkdirSync(`${m}/is/dir`);
    writeFileSync(`${m}/is/file`, 'x');
    assert.equal(await btrfs.isSubvolume(m), true);
    assert.equal(btrfs.isSubvolumeSync(`${m}/is`), true);
    assert.equal(await btrfs.isSubvolume(`${m}/is/dir`), false);
    assert.equal(btrfs.isSubvolumeSync(`${m}/is/file`), false);
    assert.equal(await btrfs.isSubvolume('/proc'), false);
    assert.equal(btrfs.isSubvolumeSync('/proc'), false);
    // a descriptor and a FileHandle work too, and are not closed by the library
    const fd = openSync(`${m}/is`, 'r');
    try {
      assert.equal(btrfs.isSubvolumeSync(fd), true);
      assert.equal(await btrfs.isSubvolume(fd), true);
    } finally {
      closeSync(fd);
    }
    const handle = await fsp.open(`${m}/is/dir`, 'r');
    try {
      assert.equal(await btrfs.isSubvolume(handle), false);
      assert.equal((await handle.stat()).isDirectory(), true); // still open
    } finally {
      await handle.close();
    }
    await assert.rejects(btrfs.isSubvolume(`${m}/missing`), { name: 'BtrfsError', code: 'ENOENT', kind: 'STATFS_FAILED' });
  });

  it('isSubvolume remembers filesystem types by unique mount id, and a directory with inode 256 elsewhere is not a subvolume', async () => {
    // The kernel takes statx's STATX_MNT_ID_UNIQUE (6.8+, absent from the 6.1 headers): isSubvolume's
    // per-mount cache relies on these ids never being reused.
    const buf = Buffer.alloc(256);
    assert.equal(native().statx(-100, m, 0, STATX_MNT_ID_UNIQUE, buf), 0);
    assert.ok(buf.readUInt32LE(0) & STATX_MNT_ID_UNIQUE, 'the kernel reports a unique mount id');
    assert.ok(buf.readBigUInt64LE(statx.fields.stx_mnt_id.offset) >= 0x8000_0000n, 'unique ids start at 2^31, above the old ids');
    // A tmpfs directory whose inode number is 256: same inode as a btrfs subvolume root, other
    // filesystem. Asked twice (the second answer comes from the cache) and alternating with btrfs.
    const t = mkdtempSync(join(tmpdir(), 'btrfs-is-'));
    execFileSync('mount', ['-t', 'tmpfs', 'tmpfs', t]);
    try {
      let dir = '';
      for (let i = 0; i < 1000 && !dir; i++) {
        mkdirSync(`${t}/d${i}`);
        if (statSync(`${t}/d${i}`).ino === 256) dir = `${t}/d${i}`;
      }
      assert.ok(dir, 'tmpfs gave some directory inode 256');
      for (let round = 0; round < 2; round++) {
        assert.equal(btrfs.isSubvolumeSync(dir), false);
        assert.equal(await btrfs.isSubvolume(dir), false);
        assert.equal(btrfs.isSubvolumeSync(m), true);
        assert.equal(await btrfs.isSubvolume(m), true);
      }
    } finally {
      execFileSync('umount', [t]);
      rmSync(t, { recursive: true });
    }
  });

  it('subvolumeId equals `btrfs inspect-internal rootid`, for subvolumes, directories and files', async () => {
    btrfs.createSubvolumeSync(`${m}/idsv`);
    mkdirSync(`${m}/idsv/inner`);
    writeFileSync(`${m}/idsv/inner/f`, 'x');
    for (const path of [m, `${m}/idsv`, `${m}/idsv/inner`, `${m}/idsv/inner/f`]) {
      const expected = Number(btrfsProgs('inspect-internal', 'rootid', path).trim());
      assert.equal(await btrfs.subvolumeId(path), expected, path);
      assert.equal(btrfs.subvolumeIdSync(path), expected, path);
    }
    assert.equal(btrfs.subvolumeIdSync(m), 5);
    // On this kernel the answer comes from statx (STATX_SUBVOL, 6.10+, absent from the 6.1 headers):
    // check the kernel takes the bit and puts the id where STATX_SUBVOL_OFFSET says.
    const buf = Buffer.alloc(256);
    assert.equal(native().statx(-100, `${m}/idsv/inner/f`, 0, STATX_SUBVOL, buf), 0);
    assert.ok(buf.readUInt32LE(0) & STATX_SUBVOL, 'the kernel reports stx_subvol');
    assert.equal(Number(buf.readBigUInt64LE(STATX_SUBVOL_OFFSET)), btrfs.subvolumeIdSync(`${m}/idsv`));
    // a descriptor too (statx with AT_EMPTY_PATH), left open
    const fd = openSync(`${m}/idsv/inner`, 'r');
    try {
      assert.equal(btrfs.subvolumeIdSync(fd), btrfs.subvolumeIdSync(`${m}/idsv`));
      assert.equal(await btrfs.subvolumeId(fd), btrfs.subvolumeIdSync(`${m}/idsv`));
    } finally {
      closeSync(fd);
    }
  });

  it('subvolumeInfo matches `btrfs subvolume show` field by field, by path and by id', async () => {
    btrfs.createSubvolumeSync(`${m}/info`);
    mkdirSync(`${m}/info/d`);
    writeFileSync(`${m}/info/d/f`, 'data');
    await btrfs.createSnapshot(`${m}/info`, `${m}/info-snap`, { readOnly: true });
    btrfs.syncSync(m);
    for (const path of [m, `${m}/info`, `${m}/info-snap`]) {
      const show = subvolumeShow(path);
      const byPath = await btrfs.subvolumeInfo(path);
      const byId = btrfs.subvolumeInfoSync(m, byPath.id);
      for (const info of [byPath, byId, btrfs.subvolumeInfoSync(path)]) {
        assert.equal(info.id, Number(show['Subvolume ID']), path);
        assert.equal(info.uuid, orNull(show.UUID), path);
        assert.equal(info.parentUuid, orNull(show['Parent UUID']), path);
        assert.equal(info.receivedUuid, orNull(show['Received UUID']), path);
        assert.equal(info.generation, Number(show.Generation), path);
        assert.equal(info.otransid, Number(show['Gen at creation']), path);
        assert.equal(info.parentId, Number(show['Parent ID']), path);
        assert.equal(info.readOnly, show.Flags === 'readonly', path);
        assert.equal(info.flags & 1, show.Flags === 'readonly' ? 1 : 0);
        assert.equal(info.stransid, Number(show['Send transid']));
        assert.equal(info.rtransid, Number(show['Receive transid']));
        assert.ok(info.otime instanceof Date && info.ctime instanceof Date);
        // progs prints creation time to the second, in local time with an offset
        const created = new Date(show['Creation time']!.replace(' ', 'T').replace(/ ([+-]\d\d)(\d\d)$/, '$1:$2'));
        assert.ok(Math.abs(info.otime.getTime() - created.getTime()) < 1000, `${info.otime.toISOString()} vs ${show['Creation time']}`);
      }
    }
    const top = btrfs.subvolumeInfoSync(m);
    assert.equal(top.id, 5);
    assert.equal(top.parentId, 0);
    assert.equal(top.dirId, 0);
    const sub = btrfs.subvolumeInfoSync(`${m}/info`);
    assert.equal(sub.dirId, 256);
    const snap = btrfs.subvolumeInfoSync(`${m}/info-snap`);
    assert.equal(snap.parentUuid, sub.uuid);
    // JSON-friendly: a round trip keeps every number and string
    const json = JSON.parse(JSON.stringify(snap));
    assert.equal(json.id, snap.id);
    assert.equal(json.uuid, snap.uuid);
  });

  it('subvolumeInfo by id of a missing subvolume: SUBVOLUME_NOT_FOUND', async () => {
    await assert.rejects(btrfs.subvolumeInfo(m, 99999), { name: 'BtrfsError', kind: 'SUBVOLUME_NOT_FOUND', code: 'ENOENT' });
    assert.throws(() => btrfs.subvolumePathSync(m, 99999), { kind: 'SUBVOLUME_NOT_FOUND' });
  });

  it('subvolumePath equals the path `btrfs subvolume list` prints, for nested subvolumes in directories', async () => {
    btrfs.createSubvolumeSync(`${m}/p1`);
    mkdirSync(`${m}/p1/x/y`, { recursive: true });
    btrfs.createSubvolumeSync(`${m}/p1/x/y/p2`);
    btrfs.createSubvolumeSync(`${m}/p1/x/y/p2/p3`);
    const listed = subvolumeList(m);
    const ids = listed.map((r) => r.id);
    assert.ok(ids.length >= 3);
    for (const row of listed) {
      assert.equal(await btrfs.subvolumePath(m, row.id), row.path, `id ${row.id}`);
      assert.equal(btrfs.subvolumePathSync(`${m}/${row.path}`), row.path);
    }
    assert.equal(btrfs.subvolumePathSync(m), '');
    assert.equal(btrfs.subvolumePathSync(`${m}/p1/x/y/p2/p3`), 'p1/x/y/p2/p3');
  });

  it('read-only flag: get and set agree with `btrfs property get ro`', async () => {
    btrfs.createSubvolumeSync(`${m}/ro`);
    assert.equal(await btrfs.getSubvolumeReadOnly(`${m}/ro`), false);
    await btrfs.setSubvolumeReadOnly(`${m}/ro`);
    assert.equal(btrfsProgs('property', 'get', `${m}/ro`, 'ro').trim(), 'ro=true');
    assert.equal(btrfs.getSubvolumeReadOnlySync(`${m}/ro`), true);
    assert.throws(() => writeFileSync(`${m}/ro/f`, 'x'), { code: 'EROFS' });
    btrfs.setSubvolumeReadOnlySync(`${m}/ro`, false);
    assert.equal(btrfsProgs('property', 'get', `${m}/ro`, 'ro').trim(), 'ro=false');
    writeFileSync(`${m}/ro/f`, 'x');
    mkdirSync(`${m}/ro/plain`);
    assert.throws(() => btrfs.getSubvolumeReadOnlySync(`${m}/ro/plain`), { kind: 'NOT_SUBVOLUME', code: 'EINVAL' });
    await assert.rejects(btrfs.setSubvolumeReadOnly(`${m}/ro/plain`), { kind: 'NOT_SUBVOLUME' });
  });

  it('default subvolume: get and set agree with `btrfs subvolume get-default`', async () => {
    btrfs.createSubvolumeSync(`${m}/def`);
    assert.equal(await btrfs.getDefaultSubvolume(m), 5);
    const id = btrfs.subvolumeIdSync(`${m}/def`);
    await btrfs.setDefaultSubvolume(`${m}/def`);
    assert.match(btrfsProgs('subvolume', 'get-default', m), new RegExp(`^ID ${id} `));
    assert.equal(btrfs.getDefaultSubvolumeSync(m), id);
    btrfs.setDefaultSubvolumeSync(m, 5);
    assert.equal(btrfs.getDefaultSubvolumeSync(m), 5);
    assert.match(btrfsProgs('subvolume', 'get-default', m), /^ID 5 /);
    await assert.rejects(btrfs.setDefaultSubvolume(m, 424242), { kind: 'DEFAULT_SUBVOL_FAILED', code: 'ENOENT' });
  });

  it('createSubvolume: appears in `btrfs subvolume list`; refuses an existing name without changing anything', async () => {
    await btrfs.createSubvolume(`${m}/new1`);
    btrfs.createSubvolumeSync(new URL(`file://${m}/new2`));
    btrfs.createSubvolumeSync(Buffer.from(`${m}/new3/`));
    const paths = subvolumeList(m).map((r) => r.path);
    for (const name of ['new1', 'new2', 'new3']) assert.ok(paths.includes(name), name);
    const before = subvolumeList(m);
    await assert.rejects(btrfs.createSubvolume(`${m}/new1`), { kind: 'SUBVOL_CREATE_FAILED', code: 'EEXIST', path: `${m}/new1` });
    assert.throws(() => btrfs.createSubvolumeSync(`${m}/nodir/x`), { kind: 'OPEN_FAILED', code: 'ENOENT' });
    assert.deepEqual(subvolumeList(m), before);
  });

  it('createSnapshot: read-write and read-only, parent uuid set, contents shared', async () => {
    btrfs.createSubvolumeSync(`${m}/src`);
    writeFileSync(`${m}/src/file`, 'hello');
    await btrfs.createSnapshot(`${m}/src`, `${m}/snap-rw`);
    btrfs.createSnapshotSync(`${m}/src`, `${m}/snap-ro`, { readOnly: true });
    const src = btrfs.subvolumeInfoSync(`${m}/src`);
    for (const name of ['snap-rw', 'snap-ro']) {
      const info = btrfs.subvolumeInfoSync(`${m}/${name}`);
      assert.equal(info.parentUuid, src.uuid);
      assert.equal(orNull(subvolumeShow(`${m}/${name}`)['Parent UUID']), src.uuid);
      assert.equal(readdirSync(`${m}/${name}`).join(), 'file');
    }
    assert.equal(btrfs.getSubvolumeReadOnlySync(`${m}/snap-rw`), false);
    assert.equal(btrfs.getSubvolumeReadOnlySync(`${m}/snap-ro`), true);
    assert.equal(btrfsProgs('property', 'get', `${m}/snap-ro`, 'ro').trim(), 'ro=true');
    // from a descriptor
    const fd = openSync(`${m}/src`, 'r');
    try {
      await btrfs.createSnapshot(fd, `${m}/snap-fd`);
    } finally {
      closeSync(fd);
    }
    assert.equal(btrfs.subvolumeInfoSync(`${m}/snap-fd`).parentUuid, src.uuid);
    // refusals change nothing
    const before = subvolumeList(m);
    mkdirSync(`${m}/src/plain`);
    await assert.rejects(btrfs.createSnapshot(`${m}/src/plain`, `${m}/bad`), { kind: 'SNAP_CREATE_FAILED', code: 'EINVAL', dest: `${m}/bad` });
    assert.throws(() => btrfs.createSnapshotSync(`${m}/src`, `${m}/snap-rw`), { code: 'EEXIST' });
    assert.throws(() => btrfs.createSnapshotSync('/proc', `${m}/bad2`), { kind: 'SNAP_CREATE_FAILED', code: 'EXDEV' });
    assert.deepEqual(subvolumeList(m), before);
  });

  it('createSnapshot recursive: nested subvolumes are snapshotted in place, read-only when asked', async () => {
    btrfs.createSubvolumeSync(`${m}/tree`);
    mkdirSync(`${m}/tree/d`);
    btrfs.createSubvolumeSync(`${m}/tree/d/child`);
    btrfs.createSubvolumeSync(`${m}/tree/d/child/grandchild`);
    writeFileSync(`${m}/tree/d/child/grandchild/f`, 'deep');
    await btrfs.createSnapshot(`${m}/tree`, `${m}/tree-snap`, { recursive: true, readOnly: true });
    for (const rel of ['', '/d/child', '/d/child/grandchild']) {
      assert.equal(btrfs.isSubvolumeSync(`${m}/tree-snap${rel}`), true, rel);
      assert.equal(btrfs.getSubvolumeReadOnlySync(`${m}/tree-snap${rel}`), true, rel);
      assert.equal(btrfs.subvolumeInfoSync(`${m}/tree-snap${rel}`).parentUuid, btrfs.subvolumeInfoSync(`${m}/tree${rel}`).uuid);
    }
    const listed = subvolumeList(m).map((r) => r.path);
    assert.ok(listed.includes('tree-snap/d/child/grandchild'));
    // non-recursive leaves an empty placeholder (libbtrfsutil's behaviour)
    btrfs.createSnapshotSync(`${m}/tree`, `${m}/tree-flat`);
    assert.equal(btrfs.isSubvolumeSync(`${m}/tree-flat/d/child`), false);
  });

  it('createSnapshot recursive: a failure part-way removes what the call created', async () => {
    btrfs.createSubvolumeSync(`${m}/rb`);
    btrfs.createSubvolumeSync(`${m}/rb/inner`);
    const before = subvolumeList(m);
    // The destination's parent is read-only, so the top snapshot cannot even be made: nothing left.
    btrfs.createSubvolumeSync(`${m}/rb-ro`);
    btrfs.setSubvolumeReadOnlySync(`${m}/rb-ro`);
    await assert.rejects(btrfs.createSnapshot(`${m}/rb`, `${m}/rb-ro/snap`, { recursive: true }), { code: 'EROFS' });
    assert.deepEqual(subvolumeList(m).map((r) => r.path).sort(), [...before.map((r) => r.path), 'rb-ro'].sort());
  });

  it('createSnapshot recursive: a nested failure after the top snapshot exists rolls everything back', async () => {
    // A nested subvolume so deep that its placeholder path in the snapshot exceeds PATH_MAX: the top
    // snapshot succeeds, replacing the placeholder fails (ENAMETOOLONG), and the top must go again.
    btrfs.createSubvolumeSync(`${m}/deep`);
    const cwd = process.cwd();
    try {
      process.chdir(`${m}/deep`);
      for (let i = 0; i < 19; i++) {
        mkdirSync('d'.repeat(200));
        process.chdir('d'.repeat(200));
      }
      btrfs.createSubvolumeSync('inner');
    } finally {
      process.chdir(cwd);
    }
    const before = subvolumeList(m);
    assert.ok(before.some((r) => r.path.endsWith('/inner')));
    mkdirSync(`${m}/${'x'.repeat(200)}`);
    const dest = `${m}/${'x'.repeat(200)}/${'s'.repeat(200)}`;
    await assert.rejects(btrfs.createSnapshot(`${m}/deep`, dest, { recursive: true, readOnly: true }), {
      name: 'BtrfsError',
      kind: 'RMDIR_FAILED',
      code: 'ENAMETOOLONG',
    });
    assert.deepEqual(subvolumeList(m), before);
    assert.equal(btrfs.isSubvolumeSync(`${m}/deep`), true);
    assert.throws(() => btrfs.subvolumeIdSync(dest), { code: 'ENOENT' });
  });

  it('deleteSubvolume: by path, refuses nested without recursive, recursive, by id; deletedSubvolumes until cleaned', async () => {
    btrfs.createSubvolumeSync(`${m}/del`);
    btrfs.createSubvolumeSync(`${m}/del/a`);
    mkdirSync(`${m}/del/a/dir`);
    btrfs.createSubvolumeSync(`${m}/del/a/dir/b`);
    btrfs.createSubvolumeSync(`${m}/del/c`);
    const ids = ['del', 'del/a', 'del/a/dir/b', 'del/c'].map((p) => btrfs.subvolumeIdSync(`${m}/${p}`));
    const before = subvolumeList(m);
    await assert.rejects(btrfs.deleteSubvolume(`${m}/del`), { kind: 'SNAP_DESTROY_FAILED', code: 'ENOTEMPTY' });
    assert.deepEqual(subvolumeList(m), before);
    mkdirSync(`${m}/del/notsub`);
    assert.throws(() => btrfs.deleteSubvolumeSync(`${m}/del/notsub`), { kind: 'SNAP_DESTROY_FAILED', code: 'EINVAL' });
    await btrfs.deleteSubvolume(`${m}/del`, { recursive: true });
    const after = subvolumeList(m).map((r) => r.id);
    for (const id of ids) assert.ok(!after.includes(id), `id ${id} still listed`);
    const deleted = await btrfs.deletedSubvolumes(m);
    for (const id of deleted) assert.ok(Number.isInteger(id));
    btrfs.syncSync(m); // the commit wakes the cleaner, so progs' wait is short
    btrfsProgs('subvolume', 'sync', m);
    assert.deepEqual(btrfs.deletedSubvolumesSync(m), []);

    btrfs.createSubvolumeSync(`${m}/byid`);
    const id = btrfs.subvolumeIdSync(`${m}/byid`);
    await btrfs.deleteSubvolume(m, { id });
    assert.ok(!subvolumeList(m).some((r) => r.id === id));
    await assert.rejects(btrfs.deleteSubvolume(m, { id }), { kind: 'SNAP_DESTROY_FAILED', code: 'ENOENT' });
    // by id, recursively, from a descriptor
    btrfs.createSubvolumeSync(`${m}/byid2`);
    btrfs.createSubvolumeSync(`${m}/byid2/n`);
    const id2 = btrfs.subvolumeIdSync(`${m}/byid2`);
    const fd = openSync(m, 'r');
    try {
      btrfs.deleteSubvolumeSync(fd, { id: id2, recursive: true });
    } finally {
      closeSync(fd);
    }
    assert.ok(!subvolumeList(m).some((r) => r.path.startsWith('byid2')));
  });

  it('a deleted read-only snapshot is listed by deletedSubvolumes before the cleaner runs', async () => {
    btrfs.createSubvolumeSync(`${m}/orph`);
    writeFileSync(`${m}/orph/f`, Buffer.alloc(1 << 20));
    btrfs.createSnapshotSync(`${m}/orph`, `${m}/orph-snap`, { readOnly: true });
    const id = btrfs.subvolumeIdSync(`${m}/orph-snap`);
    btrfs.deleteSubvolumeSync(`${m}/orph-snap`);
    // The orphan item exists from deletion until the cleaner finishes; progs' `list -d` sees the same.
    const ours = btrfs.deletedSubvolumesSync(m);
    const progs = btrfsProgs('subvolume', 'list', '-d', m);
    if (ours.includes(id)) assert.match(progs, new RegExp(`ID ${id} `));
    btrfs.syncSync(m);
    btrfsProgs('subvolume', 'sync', m, String(id));
    assert.ok(!btrfs.deletedSubvolumesSync(m).includes(id));
  });

  it('no descriptor leaks across the API, on success and on failure', async () => {
    const before = openFds();
    for (let i = 0; i < 20; i++) {
      await btrfs.createSubvolume(`${m}/leak${i}`);
      await btrfs.subvolumeInfo(`${m}/leak${i}`);
      await btrfs.createSnapshot(`${m}/leak${i}`, `${m}/leak${i}-s`, { readOnly: true });
      await assert.rejects(btrfs.createSnapshot(`${m}/leak${i}`, `${m}/leak${i}-s`));
      await assert.rejects(btrfs.getSubvolumeReadOnly('/proc'));
      await btrfs.deleteSubvolume(`${m}/leak${i}-s`);
      btrfs.deleteSubvolumeSync(`${m}/leak${i}`);
    }
    assert.deepEqual(openFds(), before);
  });
});
