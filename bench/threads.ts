/**
 * Where should async calls that block in the kernel (a snapshot's transaction commit, sync,
 * waitSync) run: on a dedicated thread per call, or on Node's libuv pool (4 threads shared with fs,
 * dns and zlib)? This measures both, on a scratch btrfs, and prints the medians.
 *
 *   node out/bench/threads.js [--rounds N]      (root: it makes a loop device and mounts it)
 *
 * For each mode (src/features.ts `setDedicatedThreads`), every round measures:
 *  (a) 64 snapshots of a subvolume holding files, sequential (awaited one by one) and concurrent
 *      (Promise.all), into one directory and into 64 directories. The kernel holds the destination
 *      directory's inode lock across the snapshot's commit, so snapshots into one directory are
 *      serialised whatever the thread mechanism; only distinct directories can share a commit.
 *  (b) while 64 concurrent snapshots (same directory), then 8 concurrent sync() + a waitSync(),
 *      are in flight: latency of fs.promises.readFile of a small file on os.tmpdir(), read over and
 *      over, and the event-loop delay (perf_hooks.monitorEventLoopDelay, 1 ms resolution).
 *  (c) throughput with 64 calls in flight of subvolumeInfo (never blocking: on the pool in both
 *      modes) and of waitSync on an already committed transid (blocking, but returns at once: the
 *      price of a thread per call).
 * Modes alternate within a round, first one then the other, so drift hits both alike. Between
 * measurements the filesystem is synced and the cleaner drained (`btrfs subvolume sync`).
 * Figures go to bench/results/threads.json (every sample, and the medians).
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { cpus, loadavg, release, tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { setDedicatedThreads } from '../src/features';
import {
  createSnapshot,
  createSubvolume,
  deleteSubvolume,
  startSync,
  subvolumeInfo,
  sync,
  syncSync,
  waitSync,
} from '../src/index';
import { btrfsProgs, isRoot, type Scratch, scratchBtrfs } from '../test/helpers/scratch';

const SNAPSHOTS = 64;
const SYNCS = 8;
const IN_FLIGHT = 64;
const THROUGHPUT_CALLS = 4096;
const MODES = ['dedicated', 'pool'] as const;
type Mode = (typeof MODES)[number];

/** Metric name -> samples (one per round). */
type Samples = Record<string, number[]>;

function argValue(name: string, fallback: number): number {
  const at = process.argv.indexOf(name);
  const value = at >= 0 ? Number(process.argv[at + 1]) : fallback;
  if (!Number.isInteger(value) || value < 1) throw new RangeError(`${name} must be a positive integer`);
  return value;
}

/** Nearest-rank percentile of unsorted numbers. */
function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}
const median = (values: readonly number[]): number => percentile(values, 50);

function record(samples: Samples, name: string, value: number): void {
  (samples[name] ??= []).push(value);
}

async function timed(fn: () => Promise<unknown>): Promise<number> {
  const start = performance.now();
  await fn();
  return performance.now() - start;
}

/** Runs `total` calls of `fn` with `width` in flight at a time. */
async function inFlight(width: number, total: number, fn: (i: number) => Promise<unknown>): Promise<void> {
  let next = 0;
  const lane = async () => {
    while (next < total) await fn(next++);
  };
  await Promise.all(Array.from({ length: width }, lane));
}

interface Probe {
  /** Wall time of the load, ms. */
  loadMs: number;
  /** readFile latencies, ms. */
  reads: number[];
  /** Event-loop delay p50, p99 and max, ms. */
  eldP50: number;
  eldP99: number;
  eldMax: number;
}

/** Reads `probeFile` over and over while `load()` runs; measures the event loop meanwhile. */
async function probe(probeFile: string, load: () => Promise<unknown>): Promise<Probe> {
  const histogram = monitorEventLoopDelay({ resolution: 1 });
  const reads: number[] = [];
  let done = false;
  histogram.enable();
  const start = performance.now();
  const loading = load().finally(() => {
    done = true;
  });
  const reading = (async () => {
    while (!done) {
      const t = performance.now();
      await readFile(probeFile);
      reads.push(performance.now() - t);
    }
  })();
  await loading;
  const loadMs = performance.now() - start;
  await reading;
  histogram.disable();
  return { loadMs, reads, eldP50: histogram.percentile(50) / 1e6, eldP99: histogram.percentile(99) / 1e6, eldMax: histogram.max / 1e6 };
}

function recordProbe(samples: Samples, prefix: string, result: Probe): void {
  record(samples, `${prefix}.loadMs`, result.loadMs);
  record(samples, `${prefix}.reads`, result.reads.length);
  record(samples, `${prefix}.readP50Ms`, percentile(result.reads, 50));
  record(samples, `${prefix}.readP99Ms`, percentile(result.reads, 99));
  record(samples, `${prefix}.readMaxMs`, Math.max(...result.reads));
  record(samples, `${prefix}.eldP50Ms`, result.eldP50);
  record(samples, `${prefix}.eldP99Ms`, result.eldP99);
  record(samples, `${prefix}.eldMaxMs`, result.eldMax);
}

class Bench {
  readonly source: string;
  readonly probeFile: string;
  private probeDir: string;
  private readonly dirty: string;

  constructor(readonly scratch: Scratch) {
    this.source = join(scratch.mnt, 'source');
    this.dirty = join(scratch.mnt, 'dirty');
    this.probeDir = mkdtempSync(join(tmpdir(), 'btrfs-bench-'));
    this.probeFile = join(this.probeDir, 'small');
  }

  async setup(): Promise<void> {
    await createSubvolume(this.source);
    // "Some files": 256 small ones and one of 4 MiB, so a snapshot has a real tree to share.
    for (let i = 0; i < 256; i++) writeFileSync(join(this.source, `file-${i}`), Buffer.alloc(4096, i));
    writeFileSync(join(this.source, 'big'), Buffer.alloc(4 << 20, 0x5a));
    mkdirSync(join(this.scratch.mnt, 'same'));
    for (let i = 0; i < SNAPSHOTS; i++) mkdirSync(join(this.scratch.mnt, `own-${i}`));
    mkdirSync(this.dirty);
    writeFileSync(this.probeFile, Buffer.alloc(1024, 0x61));
    this.quiesce();
  }

  /** Commits everything and waits for the cleaner, so one measurement does not pay for the last. */
  quiesce(): void {
    syncSync(this.scratch.mnt);
    btrfsProgs('subvolume', 'sync', this.scratch.mnt);
  }

  snapshotPath(layout: 'same' | 'own', i: number): string {
    return layout === 'same' ? join(this.scratch.mnt, 'same', `snap-${i}`) : join(this.scratch.mnt, `own-${i}`, 'snap');
  }

  async snapshots(layout: 'same' | 'own', concurrent: boolean): Promise<number> {
    const ms = await timed(async () => {
      if (concurrent) {
        await Promise.all(Array.from({ length: SNAPSHOTS }, (_, i) => createSnapshot(this.source, this.snapshotPath(layout, i))));
      } else {
        for (let i = 0; i < SNAPSHOTS; i++) await createSnapshot(this.source, this.snapshotPath(layout, i));
      }
    });
    await this.dropSnapshots(layout);
    return ms;
  }

  async dropSnapshots(layout: 'same' | 'own'): Promise<void> {
    await Promise.all(Array.from({ length: SNAPSHOTS }, (_, i) => deleteSubvolume(this.snapshotPath(layout, i))));
    this.quiesce();
  }

  /** Dirty data for sync to write: 8 files of 8 MiB, in the page cache only. */
  async dirtyData(): Promise<void> {
    await Promise.all(Array.from({ length: SYNCS }, (_, i) => writeFile(join(this.dirty, `d-${i}`), Buffer.alloc(8 << 20, i + 1))));
  }

  async round(mode: Mode, samples: Samples): Promise<void> {
    setDedicatedThreads(mode === 'dedicated');
    const mnt = this.scratch.mnt;

    // (a) wall time, sequential vs Promise.all, one directory and 64 directories
    for (const layout of ['same', 'own'] as const) {
      const sequential = await this.snapshots(layout, false);
      const concurrent = await this.snapshots(layout, true);
      record(samples, `snap.${layout}.sequentialMs`, sequential);
      record(samples, `snap.${layout}.concurrentMs`, concurrent);
      record(samples, `snap.${layout}.speedup`, sequential / concurrent);
    }

    // (b) the rest of the process while blocking calls are in flight
    const snapLoad = await probe(this.probeFile, () =>
      Promise.all(Array.from({ length: SNAPSHOTS }, (_, i) => createSnapshot(this.source, this.snapshotPath('same', i)))),
    );
    recordProbe(samples, 'probe.snapshots', snapLoad);
    await this.dropSnapshots('same');

    await this.dirtyData();
    const syncLoad = await probe(this.probeFile, () =>
      Promise.all([...Array.from({ length: SYNCS }, () => sync(mnt)), waitSync(mnt)]),
    );
    recordProbe(samples, 'probe.sync', syncLoad);
    this.quiesce();

    // (c) per-call cost with 64 in flight
    const infoMs = await timed(() => inFlight(IN_FLIGHT, THROUGHPUT_CALLS, () => subvolumeInfo(this.source)));
    record(samples, 'calls.subvolumeInfo.perSec', (THROUGHPUT_CALLS / infoMs) * 1000);
    record(samples, 'calls.subvolumeInfo.usPerCall', (infoMs * 1000) / THROUGHPUT_CALLS);
    const transid = await startSync(mnt);
    await waitSync(mnt, transid);
    const waitMs = await timed(() => inFlight(IN_FLIGHT, THROUGHPUT_CALLS, () => waitSync(mnt, transid)));
    record(samples, 'calls.waitSyncDone.perSec', (THROUGHPUT_CALLS / waitMs) * 1000);
    record(samples, 'calls.waitSyncDone.usPerCall', (waitMs * 1000) / THROUGHPUT_CALLS);
  }

  /** readFile latency with nothing else running: the reference for (b). */
  async baseline(samples: Samples): Promise<void> {
    const idle = await probe(this.probeFile, () => new Promise((resolve) => setTimeout(resolve, 300)));
    recordProbe(samples, 'probe.idle', idle);
  }

  dispose(): void {
    rmSync(this.probeDir, { recursive: true, force: true });
  }
}

const fmt = (value: number, digits = 1): string =>
  Number.isNaN(value) ? '-' : value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });

const triple = (m: Record<string, number>, prefix: string): string =>
  `${fmt(m[`${prefix}P50Ms`], 2)} / ${fmt(m[`${prefix}P99Ms`])} / ${fmt(m[`${prefix}MaxMs`])}`;

function table(medians: Record<Mode, Record<string, number>>, idle: Record<string, number>): string {
  const rows: [string, (m: Record<string, number>) => string][] = [
    ['(a) 64 snapshots, one dir: sequential (ms)', (m) => fmt(m['snap.same.sequentialMs'], 0)],
    ['(a) 64 snapshots, one dir: Promise.all (ms)', (m) => fmt(m['snap.same.concurrentMs'], 0)],
    ['(a)   speedup (sequential / Promise.all)', (m) => `${fmt(m['snap.same.speedup'], 2)}x`],
    ['(a) 64 snapshots, 64 dirs: sequential (ms)', (m) => fmt(m['snap.own.sequentialMs'], 0)],
    ['(a) 64 snapshots, 64 dirs: Promise.all (ms)', (m) => fmt(m['snap.own.concurrentMs'], 0)],
    ['(a)   speedup (sequential / Promise.all)', (m) => `${fmt(m['snap.own.speedup'], 2)}x`],
    ['(b) during 64 snapshots: load wall (ms)', (m) => fmt(m['probe.snapshots.loadMs'], 0)],
    ['(b)   readFile count', (m) => fmt(m['probe.snapshots.reads'], 0)],
    ['(b)   readFile p50 / p99 / max (ms)', (m) => triple(m, 'probe.snapshots.read')],
    ['(b)   event-loop delay p50 / p99 / max (ms)', (m) => triple(m, 'probe.snapshots.eld')],
    ['(b) during 8 sync + waitSync: load wall (ms)', (m) => fmt(m['probe.sync.loadMs'], 0)],
    ['(b)   readFile count', (m) => fmt(m['probe.sync.reads'], 0)],
    ['(b)   readFile p50 / p99 / max (ms)', (m) => triple(m, 'probe.sync.read')],
    ['(b)   event-loop delay p50 / p99 / max (ms)', (m) => triple(m, 'probe.sync.eld')],
    ['(c) subvolumeInfo, 64 in flight (calls/s)', (m) => fmt(m['calls.subvolumeInfo.perSec'], 0)],
    ['(c)   per call (us)', (m) => fmt(m['calls.subvolumeInfo.usPerCall'])],
    ['(c) waitSync(done), 64 in flight (calls/s)', (m) => fmt(m['calls.waitSyncDone.perSec'], 0)],
    ['(c)   per call (us)', (m) => fmt(m['calls.waitSyncDone.usPerCall'])],
  ];
  const width = Math.max(...rows.map(([label]) => label.length));
  const lines = [`${'metric (median of rounds)'.padEnd(width)}  ${'dedicated'.padStart(14)}  ${'pool'.padStart(14)}`];
  lines.push('-'.repeat(lines[0].length));
  for (const [label, cell] of rows) lines.push(`${label.padEnd(width)}  ${cell(medians.dedicated).padStart(14)}  ${cell(medians.pool).padStart(14)}`);
  lines.push(
    `idle (300 ms, no load): readFile p50 / p99 / max ${triple(idle, 'probe.idle.read')} ms, ` +
      `event-loop delay ${triple(idle, 'probe.idle.eld')} ms`,
  );
  return lines.join('\n');
}

async function main(): Promise<void> {
  if (!isRoot) {
    console.log('bench/threads: skipped, needs root (loop devices, mount)');
    return;
  }
  const rounds = argValue('--rounds', 5);
  const samples: Record<Mode, Samples> = { dedicated: {}, pool: {} };
  const idle: Samples = {};
  // Other work on the machine skews every figure: the load averages go into the results to judge them.
  const loadBefore = loadavg();
  const scratch = scratchBtrfs({ size: 4 * 1024 ** 3 });
  const bench = new Bench(scratch);
  try {
    await bench.setup();
    // A warm-up round in each mode, not recorded: first-touch costs (page cache, thread creation).
    for (const mode of MODES) await bench.round(mode, {});
    for (let r = 0; r < rounds; r++) {
      await bench.baseline(idle);
      const order = r % 2 === 0 ? MODES : ([...MODES].reverse() as Mode[]);
      for (const mode of order) {
        await bench.round(mode, samples[mode]);
        process.stderr.write(`round ${r + 1}/${rounds} ${mode} done\n`);
      }
    }
  } finally {
    bench.dispose();
    scratch.cleanup();
    setDedicatedThreads(true);
  }
  const medianOf = (s: Samples) => Object.fromEntries(Object.entries(s).map(([k, v]) => [k, median(v)]));
  const medians = { dedicated: medianOf(samples.dedicated), pool: medianOf(samples.pool) };
  const idleMedians = medianOf(idle);
  const text = table(medians, idleMedians);
  console.log(text);
  const resultsDir = join(__dirname, '..', '..', 'bench', 'results');
  mkdirSync(resultsDir, { recursive: true });
  const file = join(resultsDir, 'threads.json');
  const meta = {
    date: new Date().toISOString(),
    node: process.version,
    kernel: release(),
    cpus: cpus().length,
    uvThreadpoolSize: Number(process.env.UV_THREADPOOL_SIZE ?? 4),
    rounds,
    loadavgBefore: loadBefore,
    loadavgAfter: loadavg(),
    snapshots: SNAPSHOTS,
    syncs: SYNCS,
    inFlight: IN_FLIGHT,
    throughputCalls: THROUGHPUT_CALLS,
  };
  writeFileSync(file, `${JSON.stringify({ meta, medians, idle: idleMedians, samples, idleSamples: idle, table: text }, null, 2)}\n`);
  console.log(`\nwritten: ${file}`);
}

// On Ctrl-C, exit normally so the scratch helper's exit hook unmounts and detaches.
process.once('SIGINT', () => process.exit(130));
main().catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
