// RAID5/6 parity, without root: GF(2^8) arithmetic against hand-worked values, then P and Q of every
// full stripe holding metadata, read back from images made by mkfs.btrfs 6.2 (which proves the
// mapping of §4.6 and our parity against theirs) and by our mkfs (which proves what we wrote).
// Degraded mounts (multi.test.ts) prove the same through the kernel.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { closeSync, openSync, readSync } from 'node:fs';
import { mkfsSync } from '../../src/index';
import { gfDouble, gfDouble32, parity } from '../../src/mkfs/parity';
import { fullStripeMembers, PROFILES, type Chunk } from '../../src/mkfs/plan';
import { dumpTree } from '../helpers/dump-tree';
import { MiB, scratchDir } from './cases';

const dir = scratchDir();
after(() => dir.cleanup());

test('GF(2^8) doubling: polynomial 0x11D, four bytes at a time', () => {
  assert.equal(gfDouble(0x01), 0x02);
  assert.equal(gfDouble(0x80), 0x1d); // x^8 = x^4 + x^3 + x^2 + 1
  assert.equal(gfDouble(0xff), 0xe3);
  // g = 2 generates the whole multiplicative group: 255 distinct powers, then back to 1.
  const seen = new Set<number>();
  let x = 1;
  for (let i = 0; i < 255; i++) {
    seen.add(x);
    x = gfDouble(x);
  }
  assert.equal(seen.size, 255);
  assert.equal(x, 1);
  for (const w of [0, 0x80808080, 0x01ff7f80, 0xdeadbeef, 0xffffffff]) {
    const bytes = [0, 8, 16, 24].map((s) => gfDouble((w >>> s) & 0xff) << s);
    assert.equal(gfDouble32(w), (bytes[0]! | bytes[1]! | bytes[2]! | bytes[3]!) >>> 0, w.toString(16));
  }
});

test('P is XOR, Q is the sum of 2^j * D_j (D_0 first), byte by byte', () => {
  const d = [Buffer.from([1, 0, 0x80, 5]), Buffer.from([1, 0, 0x80, 6]), Buffer.from([1, 3, 0, 7])];
  const { p, q } = parity(d, true);
  const mul = (b: number, j: number) => {
    for (let i = 0; i < j; i++) b = gfDouble(b);
    return b;
  };
  for (let i = 0; i < 4; i++) {
    assert.equal(p[i], d[0]![i]! ^ d[1]![i]! ^ d[2]![i]!);
    assert.equal(q![i], mul(d[0]![i]!, 0) ^ mul(d[1]![i]!, 1) ^ mul(d[2]![i]!, 2));
  }
  assert.equal(parity(d, false).q, null);
});

interface Parsed {
  chunks: Chunk[];
  blocks: number[];
}

/** Chunks (with stripes) and tree block addresses from dump-tree. */
function parse(images: string[]): Parsed {
  const text = dumpTree(...images);
  const chunks: Chunk[] = [];
  const blocks: number[] = [];
  let chunk: Chunk | null = null;
  for (const line of text.split('\n')) {
    let m = /key \(FIRST_CHUNK_TREE CHUNK_ITEM (\d+)\)/.exec(line);
    if (m) {
      chunk = { start: Number(m[1]), length: 0, type: 0, profile: PROFILES.single!, stripeSize: 0, stripes: [] };
      chunks.push(chunk);
      continue;
    }
    m = /^\t\tlength (\d+) owner \d+ stripe_len \d+ type (\S+)/.exec(line);
    if (m && chunk) {
      chunk.length = Number(m[1]);
      const name = m[2]!.split('|').pop()!.toLowerCase();
      chunk.profile = PROFILES[name] ?? PROFILES.single!;
      continue;
    }
    m = /^\t\t\tstripe \d+ devid (\d+) offset (\d+)/.exec(line);
    if (m && chunk) {
      chunk.stripes.push({ devid: Number(m[1]), offset: Number(m[2]), devUuid: Buffer.alloc(16) });
      continue;
    }
    m = /key \((\d+) (METADATA_ITEM|EXTENT_ITEM) \d+\)/.exec(line);
    if (m) blocks.push(Number(m[1]));
    if (/^\titem/.test(line) && !/CHUNK_ITEM/.test(line)) chunk = null;
  }
  return { chunks, blocks };
}

function read(image: string, offset: number, length: number): Buffer {
  const fd = openSync(image, 'r');
  try {
    const b = Buffer.alloc(length);
    readSync(fd, b, 0, length, offset);
    return b;
  } finally {
    closeSync(fd);
  }
}

/** Checks P (and Q) of every full stripe holding a tree block; returns how many were checked. */
function checkParity(images: string[]): number {
  const { chunks, blocks } = parse(images);
  let checked = 0;
  for (const c of chunks) {
    if (c.profile.parity === 0) continue;
    const d = c.stripes.length - c.profile.parity;
    const fulls = new Set(blocks.filter((b) => b >= c.start && b < c.start + c.length).map((b) => Math.floor((b - c.start) / (d * 65536))));
    for (const full of fulls) {
      const m = fullStripeMembers(c, full);
      const units = m.data.map((u) => read(images[u.devid - 1]!, u.offset, 65536));
      // The mapping: each tree block of this full stripe is where §4.6 says (its header bytenr).
      for (const b of blocks.filter((x) => x >= m.logical && x < m.logical + d * 65536)) {
        const within = b - m.logical;
        const unit = units[Math.floor(within / 65536)]!;
        assert.equal(Number(unit.readBigUInt64LE((within % 65536) + 0x30)), b, `block ${b} found through the RAID5/6 mapping`);
      }
      const { p, q } = parity(units, m.q !== null);
      assert.ok(read(images[m.p.devid - 1]!, m.p.offset, 65536).equals(p), `P of full stripe ${full} of chunk ${c.start}`);
      if (m.q) assert.ok(read(images[m.q.devid - 1]!, m.q.offset, 65536).equals(q!), `Q of full stripe ${full} of chunk ${c.start}`);
      checked++;
    }
  }
  return checked;
}

describe('P and Q of every full stripe holding metadata', () => {
  const cases: [string, number, string[]][] = [
    ['raid5, 2 devices', 2, ['-m', 'raid5', '-d', 'raid5']],
    ['raid5, 3 devices', 3, ['-m', 'raid5', '-d', 'raid5']],
    ['raid6, 3 devices', 3, ['-m', 'raid6', '-d', 'raid6']],
    ['raid6, 4 devices', 4, ['-m', 'raid6', '-d', 'raid6']],
    ['raid6, 5 devices, 4K nodes', 5, ['-m', 'raid6', '-d', 'raid1', '-n', '4096']],
  ];
  for (const [name, count, args] of cases) {
    test(name, (t) => {
      const theirs = Array.from({ length: count }, (_, i) => dir.image(`t${i}.img`, 512 * MiB));
      execFileSync('mkfs.btrfs', ['-q', '-f', ...args, ...theirs], { stdio: 'ignore' });
      const nodesize = args.includes('4096') ? 4096 : 16384;
      const n1 = checkParity(theirs);
      const ours = Array.from({ length: count }, (_, i) => dir.image(`o${i}.img`, 512 * MiB));
      mkfsSync(ours, { metadataProfile: args[1] as 'raid5', dataProfile: args[3] as 'raid5', nodesize });
      const n2 = checkParity(ours);
      t.diagnostic(`full stripes checked: mkfs.btrfs ${n1}, ours ${n2}`);
      assert.ok(n1 > 0 && n2 > 0);
    });
  }
});
