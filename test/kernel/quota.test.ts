/**
 * Quotas and qgroups against the kernel, with btrfs-progs as the oracle: `btrfs qgroup show --raw
 * -pcre` for usage, limits and relations, `btrfs inspect-internal dump-tree -t quota` for the raw
 * items (generation, compressed sizes, limit flags, the status item), and sysfs for the mode.
 * One scratch filesystem, the tests in order: quotas off, full mode, a 4-level hierarchy, accounting,
 * limits, bad calls, inheritance, descriptors, disable, and simple quotas last (the SIMPLE_QUOTA
 * incompat bit outlives them). Rescans of a fixture big enough to watch are in quota-rescan.test.ts.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { closeSync, openSync, promises as fsp, writeFileSync, writeSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { setLegacyIoctls } from '../../src/features';
import * as btrfs from '../../src/index';
import { dumpQuotaTree, qgroupShow, sysfsQgroups } from '../helpers/qgroup-oracle';
import { btrfsProgs, needsRoot, openFds, type Scratch, scratchBtrfs } from '../helpers/scratch';

const MiB = 1024 * 1024;
/** Node (libuv) has no name for EDQUOT: fs errors carry errno -122 and code 'UNKNOWN'. */
const EDQUOT = -122;
const fmt = btrfs.formatQgroupId;

/** Only the fields btrfs-progs shows, with ids as 'level/id' strings. */
function shown(q: btrfs.QgroupInfo) {
  return {
    qgroupid: fmt(q.qgroupid),
    rfer: q.rfer,
    excl: q.excl,
    maxRfer: q.maxRfer,
    maxExcl: q.maxExcl,
    parents: q.parents.map(fmt),
    children: q.children.map(fmt),
  };
}

/** A BtrfsError matcher for assert.rejects/throws. */
function btrfsError(fields: Record<string, unknown>, message?: RegExp) {
  return (e: unknown): boolean => {
    assert.ok(e instanceof btrfs.BtrfsError, `expected a BtrfsError, got ${String(e)}`);
    for (const [key, value] of Object.entries(fields)) assert.equal((e as unknown as Record<string, unknown>)[key], value, `${key}: ${e.message}`);
    if (message) assert.match(e.message, message);
    return true;
  };
}

/** Writes `size` random bytes (incompressible) to `path` in 1 MiB chunks; returns bytes written before an error. */
function writeRandom(path: string, size: number): { written: number; error?: NodeJS.ErrnoException } {
  let fd: number;
  try {
    fd = openSync(path, 'w'); // with a zero limit even creating the file fails with EDQUOT
  } catch (error) {
    return { written: 0, error: error as NodeJS.ErrnoException };
  }
  let written = 0;
  try {
    while (written < size) {
      const chunk = randomBytes(Math.min(MiB, size - written));
      written += writeSync(fd, chunk);
    }
    return { written };
  } catch (error) {
    return { written, error: error as NodeJS.ErrnoException };
  } finally {
    closeSync(fd);
  }
}

describe('quotas and qgroups (kernel)', { skip: needsRoot }, () => {
  let s: Scratch;
  let m: string;
  const ids: Record<string, number> = {};
  const byId = async (qgroupid: number | string) => {
    const id = typeof qgroupid === 'string' ? btrfs.parseQgroupId(qgroupid) : qgroupid;
    const q = (await btrfs.qgroupInfo(m)).find((x) => x.qgroupid === id);
    assert.ok(q, `qgroup ${fmt(id)} listed`);
    return q;
  };

  before(() => {
    s = scratchBtrfs();
    m = s.mnt;
  });
  after(() => s?.cleanup());

  it('quotas off: quotaStatus is { enabled: false }, qgroupInfo and every qgroup call fail with ENOTCONN', async () => {
    assert.deepEqual(await btrfs.quotaStatus(m), { enabled: false });
    assert.deepEqual(btrfs.quotaStatusSync(m), { enabled: false });
    assert.throws(() => btrfsProgs('qgroup', 'show', m), 'btrfs-progs agrees that quotas are off');
    assert.equal(sysfsQgroups(s.device, 'enabled'), null);

    const off = /quotas are disabled/;
    const info = { name: 'BtrfsError', code: 'ENOTCONN', errno: -107, kind: 'SEARCH_FAILED', syscall: 'ioctl', path: m, operation: 'qgroupInfo' };
    await assert.rejects(btrfs.qgroupInfo(m), btrfsError(info, off));
    assert.throws(() => btrfs.qgroupInfoSync(m), btrfsError(info, off));
    await assert.rejects(btrfs.qgroupCreate(m, '1/1'), btrfsError({ code: 'ENOTCONN', kind: 'QGROUP_CREATE_FAILED' }, off));
    await assert.rejects(btrfs.qgroupDestroy(m, '1/1'), btrfsError({ code: 'ENOTCONN', kind: 'QGROUP_CREATE_FAILED' }, off));
    assert.throws(() => btrfs.qgroupAssignSync(m, 5, '1/1'), btrfsError({ code: 'ENOTCONN', kind: 'QGROUP_ASSIGN_FAILED' }, off));
    await assert.rejects(btrfs.qgroupRemove(m, 5, '1/1'), btrfsError({ code: 'ENOTCONN', kind: 'QGROUP_ASSIGN_FAILED' }, off));
    await assert.rejects(btrfs.qgroupLimit(m, 5, { maxRfer: MiB }), btrfsError({ code: 'ENOTCONN', kind: 'QGROUP_LIMIT_FAILED' }, off));
    await assert.rejects(btrfs.quotaRescan(m), btrfsError({ code: 'ENOTCONN', kind: 'QUOTA_RESCAN_FAILED' }, off));

    assert.deepEqual(await btrfs.quotaRescanStatus(m), { running: false, progress: 0, flags: 0 });
    assert.deepEqual(btrfs.quotaRescanStatusSync(m), { running: false, progress: 0, flags: 0 });
    await btrfs.quotaRescanWait(m); // nothing to wait for
    await btrfs.quotaRescanWait(m, { signal: new AbortController().signal });
    btrfs.quotaRescanWaitSync(m);
    await btrfs.quotaDisable(m); // disabling when off does nothing
    assert.deepEqual(await btrfs.quotaStatus(m), { enabled: false });
  });

  it('quotaEnable: full mode, then consistent once its rescan is waited for; status matches dump-tree and sysfs', async () => {
    await btrfs.quotaEnable(m);
    const first = await btrfs.quotaStatus(m);
    assert.ok(first.enabled);
    assert.equal(first.mode, 'full');
    assert.ok(first.flags & btrfs.QgroupStatusFlags.ON);
    assert.equal(first.flags & btrfs.QgroupStatusFlags.SIMPLE_MODE, 0);
    assert.equal(sysfsQgroups(s.device, 'mode'), 'qgroup');

    await btrfs.quotaRescanWait(m);
    btrfs.quotaEnableSync(m); // already on, same mode: nothing changes
    await btrfs.sync(m);
    const st = await btrfs.quotaStatus(m);
    assert.deepEqual(st, {
      enabled: true,
      mode: 'full',
      inconsistent: false,
      rescanning: false,
      rescanProgress: null,
      generation: st.enabled ? st.generation : -1,
      flags: btrfs.QgroupStatusFlags.ON,
      version: 1,
      enableGeneration: null,
    });
    assert.deepEqual(btrfs.quotaStatusSync(m), st);
    const dumped = dumpQuotaTree(s.device).status;
    assert.ok(dumped);
    assert.equal(st.enabled && st.generation, dumped.generation);
    assert.equal(st.enabled && st.flags, dumped.flags);
    assert.equal(st.enabled && st.version, dumped.version);
    assert.equal(sysfsQgroups(s.device, 'inconsistent'), '0');

    // The top level's qgroup exists at once.
    const top = await byId('0/5');
    assert.equal(top.level, 0);
    assert.equal(top.subvolumeId, 5);
  });

  it('qgroupInfo equals `btrfs qgroup show --raw -pcre` field by field, relations included, over 4 levels', async () => {
    for (const name of ['a', 'b', 'c']) {
      await btrfs.createSubvolume(`${m}/${name}`);
      ids[name] = await btrfs.subvolumeId(`${m}/${name}`);
    }
    writeRandom(`${m}/a/f`, 3 * MiB);
    writeRandom(`${m}/b/f`, 1 * MiB);
    writeRandom(`${m}/c/f`, 2 * MiB);
    await btrfs.createSnapshot(`${m}/a`, `${m}/a-snap`);
    ids['a-snap'] = await btrfs.subvolumeId(`${m}/a-snap`);
    await btrfs.qgroupCreate(m, '1/100');
    btrfs.qgroupCreateSync(m, btrfs.qgroupId(1, 101));
    await btrfs.qgroupCreate(m, btrfs.qgroupId(2, 200));
    await btrfs.qgroupCreate(m, (3n << 48n) | 300n);
    await btrfs.qgroupAssign(m, ids.a!, '1/100');
    await btrfs.qgroupAssign(m, `0/${ids.b}`, '1/100');
    btrfs.qgroupAssignSync(m, ids.c!, '1/101');
    await btrfs.qgroupAssign(m, ids['a-snap']!, '1/101');
    await btrfs.qgroupAssign(m, '1/100', '2/200');
    await btrfs.qgroupAssign(m, '1/101', '2/200');
    await btrfs.qgroupAssign(m, '2/200', '3/300');
    await btrfs.qgroupAssign(m, ids.c!, '2/200'); // a qgroup with two parents of different levels
    await btrfs.qgroupLimit(m, ids.a!, { maxRfer: 100 * MiB });
    await btrfs.qgroupLimit(m, ids.b!, { maxRfer: 0 }); // a real limit of zero bytes
    await btrfs.qgroupLimit(m, '1/100', { maxExcl: 50 * MiB });
    btrfs.qgroupLimitSync(m, '2/200', { maxRfer: 300 * MiB, maxExcl: 200 * MiB });
    await btrfs.qgroupLimit(m, '3/300', { rsvRfer: MiB, rsvExcl: 2 * MiB });
    // Relations between groups sharing extents can leave the numbers approximate: rescan, then commit.
    await btrfs.quotaRescan(m);
    await btrfs.quotaRescanWait(m);
    await btrfs.sync(m);

    const ours = await btrfs.qgroupInfo(m);
    const theirs = qgroupShow(m);
    assert.deepEqual(ours.map((q) => fmt(q.qgroupid)), theirs.map((q) => q.qgroupid), 'the same qgroups, in the same order');
    for (const [i, q] of ours.entries()) assert.deepEqual(shown(q), theirs[i], `qgroup ${fmt(q.qgroupid)}`);
    assert.deepEqual(btrfs.qgroupInfoSync(m), ours);
    assert.ok(Math.max(...ours.map((q) => q.level)) >= 3, 'at least 4 levels');

    // What btrfs-progs does not show, against the raw items.
    const tree = dumpQuotaTree(s.device);
    assert.equal(tree.info.size, ours.length);
    for (const q of ours) {
      const id = fmt(q.qgroupid);
      const info = tree.info.get(id);
      const lim = tree.limit.get(id);
      assert.ok(info && lim, `${id} in dump-tree`);
      assert.deepEqual(
        { generation: q.generation, rfer: q.rfer, rferCmpr: q.rferCmpr, excl: q.excl, exclCmpr: q.exclCmpr },
        info,
        `${id} info item`,
      );
      assert.equal(q.limitFlags, lim.flags, `${id} limit flags`);
      assert.equal(q.rsvRfer, lim.flags & btrfs.QgroupLimitFlags.RSV_RFER ? lim.rsvRfer : null, `${id} rsvRfer`);
      assert.equal(q.rsvExcl, lim.flags & btrfs.QgroupLimitFlags.RSV_EXCL ? lim.rsvExcl : null, `${id} rsvExcl`);
      assert.equal(q.level, Number(id.split('/')[0]));
      assert.equal(q.subvolumeId, q.level === 0 ? Number(id.split('/')[1]) : null);
    }
    const relations = tree.relations.filter(([a, b]) => btrfs.parseQgroupId(a) < btrfs.parseQgroupId(b)).map(([a, b]) => `${a}>${b}`);
    const ourRelations = ours.flatMap((q) => q.parents.map((p) => `${fmt(q.qgroupid)}>${fmt(p)}`));
    assert.deepEqual(ourRelations.sort(), relations.sort());

    const c = await byId(ids.c!);
    assert.deepEqual(c.parents, [btrfs.qgroupId(1, 101), btrfs.qgroupId(2, 200)]);
    const b = await byId(ids.b!);
    assert.equal(b.maxRfer, 0);
    assert.equal(b.limitFlags, btrfs.QgroupLimitFlags.MAX_RFER);
    const top = await byId('3/300');
    assert.deepEqual([top.maxRfer, top.maxExcl, top.rsvRfer, top.rsvExcl], [null, null, MiB, 2 * MiB]);
  });

  it('writing N bytes and syncing moves rfer and excl by N (plus metadata); a snapshot shares its extents', async () => {
    await btrfs.createSubvolume(`${m}/w`);
    const w = await btrfs.subvolumeId(`${m}/w`);
    await btrfs.sync(m);
    const before = await byId(w);
    const N = 8 * MiB;
    writeRandom(`${m}/w/data`, N);
    await btrfs.sync(m);
    const after = await byId(w);
    const slack = 256 * 1024; // a few 16 KiB tree blocks
    for (const field of ['rfer', 'excl'] as const) {
      const delta = after[field] - before[field];
      assert.ok(delta >= N && delta <= N + slack, `${field} moved by ${delta}, expected ${N} to ${N + slack}`);
    }
    const progs = qgroupShow(m).find((q) => q.qgroupid === `0/${w}`);
    assert.equal(progs?.rfer, after.rfer);

    await btrfs.createSnapshot(`${m}/w`, `${m}/w-snap`, { readOnly: true });
    const snapId = await btrfs.subvolumeId(`${m}/w-snap`);
    await btrfs.sync(m);
    const src = await byId(w);
    const snap = await byId(snapId);
    assert.ok(Math.abs(snap.rfer - src.rfer) <= 64 * 1024, `rfer ${snap.rfer} vs ${src.rfer}`);
    assert.ok(snap.rfer >= N && src.rfer >= N);
    assert.ok(snap.excl <= 64 * 1024, `snapshot excl ${snap.excl} is small: the data is shared`);
    assert.ok(src.excl <= 64 * 1024, `source excl ${src.excl} is small: the data is shared`);

    // New data in the source is its own.
    writeRandom(`${m}/w/more`, 2 * MiB);
    await btrfs.sync(m);
    const src2 = await byId(w);
    const snap2 = await byId(snapId);
    assert.ok(src2.excl - src.excl >= 2 * MiB && src2.excl - src.excl <= 2 * MiB + slack, `excl moved by ${src2.excl - src.excl}`);
    assert.equal(snap2.rfer, snap.rfer);
  });

  it('limits: max_rfer is enforced with EDQUOT and null clears it; 0 is a limit of zero bytes; omitted fields stay', async () => {
    await btrfs.createSubvolume(`${m}/l`);
    const l = await btrfs.subvolumeId(`${m}/l`);
    await btrfs.qgroupLimit(m, l, { maxRfer: 4 * MiB });
    let q = await byId(l);
    assert.equal(q.maxRfer, 4 * MiB);
    assert.equal(q.limitFlags, btrfs.QgroupLimitFlags.MAX_RFER);
    assert.equal(qgroupShow(m).find((r) => r.qgroupid === `0/${l}`)?.maxRfer, 4 * MiB);

    const over = writeRandom(`${m}/l/big`, 8 * MiB);
    assert.equal(over.error?.errno, EDQUOT, `writing past max_rfer fails with EDQUOT (wrote ${over.written}): ${over.error}`);
    assert.ok(over.written <= 4 * MiB, `${over.written} bytes went in`);

    await btrfs.qgroupLimit(m, `0/${l}`, { maxExcl: 64 * MiB }); // maxRfer omitted: kept
    q = await byId(l);
    assert.deepEqual([q.maxRfer, q.maxExcl, q.limitFlags], [4 * MiB, 64 * MiB, 3]);

    btrfs.qgroupLimitSync(m, l, { maxRfer: null }); // cleared; maxExcl kept
    q = await byId(l);
    assert.deepEqual([q.maxRfer, q.maxExcl, q.limitFlags], [null, 64 * MiB, btrfs.QgroupLimitFlags.MAX_EXCL]);
    assert.equal(qgroupShow(m).find((r) => r.qgroupid === `0/${l}`)?.maxRfer, null, 'btrfs-progs shows none');
    const through = writeRandom(`${m}/l/big`, 8 * MiB);
    assert.equal(through.error, undefined, 'the write goes through once the limit is cleared');

    // pybtrfs passes 0 for "no limit"; the kernel takes it as a limit of 0 bytes.
    await btrfs.qgroupLimit(m, l, { maxRfer: 0 });
    q = await byId(l);
    assert.equal(q.maxRfer, 0);
    assert.equal(qgroupShow(m).find((r) => r.qgroupid === `0/${l}`)?.maxRfer, 0);
    assert.equal(writeRandom(`${m}/l/small`, 4096).error?.errno, EDQUOT);

    // The kernel charges the call's own transaction to the subvolume of the path: at a zero limit,
    // it must come from outside that subvolume. The error says so.
    await assert.rejects(
      btrfs.qgroupLimit(`${m}/l`, l, { maxRfer: null }),
      btrfsError({ errno: EDQUOT, code: 'EDQUOT', kind: 'QGROUP_LIMIT_FAILED' }, /path in another subvolume/),
    );
    await btrfs.qgroupLimit(m, l, { maxRfer: null });
    assert.equal(writeRandom(`${m}/l/small`, 4096).error, undefined);

    // qgroupid 0: the subvolume of the descriptor.
    const fd = openSync(`${m}/l`, 'r');
    try {
      await btrfs.qgroupLimit(fd, 0, { maxRfer: 1024 * MiB });
      assert.equal((await byId(l)).maxRfer, 1024 * MiB);
      await btrfs.qgroupLimit(fd, 0, { maxRfer: null, maxExcl: null });
    } finally {
      closeSync(fd);
    }
    q = await byId(l);
    assert.deepEqual([q.maxRfer, q.maxExcl, q.limitFlags], [null, null, 0]);

    // An empty limits object sets nothing.
    await btrfs.qgroupLimit(m, l, {});
    assert.deepEqual(await byId(l), q);
    await assert.rejects(
      btrfs.qgroupLimit(m, '0/9999', { maxRfer: MiB }),
      btrfsError({ code: 'ENOENT', kind: 'QGROUP_LIMIT_FAILED', ioctl: 'BTRFS_IOC_QGROUP_LIMIT' }, /no qgroup 0\/9999/),
    );
  });

  it('create, destroy, assign, remove: kernel refusals are explained and change nothing', async () => {
    const stable = async () => (await btrfs.qgroupInfo(m)).map(({ generation: _, ...rest }) => rest);
    const before = await stable();
    const create = { kind: 'QGROUP_CREATE_FAILED', ioctl: 'BTRFS_IOC_QGROUP_CREATE' };
    const assign = { kind: 'QGROUP_ASSIGN_FAILED', ioctl: 'BTRFS_IOC_QGROUP_ASSIGN' };
    await assert.rejects(btrfs.qgroupCreate(m, '1/100'), btrfsError({ ...create, code: 'EEXIST', operation: 'qgroupCreate' }, /1\/100 exists/));
    await assert.rejects(btrfs.qgroupCreate(m, `0/${ids.a}`), { name: 'RangeError', code: 'ERR_OUT_OF_RANGE', message: /come with their subvolumes/ });
    await assert.rejects(btrfs.qgroupDestroy(m, '1/100'), btrfsError({ ...create, code: 'EBUSY', operation: 'qgroupDestroy' }, /relations/));
    assert.throws(() => btrfs.qgroupDestroySync(m, ids.a!), btrfsError({ ...create, code: 'EBUSY' }));
    await assert.rejects(btrfs.qgroupDestroy(m, '1/999'), btrfsError({ ...create, code: 'ENOENT' }, /no qgroup 1\/999/));
    await assert.rejects(btrfs.qgroupAssign(m, ids.a!, '1/100'), btrfsError({ ...assign, code: 'EEXIST' }));
    await assert.rejects(btrfs.qgroupAssign(m, ids.a!, '1/999'), btrfsError({ ...assign, code: 'EINVAL' }, /does not exist/));
    await assert.rejects(btrfs.qgroupAssign(m, '3/300', '1/100'), { name: 'RangeError', code: 'ERR_OUT_OF_RANGE' }); // a loop
    await assert.rejects(btrfs.qgroupAssign(m, '1/100', '1/101'), { name: 'RangeError' });
    await assert.rejects(btrfs.qgroupRemove(m, ids.a!, '1/101'), btrfsError({ ...assign, code: 'ENOENT', operation: 'qgroupRemove' }, /no relation/));
    assert.deepEqual(await stable(), before);

    // And the good path, both forms: create, assign, show, remove, destroy.
    await btrfs.qgroupCreate(m, '1/500');
    btrfs.qgroupAssignSync(m, ids.b!, '1/500');
    assert.deepEqual(qgroupShow(m).find((r) => r.qgroupid === '1/500')?.children, [`0/${ids.b}`]);
    assert.deepEqual((await byId('1/500')).children, [ids.b]);
    await btrfs.qgroupRemove(m, `0/${ids.b}`, '1/500');
    assert.deepEqual((await byId('1/500')).children, []);
    btrfs.qgroupDestroySync(m, '1/500');
    assert.equal((await btrfs.qgroupInfo(m)).some((q) => q.qgroupid === btrfs.qgroupId(1, 500)), false);
  });

  it('qgroupInherit places new subvolumes and snapshots in the given qgroups (btrfs qgroup show -p)', async () => {
    await btrfs.createSubvolume(`${m}/inh`, { qgroupInherit: ['1/100'] });
    await btrfs.createSnapshot(`${m}/a`, `${m}/inh-snap`, { qgroupInherit: new btrfs.QgroupInherit().addGroup(btrfs.qgroupId(1, 101)) });
    btrfs.createSubvolumeSync(`${m}/inh2`, { qgroupInherit: ['1/100', btrfs.qgroupId(1, 101)] });
    const rows = qgroupShow(m);
    for (const [name, parents] of [['inh', ['1/100']], ['inh-snap', ['1/101']], ['inh2', ['1/100', '1/101']]] as const) {
      const id = await btrfs.subvolumeId(`${m}/${name}`);
      assert.deepEqual(rows.find((r) => r.qgroupid === `0/${id}`)?.parents, parents, `btrfs-progs: parents of ${name}`);
      assert.deepEqual((await byId(id)).parents.map(fmt), parents, `qgroupInfo: parents of ${name}`);
    }
  });

  it('descriptors and FileHandles work everywhere, and no descriptor leaks, even on failure', async () => {
    const fdsBefore = openFds();
    const fd = openSync(m, 'r');
    const handle = await fsp.open(m, 'r');
    try {
      for (const target of [fd, handle]) {
        assert.equal((await btrfs.quotaStatus(target)).enabled, true);
        assert.deepEqual(await btrfs.qgroupInfo(target), await btrfs.qgroupInfo(m));
        assert.equal((await btrfs.quotaRescanStatus(target)).running, false);
        await btrfs.quotaRescanWait(target, { signal: new AbortController().signal });
        await btrfs.qgroupCreate(target, '4/1');
        await btrfs.qgroupLimit(target, '4/1', { maxRfer: MiB });
        await btrfs.qgroupAssign(target, '3/300', '4/1');
        await btrfs.qgroupRemove(target, '3/300', '4/1');
        await btrfs.qgroupDestroy(target, '4/1');
        await assert.rejects(btrfs.qgroupDestroy(target, '4/1'), btrfsError({ code: 'ENOENT', fd: typeof target === 'number' ? target : target.fd }));
      }
    } finally {
      closeSync(fd);
      await handle.close();
    }
    for (let i = 0; i < 3; i++) {
      await assert.rejects(btrfs.qgroupDestroy(m, '4/1'), { code: 'ENOENT' });
      assert.throws(() => btrfs.qgroupCreateSync(m, '1/100'), { code: 'EEXIST' });
      await btrfs.quotaStatus(m);
      await btrfs.quotaRescanWait(m, { signal: new AbortController().signal });
    }
    assert.deepEqual(openFds(), fdsBefore);
  });

  it('qgroupInfo pages through thousands of qgroups and relations (several TREE_SEARCH buffers, v2 and v1)', async () => {
    // 3,000 level-5 qgroups and 1,000 relations: about 460 KiB of items, two v2 calls of 256 KiB.
    btrfs.qgroupCreateSync(m, '6/1');
    for (let i = 1; i <= 3000; i++) btrfs.qgroupCreateSync(m, `5/${i}`);
    for (let i = 1; i <= 1000; i++) btrfs.qgroupAssignSync(m, `5/${i}`, '6/1');
    await btrfs.sync(m);
    const ours = await btrfs.qgroupInfo(m);
    const theirs = qgroupShow(m);
    assert.equal(ours.length, theirs.length);
    assert.ok(ours.length > 3000);
    for (const [i, q] of ours.entries()) assert.deepEqual(shown(q), theirs[i], `qgroup ${fmt(q.qgroupid)}`);
    assert.equal((await byId('6/1')).children.length, 1000);
    setLegacyIoctls(true); // TREE_SEARCH v1: 3,992 bytes a call
    try {
      assert.deepEqual(btrfs.qgroupInfoSync(m), ours);
      assert.deepEqual(await btrfs.quotaStatus(m), btrfs.quotaStatusSync(m));
    } finally {
      setLegacyIoctls(false);
    }
    for (let i = 1; i <= 1000; i++) btrfs.qgroupRemoveSync(m, `5/${i}`, '6/1');
    for (let i = 1; i <= 3000; i++) btrfs.qgroupDestroySync(m, `5/${i}`);
    btrfs.qgroupDestroySync(m, '6/1');
    assert.equal((await btrfs.qgroupInfo(m)).length, ours.length - 3001);
  });

  it('not on btrfs: NOT_BTRFS', async () => {
    await assert.rejects(btrfs.quotaStatus('/proc'), btrfsError({ kind: 'NOT_BTRFS', code: 'ENOTTY' }));
    await assert.rejects(btrfs.qgroupInfo('/proc'), btrfsError({ kind: 'NOT_BTRFS' }));
    assert.throws(() => btrfs.quotaEnableSync('/proc'), btrfsError({ kind: 'NOT_BTRFS' }));
    await assert.rejects(btrfs.qgroupCreate('/proc', '1/1'), btrfsError({ kind: 'NOT_BTRFS' }));
  });

  it('quotaDisable: qgroupInfo then rejects with ENOTCONN (quotas are disabled) and quotaStatus is { enabled: false }', async () => {
    await btrfs.quotaDisable(m);
    assert.deepEqual(await btrfs.quotaStatus(m), { enabled: false });
    await assert.rejects(btrfs.qgroupInfo(m), btrfsError({ code: 'ENOTCONN', errno: -107 }, /quotas are disabled/));
    assert.throws(() => btrfs.qgroupInfoSync(m), btrfsError({ code: 'ENOTCONN' }, /quotas are disabled/));
    assert.throws(() => btrfsProgs('qgroup', 'show', m), 'btrfs-progs agrees');
    btrfs.quotaDisableSync(m);
    assert.deepEqual(btrfs.quotaStatusSync(m), { enabled: false });
  });

  it('simple quotas: SIMPLE_MODE, new writes accounted, no rescan, no silent mode switch', async () => {
    await btrfs.quotaEnableSimple(m);
    const st = await btrfs.quotaStatus(m);
    assert.ok(st.enabled);
    assert.equal(st.mode, 'simple');
    assert.equal(st.flags & btrfs.QgroupStatusFlags.SIMPLE_MODE, btrfs.QgroupStatusFlags.SIMPLE_MODE);
    assert.ok(st.flags & btrfs.QgroupStatusFlags.ON);
    assert.equal(st.inconsistent, false);
    assert.ok(st.enableGeneration !== null && st.enableGeneration > 0, `enableGeneration ${st.enableGeneration}`);
    assert.equal(sysfsQgroups(s.device, 'mode'), 'squota');

    // The kernel would answer 0 and stay in simple mode: the library says so instead.
    await assert.rejects(btrfs.quotaEnable(m), btrfsError({ code: 'EBUSY', kind: 'QUOTA_CTL_FAILED' }, /already enabled in simple mode/));
    assert.equal(((await btrfs.quotaStatus(m)) as btrfs.QuotaStatusEnabled).mode, 'simple');
    btrfs.quotaEnableSimpleSync(m); // same mode: nothing to do
    await assert.rejects(btrfs.quotaRescan(m), btrfsError({ code: 'EINVAL', kind: 'QUOTA_RESCAN_FAILED' }, /simple quotas/));

    await btrfs.createSubvolume(`${m}/sq`);
    const sq = await btrfs.subvolumeId(`${m}/sq`);
    await btrfs.sync(m);
    const before = await byId(sq);
    const N = 4 * MiB;
    writeFileSync(`${m}/sq/data`, randomBytes(N));
    await btrfs.sync(m);
    const after = await byId(sq);
    for (const field of ['rfer', 'excl'] as const) {
      const delta = after[field] - before[field];
      assert.ok(delta >= N && delta <= N + 256 * 1024, `simple mode: ${field} moved by ${delta}`);
    }
    assert.equal(after.rferCmpr, 0);
    assert.equal(after.exclCmpr, 0);
    assert.ok((await btrfs.qgroupInfo(m)).some((q) => q.qgroupid === ids.a), 'older subvolumes are listed too');

    await btrfs.quotaDisable(m);
    assert.deepEqual(await btrfs.quotaStatus(m), { enabled: false });
    // Back to full mode after disabling works.
    await btrfs.quotaEnable(m);
    await btrfs.quotaRescanWait(m);
    assert.equal(((await btrfs.quotaStatus(m)) as btrfs.QuotaStatusEnabled).mode, 'full');
    await btrfs.quotaDisable(m);
  });
});
