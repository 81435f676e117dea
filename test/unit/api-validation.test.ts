/**
 * Bad arguments through the public API: every exported function must refuse them with a
 * TypeError/RangeError before any syscall. Promise forms reject (they never throw synchronously);
 * Sync forms throw; subvolumes()/subvolumesSync() construct iterators and throw at once.
 *
 * The paths used do not exist, so a syscall would have failed with a BtrfsError (ENOENT) instead:
 * getting the argument error proves validation came first. The controls at the end show that the
 * same calls with good arguments do reach the filesystem (and fail with ENOENT), so the premise holds.
 * No root and no btrfs are needed.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import * as api from '../../src/index';

const M = join(tmpdir(), `btrfs-api-validation-missing-${process.pid}-${Date.now()}`);
const NEW = join(M, 'new');

type Ctor = typeof TypeError | typeof RangeError;
type Fn = (...args: unknown[]) => unknown;
const TYPE = 'ERR_INVALID_ARG_TYPE';
const VALUE = 'ERR_INVALID_ARG_VALUE';
const RANGE = 'ERR_OUT_OF_RANGE';

/** [args, error class, Node code] */
type Bad = [unknown[], Ctor, string];

/** Bad calls per function; each runs against both the Promise form and the Sync twin. */
const CASES: Record<string, Bad[]> = {
  isSubvolume: [
    [[123n], TypeError, TYPE],
    [[null], TypeError, TYPE],
    [[''], TypeError, VALUE],
    [[-1], RangeError, RANGE],
  ],
  subvolumeId: [
    [[undefined], TypeError, TYPE],
    [[{ fd: 1.5 }], RangeError, RANGE],
    [[`${M}\0`], TypeError, VALUE],
  ],
  subvolumePath: [
    [[M, -1], RangeError, RANGE],
    [[M, 2 ** 53], RangeError, RANGE],
    [[M, 2n ** 64n], RangeError, RANGE],
    [[M, '5'], TypeError, TYPE],
  ],
  subvolumeInfo: [
    [[M, -1], RangeError, RANGE],
    [[M, 1.5], RangeError, RANGE],
    [[M, 2n ** 64n], RangeError, RANGE],
    [[M, null], TypeError, TYPE],
    [[5.5], RangeError, RANGE],
    [[new URL('http://example.com/')], TypeError, VALUE],
  ],
  getSubvolumeReadOnly: [
    [[null], TypeError, TYPE],
    [[-1], RangeError, RANGE],
  ],
  setSubvolumeReadOnly: [
    [[M, 'yes'], TypeError, TYPE],
    [[M, 1], TypeError, TYPE],
    [[M, null], TypeError, TYPE],
    [[-1, true], RangeError, RANGE],
  ],
  getDefaultSubvolume: [
    [[{}], TypeError, TYPE],
    [[2 ** 31], RangeError, RANGE],
  ],
  setDefaultSubvolume: [
    [[M, -3], RangeError, RANGE],
    [[M, '5'], TypeError, TYPE],
    [[true, 5], TypeError, TYPE],
  ],
  createSubvolume: [
    [[123], TypeError, TYPE],
    [[`/x/${'a'.repeat(256)}`], TypeError, VALUE],
    [[`${M}/${'a'.repeat(256)}`], TypeError, VALUE],
    [[`${M}/..`], TypeError, VALUE],
    [['/'], TypeError, VALUE],
    [[NEW, null], TypeError, TYPE],
    [[NEW, 'options'], TypeError, TYPE],
    [[NEW, { qgroupInherit: '1/100' }], TypeError, TYPE],
    [[NEW, { qgroupInherit: ['1/'] }], TypeError, VALUE],
    [[NEW, { qgroupInherit: [-1] }], RangeError, RANGE],
  ],
  createSnapshot: [
    [[M, NEW, { readOnly: 'yes' }], TypeError, TYPE],
    [[M, NEW, { recursive: 1 }], TypeError, TYPE],
    [[M, NEW, []], TypeError, TYPE],
    [[M, NEW, { qgroupInherit: [1.5] }], RangeError, RANGE],
    [[null, NEW], TypeError, TYPE],
    [[-1, NEW], RangeError, RANGE],
    [[M, '..'], TypeError, VALUE],
    [[M, 7], TypeError, TYPE],
  ],
  deleteSubvolume: [
    [[M, { id: -3 }], RangeError, RANGE],
    [[M, { id: 1.5 }], RangeError, RANGE],
    [[M, { id: '5' }], TypeError, TYPE],
    [[M, { recursive: 'yes' }], TypeError, TYPE],
    [[M, []], TypeError, TYPE],
    [[5], TypeError, TYPE], // a descriptor needs options.id
    [['/'], TypeError, VALUE],
    [[`${M}/.`], TypeError, VALUE],
  ],
  deletedSubvolumes: [
    [[null], TypeError, TYPE],
    [[{ fd: -1 }], RangeError, RANGE],
  ],
  sync: [
    [[null], TypeError, TYPE],
    [[-2], RangeError, RANGE],
  ],
  startSync: [
    [[undefined], TypeError, TYPE],
    [[Buffer.from('a\0b')], TypeError, VALUE],
  ],
  waitSync: [
    [[M, 2n ** 64n], RangeError, RANGE],
    [[M, -1], RangeError, RANGE],
    [[M, '1'], TypeError, TYPE],
  ],
  mount: [
    [[M, 5], TypeError, TYPE],
    [[M, M, { flags: 1 << 30 }], RangeError, RANGE],
    [[M, M, { flags: '1' }], TypeError, TYPE],
    [[M, M, { data: { subvol: 'a,b' } }], TypeError, VALUE],
    [[M, M, { data: 'a\nb' }], TypeError, VALUE],
    [[M, M, { fstype: '' }], TypeError, VALUE],
    [[M, M, { loop: 1 }], TypeError, TYPE],
    [[null, M], TypeError, VALUE],
    [[null, M, { loop: true }], TypeError, VALUE],
  ],
  umount: [
    [[null], TypeError, TYPE],
    [[M, { flags: 0x100 }], RangeError, RANGE],
    [[M, { flags: 'x' }], TypeError, TYPE],
  ],
  quotaEnable: [
    [[null], TypeError, TYPE],
    [[-1], RangeError, RANGE],
  ],
  quotaEnableSimple: [[[{ fd: 'x' }], TypeError, TYPE]],
  quotaDisable: [[[''], TypeError, VALUE]],
  quotaStatus: [[[1.5], RangeError, RANGE]],
  quotaRescan: [[[undefined], TypeError, TYPE]],
  quotaRescanStatus: [[[new URL('http://example.com/')], TypeError, VALUE]],
  quotaRescanWait: [[[null], TypeError, TYPE]],
  qgroupInfo: [[[2 ** 31], RangeError, RANGE]],
  qgroupCreate: [
    [[M, '0/257'], RangeError, RANGE], // level-0 qgroups come with subvolumes
    [[M, 257], RangeError, RANGE],
    [[M, '1/x'], TypeError, VALUE],
    [[M, -1], RangeError, RANGE],
    [[M, 2 ** 53], RangeError, RANGE],
    [[M, null], TypeError, TYPE],
  ],
  qgroupDestroy: [
    [[M, '1/2/3'], TypeError, VALUE],
    [[M, 1.5], RangeError, RANGE],
    [[M, 2n ** 64n], RangeError, RANGE],
  ],
  qgroupAssign: [
    [[M, '1/100', '1/101'], RangeError, RANGE], // same level
    [[M, '2/200', '1/100'], RangeError, RANGE], // parent below child: a loop
    [[M, 257, '65536/1'], RangeError, RANGE],
    [[M, 257], TypeError, TYPE],
  ],
  qgroupRemove: [
    [[M, '1/100', 257], RangeError, RANGE],
    [[M, {}, '1/100'], TypeError, TYPE],
  ],
  qgroupLimit: [
    [[M, 5, { maxRfer: -1 }], RangeError, RANGE],
    [[M, 5, { maxExcl: 1.5 }], RangeError, RANGE],
    [[M, 5, { rsvRfer: Number.NaN }], RangeError, RANGE],
    [[M, 5, { maxRfer: '10G' }], TypeError, TYPE],
    [[M, 5, { max_rfer: 0 }], TypeError, VALUE], // pybtrfs spelling: refused, not ignored
    [[M, 5], TypeError, TYPE],
    [[M, '1/x', {}], TypeError, VALUE],
  ],
  attachLoopDevice: [
    [[5], TypeError, TYPE],
    [[M, { offset: -1 }], RangeError, RANGE],
    [[M, { sizeLimit: 0.5 }], RangeError, RANGE],
    [[M, { offset: '1' }], TypeError, TYPE],
    [[M, { autoclear: 'yes' }], TypeError, TYPE],
  ],
  detachLoopDevice: [
    [['/dev/sda'], TypeError, VALUE],
    [[-1], RangeError, RANGE],
    [[null], TypeError, TYPE],
  ],
  scanDevice: [
    [[null], TypeError, TYPE],
    [[''], TypeError, VALUE],
  ],
  forgetDevice: [
    [[5], TypeError, TYPE],
    [['a\0b'], TypeError, VALUE],
  ],
  mkfs: [
    [[5], TypeError, TYPE],
    [[[]], TypeError, VALUE],
    [[M, { nodesize: 3000 }], RangeError, RANGE],
    [[M, { label: 'x'.repeat(256) }], TypeError, VALUE],
    [[M, { csum: 'md5' }], TypeError, VALUE],
    [[M, { uuid: 'not-a-uuid' }], TypeError, VALUE],
    [[M, { features: ['bogus'] }], TypeError, VALUE],
    [[M, { byteCount: -1 }], RangeError, RANGE],
    [[M, { force: 'yes' }], TypeError, TYPE],
    [[M, { dataProfile: 'raid9' }], TypeError, VALUE],
  ],
  isDeviceReady: [
    [[{}], TypeError, TYPE],
    [['x'.repeat(5000)], TypeError, VALUE],
  ],
};

/** subvolumes()/subvolumesSync() and the iterator classes: both throw synchronously. */
const ITERATOR_CASES: Bad[] = [
  [[null], TypeError, TYPE],
  [[M, { top: -1 }], RangeError, RANGE],
  [[M, { top: 1.5 }], RangeError, RANGE],
  [[M, { info: 'yes' }], TypeError, TYPE],
  [[M, { postOrder: 1 }], TypeError, TYPE],
  [[M, 'options'], TypeError, TYPE],
  [[-1], RangeError, RANGE],
];

/** Exported classes without argument checks of their own. */
const NOT_VALIDATING = new Set(['BtrfsError', 'LoopDevice', 'loopDevices', 'loopDevicesSync']);

const fn = (name: string): Fn => {
  const value = (api as Record<string, unknown>)[name];
  assert.equal(typeof value, 'function', `${name} is not an exported function`);
  return value as Fn;
};

function matches(ctor: Ctor, code: string, label: string) {
  return (e: unknown): boolean => {
    assert.ok(!(e instanceof api.BtrfsError), `${label}: reached the filesystem (${String(e)}) instead of failing validation`);
    assert.equal((e as Error)?.constructor, ctor, `${label}: expected ${ctor.name}, got ${String(e)}`);
    assert.equal((e as { code?: string }).code, code, `${label}: ${String(e)}`);
    return true;
  };
}

const show = (args: unknown[]): string =>
  args.map((a) => (typeof a === 'bigint' ? `${a}n` : typeof a === 'string' && a.length > 40 ? `'${a.slice(0, 37)}...'` : JSON.stringify(a) ?? String(a))).join(', ');

describe('public API validation, before any syscall', () => {
  it('the scratch path does not exist', () => {
    assert.equal(existsSync(M), false);
  });

  it('every exported function and class has cases here', () => {
    const covered = new Set([...Object.keys(CASES), 'subvolumes', 'SubvolumeIterator', 'AsyncSubvolumeIterator', 'QgroupInherit', 'mountData', 'qgroupId', 'parseQgroupId', 'formatQgroupId']);
    const missing: string[] = [];
    for (const [name, value] of Object.entries(api)) {
      if (typeof value !== 'function' || NOT_VALIDATING.has(name)) continue;
      // startSync is itself a Promise form; its twin is startSyncSync.
      if (!covered.has(name) && !(name.endsWith('Sync') && covered.has(name.slice(0, -4)))) missing.push(name);
    }
    assert.deepEqual(missing, [], 'add bad-argument cases for these exports');
  });

  for (const [name, cases] of Object.entries(CASES)) {
    it(`${name} rejects and ${name}Sync throws`, async () => {
      const promiseForm = fn(name);
      const syncForm = fn(`${name}Sync`);
      for (const [args, ctor, code] of cases) {
        const label = `${name}(${show(args)})`;
        let result: unknown;
        assert.doesNotThrow(() => {
          result = promiseForm(...args);
        }, `${label} threw synchronously; the Promise form must reject`);
        assert.ok(result instanceof Promise, `${label} did not return a Promise`);
        await assert.rejects(result as Promise<unknown>, matches(ctor, code, label));
        assert.throws(() => syncForm(...args), matches(ctor, code, `${name}Sync(${show(args)})`));
      }
    });
  }

  it('mountData refuses what mount(2) cannot carry', () => {
    assert.throws(() => api.mountData({ subvol: 'a,b' }), matches(TypeError, VALUE, 'mountData comma'));
    assert.throws(() => api.mountData({ '': true }), matches(TypeError, VALUE, 'mountData empty key'));
    assert.throws(() => api.mountData(null as unknown as api.MountDataObject), matches(TypeError, TYPE, 'mountData null'));
    assert.throws(() => api.mountData({ commit: Number.NaN }), matches(RangeError, RANGE, 'mountData NaN'));
  });

  it('subvolumes and subvolumesSync throw synchronously, as do the iterator constructors', () => {
    for (const [args, ctor, code] of ITERATOR_CASES) {
      assert.throws(() => api.subvolumes(...(args as [api.PathOrFd])), matches(ctor, code, `subvolumes(${show(args)})`));
      assert.throws(() => api.subvolumesSync(...(args as [api.PathOrFd])), matches(ctor, code, `subvolumesSync(${show(args)})`));
      assert.throws(() => new api.SubvolumeIterator(...(args as [api.PathOrFd])), matches(ctor, code, 'new SubvolumeIterator'));
      assert.throws(() => new api.AsyncSubvolumeIterator(...(args as [api.PathOrFd])), matches(ctor, code, 'new AsyncSubvolumeIterator'));
    }
  });

  it('QgroupInherit checks each qgroup id', () => {
    assert.throws(() => new api.QgroupInherit(['1/x']), matches(TypeError, VALUE, 'QgroupInherit'));
    assert.throws(() => new api.QgroupInherit().addGroup(-1), matches(RangeError, RANGE, 'addGroup'));
    assert.throws(() => new api.QgroupInherit().addGroup(null as never), matches(TypeError, TYPE, 'addGroup'));
    assert.throws(() => new api.QgroupInherit().addGroup('65536/0'), matches(RangeError, RANGE, 'addGroup'));
    assert.deepEqual(new api.QgroupInherit(['1/100', 5]).getGroups(), [2 ** 48 + 100, 5]);
  });
});

describe('controls: good arguments on the missing path do reach the filesystem', () => {
  /** Valid calls per function: each must fail with BtrfsError ENOENT, not an argument error. */
  const GOOD: Record<string, unknown[][]> = {
    isSubvolume: [[M]],
    subvolumeId: [[M]],
    subvolumePath: [[M], [M, 5]],
    subvolumeInfo: [[M], [M, 5n]],
    getSubvolumeReadOnly: [[M]],
    setSubvolumeReadOnly: [[M, true]],
    getDefaultSubvolume: [[M]],
    setDefaultSubvolume: [[M, 5]],
    createSubvolume: [[NEW], [NEW, { qgroupInherit: ['1/100'] }]],
    createSnapshot: [[M, NEW, { readOnly: true, recursive: false }]],
    deleteSubvolume: [[NEW], [M, { id: 300 }]],
    deletedSubvolumes: [[M]],
    sync: [[M]],
    startSync: [[M]],
    waitSync: [[M, 5]],
    mount: [[M, M], [M, M, { loop: true, flags: api.MountFlags.RDONLY, data: { compress: 'zstd' } }]],
    umount: [[M], [M, { flags: api.UmountFlags.DETACH }]],
    attachLoopDevice: [[M], [M, { readOnly: true, autoclear: true, offset: 4096 }]],
    detachLoopDevice: [['/dev/loop987654'], [987654]],
    scanDevice: [[M]],
    forgetDevice: [[M]],
    isDeviceReady: [[M]],
    mkfs: [[M], [M, { label: 'x', csum: 'xxhash', nodesize: 16384 }]],
    quotaEnable: [[M]],
    quotaEnableSimple: [[M]],
    quotaDisable: [[M]],
    quotaStatus: [[M]],
    quotaRescan: [[M]],
    quotaRescanStatus: [[M]],
    quotaRescanWait: [[M]],
    qgroupInfo: [[M]],
    qgroupCreate: [[M, '1/100'], [M, 2 ** 48 + 1]],
    qgroupDestroy: [[M, '0/257'], [M, 2n ** 63n]],
    qgroupAssign: [[M, 257, '1/100'], [M, '1/100', 2 ** 49]],
    qgroupRemove: [[M, '0/257', '1/100']],
    qgroupLimit: [[M, '0/5', { maxRfer: 0 }], [M, 0, { maxRfer: null, maxExcl: 1, rsvRfer: 5, rsvExcl: null }], [M, 5, {}]],
  };
  // Without root, the privileged calls stop at a permission check instead (still a BtrfsError).
  const root = process.geteuid?.() === 0;
  const enoent = (label: string) => (e: unknown) => {
    assert.ok(e instanceof api.BtrfsError, `${label}: expected a BtrfsError, got ${String(e)}`);
    if (root) assert.equal(e.code, 'ENOENT', label);
    else assert.ok(['ENOENT', 'EPERM', 'EACCES'].includes(e.code), `${label}: ${e.code}`);
    return true;
  };

  it('every function in CASES has a control', () => {
    assert.deepEqual(Object.keys(GOOD).sort(), Object.keys(CASES).sort());
  });

  for (const [name, calls] of Object.entries(GOOD)) {
    it(`${name} and ${name}Sync fail with ENOENT`, async () => {
      for (const args of calls) {
        await assert.rejects(fn(name)(...args) as Promise<unknown>, enoent(`${name}(${show(args)})`));
        assert.throws(() => fn(`${name}Sync`)(...args), enoent(`${name}Sync(${show(args)})`));
      }
    });
  }

  it('subvolumesSync throws ENOENT at construction; subvolumes rejects on next()', async () => {
    assert.throws(() => api.subvolumesSync(M), enoent('subvolumesSync'));
    const it = api.subvolumes(M);
    await assert.rejects(it.next(), enoent('subvolumes().next()'));
    await it.close();
  });
});
