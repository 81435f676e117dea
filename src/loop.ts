/**
 * Loop devices, so an image file can be mounted: attach (LOOP_CTL_GET_FREE + LOOP_CONFIGURE, or
 * LOOP_SET_FD + LOOP_SET_STATUS64 on kernels before 5.8), detach (LOOP_CLR_FD), and a listing read
 * from sysfs. Needs root (the device nodes are 0600 root).
 * @module
 */
import * as fs from 'node:fs';
import { argTypeError, argValueError, rangeError, type StepContext, sysError } from './errors';
import { legacyIoctls } from './features';
import {
  LO_FLAGS_AUTOCLEAR,
  LO_FLAGS_DIRECT_IO,
  LO_FLAGS_PARTSCAN,
  LO_NAME_SIZE,
  LOOP_CLR_FD,
  LOOP_CONFIGURE,
  LOOP_CTL_GET_FREE,
  LOOP_SET_DIRECT_IO,
  LOOP_SET_FD,
  LOOP_SET_STATUS64,
  loop_config,
  loop_info64,
} from './kernel/loop';
import { FILE_OPEN_FAILED_BASE, OPEN_FAILED_BASE, type Patches } from './native';
import { argBuffer, bind, close, ioctl, ioctlAt, ioctlFailure, type IoctlOptions, type Op, type Operation, type ReaddirResult, type ReadFileResult, runAsync, runSync, TargetCall } from './op';
import { checkAbsolutePath, checkBoolean, checkOptions, checkPath, type PathLike } from './validate';

const { O_RDONLY, O_RDWR } = fs.constants;
const EBUSY = -16;
const EINVAL = -22;
const ENOTTY = -25;
const ENOENT = -2;
/** How often to ask for another free device when other processes keep taking the one we were given. */
const ATTACH_ATTEMPTS = 64;
const LOOP_CONTROL = '/dev/loop-control';
const GET_FREE: IoctlOptions = { onBtrfs: false, name: 'LOOP_CTL_GET_FREE' };

/** Options for {@link attachLoopDevice}. */
export interface AttachLoopOptions {
  /** Attach read-only (the backing file is opened O_RDONLY). Default false. */
  readOnly?: boolean;
  /** Byte offset of the device's start in the file. Default 0. */
  offset?: number;
  /** Size of the device in bytes; 0 or omitted: to the end of the file. */
  sizeLimit?: number;
  /**
   * Release the device automatically when its last user goes away (unmount, close). The returned
   * handle holds the device open until {@link LoopDevice.close}, since an autoclear device with no
   * user at all is released at once. Default false.
   */
  autoclear?: boolean;
  /** Use direct I/O on the backing file (no double caching). Default false. */
  directIo?: boolean;
  /** Scan the device for partitions. Default false. */
  partscan?: boolean;
}

/** A loop device as the kernel reports it in sysfs. */
export interface LoopDeviceInfo {
  /** Device node, `/dev/loopN`. */
  path: string;
  /** N. */
  number: number;
  /** The backing file's path (sysfs `backing_file`; may end in " (deleted)"). */
  backingFile: string;
  offset: number;
  sizeLimit: number;
  autoclear: boolean;
  readOnly: boolean;
  directIo: boolean;
  partscan: boolean;
}

/**
 * An attached loop device. For an autoclear device it holds a descriptor on the device until
 * {@link close}, after which the kernel releases the device as soon as nothing else uses it.
 */
export class LoopDevice {
  /** @internal */
  constructor(
    /** Device node, `/dev/loopN`. */
    readonly path: string,
    /** N. */
    readonly number: number,
    /** The file behind it (as given, made absolute). */
    readonly backingFile: string,
    /** The descriptor held open (autoclear only), or null. */
    public fd: number | null,
  ) {}

  /** Lets go of the held descriptor (autoclear devices are then released when unused). Idempotent. */
  async close(): Promise<void> {
    const fd = this.fd;
    this.fd = null;
    if (fd !== null) await new Promise<void>((done) => fs.close(fd, () => done()));
  }

  /** Synchronous form of {@link close}. */
  closeSync(): void {
    const fd = this.fd;
    this.fd = null;
    if (fd !== null) fs.closeSync(fd);
  }

  /**
   * Detaches the device. A held descriptor (autoclear) carries the LOOP_CLR_FD and is closed after
   * it: closing it first would let the kernel release the device, and the clear fail with ENXIO.
   */
  detach(): Promise<void> {
    const fd = this.fd;
    this.fd = null;
    return runAsync(detachOp(this.path, fd)); // never throws: a failure is the rejection
  }

  /** Synchronous form of {@link detach}. */
  detachSync(): void {
    const fd = this.fd;
    this.fd = null;
    runSync(detachOp(this.path, fd));
  }

  /** Same as {@link close}, for `await using`. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  /** Same as {@link closeSync}, for `using`. */
  [Symbol.dispose](): void {
    this.closeSync();
  }

  /** The device as plain data (path, number, backing file), for JSON output. */
  toJSON(): { path: string; number: number; backingFile: string } {
    return { path: this.path, number: this.number, backingFile: this.backingFile };
  }
}

interface AttachPlan {
  file: string;
  readOnly: boolean;
  offset: bigint;
  sizeLimit: bigint;
  flags: number;
  directIo: boolean;
  autoclear: boolean;
}

function checkSize(value: unknown, name: string): bigint {
  if (value === undefined) return 0n;
  if (typeof value !== 'number') throw argTypeError(name, 'of type number', value);
  if (!Number.isSafeInteger(value) || value < 0) throw rangeError(name, 'a non-negative safe integer', value);
  return BigInt(value);
}

function checkAttach(file: unknown, options: unknown): AttachPlan {
  const path = checkAbsolutePath(file, 'file');
  const opts = checkOptions<AttachLoopOptions>(options);
  const autoclear = checkBoolean(opts.autoclear, 'options.autoclear', false);
  const partscan = checkBoolean(opts.partscan, 'options.partscan', false);
  const directIo = checkBoolean(opts.directIo, 'options.directIo', false);
  return {
    file: path,
    readOnly: checkBoolean(opts.readOnly, 'options.readOnly', false),
    offset: checkSize(opts.offset, 'options.offset'),
    sizeLimit: checkSize(opts.sizeLimit, 'options.sizeLimit'),
    // READ_ONLY is not set here: a backing descriptor opened O_RDONLY makes the device read-only.
    flags: (autoclear ? LO_FLAGS_AUTOCLEAR : 0) | (partscan ? LO_FLAGS_PARTSCAN : 0) | (directIo ? LO_FLAGS_DIRECT_IO : 0),
    directIo,
    autoclear,
  };
}

/** The lo_file_name label: the path, cut to fit (sysfs keeps the real one). */
function label(path: string): string {
  let name = path;
  while (Buffer.byteLength(name) >= LO_NAME_SIZE) name = name.slice(1);
  return name;
}

/**
 * The device this process detached last, which is likely free still: the next attach tries it
 * before asking /dev/loop-control, which saves an async attach one of its two trips to the thread
 * pool. Only a guess (another process may have taken it): EBUSY, or a device that is gone, sends
 * the attach to LOOP_CTL_GET_FREE as usual.
 */
let freeHint: number | null = null;

const DEV_LOOP = '/dev/loop';

/** Remembers a device this process just detached (see {@link freeHint}). No regex: it allocates. */
function noteFree(path: string): void {
  if (!path.startsWith(DEV_LOOP)) return;
  const digits = path.slice(DEV_LOOP.length);
  const number = Number(digits);
  if (number >= 0 && String(number) === digits) freeHint = number; // canonical digits only
}

/** Writes the plan into a zeroed LOOP_CONFIGURE argument; `fd` comes from {@link imagePatches}. */
function writeConfig(config: Buffer, plan: AttachPlan): void {
  loop_info64.write(config, { lo_offset: plan.offset, lo_sizelimit: plan.sizeLimit, lo_flags: plan.flags, lo_file_name: label(plan.file) }, loop_config.fields.info.offset);
}

/**
 * The LOOP_CONFIGURE argument, one per attach and reused by every try. A loan from the runs' spare
 * buffers (zeroed): a fresh Buffer per attach measured ~8 µs more per async attach here.
 */
function configFor(plan: AttachPlan): Buffer {
  const config = argBuffer(loop_config.size);
  writeConfig(config, plan);
  return config;
}

/**
 * The image as a descriptor patch of LOOP_CONFIGURE: the call opens it and writes the descriptor
 * into loop_config.fd, so open, configure and close are one crossing (one pool trip when async).
 */
function imagePatches(plan: AttachPlan): Patches {
  return [loop_config.fields.fd.offset, { path: plan.file, flags: plan.readOnly ? O_RDONLY : O_RDWR, size: 4 }];
}

/** How a LOOP_CONFIGURE of `plan` is made, and its failures told. */
function configureOptions(plan: AttachPlan): IoctlOptions {
  return { onBtrfs: false, name: 'LOOP_CONFIGURE', patches: imagePatches(plan) };
}

/** A try's outcome when the kernel has no LOOP_CONFIGURE (before 5.8): attach the older way. */
const NO_CONFIGURE = -0x7fff_ffff;

/**
 * One try at LOOP_CONFIGURE on device `path`. Returns a number >= 0 once bound (for autoclear, the
 * device's descriptor, kept open), EBUSY (another process bound it first), ENOENT (the device is not
 * there: just created and its node not yet made, or a stale guess) or {@link NO_CONFIGURE}.
 */
function* configureDevice(path: string, config: Buffer, plan: AttachPlan, ctx: StepContext, guessed: boolean): Op<number> {
  const options = configureOptions(plan);
  if (!plan.autoclear) {
    // No descriptor to keep (the binding holds the image, not ours): one crossing.
    const result: number = yield { op: 'ioctlAt', path, flags: O_RDWR, request: LOOP_CONFIGURE, arg: config, patches: options.patches!, blocking: false };
    return yield* configureOutcome(path, result, ctx, options, guessed);
  }
  // Autoclear: the device's descriptor is held until the caller has it in use, else the kernel
  // releases the device as soon as it is bound.
  const lfd: number = yield { op: 'open', path, flags: O_RDWR };
  if (lfd < 0) return yield* configureOutcome(path, lfd - OPEN_FAILED_BASE, ctx, options, guessed);
  let keep = false;
  try {
    const result: number = yield { op: 'ioctl', fd: lfd, request: LOOP_CONFIGURE, arg: config, patches: options.patches!, blocking: false };
    const outcome = yield* configureOutcome(path, result, ctx, options, guessed);
    keep = outcome >= 0;
    return keep ? lfd : outcome;
  } finally {
    if (!keep) yield* close(lfd);
  }
}

function* configureOutcome(path: string, result: number, ctx: StepContext, options: IoctlOptions, guessed: boolean): Op<number> {
  if (result >= 0) return 0;
  if (result === EBUSY) return EBUSY;
  if (result <= -OPEN_FAILED_BASE && result > -FILE_OPEN_FAILED_BASE) {
    // The device's own open: a guess may name a device that is gone (ENXIO, ENODEV as well).
    const errno = result + OPEN_FAILED_BASE;
    if (errno === ENOENT || guessed) return ENOENT;
    throw sysError(errno, 'open', { ...ctx, kind: 'OPEN_FAILED' });
  }
  // Before 5.8 the loop driver answers EINVAL (or ENOTTY) to the unknown LOOP_CONFIGURE; real
  // EINVALs (a bad offset, say) come back from the older ioctls too.
  if (result === EINVAL || result === ENOTTY) return NO_CONFIGURE;
  throw yield* ioctlFailure(path, result, ctx, options); // the image's open (OPEN_FAILED) or the ioctl
}

/** A guessed device to configure: see {@link GUESSED_CONFIGURE}. */
interface GuessedDevice {
  /** `/dev/loopN`, the target of the call. */
  path: string;
  fd?: undefined;
  number: number;
  plan: AttachPlan;
}

/**
 * The common attach, one call: LOOP_CONFIGURE on the device detached last, the image carried as a
 * descriptor patch. A device that is taken or gone (or a kernel without LOOP_CONFIGURE) continues
 * in {@link attachOp} from that outcome, without configuring again.
 */
const GUESSED_CONFIGURE = new TargetCall<GuessedDevice, LoopDevice>({
  request: LOOP_CONFIGURE,
  openFlags: O_RDWR,
  blocking: false,
  size: loop_config.size,
  fill: (config, device) => writeConfig(config, device.plan),
  patches: (device) => imagePatches(device.plan),
  done: (_config, device) => new LoopDevice(device.path, device.number, device.plan.file, null),
  otherwise: (device, errno) => attachOp(device.plan, device.number, errno),
});

/**
 * An attach: the guessed device in one call when there is a guess and nothing to hold (autoclear
 * keeps the device's descriptor, so it opens the device itself), else the steps of {@link attachOp}.
 */
function attachOperation(plan: AttachPlan): Operation<LoopDevice> {
  if (legacyIoctls()) return attachLegacyOp(plan);
  const guess = freeHint;
  freeHint = null; // one attach per guess: concurrent attaches go to GET_FREE
  if (guess !== null && !plan.autoclear) return bind(GUESSED_CONFIGURE, { path: `/dev/loop${guess}`, number: guess, plan });
  return attachOp(plan, guess);
}

/**
 * Attaches with LOOP_CONFIGURE: on `guess` first when there is one, then on what GET_FREE gives.
 * `guessResult`: the guess was already tried (by {@link GUESSED_CONFIGURE}), and failed so.
 */
function* attachOp(plan: AttachPlan, guess: number | null, guessResult?: number): Op<LoopDevice> {
  const controlCtx: StepContext = { operation: 'attachLoopDevice', kind: 'LOOP_CONTROL_FAILED', path: LOOP_CONTROL };
  const config = configFor(plan);
  for (let attempt = 1; ; attempt++) {
    const guessed = guess !== null;
    const number = guess ?? (yield* ioctlAt(LOOP_CONTROL, O_RDWR, LOOP_CTL_GET_FREE, null, controlCtx, GET_FREE));
    guess = null;
    const path = `/dev/loop${number}`;
    const ctx: StepContext = { operation: 'attachLoopDevice', kind: 'LOOP_CONFIGURE_FAILED', path };
    let result: number;
    if (guessResult === undefined) {
      result = yield* configureDevice(path, config, plan, ctx, guessed);
    } else {
      result = yield* configureOutcome(path, guessResult, ctx, configureOptions(plan), true);
      guessResult = undefined;
    }
    if (result >= 0) return new LoopDevice(path, number, plan.file, plan.autoclear ? result : null);
    if (result === NO_CONFIGURE) return yield* attachLegacyOp(plan);
    // GET_FREE reserves nothing: ask again (a wrong guess costs no attempt).
    if (guessed) attempt--;
    if (attempt < ATTACH_ATTEMPTS) continue;
    if (result === ENOENT) throw sysError(ENOENT, 'open', { ...ctx, kind: 'OPEN_FAILED' });
    throw sysError(EBUSY, 'ioctl', ctx, 'LOOP_CONFIGURE_FAILED', 'LOOP_CONFIGURE');
  }
}

/**
 * Binds the open device `lfd` to `backing` with LOOP_SET_FD + LOOP_SET_STATUS64 (kernels before
 * 5.8, or forced); returns 0, or EBUSY when someone else took the device first.
 */
function* bindLegacy(lfd: number, backing: number, plan: AttachPlan, ctx: StepContext): Op<number> {
  const set = yield* ioctl(lfd, LOOP_SET_FD, backing, ctx, { onBtrfs: false, name: 'LOOP_SET_FD', allow: [EBUSY] });
  if (set === EBUSY) return EBUSY;
  try {
    const status = loop_info64.encode({
      lo_offset: plan.offset,
      lo_sizelimit: plan.sizeLimit,
      lo_flags: plan.flags & ~LO_FLAGS_DIRECT_IO,
      lo_file_name: label(plan.file),
    });
    yield* ioctl(lfd, LOOP_SET_STATUS64, status, ctx, { name: 'LOOP_SET_STATUS64' });
    if (plan.directIo) yield* ioctl(lfd, LOOP_SET_DIRECT_IO, 1, ctx, { onBtrfs: false, name: 'LOOP_SET_DIRECT_IO' });
  } catch (error) {
    // Nothing half-done: unbind what SET_FD bound before reporting the failure.
    yield { op: 'ioctl', fd: lfd, request: LOOP_CLR_FD, arg: 0, patches: null, blocking: false };
    throw error;
  }
  return 0;
}

/**
 * One legacy try at binding device `path` to `backing`. Returns a number >= 0 once bound (for
 * autoclear, the device's descriptor, kept open), or EBUSY or ENOENT as {@link configureDevice}.
 */
function* bindDeviceLegacy(path: string, backing: number, plan: AttachPlan, ctx: StepContext): Op<number> {
  const lfd: number = yield { op: 'open', path, flags: O_RDWR };
  if (lfd === ENOENT) return ENOENT;
  if (lfd < 0) throw sysError(lfd, 'open', { ...ctx, kind: 'OPEN_FAILED' });
  let keep = false;
  try {
    const result = yield* bindLegacy(lfd, backing, plan, ctx);
    if (result < 0) return result;
    keep = plan.autoclear;
    return lfd;
  } finally {
    if (!keep) yield* close(lfd);
  }
}

/** An attach with LOOP_SET_FD + LOOP_SET_STATUS64, on a descriptor of the image opened here. */
function* attachLegacyOp(plan: AttachPlan): Op<LoopDevice> {
  const ctx: StepContext = { operation: 'attachLoopDevice', kind: 'LOOP_CONFIGURE_FAILED', path: plan.file };
  const controlCtx: StepContext = { operation: 'attachLoopDevice', kind: 'LOOP_CONTROL_FAILED', path: LOOP_CONTROL };
  // The image and a free device are independent questions: asked together, they cost an async
  // attach one trip to the thread pool instead of two.
  const [backing, firstFree] = (yield {
    op: 'all',
    steps: [
      { op: 'open', path: plan.file, flags: plan.readOnly ? O_RDONLY : O_RDWR },
      { op: 'ioctlAt', path: LOOP_CONTROL, flags: O_RDWR, request: LOOP_CTL_GET_FREE, arg: null, patches: null, blocking: false },
    ],
  }) as [number, number];
  if (backing < 0) throw sysError(backing, 'open', { ...ctx, fd: undefined }, 'OPEN_FAILED');
  let bound = false;
  try {
    for (let attempt = 1; ; attempt++) {
      let number = firstFree;
      if (attempt > 1) number = yield* ioctlAt(LOOP_CONTROL, O_RDWR, LOOP_CTL_GET_FREE, null, controlCtx, GET_FREE);
      else if (number < 0) throw yield* ioctlFailure(LOOP_CONTROL, number, controlCtx, GET_FREE);
      const path = `/dev/loop${number}`;
      const deviceCtx: StepContext = { operation: 'attachLoopDevice', kind: 'LOOP_CONFIGURE_FAILED', path };
      const result = yield* bindDeviceLegacy(path, backing, plan, deviceCtx);
      if (result >= 0) {
        bound = true;
        return new LoopDevice(path, number, plan.file, plan.autoclear ? result : null);
      }
      // GET_FREE reserves nothing: ask again.
      if (attempt < ATTACH_ATTEMPTS) continue;
      if (result === ENOENT) throw sysError(ENOENT, 'open', { ...deviceCtx, kind: 'OPEN_FAILED' });
      throw sysError(EBUSY, 'ioctl', deviceCtx, 'LOOP_CONFIGURE_FAILED', 'LOOP_SET_FD');
    }
  } finally {
    // Once bound, the device holds the image itself: the attach need not wait for this close.
    yield { op: 'close', fd: backing, background: bound };
  }
}

/**
 * Attaches `file` to a free loop device. Needs root. Like `losetup --find --show FILE`.
 * @param file the backing file (an image)
 * @returns the device; with `autoclear`, close it once the device is in use (mounted)
 * @throws BtrfsError OPEN_FAILED (the file, or EACCES on /dev/loop-control without root),
 *   LOOP_CONTROL_FAILED, LOOP_CONFIGURE_FAILED (EINVAL for a bad offset); RangeError/TypeError for
 *   bad options
 * @example
 * ```ts
 * const loop = await attachLoopDevice('/var/tmp/disk.img');
 * console.log(loop.path); // '/dev/loop3'
 * await loop.detach();
 * ```
 */
export function attachLoopDevice(file: PathLike, options?: AttachLoopOptions): Promise<LoopDevice> {
  let plan: AttachPlan;
  try {
    plan = checkAttach(file, options);
  } catch (error) {
    return Promise.reject(error);
  }
  return runAsync(attachOperation(plan));
}
/** Synchronous form of {@link attachLoopDevice}. @example `const loop = attachLoopDeviceSync('/var/tmp/disk.img')` */
export function attachLoopDeviceSync(file: PathLike, options?: AttachLoopOptions): LoopDevice {
  return runSync(attachOperation(checkAttach(file, options)));
}

/** A loop device given as '/dev/loopN', N, or a LoopDevice. */
export type LoopDeviceRef = string | number | LoopDevice | { path: string };

function checkLoopRef(device: unknown): string {
  if (typeof device === 'number') {
    if (!Number.isInteger(device) || device < 0 || device > 0xfffff) throw rangeError('device', 'a loop device number >= 0', device);
    return `/dev/loop${device}`;
  }
  if (device !== null && typeof device === 'object' && typeof (device as { path?: unknown }).path === 'string') {
    return checkPath((device as { path: string }).path, 'device.path');
  }
  if (typeof device !== 'string') throw argTypeError('device', "a loop device path ('/dev/loopN'), its number, or a LoopDevice", device);
  const path = checkPath(device, 'device');
  if (!/^\/dev\/loop\d+$/.test(path)) throw argValueError('device', "must be a loop device path like '/dev/loop3'", device);
  return path;
}

const CLR_FD: IoctlOptions = { onBtrfs: false, name: 'LOOP_CLR_FD' };
const clearContext = (path: string): StepContext => ({ operation: 'detachLoopDevice', kind: 'LOOP_CLEAR_FAILED', path });

/**
 * The common detach, one call: LOOP_CLR_FD on the device's path. A device still mounted or open
 * elsewhere becomes autoclear: released when its last user goes.
 */
const CLEAR = new TargetCall<{ path: string; fd?: undefined }, void>({
  request: LOOP_CLR_FD,
  openFlags: O_RDONLY,
  blocking: false,
  size: 0,
  fill: null,
  done: (_arg, device) => noteFree(device.path),
  *otherwise(device, errno) {
    throw yield* ioctlFailure(device.path, errno, clearContext(device.path), CLR_FD);
  },
});

/** LOOP_CLR_FD on `path`, or on `held`, a descriptor of it this call then closes. */
function detachOp(path: string, held: number | null = null): Operation<void> {
  return held === null ? bind(CLEAR, { path }) : detachHeldOp(path, held);
}

function* detachHeldOp(path: string, held: number): Op<void> {
  try {
    yield* ioctl(held, LOOP_CLR_FD, 0, clearContext(path), CLR_FD);
  } finally {
    yield* close(held);
  }
  noteFree(path);
}

/**
 * Detaches a loop device from its file. If the device is still in use (mounted, open), the kernel
 * releases it when the last user goes away. Needs root. Like `losetup -d`.
 * @throws BtrfsError LOOP_CLEAR_FAILED (ENXIO when not attached), OPEN_FAILED
 * @example
 * ```ts
 * await detachLoopDevice('/dev/loop3');
 * ```
 */
export async function detachLoopDevice(device: LoopDeviceRef): Promise<void> {
  return runAsync(detachOp(checkLoopRef(device)));
}
/** Synchronous form of {@link detachLoopDevice}. @example `detachLoopDeviceSync(3)` */
export function detachLoopDeviceSync(device: LoopDeviceRef): void {
  runSync(detachOp(checkLoopRef(device)));
}

function* readSys(path: string): Op<string | null> {
  const text: ReadFileResult = yield { op: 'readFile', path };
  return typeof text === 'number' ? null : text.trim();
}

function* listOp(): Op<LoopDeviceInfo[]> {
  const names: ReaddirResult = yield { op: 'readdir', path: '/sys/block' };
  if (typeof names === 'number') throw sysError(names, 'scandir', { operation: 'loopDevices', kind: 'OPEN_FAILED', path: '/sys/block' });
  const out: LoopDeviceInfo[] = [];
  for (const name of names) {
    const match = /^loop(\d+)$/.exec(name);
    if (!match) continue;
    const base = `/sys/block/${name}`;
    // The loop/ directory exists only while the device is bound.
    const backingFile = yield* readSys(`${base}/loop/backing_file`);
    if (backingFile === null) continue;
    const flag = function* (file: string) {
      return (yield* readSys(file)) === '1';
    };
    out.push({
      path: `/dev/${name}`,
      number: Number(match[1]),
      backingFile,
      offset: Number((yield* readSys(`${base}/loop/offset`)) ?? 0),
      sizeLimit: Number((yield* readSys(`${base}/loop/sizelimit`)) ?? 0),
      autoclear: yield* flag(`${base}/loop/autoclear`),
      readOnly: yield* flag(`${base}/ro`),
      directIo: yield* flag(`${base}/loop/dio`),
      partscan: yield* flag(`${base}/loop/partscan`),
    });
  }
  return out.sort((a, b) => a.number - b.number);
}

/**
 * Every attached loop device with its backing file, read from sysfs. No privilege needed.
 * Like `losetup --list`.
 * @example
 * ```ts
 * for (const loop of await loopDevices()) console.log(loop.path, loop.backingFile);
 * ```
 */
export async function loopDevices(): Promise<LoopDeviceInfo[]> {
  return runAsync(listOp());
}
/** Synchronous form of {@link loopDevices}. @example `loopDevicesSync().length` */
export function loopDevicesSync(): LoopDeviceInfo[] {
  return runSync(listOp());
}
