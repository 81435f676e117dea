/**
 * Chunk planning: which chunks a new filesystem gets, how big, and where their stripes live. Pure
 * arithmetic over device sizes, written for N devices and every profile so that multi-device mkfs
 * (issue 7) only has to lift the device-count restriction in options.ts and add RAID5/6 parity.
 *
 * The sizes follow mkfs.btrfs 6.2's policy (format doc §4.3), so that a dump-tree of ours matches
 * one of theirs; any sizes that fit would be valid. Placement is simpler than theirs: stripes are
 * laid out from 1 MiB on each device, logical addresses from 1 MiB, back to back (§4.4).
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

/** The chunks of a new filesystem, with their stripes placed. Throws RangeError if they do not fit. */
export function planChunks(
  devices: PlanDevice[],
  profiles: { system: ProfileInfo; metadata: ProfileInfo; data: ProfileInfo },
  mixed: boolean,
  nodesize: number,
): Chunk[] {
  const total = devices.reduce((sum, d) => sum + d.size, 0);
  const cursor = new Map(devices.map((d) => [d.devid, RESERVED_1M]));
  const wanted: [number, ProfileInfo][] = [[BG_SYSTEM, profiles.system]];
  if (mixed) wanted.push([BG_DATA | BG_METADATA, profiles.metadata]);
  else wanted.push([BG_METADATA, profiles.metadata], [BG_DATA, profiles.data]);
  const chunks: Chunk[] = [];
  let logical = RESERVED_1M;
  for (const [type, profile] of wanted) {
    const system = (type & BG_SYSTEM) !== 0;
    const n = stripeCount(profile, devices.length, system, nodesize);
    const stripeSize = stripeSizeFor(type, profile, total, n);
    const stripes: Stripe[] = [];
    if (profile.name === 'dup') {
      const dev = devices[0]!;
      for (let i = 0; i < 2; i++) stripes.push(takeExtent(dev, stripeSize, cursor));
    } else {
      // Devices with the most room first (ties by devid), as the kernel's allocator prefers.
      const order = [...devices].sort((a, b) => b.size - cursor.get(b.devid)! - (a.size - cursor.get(a.devid)!) || a.devid - b.devid);
      for (const dev of order.slice(0, n)) stripes.push(takeExtent(dev, stripeSize, cursor));
    }
    const length = chunkBytes(profile, n, stripeSize);
    chunks.push({ start: logical, length, type: type | profile.bits, profile, stripeSize, stripes });
    logical += length;
  }
  return chunks;
}

function takeExtent(dev: PlanDevice, size: number, cursor: Map<number, number>): Stripe {
  const offset = cursor.get(dev.devid)!;
  if (offset + size > dev.size) {
    throw Object.assign(new RangeError(`device ${dev.devid} (${dev.size} bytes) has no room for a ${size}-byte chunk stripe at ${offset}`), {
      code: 'ERR_OUT_OF_RANGE',
    });
  }
  cursor.set(dev.devid, offset + size);
  return { devid: dev.devid, offset, devUuid: dev.uuid };
}

/** A physical copy of a logical range. */
export interface Copy {
  devid: number;
  offset: number;
}

/**
 * Where the bytes [logical, logical + len) of `chunk` live on disk (format doc §4.5): every copy.
 * The range must not cross a 64 KiB stripe boundary (tree blocks never do). RAID5/6 are not mapped
 * here: writing them needs whole full stripes with parity (issue 7).
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
    case 'raid6':
      throw new Error('RAID5/6 chunks are written as full stripes with parity, not mapped block by block');
    default:
      return chunk.stripes.map((s) => ({ devid: s.devid, offset: s.offset + off }));
  }
}

/** True when [offset, offset + len) on a device overlaps a superblock copy's 64 KiB stripe unit (§4.7). */
export function hitsSuperblock(offset: number, len: number): boolean {
  return SUPER_OFFSETS.some((sb) => offset < sb + STRIPE_LEN && sb < offset + len);
}
