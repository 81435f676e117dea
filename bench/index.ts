/**
 * `npm run bench`: the benchmark suite of issue 8. As root, it provisions scratch btrfs filesystems
 * on loop devices, runs every scenario for this library (Sync and Promise APIs), for the peers (btrfs
 * CLI processes, python3-btrfsutil, mkfs.btrfs, mount/losetup) and for the raw C limit compiled from
 * bench/limit.c, then prints one table and writes bench/results/latest.json and BENCHMARKS.md.
 *
 *   npm run bench                      every scenario, full size (about 15 minutes on 2 cores)
 *   npm run bench -- --quick           fewer rounds and iterations
 *   npm run bench -- --smoke           a few iterations of each, for CI (under a minute)
 *   npm run bench -- --filter NAME     scenarios whose number or name contains NAME (repeatable)
 *   npm run bench -- --no-write        print only; keep latest.json and BENCHMARKS.md as they are
 *   npm run bench -- --report          rewrite BENCHMARKS.md from latest.json (after editing bench/notes.md)
 *
 * Smoke, quick and filtered runs write out/bench/<mode>.json and leave bench/results/latest.json and
 * BENCHMARKS.md to full runs. Everything the run makes (mounts, loop devices, images) is removed at the end, on
 * Ctrl-C and when a scenario throws; the last line says whether anything was left behind.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, release, totalmem } from 'node:os';
import { join } from 'node:path';
import { ScenarioContext } from './context';
import { markdown } from './markdown';
import { consoleTable, evaluate, type Row } from './report';
import { perCall } from './s1-calls';
import { listing } from './s2-list';
import { createSnapshotDelete } from './s3-create';
import { qgroups } from './s4-qgroup';
import { mkfsScenario } from './s5-mkfs';
import { mountScenario } from './s6-mount';
import { loadScenario } from './s7-load';
import { debVersion, killChildren, LIMIT_BIN, load, type Mode, type Options, PYTHON, ROOT, startLauncher, stopLauncher, versionOf } from './util';

const SCENARIOS: { n: number; name: string; run: (ctx: ScenarioContext) => Promise<Row[]> }[] = [
  { n: 1, name: 'calls', run: perCall },
  { n: 2, name: 'list', run: listing },
  { n: 3, name: 'create-snapshot-delete', run: createSnapshotDelete },
  { n: 4, name: 'qgroup', run: qgroups },
  { n: 5, name: 'mkfs', run: mkfsScenario },
  { n: 6, name: 'mount-loop', run: mountScenario },
  { n: 7, name: 'load', run: loadScenario },
];

function parseArgs(argv: string[]): Options & { write: boolean; report: boolean } {
  let mode: Mode = 'full';
  const filter: string[] = [];
  let write = true;
  let report = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--report') report = true;
    else if (a === '--quick') mode = 'quick';
    else if (a === '--smoke') mode = 'smoke';
    else if (a === '--no-write') write = false;
    else if (a === '--filter') {
      const value = argv[++i];
      if (!value) throw new Error('--filter needs a scenario number or name');
      filter.push(value.toLowerCase());
    } else if (a.startsWith('--filter=')) filter.push(a.slice('--filter='.length).toLowerCase());
    else throw new Error(`unknown argument ${a} (use --quick, --smoke, --filter NAME, --no-write, --report)`);
  }
  return { mode, filter, write, report };
}

const log = (line: string): void => {
  process.stderr.write(`${line}\n`);
};

/** Compiles bench/limit.c into out/bench/limit (gcc -O2), as the library's own addon is built. */
function buildLimit(): void {
  mkdirSync(join(ROOT, 'out', 'bench'), { recursive: true });
  execFileSync('gcc', ['-O2', '-Wall', '-pthread', '-o', LIMIT_BIN, join(ROOT, 'bench', 'limit.c')], { stdio: 'inherit' });
}

/** Our mounts, loop devices and temp dirs still present (should be none). */
function leftovers(): string[] {
  const out: string[] = [];
  const ours = (s: string) => /\/btrfs-(test|img)-/.test(s);
  try {
    for (const line of execFileSync('losetup', ['-a', '-n', '-O', 'NAME,BACK-FILE'], { encoding: 'utf8' }).split('\n')) if (ours(line)) out.push(`loop: ${line.trim()}`);
  } catch {
    // no losetup: nothing to report
  }
  for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) if (ours(line.split(' ')[4] ?? '')) out.push(`mount: ${line.split(' ')[4]}`);
  return out;
}

/** --report: BENCHMARKS.md again from latest.json (after editing bench/notes.md), without running anything. */
function rerender(): void {
  const { meta, rows } = JSON.parse(readFileSync(join(ROOT, 'bench', 'results', 'latest.json'), 'utf8'));
  writeFileSync(join(ROOT, 'BENCHMARKS.md'), markdown(meta, rows));
  console.log(consoleTable(rows));
  log(`written: ${join(ROOT, 'BENCHMARKS.md')}`);
}

async function main(): Promise<void> {
  const opts = parseArgs(process.argv.slice(2));
  if (opts.report) return rerender();
  if (process.geteuid?.() !== 0) {
    console.error('bench: needs root (loop devices, mount); run `sudo npm run bench`');
    process.exitCode = 1;
    return;
  }
  buildLimit();
  // From here on this process starts no program itself: see bench/launcher.py.
  startLauncher();
  const selected = SCENARIOS.filter((s) => opts.filter.length === 0 || opts.filter.some((f) => String(s.n) === f || s.name.includes(f)));
  if (selected.length === 0) throw new Error(`--filter ${opts.filter.join(', ')} matches no scenario (${SCENARIOS.map((s) => `${s.n} ${s.name}`).join(', ')})`);
  const started = new Date();
  const loads: Record<string, { before: number[]; after: number[]; seconds: number; error?: string }> = {};
  const rows: Row[] = [];
  for (const scenario of selected) {
    log(`== scenario ${scenario.n} (${scenario.name}), load ${load().join(' ')}`);
    const ctx = new ScenarioContext(opts, log);
    const before = load();
    const t0 = Date.now();
    let error: string | undefined;
    try {
      rows.push(...(await scenario.run(ctx)));
    } catch (e) {
      error = (e as Error).stack ?? String(e);
      log(`scenario ${scenario.n} failed: ${error}`);
      rows.push({ id: `${scenario.n}.error`, scenario: scenario.n, metric: 'scenario failed', impl: '-', kind: 'info', unit: '-', better: 'lower', samples: [], note: `error: ${(e as Error).message.split('\n')[0]}` });
    } finally {
      ctx.dispose();
    }
    loads[scenario.n] = { before, after: load(), seconds: Math.round((Date.now() - t0) / 100) / 10, ...(error ? { error } : {}) };
  }
  stopLauncher();
  const results = evaluate(rows);
  const table = consoleTable(results);
  console.log(table);

  const meta = {
    date: started.toISOString(),
    mode: opts.mode,
    filter: opts.filter,
    seconds: Math.round((Date.now() - started.getTime()) / 1000),
    machine: { cpus: cpus().length, cpuModel: cpus()[0]?.model ?? '', memoryGiB: Math.round(totalmem() / 1024 ** 3), kernel: release(), arch: process.arch },
    versions: {
      node: process.version,
      btrfsProgs: versionOf('btrfs', ['--version']),
      python3Btrfsutil: debVersion('python3-btrfsutil'),
      python: versionOf(PYTHON, ['--version']),
      gcc: versionOf('gcc', ['-dumpfullversion']),
      utilLinux: versionOf('losetup', ['--version']),
      uvThreadpoolSize: Number(process.env.UV_THREADPOOL_SIZE ?? 4),
      // What was measured: the work tree as built by this run (dirty = uncommitted changes in it).
      git: versionOf('git', ['-C', ROOT, 'describe', '--always', '--dirty']),
    },
    load: loads,
  };
  const left = leftovers();
  const dir = join(ROOT, 'bench', 'results');
  mkdirSync(dir, { recursive: true });
  const official = opts.mode === 'full' && opts.filter.length === 0;
  if (opts.write) {
    // Only full runs of everything are results; the others go to out/ (build output, not committed).
    const file = official ? join(dir, 'latest.json') : join(ROOT, 'out', 'bench', `${opts.mode}${opts.filter.length ? `-${opts.filter.join('-')}` : ''}.json`);
    writeFileSync(file, `${JSON.stringify({ meta, leftovers: left, rows: results }, null, 2)}\n`);
    log(`written: ${file}`);
    if (official) {
      writeFileSync(join(ROOT, 'BENCHMARKS.md'), markdown(meta, results));
      log(`written: ${join(ROOT, 'BENCHMARKS.md')}`);
    }
  }
  console.log(left.length === 0 ? 'cleanup: no mount, loop device or image left behind' : `cleanup: LEFT BEHIND:\n${left.join('\n')}`);
  if (left.length > 0) process.exitCode = 1;
  if (opts.mode === 'smoke' && rows.some((r) => r.id.endsWith('.error'))) process.exitCode = 1;
}

// Ctrl-C or a kill: stop the peers, then exit normally so the scratch helpers' exit hooks unmount,
// detach and remove everything (test/helpers/scratch.ts).
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.once(signal, () => {
    log(`bench: ${signal}, cleaning up`);
    killChildren();
    process.exit(130);
  });
}
process.on('exit', killChildren);

main().catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
