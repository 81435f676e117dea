/**
 * mkfs as one operation: look at the devices, refuse what must not be touched, plan, build every
 * block in memory, then write in an order that never leaves something that looks like a valid
 * btrfs halfway (format doc §6.4, §6.5):
 *
 * 1. checks, no writes: each device exists and is a block device or regular file, is not mounted
 *    (also through a loop device) nor held exclusively (O_EXCL on block devices), carries no known
 *    signature unless `force`, and is large enough; the whole filesystem is built in memory, so a
 *    plan that does not fit fails here too;
 * 2. discard (block devices, when asked);
 * 3. zero the old superblock copies (all of them on the device, beyond the new size too) and the
 *    first and last 2 MiB, as mkfs.btrfs does; from here on the old filesystem is gone. Zeros are
 *    written only where the device is not already zero, so a sparse image stays sparse;
 * 4. the tree blocks, then fsync;
 * 5. the superblocks, mirrors first and the primary last, then fsync.
 * @internal
 * @module
 */
import { constants as C } from 'node:fs';
import { argValueError, BtrfsError, errnoText, sysError } from '../errors';
import { _IO, _IOR } from '../kernel/ioc';
import { type Config, CSUM_NAME } from './options';
import { type IoOp, type IoStep, type Settled, type StatInfo } from './io';
import { type Chunk, fullStripeMembers, mapRange, minDeviceSize, planChunks, type PlanDevice } from './plan';
import { parity } from './parity';
import { detectSignatures, signatureReads, type Signature } from './signatures';
import { superblockFor, type SuperParams } from './superblock';
import { type Block, buildTrees } from './trees';
import { STRIPE_LEN, SUPER_OFFSETS, SUPER_INFO_SIZE, type FeatureName, type RaidProfileName } from './constants';

/** linux/fs.h: BLKGETSIZE64 = _IOR(0x12, 114, size_t), BLKDISCARD = _IO(0x12, 119) taking u64[2]. */
const BLKGETSIZE64 = _IOR(0x12, 114, 8);
const BLKDISCARD = _IO(0x12, 119);

const MiB = 1024 * 1024;
const OPERATION = 'mkfs';

/** One device in the result. */
export interface MkfsDevice {
  /** The path as given. */
  path: string;
  /** Device id in the filesystem, 1 for the first. */
  devid: number;
  /** The device's UUID (dev_item.uuid). */
  uuid: string;
  /** Bytes of the device the filesystem uses. */
  size: number;
}

/** What {@link mkfs} made. */
export interface MkfsResult {
  /** Filesystem UUID (fsid). */
  uuid: string;
  label: string;
  /** Total bytes of the filesystem (superblock total_bytes). */
  numBytes: number;
  nodesize: number;
  sectorsize: number;
  /** 'crc32c', 'xxhash', 'sha256' or 'blake2' (BLAKE2b-256), as `options.csum` spells them. */
  csum: (typeof CSUM_NAME)[number];
  /** Enabled features, by mkfs.btrfs name, sorted. */
  features: FeatureName[];
  devices: MkfsDevice[];
  /** Profiles of the block groups made. */
  profiles: { data: RaidProfileName; metadata: RaidProfileName; system: RaidProfileName };
}

const yieldStep = function* <T>(step: IoStep): IoOp<T> {
  return (yield step) as T;
};

/** A Node fs-style error for a failed read, write or flush (code, errno, syscall, path). */
function ioError(errno: number, syscall: string, path: string): Error {
  const [code, text] = errnoText(errno);
  const error = new Error(`${code}: ${text}, ${syscall} '${path}' (mkfs)`);
  return Object.assign(error, { code, errno, syscall, path });
}

/** A device mkfs will not touch: a BtrfsError with kind INVALID_ARGUMENT and an errno-style code. */
function refused(code: 'EBUSY' | 'EEXIST' | 'EINVAL' | 'ENOTBLK', path: string, why: string): BtrfsError {
  const errno = { EBUSY: -16, EEXIST: -17, EINVAL: -22, ENOTBLK: -15 }[code];
  return new BtrfsError(`${code}: ${why}: '${path}' (mkfs)`, { code, errno, syscall: 'open', kind: 'INVALID_ARGUMENT', operation: OPERATION, path });
}

const uuidString = (raw: Buffer): string => {
  const h = raw.toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
};

const devNumbers = (rdev: number): string => {
  // glibc's major()/minor() encoding of dev_t.
  const major = Number((BigInt(rdev) >> 8n) & 0xfffn) | Number((BigInt(rdev) >> 32n) & ~0xfffn);
  const minor = Number(BigInt(rdev) & 0xffn) | Number((BigInt(rdev) >> 12n) & ~0xffn);
  return `${major}:${minor}`;
};

function* readText(path: string): IoOp<string | null> {
  const text: string | number = yield* yieldStep({ op: 'readFile', path });
  return typeof text === 'string' ? text : null;
}

function* list(path: string): IoOp<string[]> {
  const names: string[] | number = yield* yieldStep({ op: 'readdir', path });
  return Array.isArray(names) ? names : [];
}

/**
 * The block devices (as "major:minor") that stand for a device: itself, or for an image file every
 * loop device backed by it. Two names for the same device share one, and a mount of any of them
 * is a mount of the device.
 */
function* blockIdentities(st: StatInfo): IoOp<Set<string>> {
  const mine = new Set<string>();
  if (st.isBlockDevice) mine.add(devNumbers(st.rdev));
  else {
    for (const name of yield* list('/sys/block')) {
      if (!name.startsWith('loop')) continue;
      const backing = yield* readText(`/sys/block/${name}/loop/backing_file`);
      if (!backing) continue;
      const b: StatInfo | number = yield* yieldStep({ op: 'stat', path: backing.trim().replace(/ \(deleted\)$/, '') });
      if (typeof b === 'object' && b.dev === st.dev && b.ino === st.ino) {
        const dev = yield* readText(`/sys/block/${name}/dev`);
        if (dev) mine.add(dev.trim());
      }
    }
  }
  return mine;
}

/**
 * Is the device in use by a mounted filesystem or as swap? `mine` is from {@link blockIdentities}.
 * Sources: /proc/self/mountinfo (each mount's device number and source), /sys/fs/btrfs/<fsid>/devices
 * (every member of a mounted multi-device btrfs), /proc/swaps.
 */
function* inUse(st: StatInfo, mine: Set<string>): IoOp<string | null> {
  const mountinfo = (yield* readText('/proc/self/mountinfo')) ?? '';
  for (const line of mountinfo.split('\n')) {
    const fields = line.split(' ');
    const dash = fields.indexOf('-');
    if (dash < 0) continue;
    const source = fields[dash + 2]?.replace(/\\040/g, ' ') ?? '';
    if (mine.has(fields[2]!)) return `mounted on ${fields[4]}`;
    if (source.startsWith('/')) {
      const s: StatInfo | number = yield* yieldStep({ op: 'stat', path: source });
      if (typeof s !== 'object') continue;
      if ((s.isBlockDevice && mine.has(devNumbers(s.rdev))) || (s.isFile && s.dev === st.dev && s.ino === st.ino)) {
        return `mounted on ${fields[4]}`;
      }
    }
  }
  for (const fsid of yield* list('/sys/fs/btrfs')) {
    for (const name of yield* list(`/sys/fs/btrfs/${fsid}/devices`)) {
      const dev = yield* readText(`/sys/class/block/${name}/dev`);
      if (dev && mine.has(dev.trim())) return `a member of the mounted btrfs ${fsid}`;
    }
  }
  const swaps = (yield* readText('/proc/swaps')) ?? '';
  for (const line of swaps.split('\n').slice(1)) {
    const file = line.split(/\s+/)[0];
    if (!file) continue;
    const s: StatInfo | number = yield* yieldStep({ op: 'stat', path: file.replace(/\\040/g, ' ') });
    if (typeof s !== 'object') continue;
    if ((s.isBlockDevice && mine.has(devNumbers(s.rdev))) || (s.isFile && s.dev === st.dev && s.ino === st.ino)) return 'in use as swap';
  }
  return null;
}

interface OpenDevice {
  path: string;
  fd: number;
  block: boolean;
  /** Bytes on the device (file size or BLKGETSIZE64). */
  rawSize: number;
  /** Bytes the filesystem uses, floored to sectorsize. */
  size: number;
  created: boolean;
  /** A regular file with no block allocated: it reads as zeros throughout, nothing to wipe. */
  allHole: boolean;
}

function* preadStep(dev: OpenDevice, length: number, position: number): IoOp<Buffer> {
  const got: Buffer | number = yield* yieldStep({ op: 'pread', fd: dev.fd, length, position });
  if (typeof got === 'number') throw ioError(got, 'read', dev.path);
  return got;
}

function* pwriteStep(dev: OpenDevice, buffer: Buffer, position: number): IoOp<void> {
  const rc: number = yield* yieldStep({ op: 'pwrite', fd: dev.fd, buffer, position });
  if (rc < 0) throw ioError(rc, 'write', dev.path);
}

function* fsyncStep(dev: OpenDevice): IoOp<void> {
  const rc: number = yield* yieldStep({ op: 'fsync', fd: dev.fd });
  if (rc < 0) throw ioError(rc, 'fsync', dev.path);
}

const ZEROS = Buffer.alloc(MiB);

/**
 * Zeroes [offset, offset + length), writing only the MiB pieces that are not zero already: reading
 * a hole costs no disk space, writing zeros to it would (and takes longer).
 */
function* zeroRange(dev: OpenDevice, offset: number, length: number): IoOp<void> {
  if (dev.allHole) return; // a fresh sparse image: every byte already reads as zero
  const end = Math.min(offset + length, dev.rawSize);
  for (let at = Math.max(0, offset); at < end; at += MiB) {
    const len = Math.min(MiB, end - at);
    const got = yield* preadStep(dev, len, at);
    if (got.length === len && got.equals(ZEROS.subarray(0, len))) continue; // memcmp, not a JS loop
    yield* pwriteStep(dev, ZEROS.subarray(0, len), at);
  }
}

/** Runs one operation per device ('all' step) and returns their results, or throws the first failure in device order. */
function* each<T>(ops: IoOp<T>[]): IoOp<T[]> {
  if (ops.length === 1) return [yield* ops[0]!]; // one device: its steps, plainly
  const settled: Settled[] = yield* yieldStep({ op: 'all', ops });
  const failed = settled.find((r) => !r.ok);
  if (failed && !failed.ok) throw failed.error;
  return settled.map((r) => (r as { value: T }).value);
}

/** Phase 1a for one device: what it is (stat; a new image file is created here) and which block devices stand for it. */
function* identify(cfg: Config, i: number, devices: (OpenDevice | undefined)[]): IoOp<{ st: StatInfo; ids: Set<string> }> {
  const path = cfg.paths[i]!;
  let st: StatInfo | number = yield* yieldStep({ op: 'stat', path });
  if (st === -2 && cfg.create) {
    // Create now, with O_EXCL: an empty new file cannot hold anyone's data.
    const fd: number = yield* yieldStep({ op: 'open', path, flags: C.O_RDWR | C.O_CREAT | C.O_EXCL, mode: 0o644 });
    if (fd < 0) throw sysError(fd, 'open', { operation: OPERATION, kind: 'OPEN_FAILED', path });
    devices[i] = { path, fd, block: false, rawSize: 0, size: 0, created: true, allHole: true };
    st = yield* yieldStep({ op: 'fstat', fd });
  }
  if (typeof st === 'number') throw sysError(st, 'stat', { operation: OPERATION, kind: 'STAT_FAILED', path });
  if (!st.isBlockDevice && !st.isFile) throw refused('ENOTBLK', path, 'not a block device or regular file');
  const ids = yield* blockIdentities(st);
  if (st.isFile) ids.add(`file ${st.dev}:${st.ino}`);
  return { st, ids };
}

/** Phase 1b for one device: open it, size it, refuse it if in use, signed (without force) or too small. No writes. */
function* examine(cfg: Config, i: number, st: StatInfo, ids: Set<string>, devices: (OpenDevice | undefined)[]): IoOp<void> {
  const path = cfg.paths[i]!;
  let dev = devices[i];
  const created = dev !== undefined;
  if (!dev) {
    // O_EXCL on a block device fails with EBUSY while anything holds it exclusively: a mounted
    // filesystem, a device-mapper or md member, another mkfs.
    const flags = C.O_RDWR | (st.isBlockDevice ? C.O_EXCL : 0);
    const fd: number = yield* yieldStep({ op: 'open', path, flags });
    if (fd === -16) throw refused('EBUSY', path, 'device is in use (mounted, or open exclusively elsewhere)');
    if (fd < 0) throw sysError(fd, 'open', { operation: OPERATION, kind: 'OPEN_FAILED', path });
    dev = { path, fd, block: st.isBlockDevice, rawSize: st.size, size: 0, created: false, allHole: st.isFile && st.blocks === 0 };
    devices[i] = dev;
  }
  if (dev.block) {
    const arg = Buffer.alloc(8);
    const rc: number = yield* yieldStep({ op: 'ioctl', fd: dev.fd, request: BLKGETSIZE64, arg });
    if (rc < 0) throw sysError(rc, 'ioctl', { operation: OPERATION, kind: 'STAT_FAILED', path }, 'STAT_FAILED', 'BLKGETSIZE64');
    dev.rawSize = Number(arg.readBigUInt64LE(0));
  }
  if (created) {
    const rc: number = yield* yieldStep({ op: 'ftruncate', fd: dev.fd, length: cfg.byteCount! });
    if (rc < 0) throw ioError(rc, 'ftruncate', path);
    dev.rawSize = cfg.byteCount!;
  }
  const busy = yield* inUse(st, ids);
  if (busy) throw refused('EBUSY', path, `device is ${busy}`);
  if (!cfg.force && !created) {
    const sigs = yield* signaturesOn(dev);
    if (sigs.length > 0) {
      const names = [...new Set(sigs.map((s) => s.type))].join(', ');
      throw refused('EEXIST', path, `device holds a ${names} signature (at byte ${sigs[0]!.offset}); use force to overwrite it`);
    }
  }
  const wanted = cfg.byteCount ?? dev.rawSize;
  if (wanted > dev.rawSize) {
    throw Object.assign(new RangeError(`options.byteCount (${wanted}) is larger than the device '${path}' (${dev.rawSize} bytes)`), {
      code: 'ERR_OUT_OF_RANGE',
    });
  }
  dev.size = Math.floor(wanted / cfg.sectorsize) * cfg.sectorsize;
  const min = minDeviceSize(cfg.metadata, cfg.data, cfg.mixed, cfg.nodesize);
  if (dev.size < min) {
    throw Object.assign(
      new RangeError(
        `'${path}' is too small: ${dev.size} bytes, and this layout (metadata ${cfg.metadata.name}, data ${cfg.data.name}${cfg.mixed ? ', mixed' : ''}) needs at least ${min} bytes (${(min / MiB).toFixed(0)} MiB) per device`,
      ),
      { code: 'ERR_OUT_OF_RANGE' },
    );
  }
}

/** Phases 2 and 3 for one device: discard (block devices, when asked), then wipe. */
function* prepare(cfg: Config, dev: OpenDevice): IoOp<void> {
  if (dev.block && cfg.discard) {
    const range = Buffer.alloc(16);
    range.writeBigUInt64LE(0n, 0);
    range.writeBigUInt64LE(BigInt(dev.size), 8);
    // A device without discard support (EOPNOTSUPP, EINVAL) is fine: carry on.
    yield* yieldStep({ op: 'ioctl', fd: dev.fd, request: BLKDISCARD, arg: range });
  }
  // Superblock copies first, so the old filesystem stops being one at once.
  for (const off of SUPER_OFFSETS) yield* zeroRange(dev, off, SUPER_INFO_SIZE);
  yield* zeroRange(dev, 0, 2 * MiB);
  if (cfg.byteCount === null) yield* zeroRange(dev, dev.size - 2 * MiB, 2 * MiB);
}

/** Positioned writes for one device, then fsync. */
function* writeAll(dev: OpenDevice, writes: { data: Buffer; offset: number }[]): IoOp<void> {
  for (const w of writes) yield* pwriteStep(dev, w.data, w.offset);
  yield* fsyncStep(dev);
}

/**
 * Every physical write of the tree blocks, per devid: each copy of each block (§4.5); in RAID5/6
 * chunks each full stripe holding blocks as a whole, its data units assembled in memory (blocks at
 * their offsets, zeros elsewhere) and written with P and Q (§4.6).
 */
export function treeWrites(blocks: Block[]): Map<number, { data: Buffer; offset: number }[]> {
  const out = new Map<number, { data: Buffer; offset: number }[]>();
  const add = (devid: number, data: Buffer, offset: number) => {
    let list = out.get(devid);
    if (!list) out.set(devid, (list = []));
    list.push({ data, offset });
  };
  const fullStripes = new Map<Chunk, Map<number, Buffer[]>>();
  for (const block of blocks) {
    const chunk = block.chunk;
    if (chunk.profile.parity === 0) {
      for (const copy of mapRange(chunk, block.logical)) add(copy.devid, block.data, copy.offset);
      continue;
    }
    const d = chunk.stripes.length - chunk.profile.parity;
    const off = block.logical - chunk.start;
    const full = Math.floor(off / (d * STRIPE_LEN));
    let stripes = fullStripes.get(chunk);
    if (!stripes) fullStripes.set(chunk, (stripes = new Map()));
    let units = stripes.get(full);
    if (!units) stripes.set(full, (units = Array.from({ length: d }, () => Buffer.alloc(STRIPE_LEN))));
    const within = off % (d * STRIPE_LEN);
    block.data.copy(units[Math.floor(within / STRIPE_LEN)]!, within % STRIPE_LEN);
  }
  for (const [chunk, stripes] of fullStripes) {
    for (const [full, units] of stripes) {
      const m = fullStripeMembers(chunk, full);
      const { p, q } = parity(units, m.q !== null);
      units.forEach((u, j) => add(m.data[j]!.devid, u, m.data[j]!.offset));
      add(m.p.devid, p, m.p.offset);
      if (m.q && q) add(m.q.devid, q, m.q.offset);
    }
  }
  for (const list of out.values()) list.sort((a, b) => a.offset - b.offset);
  return out;
}

/**
 * Checks, plans and writes; see the module comment for the order. Returns the result and the block
 * devices, which the caller registers with the kernel (scanDevice) so they mount at once.
 */
export function* mkfsOp(cfg: Config): IoOp<{ result: MkfsResult; blockPaths: string[] }> {
  const slots: (OpenDevice | undefined)[] = cfg.paths.map(() => undefined);
  let wrote = false;
  try {
    // ---- 1. look, refuse, plan: no writes; every device at once ----
    const found = yield* each(cfg.paths.map((_, i) => identify(cfg, i, slots)));
    // The same device under two names (a symlink, a hard link, /dev/disk/by-id, a loop device
    // over an image file also named): formatting it twice would corrupt both "devices".
    for (let i = 0; i < found.length; i++) {
      for (let j = 0; j < i; j++) {
        if ([...found[i]!.ids].some((id) => found[j]!.ids.has(id))) {
          throw argValueError('devices', `must not name a device twice ('${cfg.paths[j]}' and '${cfg.paths[i]}' are the same device)`, cfg.paths);
        }
      }
    }
    yield* each(cfg.paths.map((_, i) => examine(cfg, i, found[i]!.st, found[i]!.ids, slots)));
    const devices = slots as OpenDevice[];

    const planDevices: PlanDevice[] = devices.map((d, i) => ({ devid: i + 1, size: d.size, uuid: cfg.deviceUuids[i]! }));
    const chunks = planChunks(planDevices, { system: cfg.system, metadata: cfg.metadata, data: cfg.data }, cfg.mixed, cfg.nodesize);
    const params: SuperParams = {
      fsid: cfg.fsid,
      chunkTreeUuid: randomUuid(),
      fsTreeUuid: randomUuid(),
      devices: planDevices,
      chunks,
      nodesize: cfg.nodesize,
      sectorsize: cfg.sectorsize,
      csumType: cfg.csumType,
      // One generation for everything: nothing was committed before (format doc §6).
      generation: 1n,
      skinnyMetadata: cfg.features.has('skinny-metadata'),
      freeSpaceTree: cfg.features.has('free-space-tree'),
      blockGroupTree: cfg.features.has('block-group-tree'),
      quota: cfg.features.has('squota') ? 'simple' : cfg.features.has('quota') ? 'qgroup' : 'off',
      time: { sec: BigInt(Math.floor(Date.now() / 1000)), nsec: 0 },
      label: cfg.label,
      incompat: cfg.incompat,
      compatRo: cfg.compatRo,
      totalBytes: planDevices.reduce((s, d) => s + d.size, 0),
    };
    const trees = buildTrees(params);
    const writes = treeWrites(trees.blocks);
    const supers = devices.map((dev, i) =>
      SUPER_OFFSETS.filter((off) => off + SUPER_INFO_SIZE < dev.size).map((off) => ({ off, data: superblockFor(params, trees, i + 1, off) })),
    );

    // ---- 2. discard, 3. wipe: every device at once ----
    wrote = true;
    yield* each(devices.map((dev) => prepare(cfg, dev)));

    // ---- 4. tree blocks, every copy and parity, then fsync: every device at once ----
    yield* each(devices.map((dev, i) => writeAll(dev, writes.get(i + 1) ?? [])));

    // ---- 5. superblocks, once every device holds its trees: mirrors, then the primary ----
    for (const [i, dev] of devices.entries()) {
      for (const sb of [...supers[i]!].reverse()) yield* pwriteStep(dev, sb.data, sb.off);
    }
    yield* each(devices.map((dev) => fsyncStep(dev)));

    const result: MkfsResult = {
      uuid: uuidString(cfg.fsid),
      label: cfg.label,
      numBytes: params.totalBytes,
      nodesize: cfg.nodesize,
      sectorsize: cfg.sectorsize,
      csum: CSUM_NAME[cfg.csumType]!,
      features: [...cfg.features].sort(),
      devices: devices.map((d, i) => ({ path: d.path, devid: i + 1, uuid: uuidString(cfg.deviceUuids[i]!), size: d.size })),
      profiles: { data: cfg.data.name as RaidProfileName, metadata: cfg.metadata.name as RaidProfileName, system: cfg.system.name as RaidProfileName },
    };
    return { result, blockPaths: devices.filter((d) => d.block).map((d) => d.path) };
  } finally {
    for (const dev of slots) {
      if (!dev) continue;
      yield* yieldStep({ op: 'close', fd: dev.fd });
      // A file we created and refused to format (too small, say) is removed again: no trace left.
      if (dev.created && !wrote) yield* yieldStep({ op: 'unlink', path: dev.path });
    }
  }
}

function randomUuid(): Buffer {
  return Buffer.from(globalThis.crypto.randomUUID().replace(/-/g, ''), 'hex');
}

/** Reads what signature detection needs and looks for known magics. */
function* signaturesOn(dev: OpenDevice): IoOp<Signature[]> {
  const [head, ...rest] = signatureReads(dev.rawSize);
  const headBytes = yield* preadStep(dev, head!.length, 0);
  const mirrors = new Map<number, Buffer>();
  for (const r of rest) mirrors.set(r.offset, yield* preadStep(dev, r.length, r.offset));
  return detectSignatures(headBytes, mirrors);
}
