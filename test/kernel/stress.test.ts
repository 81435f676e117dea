/**
 * Stress: 1,000 subvolumes and 1,000 snapshots created, checked and deleted with Promise.all, and
 * again from 4 worker threads with the Sync API. No call may fail, the iterators (async and sync)
 * must see exactly the expected set, as must `btrfs subvolume list -o`, and no descriptor may leak
 * (/proc/self/fd before and after). Root: it makes its own loop-mounted btrfs.
 */
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, statSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Worker } from 'node:worker_threads';
import {
  createSnapshot,
  createSubvolume,
  deleteSubvolume,
  isSubvolume,
  subvolumeInfo,
  subvolumes,
  subvolumesSync,
  type SubvolumeInfo,
} from '../../src/index';
import { btrfsProgs, needsRoot, openFds, type Scratch, scratchBtrfs } from '../helpers/scratch';
import type { StressEntry, StressJob } from './stress-worker';

const COUNT = 1000;
/** Snapshots hold their destination directory's lock through a commit: spread them so commits batch. */
const SNAPSHOT_DIRS = 25;
const WORKERS = 4;
const PER_WORKER = 250;
const TOP_LEVEL = 5;

type Listing = Map<string, number>; // path relative to the top level -> subvolume id

async function listAsync(mnt: string): Promise<Listing> {
  const seen: Listing = new Map();
  for await (const { path, id } of subvolumes(mnt)) {
    assert.ok(!seen.has(path), `async iterator: ${path} seen twice`);
    seen.set(path, id);
  }
  return seen;
}

function listSync(mnt: string): Listing {
  const seen: Listing = new Map();
  for (const { path, id } of subvolumesSync(mnt)) {
    assert.ok(!seen.has(path), `sync iterator: ${path} seen twice`);
    seen.set(path, id);
  }
  return seen;
}

/** `btrfs subvolume list -o`: the subvolumes whose parent is the top level, from btrfs-progs. */
function listProgs(mnt: string): Listing {
  const seen: Listing = new Map();
  for (const line of btrfsProgs('subvolume', 'list', '-o', mnt).split('\n')) {
    if (line.trim() === '') continue;
    const match = /^ID (\d+) gen \d+ top level (\d+) path (.+)$/.exec(line);
    assert.ok(match, `unexpected btrfs subvolume list line: ${line}`);
    assert.equal(Number(match[2]), TOP_LEVEL, line);
    seen.set(match[3], Number(match[1]));
  }
  return seen;
}

/** Asserts two listings are equal, naming (a few of) the differences rather than dumping 2,000 entries. */
function assertSameListing(actual: Listing, expected: Listing, what: string): void {
  const missing = [...expected.keys()].filter((path) => !actual.has(path));
  const extra = [...actual.keys()].filter((path) => !expected.has(path));
  const wrongId = [...expected].filter(([path, id]) => actual.has(path) && actual.get(path) !== id).map(([path]) => path);
  const few = (list: string[]) => `${list.length}${list.length ? ` (${list.slice(0, 5).join(', ')}${list.length > 5 ? ', ...' : ''})` : ''}`;
  assert.ok(
    missing.length === 0 && extra.length === 0 && wrongId.length === 0,
    `${what}: missing ${few(missing)}, unexpected ${few(extra)}, wrong id ${few(wrongId)}`,
  );
}

/** Every way of listing agrees with `expected`. */
async function assertListings(mnt: string, expected: Listing): Promise<void> {
  assertSameListing(await listAsync(mnt), expected, 'subvolumes()');
  assertSameListing(listSync(mnt), expected, 'subvolumesSync()');
  assertSameListing(listProgs(mnt), expected, 'btrfs subvolume list -o');
}

const range = (n: number): number[] => Array.from({ length: n }, (_, i) => i);

describe('stress: 1,000 subvolumes and 1,000 snapshots', { skip: needsRoot }, () => {
  let scratch: Scratch | undefined;
  let mnt = '';

  before(() => {
    scratch = scratchBtrfs({ size: 4 * 1024 ** 3 });
    mnt = scratch.mnt;
  });
  after(() => scratch?.cleanup());

  it('creates, checks and deletes them concurrently with Promise.all', async () => {
    const fdsBefore = openFds();
    const baseline = listSync(mnt);
    const base = join(mnt, 'all');
    const subDir = join(base, 'subvolumes');
    mkdirSync(subDir, { recursive: true });
    for (const d of range(SNAPSHOT_DIRS)) mkdirSync(join(base, 'snapshots', `d${d}`), { recursive: true });
    const subRel = (i: number) => `all/subvolumes/s${i}`;
    const snapRel = (i: number) => `all/snapshots/d${i % SNAPSHOT_DIRS}/s${i}`;
    const sub = (i: number) => join(mnt, subRel(i));
    const snap = (i: number) => join(mnt, snapRel(i));
    const readOnly = (i: number) => i % 3 === 0;

    await Promise.all(range(COUNT).map((i) => createSubvolume(sub(i))));
    await Promise.all(range(COUNT).map((i) => writeFile(join(sub(i), 'marker'), `subvolume ${i}`)));

    const subDirIno = statSync(subDir).ino;
    const subInfo: SubvolumeInfo[] = await Promise.all(
      range(COUNT).map(async (i) => {
        assert.equal(await isSubvolume(sub(i)), true, sub(i));
        return subvolumeInfo(sub(i));
      }),
    );
    const ids = new Set<number>();
    const uuids = new Set<string>();
    const expected: Listing = new Map(baseline);
    for (const [i, info] of subInfo.entries()) {
      assert.equal(info.parentId, TOP_LEVEL, `${sub(i)} parentId`);
      assert.equal(info.dirId, subDirIno, `${sub(i)} dirId`);
      assert.equal(info.readOnly, false, `${sub(i)} readOnly`);
      assert.equal(info.parentUuid, null, `${sub(i)} parentUuid`);
      assert.ok(info.uuid, `${sub(i)} uuid`);
      ids.add(info.id);
      uuids.add(info.uuid);
      expected.set(subRel(i), info.id);
    }
    assert.equal(ids.size, COUNT, 'subvolume ids are unique');
    assert.equal(uuids.size, COUNT, 'subvolume uuids are unique');

    await Promise.all(range(COUNT).map((i) => createSnapshot(sub(i), snap(i), { readOnly: readOnly(i) })));
    const snapInfo = await Promise.all(
      range(COUNT).map(async (i) => {
        assert.equal(await isSubvolume(snap(i)), true, snap(i));
        assert.equal(await readFile(join(snap(i), 'marker'), 'utf8'), `subvolume ${i}`);
        return subvolumeInfo(snap(i));
      }),
    );
    for (const [i, info] of snapInfo.entries()) {
      assert.equal(info.parentUuid, subInfo[i].uuid, `${snap(i)} parentUuid`);
      assert.equal(info.readOnly, readOnly(i), `${snap(i)} readOnly`);
      assert.equal(info.parentId, TOP_LEVEL, `${snap(i)} parentId`);
      assert.ok(info.uuid, `${snap(i)} uuid`);
      ids.add(info.id);
      uuids.add(info.uuid);
      expected.set(snapRel(i), info.id);
    }
    assert.equal(ids.size, 2 * COUNT, 'subvolume and snapshot ids are unique');
    assert.equal(uuids.size, 2 * COUNT, 'subvolume and snapshot uuids are unique');
    assert.equal(expected.size, baseline.size + 2 * COUNT);

    await assertListings(mnt, expected);

    await Promise.all(range(COUNT).flatMap((i) => [deleteSubvolume(snap(i)), deleteSubvolume(sub(i))]));
    const gone = await Promise.all(range(COUNT).flatMap((i) => [isSubvolume(snap(i)).catch((e) => e.code), isSubvolume(sub(i)).catch((e) => e.code)]));
    assert.deepEqual(new Set(gone), new Set(['ENOENT']), 'every deleted path is gone');
    await assertListings(mnt, baseline);

    assert.deepEqual(openFds(), fdsBefore, 'no descriptor leaked');
  });

  it('creates, checks and deletes them from 4 worker threads with the Sync API', async () => {
    const fdsBefore = openFds();
    const baseline = listSync(mnt);
    const workers = range(WORKERS).map((w) => {
      const job: StressJob = { mnt, dir: `workers/w${w}`, count: PER_WORKER };
      return new Worker(join(__dirname, 'stress-worker.js'), { workerData: job });
    });
    try {
      const exits = workers.map(exitCode);
      const created = await Promise.all(workers.map((worker) => nextMessage<{ entries: StressEntry[] }>(worker, 'created')));
      const expected: Listing = new Map(baseline);
      for (const { entries } of created) for (const { path, id } of entries) expected.set(path, id);
      assert.equal(expected.size, baseline.size + WORKERS * PER_WORKER * 2);
      assert.equal(new Set(expected.values()).size, expected.size, 'ids are unique across workers');
      await assertListings(mnt, expected);
      // A file written by a worker, read back through a snapshot the worker made.
      assert.equal(readFileSync(join(mnt, 'workers/w3/snapshots/s7/marker'), 'utf8'), 'workers/w3/7');

      const deleted = workers.map((worker) => nextMessage(worker, 'deleted'));
      for (const worker of workers) worker.postMessage('delete');
      await Promise.all(deleted);
      assert.deepEqual(await Promise.all(exits), range(WORKERS).map(() => 0), 'every worker exits cleanly');
      await assertListings(mnt, baseline);
    } finally {
      await Promise.all(workers.map((worker) => worker.terminate()));
    }
    assert.deepEqual(openFds(), fdsBefore, 'no descriptor leaked');
  });
});

/** The next message of `type` from `worker`; rejects on the worker's error or exit first. */
function nextMessage<T>(worker: Worker, type: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const onMessage = (message: { type?: string }) => {
      if (message?.type !== type) return;
      done();
      resolve(message as T);
    };
    const onError = (error: Error) => {
      done();
      reject(error);
    };
    const onExit = (code: number) => {
      done();
      reject(new Error(`worker exited (code ${code}) before sending '${type}'`));
    };
    const done = () => {
      worker.off('message', onMessage).off('error', onError).off('exit', onExit);
    };
    worker.on('message', onMessage).on('error', onError).on('exit', onExit);
  });
}

/** Resolves to the worker's exit code (listening from the start, so an early exit is not missed). */
function exitCode(worker: Worker): Promise<number> {
  return new Promise((resolve) => worker.once('exit', resolve));
}
