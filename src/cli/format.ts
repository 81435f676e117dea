/**
 * Output helpers for the command-line tool: human sizes, aligned tables, a tree view.
 * @internal
 * @module
 */

const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB', 'EiB'];

/** 1536 -> '1.50KiB'; `raw` keeps bytes. null (no limit) -> 'none'. */
export function size(bytes: number | null, raw = false): string {
  if (bytes === null) return 'none';
  if (raw) return String(bytes);
  let value = bytes;
  let unit = 0;
  while (Math.abs(value) >= 1024 && unit < UNITS.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${value}B` : `${value.toFixed(2)}${UNITS[unit]}`;
}

/**
 * Parses a size as people type it: bytes, or a number with a binary suffix (k, m, g, t, p, e; 'KiB'
 * and 'K' alike). Returns null for 'none'.
 */
export function parseSize(text: string): number | null {
  if (/^none$/i.test(text)) return null;
  const match = /^(\d+(?:\.\d+)?)\s*([kmgtpe]?)(?:i?b)?$/i.exec(text.trim());
  if (!match) throw new UsageError(`not a size: '${text}' (use bytes or a suffix such as 512M, 10G, or 'none')`);
  const power = ' kmgtpe'.indexOf((match[2] || ' ').toLowerCase());
  const value = Number(match[1]) * 1024 ** power;
  if (!Number.isSafeInteger(Math.round(value))) throw new UsageError(`size out of range: '${text}'`);
  return Math.round(value);
}

/** Rows as aligned columns; the first row is the header. Right-aligns columns marked in `right`. */
export function table(rows: string[][], right: ReadonlySet<number> = new Set()): string {
  if (rows.length === 0) return '';
  const widths = rows[0]!.map((_, col) => Math.max(...rows.map((row) => (row[col] ?? '').length)));
  const line = (row: string[]) =>
    row
      .map((cell, col) => (col === row.length - 1 && !right.has(col) ? cell : right.has(col) ? cell.padStart(widths[col]!) : cell.padEnd(widths[col]!)))
      .join('  ')
      .trimEnd();
  return [line(rows[0]!), line(widths.map((w) => '-'.repeat(w))), ...rows.slice(1).map(line)].join('\n');
}

/** A tree view of slash-separated paths (already in pre-order), each with a label. */
export function tree(entries: { path: string; label: string }[], rootLabel: string): string {
  const paths = entries.map((e) => e.path);
  const parents = paths.map((p) => parentOf(p, paths));
  const isLast = parents.map((parent, i) => !parents.slice(i + 1).includes(parent));
  const indexOf = new Map(paths.map((p, i) => [p, i]));
  const lines = [rootLabel];
  entries.forEach((entry, i) => {
    const bars: string[] = [];
    for (let a = parents[i]!; a !== null; ) {
      const ai = indexOf.get(a)!;
      bars.unshift(isLast[ai] ? '    ' : '│   ');
      a = parents[ai]!;
    }
    const parent = parents[i];
    const name = parent ? entry.path.slice(parent.length + 1) : entry.path;
    lines.push(`${bars.join('')}${isLast[i] ? '└── ' : '├── '}${name}  ${entry.label}`);
  });
  return lines.join('\n');
}

/** The nearest listed ancestor of `path`, or null at the top. */
function parentOf(path: string, paths: readonly string[]): string | null {
  let best: string | null = null;
  for (const candidate of paths) {
    if (candidate !== path && path.startsWith(`${candidate}/`) && (best === null || candidate.length > best.length)) best = candidate;
  }
  return best;
}

/** A command-line mistake: exit code 2 and a usage hint. */
export class UsageError extends Error {
  override get name(): string {
    return 'UsageError';
  }
}
