/**
 * subvolumes() / subvolumesSync(): libbtrfsutil's order, paths relative to top, exact sets checked
 * against `btrfs subvolume list`, and descriptors released however the loop ends.
 */
import assert from 'node:assert/strict';
import { closeSync, mkdirSync, openSync, renameSync, promises as fsp, fstatSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import * as btrfs from '../../src/index';
import { prefetchTuning } from '../../src/iterator';
import { subvolumeList } from '../helpers/oracle';
import { needsRoot, openFds, type Scratch, scratchBtrfs } from '../helpers/scratch';

describe('subvolume iterators (kernel)', { skip: needsRoot }, () => {
  let s: Scratch;
  let m: string;
  const ids: Record<string, number> = {};
  before(() => {
    s = scratchBtrfs();
    m = s.mnt;
    // The ordering case from the interface notes: ids ascend in creation order, then one subvolume
    // moves under another, so id order and name order disagree.
    btrfs.createSubvolumeSync(`${m}/ord`);
    for (const name of ['zz', 'mm', 'aa']) btrfs.createSubvolumeSync(`${m}/ord/${name}`);
    btrfs.createSubvolumeSync(`${m}/ord/aa/k2`);
    btrfs.createSubvolumeSync(`${m}/ord/aa/k1`);
    btrfs.createSubvolumeSync(`${m}/ord/zz/q`);
    renameSync(`${m}/ord/zz`, `${m}/ord/aa/k1/moved`);
    mkdirSync(`${m}/ord/mm/dir/deeper`, { recursive: true });
    btrfs.createSubvolumeSync(`${m}/ord/mm/dir/deeper/leaf`);
    for (const p of ['ord', 'ord/mm', 'ord/aa', 'ord/aa/k2', 'ord/aa/k1', 'ord/aa/k1/moved', 'ord/aa/k1/moved/q', 'ord/mm/dir/deeper/leaf']) {
      ids[p] = btrfs.subvolumeIdSync(`${m}/${p}`);
    }
  });
  after(() => s?.cleanup());

  it('pre-order, siblings by ascending id, paths relative to the top subvolume', async () => {
    const expected = ['mm', 'mm/dir/deeper/leaf', 'aa', 'aa/k2', 'aa/k1', 'aa/k1/moved', 'aa/k1/moved/q'];
    // zz (moved) has the smallest id of ord's children but now lives under aa/k1
    const sync = [...btrfs.subvolumesSync(`${m}/ord`)];
    assert.deepEqual(sync.map((e) => e.path), expected);
    assert.deepEqual(sync.map((e) => e.id), expected.map((p) => ids[`ord/${p}`]));
    const viaAsync: string[] = [];
    for await (const entry of btrfs.subvolumes(`${m}/ord`)) viaAsync.push(entry.path);
    assert.deepEqual(viaAsync, expected);
    const aa = [...new btrfs.SubvolumeIterator(`${m}/ord/aa`)].map((e) => e.path);
    assert.deepEqual(aa, ['k2', 'k1', 'k1/moved', 'k1/moved/q']);
  });

  it('postOrder yields descendants before their parent', async () => {
    const post = [...btrfs.subvolumesSync(`${m}/ord/aa`, { postOrder: true })].map((e) => e.path);
    assert.deepEqual(post, ['k2', 'k1/moved/q', 'k1/moved', 'k1']);
    const viaAsync: string[] = [];
    for await (const e of btrfs.subvolumes(`${m}/ord/aa`, { postOrder: true })) viaAsync.push(e.path);
    assert.deepEqual(viaAsync, post);
  });

  it('the whole filesystem with top 5 equals `btrfs subvolume list`, from a plain directory too', async () => {
    mkdirSync(`${m}/plain`, { recursive: true });
    const progs = subvolumeList(m).map((r) => `${r.id} ${r.path}`).sort();
    for (const from of [m, `${m}/plain`, `${m}/ord/aa`]) {
      const ours = [...btrfs.subvolumesSync(from, { top: 5 })].map((e) => `${e.id} ${e.path}`).sort();
      assert.deepEqual(ours, progs, from);
    }
    const all: string[] = [];
    for await (const e of btrfs.subvolumes(`${m}/plain`, { top: 5n })) all.push(`${e.id} ${e.path}`);
    assert.deepEqual(all.sort(), progs);
    // top = a subvolume id: paths relative to it
    const fromOrd = [...btrfs.subvolumesSync(m, { top: ids.ord! })].map((e) => e.path);
    assert.deepEqual(fromOrd, [...btrfs.subvolumesSync(`${m}/ord`)].map((e) => e.path));
  });

  it('info: each entry carries the same SubvolumeInfo as subvolumeInfo()', async () => {
    for await (const { path, id, info } of btrfs.subvolumes(`${m}/ord`, { info: true })) {
      assert.ok(info);
      assert.equal(info.id, id);
      const direct = btrfs.subvolumeInfoSync(`${m}/ord/${path}`);
      assert.equal(info.uuid, direct.uuid);
      assert.equal(info.parentId, direct.parentId);
      assert.equal(info.dirId, direct.dirId);
      assert.equal(info.otransid, direct.otransid);
    }
    for (const entry of btrfs.subvolumesSync(`${m}/ord`, { info: false })) assert.equal(entry.info, undefined);
  });

  it('an empty subvolume yields nothing; a plain directory with the default top is NOT_SUBVOLUME', async () => {
    btrfs.createSubvolumeSync(`${m}/empty`);
    assert.deepEqual([...btrfs.subvolumesSync(`${m}/empty`)], []);
    assert.throws(() => btrfs.subvolumesSync(`${m}/plain`), { name: 'BtrfsError', kind: 'NOT_SUBVOLUME' });
    const it = btrfs.subvolumes(`${m}/plain`);
    await assert.rejects(it.next(), { kind: 'NOT_SUBVOLUME' });
    assert.throws(() => btrfs.subvolumesSync('/proc'), { kind: 'NOT_BTRFS' });
    await assert.rejects(btrfs.subvolumes(`${m}/missing`).next(), { kind: 'OPEN_FAILED', code: 'ENOENT' });
  });

  it('exposes its descriptor and releases it on break, throw, close() and dispose', async () => {
    const before = openFds();
    const it = btrfs.subvolumesSync(`${m}/ord`);
    assert.equal(typeof it.fd, 'number');
    assert.ok(fstatSync(it.fd!).isDirectory());
    for (const _ of it) break;
    assert.equal(it.fd, null);
    assert.deepEqual(openFds(), before);

    const asyncIt = btrfs.subvolumes(`${m}/ord`);
    assert.equal(asyncIt.fd, null);
    const fd = await asyncIt.open();
    assert.equal(asyncIt.fd, fd);
    for await (const _ of asyncIt) break;
    assert.equal(asyncIt.fd, null);
    assert.deepEqual(openFds(), before);

    await assert.rejects(
      (async () => {
        for await (const _ of btrfs.subvolumes(`${m}/ord`)) throw new Error('boom');
      })(),
      /boom/,
    );
    assert.deepEqual(openFds(), before);

    const closing = btrfs.subvolumesSync(`${m}/ord`);
    closing.next();
    closing.close();
    closing.close();
    assert.deepEqual(closing.next(), { done: true, value: undefined });
    {
      using scoped = btrfs.subvolumesSync(`${m}/ord`);
      scoped.next();
    }
    {
      await using scoped = btrfs.subvolumes(`${m}/ord`);
      await scoped.next();
    }
    // descending into subvolumes (unprivileged mode opens each) leaves nothing behind either
    for await (const _ of btrfs.subvolumes(`${m}/ord`, { info: true, postOrder: true })) {
      /* drain */
    }
    assert.deepEqual(openFds(), before);
  });

  it('iterates on a caller descriptor or FileHandle and never closes it', async () => {
    const fd = openSync(`${m}/ord`, 'r');
    try {
      const it = btrfs.subvolumesSync(fd);
      assert.equal(it.fd, fd);
      assert.equal([...it].length, 7);
      assert.ok(fstatSync(fd).isDirectory()); // still open
    } finally {
      closeSync(fd);
    }
    const handle = await fsp.open(`${m}/ord`, 'r');
    try {
      let n = 0;
      for await (const _ of btrfs.subvolumes(handle)) n++;
      assert.equal(n, 7);
      assert.ok((await handle.stat()).isDirectory());
    } finally {
      await handle.close();
    }
  });

  it('concurrent next() calls on one async iterator see a consistent walk', async () => {
    const it = btrfs.subvolumes(`${m}/ord`);
    const results = await Promise.all(Array.from({ length: 9 }, () => it.next()));
    const paths = results.filter((r) => !r.done).map((r) => (r.value as btrfs.SubvolumeEntry).path);
    assert.deepEqual(paths, ['mm', 'mm/dir/deeper/leaf', 'aa', 'aa/k2', 'aa/k1', 'aa/k1/moved', 'aa/k1/moved/q']);
    assert.equal(results.filter((r) => r.done).length, 2);
  });

  it('a sibling prefetch that stops part-way still yields exactly what btrfs-progs lists', async () => {
    // Shrink the prefetch so one page cannot hold a page of siblings with their children: some
    // siblings are then read completely, the rest fetched one by one.
    const saved = { ...prefetchTuning };
    prefetchTuning.bufferSize = 2048;
    prefetchTuning.pages = 1;
    try {
      btrfs.createSubvolumeSync(`${m}/pf`);
      for (let i = 0; i < 12; i++) {
        btrfs.createSubvolumeSync(`${m}/pf/p${i}`);
        for (let j = 0; j < 6; j++) btrfs.createSubvolumeSync(`${m}/pf/p${i}/c${j}`);
      }
      btrfs.syncSync(m);
      const expected = subvolumeList(m).filter((r) => r.path.startsWith('pf/')).map((r) => `${r.id} ${r.path.slice(3)}`).sort();
      for (const info of [false, true]) {
        const seen = [...btrfs.subvolumesSync(`${m}/pf`, { info })];
        assert.deepEqual(seen.map((e) => `${e.id} ${e.path}`).sort(), expected);
        if (info) for (const e of seen) assert.equal(e.info!.id, e.id);
        let n = 0;
        for await (const _ of btrfs.subvolumes(`${m}/pf`, { info })) n++;
        assert.equal(n, expected.length);
      }
    } finally {
      Object.assign(prefetchTuning, saved);
    }
    await btrfs.deleteSubvolume(`${m}/pf`, { recursive: true });
  });

  it('pages through 1,200 siblings (several search pages), ids ascending, exact count', async () => {
    btrfs.createSubvolumeSync(`${m}/many`);
    await Promise.all(Array.from({ length: 1200 }, (_, i) => btrfs.createSubvolume(`${m}/many/s${String(i).padStart(4, '0')}`)));
    let count = 0;
    let last = 0;
    for (const { id } of btrfs.subvolumesSync(`${m}/many`)) {
      assert.ok(id > last, 'ids ascend');
      last = id;
      count++;
    }
    assert.equal(count, 1200);
    assert.equal(subvolumeList(m).filter((r) => r.path.startsWith('many/')).length, 1200);
    await btrfs.deleteSubvolume(`${m}/many`, { recursive: true });
    assert.equal(subvolumeList(m).filter((r) => r.path.startsWith('many')).length, 0);
  });
});
