/**
 * Scenario 7: load. 64 async callers issue mixed reads (subvolumeInfo, a full subvolumes() listing
 * of 100 subvolumes with info, qgroupInfo on 101 qgroups) for 10 s. Reports throughput, p50/p99
 * latency, the event loop's worst delay, and that memory is flat (heap after GC at the end against
 * after the first second; RSS the same) with no file descriptor leaked.
 */
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import type { Ctx } from './context';
import type { Row } from './report';
import { createSubvolumeSync, qgroupInfo, quotaEnableSync, quotaRescanWaitSync, subvolumeInfo, subvolumes, syncSync } from '../src/index';
import { idleLoopDelay, limit, openFdCount, percentile, pick, withLoopDelay } from './util';

const CALLERS = 64;
const MiB = 1024 * 1024;

/**
 * Latencies recorded outside the V8 heap, in a typed array allocated before the run: a plain array
 * grown by push held ~60,000 doubles per run at the end, ~1 MiB, which the heap-growth row then
 * reported as the library's.
 */
class Latencies {
  private values = new Float64Array(1 << 18);
  length = 0;
  push(ms: number): void {
    if (this.length === this.values.length) {
      const bigger = new Float64Array(this.values.length * 2);
      bigger.set(this.values);
      this.values = bigger;
    }
    this.values[this.length++] = ms;
  }
  toArray(): number[] {
    return Array.from(this.values.subarray(0, this.length));
  }
}

/** A full GC, for a heap figure that does not depend on when the last collection ran. */
function collect(): void {
  setFlagsFromString('--expose-gc');
  (runInNewContext('gc') as () => void)();
}

export async function loadScenario(ctx: Ctx): Promise<Row[]> {
  const { opts } = ctx;
  const seconds = pick(opts, 10, 5, 1);
  const runs = pick(opts, 3, 1, 1);
  const scratch = ctx.scratch({ size: 2 * 1024 ** 3 });
  const mnt = scratch.mnt;
  quotaEnableSync(mnt);
  const listDir = join(mnt, 'list');
  createSubvolumeSync(listDir);
  await limit('batch', 'create', listDir, 100, 0, 1);
  syncSync(mnt);
  quotaRescanWaitSync(mnt);

  const kinds = ['info', 'list', 'qgroup'] as const;
  const call = async (k: (typeof kinds)[number]) => {
    if (k === 'info') await subvolumeInfo(listDir);
    else if (k === 'list') for await (const _ of subvolumes(listDir, { info: true }));
    else await qgroupInfo(mnt);
  };
  const samples: Record<string, number[]> = {};
  const add = (key: string, v: number) => (samples[key] ??= []).push(v);

  for (let r = -1; r < runs; r++) {
    // r = -1: warm-up, not recorded
    const fdsBefore = openFdCount();
    const latencies: Record<string, Latencies> = { info: new Latencies(), list: new Latencies(), qgroup: new Latencies(), all: new Latencies() };
    let ops = 0;
    let heapWarm = 0;
    let rssWarm = 0;
    const rss: number[] = [];
    const start = performance.now();
    const end = start + (r < 0 ? 1 : seconds) * 1000;
    let warmTaken = false;
    const sampler = setInterval(() => rss.push(process.memoryUsage.rss()), 100);
    const { maxMs } = await withLoopDelay(() =>
      Promise.all(
        Array.from({ length: CALLERS }, async (_, caller) => {
          for (let i = caller; performance.now() < end; i++) {
            const k = kinds[i % kinds.length]!;
            const t = performance.now();
            await call(k);
            const ms = performance.now() - t;
            latencies[k]!.push(ms);
            latencies.all!.push(ms);
            ops++;
            if (!warmTaken && performance.now() - start > 1000) {
              warmTaken = true;
              collect();
              heapWarm = process.memoryUsage().heapUsed;
              rssWarm = process.memoryUsage.rss();
            }
          }
        }),
      ),
    );
    clearInterval(sampler);
    const elapsed = (performance.now() - start) / 1000;
    collect();
    const heapEnd = process.memoryUsage().heapUsed;
    const rssEnd = process.memoryUsage.rss();
    const fdsAfter = openFdCount();
    if (r < 0) continue;
    add('idle', await idleLoopDelay(1000));
    add('ops', ops / elapsed);
    const all = latencies.all!.toArray();
    add('p50', percentile(all, 50));
    add('p99', percentile(all, 99));
    for (const k of kinds) {
      const values = latencies[k]!.toArray();
      add(`${k}.p50`, percentile(values, 50));
      add(`${k}.p99`, percentile(values, 99));
    }
    add('eld', maxMs);
    add('heap', warmTaken ? (heapEnd - heapWarm) / MiB : Number.NaN);
    add('rss', warmTaken ? (rssEnd - rssWarm) / MiB : Number.NaN);
    add('rssPeak', Math.max(...rss, rssEnd) / MiB);
    add('fds', fdsAfter - fdsBefore);
    ctx.log(`  round ${r + 1}/${runs}: ${Math.round(ops / elapsed)} ops/s`);
  }
  const get = (k: string) => (samples[k] ?? []).filter(Number.isFinite);
  const row = (id: string, metric: string, unit: string, better: 'lower' | 'higher', extra: Partial<Row> = {}): Row => ({
    id: `7.${id}`, scenario: 7, metric, impl: 'btrfs', kind: 'ours', unit, better, samples: get(id), ...extra,
  });
  const peakRss = get('rssPeak');
  return [
    row('ops', `${CALLERS} callers, ${seconds} s of info / list (100, info) / qgroupInfo (101)`, 'ops/s', 'higher', { rssMiB: peakRss.length ? Math.max(...peakRss) : undefined }),
    row('p50', 'latency p50, all calls', 'ms', 'lower', { kind: 'info' }),
    row('p99', 'latency p99, all calls', 'ms', 'lower', { kind: 'info' }),
    ...kinds.flatMap((k) => [row(`${k}.p50`, `latency p50, ${k}`, 'ms', 'lower', { kind: 'info' }), row(`${k}.p99`, `latency p99, ${k}`, 'ms', 'lower', { kind: 'info' })]),
    row('eld', 'event-loop worst delay', 'ms', 'lower', { kind: 'info' }),
    row('idle', 'event-loop worst delay, idle for 1 s (noise floor)', 'ms', 'lower', { kind: 'info' }),
    row('heap', 'heap growth after GC, from 1 s to the end', 'MiB', 'lower', { targets: [{ type: 'value', max: 1, text: '< 1 MiB (flat)' }] }),
    row('rss', 'RSS growth, from 1 s to the end', 'MiB', 'lower', { kind: 'info' }),
    row('fds', 'descriptors left open after the run', 'fds', 'lower', { targets: [{ type: 'value', max: 0, text: '0 (no leak)' }] }),
  ];
}
