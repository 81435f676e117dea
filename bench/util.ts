/**
 * Shared pieces of the benchmark suite: options, timing and statistics, the peers' runners (the C
 * limit, the python3-btrfsutil process, btrfs-progs and util-linux commands), child Node processes
 * for peak-RSS measurements, and the process bookkeeping that lets an interrupted run clean up.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { type IntervalHistogram, monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';

/** Where the repository is (out/bench/util.js -> ../..). */
export const ROOT = join(__dirname, '..', '..');
/** The compiled C limit (built by index.ts before anything runs). */
export const LIMIT_BIN = join(ROOT, 'out', 'bench', 'limit');
/** Debian's interpreter, the one python3-btrfsutil is installed for (a pyenv python3 first in PATH would not have it). */
export const PYTHON = '/usr/bin/python3';

export type Mode = 'full' | 'quick' | 'smoke';

export interface Options {
  mode: Mode;
  /** Scenario filter: numbers or words matched against scenario names. */
  filter: string[];
}

/** Picks the value for the current mode. */
export function pick<T>(opts: Options, full: T, quick: T, smoke: T): T {
  return opts.mode === 'full' ? full : opts.mode === 'quick' ? quick : smoke;
}

// ---- statistics ----

/** Nearest-rank percentile of unsorted numbers. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

/** The median; for an even count, the mean of the two middle values. */
export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

export const nowMs = (): number => performance.now();

/** Wall time of `fn`, ms. */
export async function timeMs(fn: () => unknown): Promise<number> {
  const start = performance.now();
  await fn();
  return performance.now() - start;
}

/** Wall time of a synchronous `fn`, ms. */
export function timeSyncMs(fn: () => unknown): number {
  const start = performance.now();
  fn();
  return performance.now() - start;
}

/** Runs `total` calls of `fn` with `width` in flight at a time. */
export async function inFlight(width: number, total: number, fn: (i: number) => Promise<unknown>): Promise<void> {
  let next = 0;
  const lane = async () => {
    while (next < total) await fn(next++);
  };
  await Promise.all(Array.from({ length: Math.min(width, total) }, lane));
}

/** The event loop's delay while `fn` runs: max and p99 in ms (1 ms resolution). */
export async function withLoopDelay<T>(fn: () => Promise<T>): Promise<{ value: T; maxMs: number; p99Ms: number }> {
  const h: IntervalHistogram = monitorEventLoopDelay({ resolution: 1 });
  h.enable();
  try {
    const value = await fn();
    return { value, maxMs: h.max / 1e6, p99Ms: h.percentile(99) / 1e6 };
  } finally {
    h.disable();
  }
}

/** The event loop's worst delay over `ms` of doing nothing: the machine's noise floor for the figures above. */
export async function idleLoopDelay(ms: number): Promise<number> {
  const { maxMs } = await withLoopDelay(() => new Promise((resolve) => setTimeout(resolve, ms)));
  return maxMs;
}

/**
 * Interleaved runs: one unrecorded warm-up of each variant, then `runs` rounds in which every
 * variant runs once, in a fresh shuffled order each round (seeded, so a run is repeatable), so
 * drift on a shared machine hits all alike. A rotation is not enough: it keeps the cyclic order,
 * so a variant always follows the same one, and whatever that one leaves behind (a filesystem
 * still busy, an idle process) is charged to it every round: scenario 3's Sync creates, always
 * run after the btrfs CLI variant, measured 1.9x C where the same creates in another place
 * measured 1.1x.
 */
export async function interleave(runs: number, variants: { name: string; run: () => Promise<void> | void }[], log: (s: string) => void): Promise<void> {
  for (const v of variants) await v.run();
  const random = seededRandom(variants.length);
  for (let r = 0; r < runs; r++) {
    const order = [...variants];
    for (let i = order.length - 1; i > 0; i--) {
      const j = Math.floor(random() * (i + 1));
      [order[i], order[j]] = [order[j]!, order[i]!];
    }
    for (const v of order) await v.run();
    log(`  round ${r + 1}/${runs}`);
  }
}

/** A small seeded PRNG (mulberry32): numbers in [0, 1), the same sequence for the same seed. */
function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A sample collector: a fresh array per key. */
export class Samples {
  private readonly data = new Map<string, number[]>();
  /** Records a value, unless recording is off (warm-up). */
  add(key: string, value: number): void {
    if (!this.recording) return;
    let list = this.data.get(key);
    if (!list) this.data.set(key, (list = []));
    list.push(value);
  }
  get(key: string): number[] {
    return this.data.get(key) ?? [];
  }
  recording = false;
}

// ---- machine ----

export const load = (): number[] => loadavg().map((x) => Math.round(x * 100) / 100);

/** Number of open descriptors of this process. */
export const openFdCount = (): number => readdirSync('/proc/self/fd').length;

// ---- child processes (killed on exit so an interrupted run can unmount) ----

const children = new Set<ChildProcess>();

/** Kills every child still running (SIGKILL): called on SIGINT and at exit, before the scratch sweep runs. */
export function killChildren(): void {
  for (const child of children) {
    try {
      child.kill('SIGKILL');
    } catch {
      // already gone
    }
  }
  children.clear();
}

function track(child: ChildProcess): ChildProcess {
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

/** What bench/launcher.py answers for one command. */
interface Launched {
  code: number;
  stdout: string;
  stderr: string;
  ns: number;
}

/**
 * The helper process (bench/launcher.py) that runs every command once the scenarios start, so this
 * process never forks while it measures: a fork leaves each of its pages copy-on-write, and the
 * first write to each afterwards is a fault (15-20 µs here), charged to whichever of our variants
 * ran next while the C limit and python3-btrfsutil, in processes of their own, never paid it.
 */
class Launcher {
  private readonly child: ChildProcess;
  private readonly lines: AsyncIterator<string>;
  /** Commands answer in order: one after another. */
  private queue: Promise<unknown> = Promise.resolve();

  constructor() {
    this.child = track(spawn(PYTHON, [join(ROOT, 'bench', 'launcher.py')], { stdio: ['pipe', 'pipe', 'inherit'] }));
    this.lines = createInterface({ input: this.child.stdout! })[Symbol.asyncIterator]();
  }

  exec(argv: string[], stdin?: string): Promise<Launched> {
    const next = this.queue.then(async () => {
      this.child.stdin!.write(`${JSON.stringify({ argv, stdin: stdin ?? null })}\n`);
      const { value, done } = await this.lines.next();
      if (done) throw new Error('bench/launcher.py exited');
      return JSON.parse(value) as Launched;
    });
    this.queue = next.catch(() => undefined);
    return next;
  }

  close(): void {
    this.child.stdin!.end();
  }
}

let launcher: Launcher | undefined;

/** Starts the command launcher (index.ts does, before the first scenario). */
export function startLauncher(): void {
  launcher ??= new Launcher();
}

/** Lets the launcher exit (at the end of the run). */
export function stopLauncher(): void {
  launcher?.close();
  launcher = undefined;
}

async function launch(cmd: string, args: string[], stdin?: string): Promise<Launched> {
  startLauncher();
  const result = await launcher!.exec([cmd, ...args], stdin);
  if (result.code !== 0) throw new Error(`${cmd} ${args.join(' ')}: exit ${result.code}: ${result.stderr.trim()}`);
  return result;
}

/** Runs a command to completion through the launcher and returns its stdout; rejects on non-zero exit. */
export async function run(cmd: string, args: string[], options: { stdin?: string } = {}): Promise<string> {
  return (await launch(cmd, args, options.stdin)).stdout;
}

export interface LimitResult {
  ns: number;
  n: number;
  [key: string]: number;
}

/** Runs the C limit; it times its own loop. */
export async function limit(...args: (string | number)[]): Promise<LimitResult> {
  const out = await run(LIMIT_BIN, args.map(String));
  return JSON.parse(out) as LimitResult;
}

/** Runs a command as a program that shells out would (start to exit), and returns its wall time in ms. */
export async function commandMs(cmd: string, args: string[]): Promise<number> {
  return (await command(cmd, args)).ms;
}

/** {@link commandMs}, with the command's output. */
export async function command(cmd: string, args: string[]): Promise<{ ms: number; stdout: string }> {
  const result = await launch(cmd, args);
  return { ms: result.ns / 1e6, stdout: result.stdout };
}

/**
 * Runs a command synchronously from this process and returns its stdout: for setting up, before a
 * scenario's warm-up round (it forks: see the launcher).
 */
export function sh(cmd: string, ...args: string[]): string {
  return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

/** One long-running python3-btrfsutil process (bench/peer.py): a JSON command in, a JSON line out. */
export class PythonPeer {
  private readonly child: ChildProcess;
  private readonly lines: AsyncIterator<string>;

  constructor() {
    this.child = track(spawn(PYTHON, [join(ROOT, 'bench', 'peer.py')], { stdio: ['pipe', 'pipe', 'inherit'] }));
    this.lines = createInterface({ input: this.child.stdout! })[Symbol.asyncIterator]();
  }

  async run(command: Record<string, unknown>): Promise<LimitResult> {
    this.child.stdin!.write(`${JSON.stringify(command)}\n`);
    const { value, done } = await this.lines.next();
    if (done) throw new Error('python3-btrfsutil peer exited');
    const result = JSON.parse(value) as LimitResult & { error?: string };
    if (result.error) throw new Error(`python3-btrfsutil: ${result.error}`);
    return result;
  }

  close(): void {
    this.child.stdin!.end();
  }
}

/** Runs `node out/bench/child.js JOB` in a fresh process and returns what it prints (JSON). */
export async function childJob<T>(job: Record<string, unknown>, nodeArgs: string[] = []): Promise<T> {
  const out = await run(process.execPath, [...nodeArgs, join(__dirname, 'child.js'), JSON.stringify(job)]);
  return JSON.parse(out) as T;
}

// ---- versions ----

export function versionOf(cmd: string, args: string[]): string {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim().split('\n')[0]!;
  } catch {
    return 'missing';
  }
}

export function debVersion(pkg: string): string {
  try {
    return execFileSync('dpkg-query', ['-W', '-f=${Version}', pkg], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();
  } catch {
    return 'missing';
  }
}

export const fileExists = existsSync;
