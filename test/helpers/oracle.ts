/**
 * btrfs-progs as the independent oracle: parsers for what `btrfs subvolume show` and
 * `btrfs subvolume list` print, so tests compare the library with a program that shares none of its
 * code.
 */
import { btrfsProgs } from './scratch';

/** `btrfs subvolume show PATH` as a key -> value map ("UUID" -> "...", "Subvolume ID" -> "257"). */
export function subvolumeShow(path: string): Record<string, string> {
  const out: Record<string, string> = {};
  const lines = btrfsProgs('subvolume', 'show', path).split('\n');
  out.Path = lines[0]!.trim();
  for (const line of lines.slice(1)) {
    const match = /^\s+([A-Za-z ()]+):\s*(.*)$/.exec(line);
    if (match) out[match[1]!.trim()] = match[2]!.trim();
  }
  return out;
}

/** "-" means unset in btrfs-progs output. */
export const orNull = (value: string | undefined): string | null => (value === undefined || value === '-' ? null : value);

export interface ListedSubvolume {
  id: number;
  gen: number;
  cgen: number;
  topLevel: number;
  parentUuid: string | null;
  receivedUuid: string | null;
  uuid: string | null;
  path: string;
}

/**
 * `btrfs subvolume list -a -g -c -u -q -R PATH` (every subvolume of the filesystem, paths from the
 * top level; progs prefixes some with "<FS_TREE>/", which is removed).
 */
export function subvolumeList(path: string, extra: string[] = []): ListedSubvolume[] {
  const out = btrfsProgs('subvolume', 'list', '-a', '-g', '-c', '-u', '-q', '-R', ...extra, path);
  const rows: ListedSubvolume[] = [];
  for (const line of out.split('\n')) {
    const m =
      /^ID (\d+) gen (\d+) cgen (\d+) top level (\d+) parent_uuid (\S+)\s+received_uuid (\S+)\s+uuid (\S+) path (.*)$/.exec(line);
    if (!m) continue;
    rows.push({
      id: Number(m[1]),
      gen: Number(m[2]),
      cgen: Number(m[3]),
      topLevel: Number(m[4]),
      parentUuid: orNull(m[5]),
      receivedUuid: orNull(m[6]),
      uuid: orNull(m[7]),
      path: m[8]!.replace(/^<FS_TREE>\//, ''),
    });
  }
  return rows;
}
