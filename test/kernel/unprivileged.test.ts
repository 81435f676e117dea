/**
 * What an unprivileged user can do (uid 65534): inspect, create, snapshot and iterate their own
 * subvolumes, as libbtrfsutil allows through GET_SUBVOL_INFO, GET_SUBVOL_ROOTREF and
 * INO_LOOKUP_USER. A child process loads the library as root, then drops to uid/gid 65534 before
 * any call, so directory permissions of the checkout do not matter.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, chownSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import * as btrfs from '../../src/index';
import { subvolumeList } from '../helpers/oracle';
import { needsRoot, type Scratch, scratchBtrfs } from '../helpers/scratch';

const NOBODY = 65534;
const library = join(__dirname, '..', '..', 'src', 'index.js');

/** Runs `body` (JS source using `b` = the library and `u` = the user's directory) as uid 65534. */
function asNobody(dir: string, body: string): Record<string, unknown> {
  const script = `
    const b = require(${JSON.stringify(library)});
    const u = ${JSON.stringify(dir)};
    process.setgroups([]); process.setgid(${NOBODY}); process.setuid(${NOBODY});
    const out = {};
    const attempt = (name, fn) => { try { out[name] = { ok: fn() ?? null }; } catch (e) { out[name] = { code: e.code, kind: e.kind, name: e.name }; } };
    (async () => { ${body} })().then(() => console.log(JSON.stringify(out)), (e) => { console.error(e); process.exit(1); });
  `;
  const result = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8' });
  assert.equal(result.status, 0, result.stderr);
  return JSON.parse(result.stdout);
}

describe('unprivileged use (kernel, uid 65534)', { skip: needsRoot }, () => {
  let s: Scratch;
  let u: string;
  before(() => {
    s = scratchBtrfs();
    chmodSync(s.dir, 0o755);
    u = `${s.mnt}/user`;
    mkdirSync(u);
    chownSync(u, NOBODY, NOBODY);
  });
  after(() => s?.cleanup());

  it('creates, inspects, snapshots and flags its own subvolumes', () => {
    const out = asNobody(
      u,
      `
      attempt('create', () => b.createSubvolumeSync(u + '/mine'));
      attempt('nested', () => b.createSubvolumeSync(u + '/mine/nested'));
      attempt('isSubvolume', () => b.isSubvolumeSync(u + '/mine'));
      attempt('id', () => b.subvolumeIdSync(u + '/mine'));
      attempt('info', () => b.subvolumeInfoSync(u + '/mine'));
      attempt('snapshot', () => b.createSnapshotSync(u + '/mine', u + '/snap', { readOnly: true }));
      attempt('snapReadOnly', () => b.getSubvolumeReadOnlySync(u + '/snap'));
      attempt('setRw', () => b.setSubvolumeReadOnlySync(u + '/snap', false));
      attempt('snapReadOnlyAfter', () => b.getSubvolumeReadOnlySync(u + '/snap'));
      attempt('startSync', () => b.startSyncSync(u));
      attempt('waitSync', () => b.waitSyncSync(u));
      attempt('sync', () => b.syncSync(u));
      out.asyncInfo = { ok: (await b.subvolumeInfo(u + '/mine')).id };
      attempt('pathNeedsRoot', () => b.subvolumePathSync(u + '/mine'));
      attempt('defaultNeedsRoot', () => b.getDefaultSubvolumeSync(u));
      attempt('deleteNeedsMountOption', () => b.deleteSubvolumeSync(u + '/snap'));
      attempt('topNeedsRoot', () => [...b.subvolumesSync(u + '/mine', { top: 5 })]);
      `,
    );
    for (const key of ['create', 'nested', 'snapshot', 'setRw', 'waitSync', 'sync']) assert.deepEqual(out[key], { ok: null }, key);
    assert.deepEqual(out.isSubvolume, { ok: true });
    const mine = btrfs.subvolumeInfoSync(`${u}/mine`);
    assert.deepEqual(out.id, { ok: mine.id });
    assert.deepEqual(out.asyncInfo, { ok: mine.id });
    const info = (out.info as { ok: Record<string, unknown> }).ok;
    assert.equal(info.uuid, mine.uuid);
    assert.equal(info.parentId, 5);
    assert.deepEqual(out.snapReadOnly, { ok: true });
    assert.deepEqual(out.snapReadOnlyAfter, { ok: false });
    assert.equal(typeof (out.startSync as { ok: number }).ok, 'number');
    assert.equal(btrfs.subvolumeInfoSync(`${u}/snap`).parentUuid, mine.uuid);
    // What needs CAP_SYS_ADMIN says so, with the step that failed
    assert.deepEqual(out.pathNeedsRoot, { code: 'EPERM', kind: 'SEARCH_FAILED', name: 'BtrfsError' });
    assert.deepEqual(out.defaultNeedsRoot, { code: 'EPERM', kind: 'SEARCH_FAILED', name: 'BtrfsError' });
    assert.deepEqual(out.deleteNeedsMountOption, { code: 'EPERM', kind: 'SNAP_DESTROY_FAILED', name: 'BtrfsError' });
    assert.equal((out.topNeedsRoot as { code: string }).code, 'EPERM');
    // btrfs-progs sees what the user made
    const paths = subvolumeList(s.mnt).map((r) => r.path);
    for (const p of ['user/mine', 'user/mine/nested', 'user/snap']) assert.ok(paths.includes(p), p);
  });

  it('iterates more children than one GET_SUBVOL_ROOTREF page (255)', () => {
    btrfs.createSubvolumeSync(`${u}/wide`);
    chownSync(`${u}/wide`, NOBODY, NOBODY);
    const out = asNobody(
      u,
      `
      for (let i = 0; i < 300; i++) b.createSubvolumeSync(u + '/wide/w' + i);
      out.ids = { ok: [...b.subvolumesSync(u + '/wide')].map((e) => e.id) };
      `,
    );
    const ids = (out.ids as { ok: number[] }).ok;
    assert.equal(ids.length, 300);
    assert.deepEqual(ids, [...ids].sort((a, b) => a - b));
    assert.deepEqual(ids, subvolumeList(s.mnt).filter((r) => r.path.startsWith('user/wide/')).map((r) => r.id).sort((a, b) => a - b));
  });

  it('iterates its own subvolumes; one it cannot enter is listed but not descended into', () => {
    btrfs.createSubvolumeSync(`${u}/tree`);
    chownSync(`${u}/tree`, NOBODY, NOBODY);
    mkdirSync(`${u}/tree/dir`);
    chownSync(`${u}/tree/dir`, NOBODY, NOBODY);
    btrfs.createSubvolumeSync(`${u}/tree/dir/a`);
    btrfs.createSubvolumeSync(`${u}/tree/dir/a/b`);
    btrfs.createSubvolumeSync(`${u}/tree/secret`); // root-owned
    chmodSync(`${u}/tree/secret`, 0o700);
    btrfs.createSubvolumeSync(`${u}/tree/secret/hidden`);
    const out = asNobody(
      u,
      `
      attempt('sync', () => [...b.subvolumesSync(u + '/tree')].map((e) => e.id + ' ' + e.path));
      const seen = [];
      for await (const e of b.subvolumes(u + '/tree', { postOrder: true })) seen.push(e.path);
      out.asyncPost = { ok: seen };
      attempt('infoOfEnterable', () => [...b.subvolumesSync(u + '/tree/dir/a', { info: true })].map((e) => e.info.id));
      `,
    );
    const id = (p: string) => btrfs.subvolumeIdSync(`${u}/tree/${p}`);
    assert.deepEqual(out.sync, { ok: [`${id('dir/a')} dir/a`, `${id('dir/a/b')} dir/a/b`, `${id('secret')} secret`] });
    assert.deepEqual(out.asyncPost, { ok: ['dir/a/b', 'dir/a', 'secret'] });
    assert.deepEqual(out.infoOfEnterable, { ok: [id('dir/a/b')] });
    // root sees the hidden one too: the unprivileged walk skipped exactly what it could not open
    assert.deepEqual([...btrfs.subvolumesSync(`${u}/tree`)].map((e) => e.path), ['dir/a', 'dir/a/b', 'secret', 'secret/hidden']);
  });
});
