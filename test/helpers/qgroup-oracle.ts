/**
 * btrfs-progs as the oracle for quotas: parsers for `btrfs qgroup show --raw -pcre` and for the
 * quota tree as `btrfs inspect-internal dump-tree -t quota` prints it (the committed state: sync
 * first). Neither shares code with the library.
 */
import { readFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { btrfsProgs } from './scratch';

/** One row of `btrfs qgroup show --raw -pcre`. */
export interface ShownQgroup {
  qgroupid: string;
  rfer: number;
  excl: number;
  /** null for "none". */
  maxRfer: number | null;
  maxExcl: number | null;
  parents: string[];
  children: string[];
}

const limit = (v: string): number | null => (v === 'none' ? null : Number(v));
const list = (v: string): string[] => (v === '-' ? [] : v.split(','));

/** `btrfs qgroup show --raw -pcre PATH`, row by row in the order printed (ascending qgroup id). */
export function qgroupShow(path: string): ShownQgroup[] {
  // Columns are padded to the widest cell: a qgroup with 1,000 children makes every row kilobytes long.
  const out = execFileSync('btrfs', ['qgroup', 'show', '--raw', '-pcre', path], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
    maxBuffer: 512 * 1024 * 1024,
  });
  const rows: ShownQgroup[] = [];
  let body = false;
  for (const line of out.split('\n')) {
    if (line.startsWith('--------')) {
      body = true;
      continue;
    }
    if (!body || line.trim() === '') continue;
    // Qgroupid Referenced Exclusive "Max referenced" "Max exclusive" Parent Child [Path...]
    const [qgroupid, rfer, excl, maxRfer, maxExcl, parents, children] = line.trim().split(/\s+/);
    if (!qgroupid || children === undefined) throw new Error(`cannot read qgroup show line: ${JSON.stringify(line)}`);
    rows.push({
      qgroupid,
      rfer: Number(rfer),
      excl: Number(excl),
      maxRfer: limit(maxRfer!),
      maxExcl: limit(maxExcl!),
      parents: list(parents!),
      children: list(children),
    });
  }
  return rows;
}

export interface DumpedQuotaTree {
  status: { version: number; generation: number; flags: number; scan: bigint } | null;
  info: Map<string, { generation: number; rfer: number; rferCmpr: number; excl: number; exclCmpr: number }>;
  limit: Map<string, { flags: number; maxRfer: number; maxExcl: number; rsvRfer: number; rsvExcl: number }>;
  relations: [string, string][];
}

const STATUS_FLAG_NAMES: Record<string, number> = { ON: 1, RESCAN: 2, INCONSISTENT: 4, SIMPLE_MODE: 8 };

function statusFlags(text: string): number {
  if (/^(0x[0-9a-f]+|\d+)$/i.test(text)) return Number(text);
  let flags = 0;
  for (const name of text.split('|')) {
    if (!(name in STATUS_FLAG_NAMES)) throw new Error(`unknown status flag ${name} in dump-tree output`);
    flags |= STATUS_FLAG_NAMES[name]!;
  }
  return flags;
}

/** The committed quota tree of `device`, read by `btrfs inspect-internal dump-tree -t quota`. */
export function dumpQuotaTree(device: string): DumpedQuotaTree {
  const out = btrfsProgs('inspect-internal', 'dump-tree', '-t', 'quota', device);
  const tree: DumpedQuotaTree = { status: null, info: new Map(), limit: new Map(), relations: [] };
  const lines = out.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const key = /^\s+item \d+ key \((\S+) (QGROUP_\w+) (\S+)\)/.exec(lines[i]!);
    if (!key) continue;
    const [, objectid, type, offset] = key as unknown as [string, string, string, string];
    const body = lines.slice(i + 1, i + 4).join(' ');
    const num = (name: string): number => {
      const m = new RegExp(`\\b${name} (\\d+)`).exec(body);
      if (!m) throw new Error(`dump-tree: no ${name} after ${lines[i]}`);
      return Number(m[1]);
    };
    if (type === 'QGROUP_STATUS') {
      const m = /version (\d+) generation (\d+) flags (\S+) scan (\d+)/.exec(body);
      if (!m) throw new Error(`dump-tree: cannot read the status item: ${body}`);
      tree.status = { version: Number(m[1]), generation: Number(m[2]), flags: statusFlags(m[3]!), scan: BigInt(m[4]!) };
    } else if (type === 'QGROUP_INFO') {
      tree.info.set(offset, {
        generation: num('generation'),
        rfer: num('referenced'),
        rferCmpr: num('referenced_compressed'),
        excl: num('exclusive'),
        exclCmpr: num('exclusive_compressed'),
      });
    } else if (type === 'QGROUP_LIMIT') {
      const flags = /\bflags ([0-9a-f]+)/.exec(body); // printed in hex, without 0x
      if (!flags) throw new Error(`dump-tree: no flags after ${lines[i]}`);
      tree.limit.set(offset, {
        flags: Number.parseInt(flags[1]!, 16),
        maxRfer: num('max_referenced'),
        maxExcl: num('max_exclusive'),
        rsvRfer: num('rsv_referenced'),
        rsvExcl: num('rsv_exclusive'),
      });
    } else if (type === 'QGROUP_RELATION') {
      tree.relations.push([objectid, offset]);
    }
  }
  return tree;
}

/** The filesystem UUID of `device` (blkid), which names its /sys/fs/btrfs directory. */
export function fsUuid(device: string): string {
  return execFileSync('blkid', ['-s', 'UUID', '-o', 'value', device], { encoding: 'utf8' }).trim();
}

/** /sys/fs/btrfs/<uuid>/qgroups/<name>, or null when quotas are off (the directory is absent). */
export function sysfsQgroups(device: string, name: string): string | null {
  try {
    return readFileSync(`/sys/fs/btrfs/${fsUuid(device)}/qgroups/${name}`, 'utf8').trim();
  } catch {
    return null;
  }
}
