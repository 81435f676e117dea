/**
 * mkfs options: their public types and the checks that run before anything is opened. Everything
 * that can be decided without looking at a device is decided here; write.ts checks the rest
 * (existence, size, signatures, mounts) before its first write.
 * @internal
 * @module
 */
import { randomUUID } from 'node:crypto';
import { resolve } from 'node:path';
import { argTypeError, argValueError, rangeError } from '../errors';
import { checkBoolean, checkOptions, checkPath, type PathLike } from '../validate';
import { CompatRoFeature, CsumType, type FeatureName, IncompatFeature, RaidProfile, type RaidProfileName } from './constants';
import { PROFILES, type ProfileInfo } from './plan';

/** Options of {@link mkfs}, after mkfs.btrfs's command line. */
export interface MkfsOptions {
  /** Filesystem label (`-L`), at most 255 bytes of UTF-8, no NUL. Default none. */
  label?: string;
  /** Filesystem UUID (`-U`), 8-4-4-4-12 hex. Default random. */
  uuid?: string;
  /** UUID of the (first) device (`--device-uuid`). Default random. */
  deviceUuid?: string;
  /** Tree block size (`-n`): a power of two from 4096 (and >= sectorsize) to 65536. Default 16384, or sectorsize when mixed. */
  nodesize?: number;
  /** Sector size (`-s`): a power of two from 4096 to 65536. Default 4096 (the kernel here mounts only 4096). */
  sectorsize?: number;
  /** Bytes of each device to use (`-b`). Default the whole device. Required with `create`. */
  byteCount?: number | bigint;
  /**
   * Metadata profile (`-m`): a name or a {@link RaidProfile}. Default 'dup' on one device, 'raid1' on
   * several; 'single' when mixed. The system chunk takes the same profile.
   */
  metadataProfile?: RaidProfileName | RaidProfile;
  /**
   * Data profile (`-d`): a name or a {@link RaidProfile}. Default 'single'. With mixed block groups
   * data and metadata share one profile: give either (or both, equal).
   */
  dataProfile?: RaidProfileName | RaidProfile;
  /** Mixed data and metadata block groups (`-M`). Default false. */
  mixed?: boolean;
  /** Checksum algorithm (`--csum`): 'crc32c' (default), 'xxhash', 'sha256', 'blake2', or a {@link CsumType}. */
  csum?: 'crc32c' | 'xxhash' | 'xxhash64' | 'sha256' | 'blake2' | 'blake2b' | CsumType;
  /**
   * Features (`-O` and `-R` together): names, each optionally prefixed by '^' to turn a default off
   * ('^no-holes'), as an array or a comma-separated string; or a bitmask of {@link IncompatFeature}
   * values (numbers in an array are such masks too). Defaults: extref, skinny-metadata, no-holes,
   * free-space-tree.
   */
  features?: readonly (FeatureName | `^${FeatureName}` | number | bigint)[] | string | number | bigint;
  /** Overwrite a device that holds a known signature (`-f`). A mounted device is refused regardless. Default false. */
  force?: boolean;
  /** Discard (TRIM) a block device first (mkfs.btrfs does unless `-K`). Default true. Ignored for files. */
  discard?: boolean;
  /** Create the image file (sparse, `byteCount` bytes) when it does not exist. Default false. */
  create?: boolean;
}

/** Every feature mkfs knows, with its flag. */
const FEATURES: Record<FeatureName, { incompat?: number; compatRo?: number }> = {
  'mixed-bg': { incompat: IncompatFeature.MIXED_GROUPS },
  extref: { incompat: IncompatFeature.EXTENDED_IREF },
  raid56: { incompat: IncompatFeature.RAID56 },
  'skinny-metadata': { incompat: IncompatFeature.SKINNY_METADATA },
  'no-holes': { incompat: IncompatFeature.NO_HOLES },
  raid1c34: { incompat: IncompatFeature.RAID1C34 },
  'free-space-tree': { compatRo: CompatRoFeature.FREE_SPACE_TREE },
  'block-group-tree': { compatRo: CompatRoFeature.BLOCK_GROUP_TREE },
  quota: {},
  squota: { incompat: IncompatFeature.SIMPLE_QUOTA },
};

const DEFAULT_FEATURES: FeatureName[] = ['extref', 'skinny-metadata', 'no-holes', 'free-space-tree'];

/** Incompat bits accepted as input, and the feature each stands for (null: accepted, nothing to build). */
const INCOMPAT_INPUT = new Map<number, FeatureName | null>([
  [IncompatFeature.MIXED_BACKREF, null],
  [IncompatFeature.BIG_METADATA, null],
  [IncompatFeature.MIXED_GROUPS, 'mixed-bg'],
  [IncompatFeature.EXTENDED_IREF, 'extref'],
  [IncompatFeature.RAID56, 'raid56'],
  [IncompatFeature.SKINNY_METADATA, 'skinny-metadata'],
  [IncompatFeature.NO_HOLES, 'no-holes'],
  [IncompatFeature.RAID1C34, 'raid1c34'],
  [IncompatFeature.SIMPLE_QUOTA, 'squota'],
]);

const CSUM_NAMES: Record<string, number> = { crc32c: 0, xxhash: 1, xxhash64: 1, sha256: 2, blake2: 3, blake2b: 3 };
/** Names mkfs reports, by csum_type: the names mkfs.btrfs --csum and dump-super use (but 'xxhash'). */
export const CSUM_NAME = ['crc32c', 'xxhash', 'sha256', 'blake2'] as const;

/** Options after checking: everything decided that needs no device. */
export interface Config {
  paths: string[];
  label: string;
  fsid: Buffer;
  deviceUuids: Buffer[];
  nodesize: number;
  sectorsize: number;
  byteCount: number | null;
  metadata: ProfileInfo;
  data: ProfileInfo;
  system: ProfileInfo;
  mixed: boolean;
  csumType: number;
  features: Set<FeatureName>;
  /** BIG_METADATA asked for by number: set the bit. */
  bigMetadata: boolean;
  incompat: bigint;
  compatRo: bigint;
  force: boolean;
  discard: boolean;
  create: boolean;
}

const UUID_RE = /^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$/i;

function parseUuid(value: unknown, name: string): Buffer {
  if (typeof value !== 'string') throw argTypeError(name, 'of type string', value);
  if (!UUID_RE.test(value)) throw argValueError(name, "must be a UUID such as 'c0ffee00-1234-4abc-8def-0123456789ab'", value);
  const raw = Buffer.from(value.replace(/-/g, ''), 'hex');
  if (raw.every((b) => b === 0)) throw argValueError(name, 'must not be the nil UUID', value);
  return raw;
}

function randomUuidBytes(): Buffer {
  return Buffer.from(randomUUID().replace(/-/g, ''), 'hex');
}

function checkSize(value: unknown, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number') throw argTypeError(name, 'of type number', value);
  if (!Number.isInteger(value) || value < 4096 || value > 65536 || (value & (value - 1)) !== 0) {
    throw rangeError(name, 'a power of two from 4096 to 65536', value);
  }
  return value;
}

function checkProfile(value: unknown, name: string): ProfileInfo | undefined {
  if (value === undefined) return undefined;
  if (typeof value === 'string') {
    const p = PROFILES[value.toLowerCase()];
    if (!p) throw argValueError(name, `must be one of ${Object.keys(PROFILES).join(', ')}`, value);
    return p;
  }
  if (typeof value === 'number') {
    if (value === RaidProfile.SINGLE || value === 0) return PROFILES.single;
    const p = Object.values(PROFILES).find((q) => q.bits === value);
    if (!p) throw argValueError(name, 'must be a RaidProfile value', value);
    return p;
  }
  throw argTypeError(name, 'a profile name or a RaidProfile value', value);
}

function checkCsum(value: unknown): number {
  if (value === undefined) return CsumType.CRC32C;
  if (typeof value === 'string') {
    const t = CSUM_NAMES[value.toLowerCase()];
    if (t === undefined) throw argValueError('options.csum', "must be 'crc32c', 'xxhash', 'sha256' or 'blake2'", value);
    return t;
  }
  if (typeof value === 'number') {
    if (!Number.isInteger(value) || value < 0 || value > 3) throw rangeError('options.csum', 'a CsumType (0 to 3)', value);
    return value;
  }
  throw argTypeError('options.csum', 'a checksum name or a CsumType value', value);
}

/** Applies `features` to the defaults: returns the enabled names, and BIG_METADATA if asked for. */
function checkFeatures(value: unknown): { on: Set<FeatureName>; off: Set<FeatureName>; bigMetadata: boolean } {
  const on = new Set<FeatureName>(DEFAULT_FEATURES);
  const asked = new Set<FeatureName>();
  const off = new Set<FeatureName>();
  let bigMetadata = false;
  const name = 'options.features';
  const addMask = (mask: bigint, shown: unknown) => {
    if (mask < 0n) throw rangeError(name, 'a non-negative IncompatFeature mask', shown);
    for (let bit = 0n; mask >> bit; bit++) {
      if (!((mask >> bit) & 1n)) continue;
      const flag = Number(1n << bit);
      if (!INCOMPAT_INPUT.has(flag)) throw argValueError(name, `has incompat bit ${flag}, which mkfs cannot create`, shown);
      const f = INCOMPAT_INPUT.get(flag)!;
      if (f) asked.add(f);
      if (flag === IncompatFeature.BIG_METADATA) bigMetadata = true;
    }
  };
  let list: unknown[];
  if (value === undefined) list = [];
  else if (typeof value === 'string') list = value.split(',').map((s) => s.trim()).filter((s) => s !== '');
  else if (typeof value === 'number' || typeof value === 'bigint') list = [value];
  else if (Array.isArray(value)) list = value;
  else throw argTypeError(name, 'an array of feature names, a comma-separated string or an IncompatFeature mask', value);
  for (const entry of list) {
    if (typeof entry === 'number') {
      if (!Number.isSafeInteger(entry)) throw rangeError(name, 'an integer mask', entry);
      addMask(BigInt(entry), entry);
    } else if (typeof entry === 'bigint') addMask(entry, entry);
    else if (typeof entry === 'string') {
      const negate = entry.startsWith('^');
      const fname = (negate ? entry.slice(1) : entry).toLowerCase() as FeatureName;
      if (!(fname in FEATURES)) throw argValueError(name, `has an unknown feature; known: ${Object.keys(FEATURES).join(', ')}`, entry);
      if (negate) off.add(fname);
      else asked.add(fname);
    } else throw argTypeError(name, 'made of feature names and IncompatFeature masks', entry);
  }
  for (const f of asked) {
    if (off.has(f)) throw argValueError(name, `turns '${f}' both on and off`, value);
    on.add(f);
  }
  for (const f of off) on.delete(f);
  return { on, off, bigMetadata };
}

/** Checks every option and the device list; nothing is opened. Throws TypeError/RangeError. */
export function checkMkfsArgs(devices: unknown, options: unknown): Config {
  let list: unknown[];
  if (Array.isArray(devices)) list = devices;
  else list = [devices];
  if (list.length === 0) throw argValueError('devices', 'must name at least one device', devices);
  const paths = list.map((d, i) => checkPath(d, list.length === 1 ? 'devices' : `devices[${i}]`));
  // The same path twice; other names for one device (links, a loop device over a named image) are
  // found by stat before anything is opened for writing (write.ts).
  if (new Set(paths.map((p) => resolve(p))).size !== paths.length) throw argValueError('devices', 'must not name a device twice', devices);
  const o = checkOptions<MkfsOptions>(options);

  let label = '';
  if (o.label !== undefined) {
    if (typeof o.label !== 'string') throw argTypeError('options.label', 'of type string', o.label);
    if (o.label.includes('\0')) throw argValueError('options.label', 'must not contain NUL', o.label);
    if (Buffer.byteLength(o.label) > 255) throw argValueError('options.label', 'must be at most 255 bytes (UTF-8)', o.label);
    label = o.label;
  }
  const fsid = o.uuid === undefined ? randomUuidBytes() : parseUuid(o.uuid, 'options.uuid');
  const deviceUuids = paths.map(() => randomUuidBytes());
  if (o.deviceUuid !== undefined) deviceUuids[0] = parseUuid(o.deviceUuid, 'options.deviceUuid');

  const mixedOpt = checkBoolean(o.mixed, 'options.mixed', false);
  const { on: features, off, bigMetadata } = checkFeatures(o.features);
  if (mixedOpt && off.has('mixed-bg')) throw argValueError('options.features', "turns 'mixed-bg' off while options.mixed is true", o.features);
  const mixed = mixedOpt || features.has('mixed-bg');
  if (mixed) features.add('mixed-bg');

  const sectorsize = checkSize(o.sectorsize, 'options.sectorsize', 4096);
  const nodesize = checkSize(o.nodesize, 'options.nodesize', mixed ? sectorsize : Math.max(16384, sectorsize));
  if (nodesize < sectorsize) throw rangeError('options.nodesize', `at least the sectorsize (${sectorsize})`, nodesize);
  if (mixed && nodesize !== sectorsize) {
    throw rangeError('options.nodesize', `equal to the sectorsize (${sectorsize}) with mixed block groups`, nodesize);
  }

  let byteCount: number | null = null;
  if (o.byteCount !== undefined) {
    const v = o.byteCount;
    if (typeof v !== 'number' && typeof v !== 'bigint') throw argTypeError('options.byteCount', 'of type number or bigint', v);
    const n = Number(v);
    if (!Number.isSafeInteger(n) || n <= 0) throw rangeError('options.byteCount', 'a positive integer below 2^53', v);
    byteCount = n;
  }

  let metadata = checkProfile(o.metadataProfile, 'options.metadataProfile');
  let data = checkProfile(o.dataProfile, 'options.dataProfile');
  if (mixed) {
    if (metadata && data && metadata !== data) {
      throw argValueError('options.dataProfile', `must equal metadataProfile (${metadata.name}) with mixed block groups`, o.dataProfile);
    }
    metadata = data = metadata ?? data ?? PROFILES.single!;
  } else {
    metadata ??= paths.length > 1 ? PROFILES.raid1! : PROFILES.dup!;
    data ??= PROFILES.single!;
  }
  for (const [p, what] of [
    [metadata, 'options.metadataProfile'],
    [data, 'options.dataProfile'],
  ] as const) {
    if (paths.length < p.minDevices) {
      throw argValueError(what, `'${p.name}' needs at least ${p.minDevices} devices, and ${paths.length} ${paths.length === 1 ? 'was' : 'were'} given`, p.name);
    }
  }
  // RAID56 and RAID1C34 are implied by their profiles, and refused if turned off explicitly.
  const implied: [FeatureName, boolean][] = [
    ['raid56', [metadata, data].some((p) => p.parity > 0)],
    ['raid1c34', [metadata, data].some((p) => p.name === 'raid1c3' || p.name === 'raid1c4')],
  ];
  for (const [f, needed] of implied) {
    if (!needed) continue;
    if (off.has(f)) throw argValueError('options.features', `turns '${f}' off, but the profiles need it`, o.features);
    features.add(f);
  }
  if (features.has('block-group-tree') && !(features.has('free-space-tree') && features.has('no-holes'))) {
    throw argValueError('options.features', "has 'block-group-tree', which needs 'free-space-tree' and 'no-holes'", o.features);
  }
  if (features.has('quota') && features.has('squota')) throw argValueError('options.features', "has both 'quota' and 'squota'", o.features);

  const csumType = checkCsum(o.csum);
  const force = checkBoolean(o.force, 'options.force', false);
  const discard = checkBoolean(o.discard, 'options.discard', true);
  const create = checkBoolean(o.create, 'options.create', false);
  if (create && byteCount === null) throw argValueError('options.byteCount', 'is required with options.create', undefined);

  let incompat = BigInt(IncompatFeature.MIXED_BACKREF) | (bigMetadata ? BigInt(IncompatFeature.BIG_METADATA) : 0n);
  let compatRo = 0n;
  for (const f of features) {
    const flag = FEATURES[f];
    if (flag.incompat) incompat |= BigInt(flag.incompat);
    if (flag.compatRo) compatRo |= BigInt(flag.compatRo);
  }
  if (features.has('free-space-tree')) compatRo |= BigInt(CompatRoFeature.FREE_SPACE_TREE_VALID);

  return {
    paths,
    label,
    fsid,
    deviceUuids,
    nodesize,
    sectorsize,
    byteCount,
    metadata,
    data,
    // The system chunk always takes the metadata profile (format doc §6.1).
    system: metadata,
    mixed,
    csumType,
    features,
    bigMetadata,
    incompat,
    compatRo,
    force,
    discard,
    create,
  };
}

export type { PathLike };
