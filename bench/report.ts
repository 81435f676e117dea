/**
 * Rows of the results table, their targets, and the three renderings: the console table, the JSON
 * (bench/results/latest.json) and BENCHMARKS.md.
 *
 * Ratios are cost ratios: our cost divided by theirs (time over time, or their rate over ours for
 * rates), so below 1 means faster, whatever the unit. "×limit" compares with the C limit, "×peer"
 * with the best peer (the fastest of the rows listed as peers).
 */
import { median } from './util';

/** Who a row measures. */
export type Kind = 'ours' | 'limit' | 'peer' | 'info';

export type Target =
  /** cost ratio to the row's limit at most `max` */
  | { type: 'limit'; max: number }
  /** cost ratio to a peer row (by id) at most `max`; `name` for the text */
  | { type: 'peer'; id: string; max: number; name: string }
  /** `ref`'s median over this row's median at least `min` (a speedup) */
  | { type: 'speedup'; ref: string; min: number; text: string }
  /** the median itself within bounds */
  | { type: 'value'; max?: number; min?: number; text: string };

export interface Row {
  /** Unique key, e.g. '1.info.sync'. */
  id: string;
  scenario: number;
  /** What is measured, e.g. 'subvolumeInfoSync(path)'. */
  metric: string;
  /** Who: 'btrfs', 'C limit', 'python3-btrfsutil', 'btrfs CLI', ... */
  impl: string;
  kind: Kind;
  unit: string;
  better: 'lower' | 'higher';
  samples: number[];
  /** Id of the C-limit row to compare with. */
  limit?: string;
  /** Ids of peer rows; the best of them is the reference. */
  peers?: string[];
  targets?: Target[];
  /** Peak RSS (MiB) of the process, where it matters. */
  rssMiB?: number;
  /** A short explanation (why a target is missed, a placeholder's reason). */
  note?: string;
}

/** A row with its statistics and verdicts, as written to the JSON. */
export interface ResultRow extends Row {
  min: number | null;
  median: number | null;
  max: number | null;
  ratioLimit: number | null;
  ratioPeer: number | null;
  bestPeer: string | null;
  targetText: string;
  met: boolean | null;
}

const finite = (x: number): number | null => (Number.isFinite(x) ? x : null);

/** Cost ratio of a over b (below 1: a is cheaper). */
function costRatio(a: Row, aMedian: number, bMedian: number): number {
  return a.better === 'lower' ? aMedian / bMedian : bMedian / aMedian;
}

function targetText(t: Target): string {
  switch (t.type) {
    case 'limit':
      return `≤${t.max}x C`;
    case 'peer':
      return t.max < 1 ? `≥${fmtNum(1 / t.max, 2)}x faster than ${t.name}` : `≤${t.max}x ${t.name}`;
    case 'speedup':
    case 'value':
      return t.text;
  }
}

export function evaluate(rows: Row[]): ResultRow[] {
  const byId = new Map(rows.map((r) => [r.id, r]));
  const med = (r: Row | undefined) => (r ? median(r.samples) : Number.NaN);
  return rows.map((row) => {
    const m = median(row.samples);
    const limitRow = row.limit ? byId.get(row.limit) : undefined;
    const ratioLimit = limitRow ? costRatio(row, m, med(limitRow)) : Number.NaN;
    let bestPeer: Row | undefined;
    let ratioPeer = Number.NaN;
    for (const id of row.peers ?? []) {
      const peer = byId.get(id);
      if (!peer || peer.samples.length === 0) continue;
      const ratio = costRatio(row, m, med(peer));
      if (!Number.isFinite(ratioPeer) || ratio > ratioPeer) {
        ratioPeer = ratio; // the best peer is the one we compare worst against
        bestPeer = peer;
      }
    }
    let met: boolean | null = null;
    if (row.targets?.length && row.samples.length > 0) {
      met = row.targets.every((t) => {
        switch (t.type) {
          case 'limit':
            return Number.isFinite(ratioLimit) && ratioLimit <= t.max;
          case 'peer': {
            const peer = byId.get(t.id);
            if (!peer || peer.samples.length === 0) return false;
            return costRatio(row, m, med(peer)) <= t.max;
          }
          case 'speedup': {
            const ref = byId.get(t.ref);
            return !!ref && med(ref) / m >= t.min;
          }
          case 'value':
            return (t.max === undefined || m <= t.max) && (t.min === undefined || m >= t.min);
        }
      });
    }
    return {
      ...row,
      min: finite(Math.min(...row.samples)),
      median: finite(m),
      max: finite(Math.max(...row.samples)),
      ratioLimit: finite(ratioLimit),
      ratioPeer: finite(ratioPeer),
      bestPeer: bestPeer ? bestPeer.impl : null,
      targetText: (row.targets ?? []).map(targetText).join('; '),
      met,
    };
  });
}

// ---- formatting ----

export function fmtNum(x: number | null | undefined, digits?: number): string {
  if (x === null || x === undefined || !Number.isFinite(x)) return '-';
  const abs = Math.abs(x);
  const d = digits ?? (abs >= 1000 ? 0 : abs >= 100 ? 0 : abs >= 10 ? 1 : abs >= 1 ? 2 : 3);
  return x.toLocaleString('en-US', { minimumFractionDigits: d, maximumFractionDigits: d });
}

const fmtRatio = (x: number | null): string => (x === null ? '' : `${fmtNum(x, x >= 10 ? 0 : x >= 1 ? 2 : 3)}x`);
const fmtMet = (r: ResultRow): string => (r.met === null ? '' : r.met ? 'yes' : 'NO');

interface Column {
  head: string;
  cell: (r: ResultRow) => string;
  right?: boolean;
}

const COLUMNS: Column[] = [
  { head: 'metric', cell: (r) => (r.kind === 'ours' || r.kind === 'info' ? r.metric : `  ${r.metric}`) },
  { head: 'impl', cell: (r) => r.impl },
  { head: 'unit', cell: (r) => r.unit },
  { head: 'min', cell: (r) => fmtNum(r.min), right: true },
  { head: 'median', cell: (r) => (r.samples.length === 0 ? (r.note ?? 'n/a') : fmtNum(r.median)), right: true },
  { head: 'max', cell: (r) => fmtNum(r.max), right: true },
  { head: '×limit', cell: (r) => fmtRatio(r.ratioLimit), right: true },
  { head: '×peer', cell: (r) => (r.ratioPeer === null ? '' : `${fmtRatio(r.ratioPeer)} ${r.bestPeer}`) },
  { head: 'target', cell: (r) => r.targetText },
  { head: 'met', cell: fmtMet },
  { head: 'RSS MiB', cell: (r) => fmtNum(r.rssMiB, 1), right: true },
];

const SCENARIOS: Record<number, string> = {
  1: 'per call',
  2: 'listing subvolumes',
  3: 'create, snapshot, delete',
  4: 'qgroupInfo',
  5: 'mkfs',
  6: 'mount and loop devices',
  7: 'load: 64 async callers',
};

export function scenarioTitle(n: number): string {
  return `${n}. ${SCENARIOS[n] ?? ''}`;
}

/** The console table: one block per scenario. Placeholders show their note in the median column. */
export function consoleTable(rows: ResultRow[]): string {
  const cells = rows.map((r) => COLUMNS.map((c) => c.cell(r)));
  const widths = COLUMNS.map((c, i) => Math.max(c.head.length, ...cells.map((row) => (c.head === 'median' && rows[cells.indexOf(row)]!.samples.length === 0 ? 0 : row[i]!.length))));
  const pad = (s: string, i: number) => (COLUMNS[i]!.right ? s.padStart(widths[i]!) : s.padEnd(widths[i]!));
  const lines = [COLUMNS.map((c, i) => pad(c.head, i)).join('  ')];
  lines.push('-'.repeat(lines[0]!.length));
  let scenario = 0;
  rows.forEach((r, k) => {
    if (r.scenario !== scenario) {
      scenario = r.scenario;
      lines.push(`== ${scenarioTitle(scenario)}`);
    }
    if (r.samples.length === 0) {
      lines.push(`${pad(cells[k]![0]!, 0)}  ${pad(r.impl, 1)}  ${r.note ?? 'no data'}`);
      return;
    }
    lines.push(cells[k]!.map((c, i) => pad(c, i)).join('  ').trimEnd());
  });
  return lines.join('\n');
}

const mdEscape = (s: string): string => s.replace(/\|/g, '\\|');

/** The markdown table for BENCHMARKS.md. */
export function markdownTable(rows: ResultRow[]): string {
  const lines: string[] = [];
  let scenario = 0;
  for (const r of rows) {
    if (r.scenario !== scenario) {
      scenario = r.scenario;
      if (lines.length) lines.push('');
      lines.push(`### ${scenarioTitle(scenario)}`, '');
      lines.push(`| ${COLUMNS.map((c) => c.head).join(' | ')} |`);
      lines.push(`|${COLUMNS.map((c) => (c.right ? '---:' : '---')).join('|')}|`);
    }
    const cells = COLUMNS.map((c) => mdEscape(c.cell(r)));
    if (r.kind !== 'ours' && r.kind !== 'info') cells[0] = `&nbsp;&nbsp;${mdEscape(r.metric)}`;
    if (r.samples.length === 0) cells[4] = mdEscape(r.note ?? 'no data');
    if (r.met === false) cells[9] = '**NO**';
    lines.push(`| ${cells.join(' | ')} |`);
  }
  return lines.join('\n');
}
