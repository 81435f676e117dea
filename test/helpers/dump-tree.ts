/**
 * Normalized `btrfs inspect-internal dump-tree` and `dump-super` output, to compare a filesystem made
 * by our mkfs with one made by mkfs.btrfs with the same options.
 *
 * What is masked, and why (format doc §3.4, §4.3):
 * - UUIDs, times and generations: random or clock-dependent; mkfs.btrfs commits 6 transactions,
 *   we write one generation.
 * - Exact addresses (logical and physical: block and chunk starts, stripe offsets, dev extent
 *   offsets, root bytenrs, item offsets inside leaves, the first key stored in non-skinny extent
 *   items): mkfs.btrfs first builds a temporary filesystem and then COWs every tree into new
 *   chunks, so its addresses differ from any direct layout.
 * - Item order within a tree: items are compared as sorted multisets, because the order of keys
 *   that hold addresses depends on the addresses.
 *
 * The mkfs.btrfs 6.2 artefacts a clean implementation need not copy (§3.4), which the normalizer
 * knows and reports in `artefacts`:
 * - stale FREE_SPACE_INFO/EXTENT items for the deleted temporary block groups (no chunk has that
 *   start and length): dropped;
 * - FREE_SPACE_EXTENT items and INFO extent counts: the free ranges depend on where the COW left
 *   holes, so only that each block group has an INFO item is compared (btrfs check verifies the
 *   counts against the extents);
 * - the temporary SYSTEM chunk mkfs.btrfs keeps with a single system profile or mixed: io_align,
 *   io_width 4096 and sub_stripes 0 instead of 65536, 65536 and 1 (our single system chunk has
 *   its 4 MiB length, so lengths still compare).
 * Found while writing ours (mkfs-notes.md), not in §3.4:
 * - the quota tree's ROOT_ITEM from `mkfs.btrfs -R quota` has refs 0 and bytes_used 0; the kernel,
 *   enabling quotas itself, writes refs 1 and bytes_used = nodesize, as we do: both masked.
 */
import { execFileSync } from 'node:child_process';

export interface NormalizedDump {
  /** owner tree name -> sorted normalized items. */
  trees: Record<string, string[]>;
  /** owner tree name -> height (root level) */
  levels: Record<string, number>;
  /** total bytes, bytes used */
  totals: string[];
  /** Artefacts recognised and dropped or masked, for the test log. */
  artefacts: string[];
}

const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g;

interface RawItem {
  owner: string;
  obj: string;
  type: string;
  off: string;
  size: string;
  body: string[];
}

/** Runs dump-tree on an image (or several, for multi-device) and parses it. */
export function dumpTree(...images: string[]): string {
  return execFileSync('btrfs', ['inspect-internal', 'dump-tree', ...images], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

/** Parses and normalizes dump-tree output. */
export function normalizeDumpTree(text: string): NormalizedDump {
  const items: RawItem[] = [];
  const levels: Record<string, number> = {};
  const totals: string[] = [];
  let owner = '';
  let current: RawItem | null = null;
  for (const line of text.split('\n')) {
    let m = /^(?:leaf|node) \d+ (?:level (\d+) )?items \d+ free space \d+ generation \d+ owner (\S+)/.exec(line);
    if (m) {
      owner = m[2]!;
      const level = Number(m[1] ?? 0);
      levels[owner] = Math.max(levels[owner] ?? 0, level);
      current = null;
      continue;
    }
    m = /^\titem \d+ key \((\S+) (\S+) (\S+)\) itemoff \d+ itemsize (\d+)/.exec(line);
    if (m) {
      current = { owner, obj: m[1]!, type: m[2]!, off: m[3]!, size: m[4]!, body: [] };
      items.push(current);
      continue;
    }
    if (/^(total bytes|bytes used) /.test(line)) totals.push(line.trim());
    if (line.startsWith('\t\t') && current) current.body.push(line.trim());
    else if (!line.startsWith('\t')) current = null;
  }

  const artefacts = new Set<string>();
  // Block groups that exist: chunk item starts and lengths.
  const groups = new Set<string>();
  for (const it of items) {
    if (it.type !== 'CHUNK_ITEM') continue;
    const len = /length (\d+)/.exec(it.body.join(' '))?.[1];
    groups.add(`${it.off}:${len}`);
  }

  const trees: Record<string, string[]> = {};
  for (const it of items) {
    let { obj, off } = it;
    const body = it.body.join(' | ');
    switch (it.type) {
      case 'FREE_SPACE_EXTENT':
        artefacts.add('FREE_SPACE_EXTENT items not compared (free ranges depend on the allocation pattern)');
        continue;
      case 'FREE_SPACE_INFO':
        if (!groups.has(`${obj}:${off}`)) {
          artefacts.add('stale FREE_SPACE_INFO for a deleted temporary block group dropped (mkfs.btrfs 6.2, §3.4)');
          continue;
        }
        obj = '<addr>';
        break;
      case 'METADATA_ITEM':
      case 'EXTENT_ITEM':
      case 'BLOCK_GROUP_ITEM':
        obj = '<addr>';
        break;
      case 'CHUNK_ITEM':
      case 'DEV_EXTENT':
        off = '<addr>';
        break;
      case 'UUID_KEY_SUBVOL':
        obj = off = '<uuid>';
        break;
    }
    let text = body
      .replace(UUID, '<uuid>')
      .replace(/\b(generation|gen|generation_v2) \d+/g, '$1 <gen>')
      .replace(/(\d+)\.(\d+) \(([^)]*)\)/g, (_all, sec: string, nsec: string) => (sec === '0' && nsec === '0' ? '0' : '<time>'))
      .replace(/\b(bytenr|offset|chunk_offset) \d+/g, '$1 <addr>')
      .replace(/tree block key \([^)]*\)/g, 'tree block key <key>')
      .replace(/(free space info extent count) \d+/g, '$1 <n>');
    if (it.type === 'CHUNK_ITEM' && /type SYSTEM\|single/.test(text)) {
      const masked = text.replace(/io_align \d+ io_width \d+/, 'io_align <n> io_width <n>').replace(/sub_stripes \d+/, 'sub_stripes <n>');
      if (masked !== text) artefacts.add('SYSTEM|single chunk: io_align/io_width/sub_stripes masked (mkfs.btrfs keeps its temporary chunk, §3.4)');
      text = masked;
    }
    if (it.type === 'ROOT_ITEM' && obj === 'QUOTA_TREE') {
      text = text.replace(/bytes_used \d+/, 'bytes_used <n>').replace(/refs \d+/, 'refs <n>');
      artefacts.add('QUOTA_TREE root item: refs and bytes_used masked (mkfs.btrfs writes 0 for both, the kernel 1 and nodesize)');
    }
    (trees[it.owner] ??= []).push(`(${obj} ${it.type} ${off}) size ${it.size}: ${text}`);
  }
  for (const list of Object.values(trees)) list.sort();
  return { trees, levels, totals, artefacts: [...artefacts].sort() };
}

/** `dump-super -f` as a field -> value map (first superblock only). */
export function dumpSuper(image: string, all = false): Record<string, string> {
  const out = execFileSync('btrfs', ['inspect-internal', 'dump-super', '-f', ...(all ? ['-a'] : []), image], { encoding: 'utf8' });
  const fields: Record<string, string> = {};
  for (const line of out.split('\n')) {
    const m = /^([a-z_.]+(?: \(deprecated\))?)\s+(.*)$/.exec(line);
    if (m && !(m[1]! in fields)) fields[m[1]!] = m[2]!.trim();
  }
  return fields;
}

/** Every superblock copy `dump-super -a` prints: bytenr -> its `csum` and `magic` lines. */
export function superCopies(image: string): { bytenr: number; csumMatch: boolean; magicMatch: boolean }[] {
  const out = execFileSync('btrfs', ['inspect-internal', 'dump-super', '-a', image], { encoding: 'utf8' });
  return out
    .split(/^superblock: /m)
    .slice(1)
    .map((part) => ({
      bytenr: Number(/^bytenr=(\d+)/.exec(part)?.[1]),
      csumMatch: /\ncsum\s+\S+ \[match\]/.test(part),
      magicMatch: /\nmagic\s+_BHRfS_M \[match\]/.test(part),
    }));
}
