/**
 * Worker for stress.test.ts (not a test file itself): creates, checks and deletes subvolumes and
 * snapshots in its own directory with the *Sync API only.
 *
 * Protocol: workerData is a {@link StressJob}. The worker creates `count` subvolumes and `count`
 * snapshots, checks them, posts `{ type: 'created', entries }`, waits for the message 'delete',
 * deletes everything, checks it is gone and posts `{ type: 'deleted' }`. Any failure throws, which
 * the main thread sees as the Worker's 'error' event.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parentPort, workerData } from 'node:worker_threads';
import {
  createSnapshotSync,
  createSubvolumeSync,
  deleteSubvolumeSync,
  isSubvolumeSync,
  subvolumeInfoSync,
  type SubvolumeInfo,
} from '../../src/index';

/** What the main thread hands each worker. */
export interface StressJob {
  /** Mount point of the scratch filesystem (its top level, id 5). */
  mnt: string;
  /** The worker's directory, relative to `mnt`; created by the worker. */
  dir: string;
  /** Subvolumes to create; as many snapshots. */
  count: number;
}

/** One subvolume the worker made, for the main thread's iterator check. */
export interface StressEntry {
  /** Path relative to `mnt`, as the iterator reports it. */
  path: string;
  id: number;
}

function run(job: StressJob): StressEntry[] {
  const root = join(job.mnt, job.dir);
  const subDir = join(root, 'subvolumes');
  const snapDir = join(root, 'snapshots');
  mkdirSync(subDir, { recursive: true });
  mkdirSync(snapDir);
  const sub = (i: number) => join(subDir, `s${i}`);
  const snap = (i: number) => join(snapDir, `s${i}`);
  const ids = new Set<number>();
  const uuids = new Set<string>();
  const entries: StressEntry[] = [];

  const subInfo: SubvolumeInfo[] = [];
  for (let i = 0; i < job.count; i++) {
    createSubvolumeSync(sub(i));
    writeFileSync(join(sub(i), 'marker'), `${job.dir}/${i}`);
  }
  const subDirIno = statSync(subDir).ino;
  for (let i = 0; i < job.count; i++) {
    assert.equal(isSubvolumeSync(sub(i)), true, sub(i));
    const info = subvolumeInfoSync(sub(i));
    assert.equal(info.parentId, 5, `${sub(i)} parentId`);
    assert.equal(info.dirId, subDirIno, `${sub(i)} dirId`);
    assert.equal(info.readOnly, false);
    assert.equal(info.parentUuid, null);
    assert.ok(info.uuid, `${sub(i)} has a uuid`);
    assert.ok(!ids.has(info.id), `id ${info.id} unique`);
    assert.ok(!uuids.has(info.uuid), `uuid ${info.uuid} unique`);
    ids.add(info.id);
    uuids.add(info.uuid);
    subInfo.push(info);
    entries.push({ path: `${job.dir}/subvolumes/s${i}`, id: info.id });
  }

  for (let i = 0; i < job.count; i++) createSnapshotSync(sub(i), snap(i), { readOnly: i % 2 === 0 });
  for (let i = 0; i < job.count; i++) {
    assert.equal(isSubvolumeSync(snap(i)), true, snap(i));
    const info = subvolumeInfoSync(snap(i));
    assert.equal(info.parentUuid, subInfo[i].uuid, `${snap(i)} parentUuid`);
    assert.equal(info.readOnly, i % 2 === 0, `${snap(i)} readOnly`);
    assert.ok(info.uuid && !uuids.has(info.uuid), `${snap(i)} uuid unique`);
    assert.ok(!ids.has(info.id), `id ${info.id} unique`);
    ids.add(info.id);
    uuids.add(info.uuid);
    assert.equal(readFileSync(join(snap(i), 'marker'), 'utf8'), `${job.dir}/${i}`);
    entries.push({ path: `${job.dir}/snapshots/s${i}`, id: info.id });
  }
  return entries;
}

function remove(job: StressJob): void {
  const root = join(job.mnt, job.dir);
  for (let i = 0; i < job.count; i++) {
    deleteSubvolumeSync(join(root, 'snapshots', `s${i}`));
    deleteSubvolumeSync(join(root, 'subvolumes', `s${i}`));
  }
  for (let i = 0; i < job.count; i++) {
    assert.equal(existsSync(join(root, 'snapshots', `s${i}`)), false);
    assert.equal(existsSync(join(root, 'subvolumes', `s${i}`)), false);
  }
}

if (parentPort) {
  const port = parentPort;
  const job = workerData as StressJob;
  port.postMessage({ type: 'created', entries: run(job) });
  port.once('message', (message: unknown) => {
    assert.equal(message, 'delete');
    remove(job);
    port.postMessage({ type: 'deleted' });
  });
}
