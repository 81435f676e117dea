/**
 * Chunk planning: which chunks a new filesystem gets, how big, and where their stripes live, for
 * any number of devices and every profile; and the logical -> physical mapping, RAID5/6 full
 * stripes included. Pure arithmetic over device sizes.
 *
 * The sizes follow mkfs.btrfs 6.2's policy (format doc §4.3) and the placement its allocator's
 * (observed, see planChunks), so that a dump-tree of ours matches one of theirs, devids and
 * per-device bytes included; any sizes and places that fit would be valid. Logical addresses are
 * ours: from 1 MiB, back to back (§4.4).
 * @internal
 * @module
 */
import { BG_DATA, BG_METADATA, BG_SYSTEM, RESERVED_1M, STRIPE_LEN, SUPER_OFFSETS } from './constants';

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;

/** What a profile needs and how it lays out stripes (format doc §4.2). */
export interface ProfileInfo {
  /** mkfs.btrfs spelling. */
  name: string;
  /** BTRFS_BLOCK_GROUP_* bit; 0 for single. */
  bits: number;
  /** Fewest devices mkfs accepts. */
  minDevices: number;
  /** Stripes per chunk: a fixed count, or 0 for "all devices" (RAID10: rounded down to even). */
  stripes: number;
  /** Copies of each byte. */
  copies: number;
  /** Parity stripes (RAID5 1, RAID6 2). */
  parity: number;
  subStripes: number;
}

export const PROFILES: Record<string, ProfileInfo> = {
  single: { name: 'single', bits: 0, minDevices: 1, stripes: 1, copies: 1, parity: 0, subStripes: 1 },
  dup: { name: 'dup', bits: 1 << 5, minDevices: 1, stripes: 2, copies: 2, parity: 0, subStripes: 1 },
  raid0: { name: 'raid0', bits: 1 << 3, minDevices: 1, stripes: 0, copies: 1, parity: 0, subStripes: 1 },
  raid1: { name: 'raid1', bits: 1 << 4, minDevices: 2, stripes: 2, copies: 2, parity: 0, subStripes: 1 },
  raid1c3: { name: 'raid1c3', bits: 1 << 9, minDevices: 3, stripes: 3, copies: 3, parity: 0, subStripes: 1 },
  raid1c4: { name: 'raid1c4', bits: 1 << 10, minDevices: 4, stripes: 4, copies: 4, parity: 0, subStripes: 1 },
  raid10: { name: 'raid10', bits: 1 << 6, minDevices: 2, stripes: 0, copies: 2, parity: 0, subStripes: 2 },
  raid5: { name: 'raid5', bits: 1 << 7, minDevices: 2, stripes: 0, copies: 1, parity: 1, subStripes: 1 },
  raid6: { name: 'raid6', bits: 1 << 8, minDevices: 3, stripes: 0, copies: 1, parity: 2, subStripes: 1 },
};

/** One device as the plan sees it. */
export interface PlanDevice {
  devid: number;
  /** Bytes btrfs may use: the size, floored to sectorsize (or byteCount). */
  size: number;
  uuid: Buffer;
}

export interface Stripe {
  devid: number;
  /** Physical byte offset on that device. */
  offset: number;
  devUuid: Buffer;
}

export interface Chunk {
  /** Logical start. */
  start: number;
  /** Logical length. */
  length: number;
  /** Block group type and profile bits. */
  type: number;
  profile: ProfileInfo;
  /** Bytes of each stripe on its device. */
  stripeSize: number;
  stripes: Stripe[];
}

/** Stripes per chunk for `profile` over `devices` devices (§4.2; capped as mkfs caps it). */
export function stripeCount(profile: ProfileInfo, devices: number, system: boolean, nodesize: number): number {
  if (profile.stripes > 0) return profile.stripes;
  const cap = system ? 58 : Math.floor((nodesize - 101 - 25 - 80) / 32) + 1;
  let n = Math.min(devices, cap);
  if (profile.name === 'raid10') n -= n % 2;
  return n;
}

/** Logical bytes a chunk of `n` stripes of `s` bytes holds. */
function chunkBytes(profile: ProfileInfo, n: number, s: number): number {
  if (profile.name === 'raid0') return s * n;
  if (profile.name === 'raid10') return (s * n) / 2;
  if (profile.parity > 0) return s * (n - profile.parity);
  return s;
}

const roundDown = (value: number, unit: number): number => Math.floor(value / unit) * unit;

/**
 * Stripe size of a new chunk, mkfs.btrfs 6.2's rule (format doc §4.3). `total` is the filesystem's
 * total bytes. A single SYSTEM chunk is 4 MiB: mkfs keeps its temporary system chunk then (§3.4),
 * and copying that size keeps our dump-tree equal to theirs.
 */
export function stripeSizeFor(type: number, profile: ProfileInfo, total: number, n: number): number {
  let stripe: number;
  let maxChunk: number;
  let minStripe: number;
  if (profile.bits === 0) {
    if (type & BG_SYSTEM) return 4 * MiB;
    [stripe, maxChunk, minStripe] = [8 * MiB, 32 * MiB, 1 * MiB];
  } else if (type & BG_SYSTEM) [stripe, maxChunk, minStripe] = [8 * MiB, 16 * MiB, 1 * MiB];
  else if (type & BG_DATA) [stripe, maxChunk, minStripe] = [1 * GiB, 10 * GiB, 64 * MiB];
  else {
    maxChunk = total > 50 * GiB ? 1 * GiB : 256 * MiB;
    [stripe, minStripe] = [maxChunk, 32 * MiB];
  }
  maxChunk = Math.min(maxChunk, Math.floor(total / 10));
  if (chunkBytes(profile, n, stripe) > maxChunk) stripe = roundDown(maxChunk / n, STRIPE_LEN);
  return roundDown(Math.max(stripe, minStripe), STRIPE_LEN);
}

/**
 * mkfs.btrfs 6.2's minimum size per device (format doc §4.8): 1 MiB reserved, the 4 MiB temporary
 * system chunk, two 8 MiB system stripes, then metadata and data terms; mixed: 2 × (4 MiB + 1024
 * nodes). We keep the same limits so users get the same answers from both tools.
 */
export function minDeviceSize(meta: ProfileInfo, data: ProfileInfo, mixed: boolean, nodesize: number): number {
  if (mixed) return 2 * (4 * MiB + 1024 * nodesize);
  const term = (p: ProfileInfo, single: number, other: number) => (p.bits === 0 ? single : other) * (p.name === 'dup' ? 2 : 1);
  return RESERVED_1M + 4 * MiB + 2 * 8 * MiB + term(meta, 16 * MiB, 40 * MiB) + term(data, 8 * MiB, 64 * MiB);
}

/** A RangeError with Node's code, for layouts that do not fit the devices. */
function noRoom(message: string): RangeError {
  return Object.assign(new RangeError(message), { code: 'ERR_OUT_OF_RANGE' });
}

/**
 * The chunks of a new filesystem, with their stripes placed, as mkfs.btrfs 6.2 places them (so
 * that which device holds which stripe, and each device's bytes_used, equal theirs). Throws
 * RangeError if they do not fit.
 *
 * The model, established by running mkfs.btrfs 6.2 on 2 to 5 devices of equal and different sizes
 * with every profile (mkfs-notes.md, "Multi-device placement"):
 * - mkfs.btrfs first writes a temporary filesystem on device 1 alone: a 4 MiB single SYSTEM chunk,
 *   then a single METADATA (or, mixed, DATA|METADATA) chunk and, unless mixed, a single DATA chunk,
 *   back to back from 1 MiB, each sized by the single-profile rule. A type whose profile is single
 *   keeps its temporary chunk; the others are freed at the end, and while the real chunks are
 *   allocated their bytes still count as used on device 1.
 * - The real chunks follow in the order SYSTEM, METADATA (or mixed), DATA. Devices are kept in a
 *   list that starts in reverse devid order (N..1). A chunk walks the list from its head and takes
 *   each device with at least the stripe size free (twice that for DUP, which takes one device)
 *   until it has its stripes; the stripes are the taken devices in reverse order, and each moves
 *   to the head of the list in stripe order. If too few devices have room, a profile that may use
 *   fewer stripes (RAID0/10/5/6, down to its minimum; RAID10 even) retries with as many as were
 *   found (those go back to the head of the list first, last taken first), keeping the stripe size;
 *   if no device at all had room, the stripe size shrinks once to the free bytes of the roomiest
 *   device (half for DUP) and the walk is retried; otherwise the layout does not fit.
 * - Stripes go at the lowest free physical offset of their device (from 1 MiB); logical addresses
 *   are ours (back to back from 1 MiB: SYSTEM, METADATA, DATA), which dump-tree comparisons mask.
 */
export function planChunks(
  devices: PlanDevice[],
  profiles: { system: ProfileInfo; metadata: ProfileInfo; data: ProfileInfo },
  mixed: boolean,
  nodesize: number,
): Chunk[] {
  const total = devices.reduce((sum, d) => sum + d.size, 0);
  const used = new Map(devices.map((d) => [d.devid, 0]));
  const cursor = new Map(devices.map((d) => [d.devid, RESERVED_1M]));
  const wanted: [number, ProfileInfo][] = [[BG_SYSTEM, profiles.system]];
  if (mixed) wanted.push([BG_DATA | BG_METADATA, profiles.metadata]);
  else wanted.push([BG_METADATA, profiles.metadata], [BG_DATA, profiles.data]);

  const place = (dev: PlanDevice, size: number): Stripe => {
    const offset = cursor.get(dev.devid)!;
    if (offset + size > dev.size) {
      throw noRoom(`device ${dev.devid} (${dev.size} bytes) has no room for a ${size}-byte chunk stripe at ${offset}`);
    }
    cursor.set(dev.devid, offset + size);
    used.set(dev.devid, used.get(dev.devid)! + size);
    return { devid: dev.devid, offset, devUuid: dev.uuid };
  };

  // The temporary chunks on device 1; single types keep theirs.
  const first = devices[0]!;
  const made = new Map<number, { profile: ProfileInfo; stripeSize: number; stripes: Stripe[] }>();
  for (const [type, profile] of wanted) {
    const size = stripeSizeFor(type, PROFILES.single!, total, 1);
    const stripe = place(first, size);
    if (profile.bits === 0) made.set(type, { profile, stripeSize: size, stripes: [stripe] });
  }

  const list = [...devices].reverse();
  for (const [type, profile] of wanted) {
    if (profile.bits === 0) continue;
    const system = (type & BG_SYSTEM) !== 0;
    const dup = profile.name === 'dup';
    let n = stripeCount(profile, devices.length, system, nodesize);
    let stripeSize = stripeSizeFor(type, profile, total, n);
    let taken: PlanDevice[];
    let shrunk = false;
    for (;;) {
      const need = dup ? 2 * stripeSize : stripeSize;
      taken = [];
      let count = 0;
      let largestSkipped = 0;
      for (const dev of [...list]) {
        if (count >= n) break;
        // Free bytes: the first MiB is never allocated, and stripes go at the end of what is used.
        const avail = dev.size - cursor.get(dev.devid)!;
        if (avail < need) {
          largestSkipped = Math.max(largestSkipped, avail);
          continue;
        }
        taken.push(dev);
        count += dup ? 2 : 1;
      }
      if (count >= n) break;
      // The devices taken go back to the head of the list, last taken first.
      for (const dev of taken) list.splice(list.indexOf(dev), 1);
      list.unshift(...[...taken].reverse());
      const flexible = profile.stripes === 0;
      let fewer = count;
      if (profile.name === 'raid10') fewer -= fewer % 2;
      if (flexible && fewer >= profile.minDevices && fewer >= 1) {
        n = fewer;
        continue;
      }
      // No device at all had room: once, the stripe shrinks to what the roomiest device has. (With
      // one device of room too few, mkfs.btrfs gives up instead: RAID1 on 2048 + 150 MiB.)
      const smaller = roundDown(largestSkipped / (dup ? 2 : 1), STRIPE_LEN);
      if (count === 0 && !shrunk && smaller > 0) {
        stripeSize = smaller;
        shrunk = true;
        continue;
      }
      {
        throw noRoom(
          `the devices have no room for a ${profile.name} ${system ? 'system' : type & BG_DATA ? (type & BG_METADATA ? 'mixed' : 'data') : 'metadata'} chunk of ${n} stripes of ${stripeSize} bytes (${count} of ${devices.length} devices have ${need} bytes free)`,
        );
      }
    }
    const owners = dup ? [taken[0]!, taken[0]!] : taken.reverse();
    const stripes = owners.map((dev) => place(dev, stripeSize));
    for (const dev of dup ? [taken[0]!] : owners) {
      list.splice(list.indexOf(dev), 1);
      list.unshift(dev);
    }
    made.set(type, { profile, stripeSize, stripes });
  }

  const chunks: Chunk[] = [];
  let logical = RESERVED_1M;
  for (const [type] of wanted) {
    const m = made.get(type)!;
    const length = chunkBytes(m.profile, m.stripes.length, m.stripeSize);
    chunks.push({ start: logical, length, type: type | m.profile.bits, profile: m.profile, stripeSize: m.stripeSize, stripes: m.stripes });
    logical += length;
  }
  return chunks;
}

/** A physical copy of a logical range. */
export interface Copy {
  devid: number;
  offset: number;
}

/**
 * Where the bytes [logical, logical + len) of `chunk` live on disk (format doc §4.5): every copy.
 * The range must not cross a 64 KiB stripe boundary (tree blocks never do). For RAID5/6 this is the
 * data copy alone: writing there means writing the whole full stripe with its parity
 * ({@link fullStripeMembers}).
 */
export function mapRange(chunk: Chunk, logical: number): Copy[] {
  const off = logical - chunk.start;
  const n = chunk.stripes.length;
  const nr = Math.floor(off / STRIPE_LEN);
  const within = off % STRIPE_LEN;
  switch (chunk.profile.name) {
    case 'raid0': {
      const s = chunk.stripes[nr % n]!;
      return [{ devid: s.devid, offset: s.offset + Math.floor(nr / n) * STRIPE_LEN + within }];
    }
    case 'raid10': {
      const f = n / 2;
      const i = (nr % f) * 2;
      const at = Math.floor(nr / f) * STRIPE_LEN + within;
      return [chunk.stripes[i]!, chunk.stripes[i + 1]!].map((s) => ({ devid: s.devid, offset: s.offset + at }));
    }
    case 'raid5':
    case 'raid6': {
      // The data copy only; writing needs the whole full stripe with parity (fullStripeMembers).
      const d = n - chunk.profile.parity;
      const full = Math.floor(off / (d * STRIPE_LEN));
      const j = Math.floor((off % (d * STRIPE_LEN)) / STRIPE_LEN);
      const s = chunk.stripes[(j + full) % n]!;
      return [{ devid: s.devid, offset: s.offset + full * STRIPE_LEN + within }];
    }
    default:
      return chunk.stripes.map((s) => ({ devid: s.devid, offset: s.offset + off }));
  }
}

/** True when [offset, offset + len) on a device overlaps a superblock copy's 64 KiB stripe unit (§4.7). */
export function hitsSuperblock(offset: number, len: number): boolean {
  return SUPER_OFFSETS.some((sb) => offset < sb + STRIPE_LEN && sb < offset + len);
}

/** Where the members of full stripe `full` of a RAID5/6 chunk live (format doc §4.6). */
export interface FullStripe {
  /** Logical start of the full stripe. */
  logical: number;
  /** Data members in logical order (D_0 first), then P, then Q (RAID6): each a 64 KiB unit. */
  data: Copy[];
  p: Copy;
  q: Copy | null;
}

/**
 * The members of a RAID5/6 full stripe: with d = n - parity data stripes and rotation r = full mod
 * n, data j sits in stripe slot (j + r) mod n, P in (d + r) mod n and Q in (d + 1 + r) mod n, each
 * at the slot's offset + full × 64 KiB.
 */
export function fullStripeMembers(chunk: Chunk, full: number): FullStripe {
  const n = chunk.stripes.length;
  const d = n - chunk.profile.parity;
  const at = (slot: number): Copy => {
    const s = chunk.stripes[slot % n]!;
    return { devid: s.devid, offset: s.offset + full * STRIPE_LEN };
  };
  return {
    logical: chunk.start + full * d * STRIPE_LEN,
    data: Array.from({ length: d }, (_, j) => at(j + full)),
    p: at(d + full),
    q: chunk.profile.parity > 1 ? at(d + 1 + full) : null,
  };
}

/** Every physical 64 KiB unit that holds (a copy of, or parity for) the block at `logical`. */
export function unitsOf(chunk: Chunk, logical: number): Copy[] {
  if (chunk.profile.parity === 0) return mapRange(chunk, logical);
  const d = chunk.stripes.length - chunk.profile.parity;
  const m = fullStripeMembers(chunk, Math.floor((logical - chunk.start) / (d * STRIPE_LEN)));
  return [...m.data, m.p, ...(m.q ? [m.q] : [])];
}
