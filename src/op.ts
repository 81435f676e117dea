/**
 * One operation, two drivers. An operation is a generator that yields syscall steps and receives
 * their raw results (`-errno` on failure, never a throw); {@link runSync} and {@link runAsync} are
 * the same short loop, one doing each step inline, the other off the event loop. So the logic, the
 * error handling and the `finally` that closes a descriptor exist once.
 *
 * Step helpers (`open`, `ioctl`, ...) turn a failure into a {@link BtrfsError}, after classifying it:
 * a failed ioctl on a file that is not on btrfs is reported as `NOT_BTRFS`, whatever the ioctl.
 * @internal
 * @module
 */
import * as fs from 'node:fs';
import { type BtrfsErrorKind, type StepContext, sysError } from './errors';
import { dedicatedThreads } from './features';
import { BTRFS_SUPER_MAGIC } from './kernel/constants';
import { AT_EMPTY_PATH, S_IFDIR, S_IFMT, STATX_INO, STATX_MNT_ID_UNIQUE, STATX_MODE, STATX_SUBVOL, STATX_SUBVOL_OFFSET, STATX_TYPE, statx } from './kernel/stat';
import { HOST_LE, u64Number, viewOf } from './kernel/struct';
import { FILE_OPEN_FAILED_BASE, type FilePatch, type IoctlArg, native, OPEN_FAILED_BASE, type Patches } from './native';

/**
 * A system call the runners know how to do. Results are numbers (`-errno` on failure) or objects.
 * - `close` with `background`: async runs do not wait for it (a descriptor the kernel no longer
 *   needs, whose close cannot fail in a way that matters); Sync runs close at once.
 * - `all`: independent steps, made together (one trip to the thread pool's time when async, not
 *   one each); the result is the array of their results.
 */
export type Step =
  | { op: 'open'; path: string; flags: number }
  | { op: 'close'; fd: number; background?: boolean }
  | { op: 'all'; steps: readonly Step[] }
  | { op: 'ioctl'; fd: number; request: number; arg: IoctlArg; patches: Patches | null; blocking: boolean }
  | { op: 'ioctlAt'; path: string; flags: number; request: number; arg: IoctlArg; patches: Patches | null; blocking: boolean }
  | { op: 'statfs'; path: string }
  | { op: 'stat'; path: string }
  | { op: 'fstat'; fd: number }
  | { op: 'rmdir'; path: string }
  | { op: 'readdir'; path: string }
  | { op: 'readFile'; path: string }
  | { op: 'mount'; source: string | null; target: string; fstype: string | null; flags: number; data: string | null }
  | { op: 'umount2'; target: string; flags: number };

/** Result of a readdir step: the names, or -errno. */
export type ReaddirResult = string[] | number;
/** Result of a readFile step (UTF-8 text), or -errno. */
export type ReadFileResult = string | number;

/** What a stat step returns: the fields the library uses. */
export interface StatResult {
  ino: number;
  mode: number;
  isDirectory: boolean;
  /** The unique id of the mount the file is on (Linux 6.8+), null when the kernel gave none. */
  mntId: number | null;
  /** The id of the subvolume holding the file (Linux 6.10+), null when the kernel gave none. */
  subvol: number | null;
}

/** An operation: yields steps, receives their results, returns T. */
export type Op<T> = Generator<Step, T, any>;

/** The negative errno of a Node fs error; anything else (a bug, a missing addon) is rethrown. */
function errnoOf(error: unknown): number {
  const errno = (error as NodeJS.ErrnoException).errno;
  if (typeof errno === 'number' && typeof (error as NodeJS.ErrnoException).syscall === 'string') return errno;
  throw error;
}

const AT_FDCWD = -100;
const STAT_MASK = STATX_TYPE | STATX_MODE | STATX_INO | STATX_MNT_ID_UNIQUE | STATX_SUBVOL;
const STX = statx.fields;

/** The fields of a filled struct statx, or the -errno the call returned. */
function statResult(result: number, buf: Buffer): StatResult | number {
  if (result < 0) return result;
  const view = viewOf(buf);
  const mode = view.getUint16(STX.stx_mode.offset, HOST_LE);
  const mask = view.getUint32(STX.stx_mask.offset, HOST_LE);
  return {
    ino: u64Number(view, STX.stx_ino.offset, 'stx_ino'),
    mode,
    isDirectory: (mode & S_IFMT) === S_IFDIR,
    mntId: mask & STATX_MNT_ID_UNIQUE ? u64Number(view, STX.stx_mnt_id.offset, 'stx_mnt_id') : null,
    subvol: mask & STATX_SUBVOL ? u64Number(view, STATX_SUBVOL_OFFSET, 'stx_subvol') : null,
  };
}

/**
 * stat and fstat go through statx(2) in the addon (no fs.Stats object per call: isSubvolume's hot
 * path): `stat` is statx(AT_FDCWD, path, 0), `fstat` statx(fd, '', AT_EMPTY_PATH).
 */
const statDirfd = (step: { op: 'stat' } | { op: 'fstat'; fd: number }): number => (step.op === 'stat' ? AT_FDCWD : step.fd);
const statPath = (step: { op: 'stat'; path: string } | { op: 'fstat' }): string => (step.op === 'stat' ? step.path : '');
const statFlags = (step: { op: 'stat' } | { op: 'fstat' }): number => (step.op === 'stat' ? 0 : AT_EMPTY_PATH);

/**
 * Argument buffers, reused across runs: a 4 KiB Buffer.alloc costs about as much as the ioctl it
 * carries (GC, and page faults on a machine where they are dear). A run keeps what it borrowed
 * until it ends: a sync run cannot interleave with another, and an async run has its own loans,
 * returned once all its steps have settled. Operations get buffers from {@link argBuffer} and
 * decode them before they return.
 */
const spare = new Map<number, Buffer[]>();
/** Buffers lent to the sync runs in progress (a nested run stacks its loans on top). */
const lent: Buffer[] = [];
/** How many runSync calls are on the stack. */
let syncRuns = 0;
/** The loans of the async run whose code is executing (between two of its steps), if any. */
let asyncLoans: Buffer[] | undefined;

/** A spare buffer of `size` bytes (zeroed if asked), or a new one. */
function takeSpare(size: number, zeroed: boolean): Buffer {
  const buf = spare.get(size)?.pop();
  if (buf === undefined) return Buffer.alloc(size);
  return zeroed ? buf.fill(0) : buf;
}

/** Keeps `buf` for later runs; bounded: at most one big search buffer is kept. */
function returnSpare(buf: Buffer): void {
  let list = spare.get(buf.length);
  if (!list) spare.set(buf.length, (list = []));
  if (list.length < (buf.length > 65536 ? 1 : 64)) list.push(buf);
}

function borrow(loans: Buffer[], size: number, zeroed: boolean): Buffer {
  const buf = takeSpare(size, zeroed);
  loans.push(buf);
  return buf;
}

function giveBack(loans: Buffer[], mark: number): void {
  while (loans.length > mark) returnSpare(loans.pop()!);
}

function execSync(step: Step): unknown {
  try {
    switch (step.op) {
      case 'open':
        return fs.openSync(step.path, step.flags);
      case 'close':
        fs.closeSync(step.fd);
        return 0;
      case 'all':
        return step.steps.map(execSync);
      case 'ioctl':
        return native().ioctl(step.fd, step.request, step.arg, step.patches);
      case 'ioctlAt':
        return native().ioctlAt(step.path, step.flags, step.request, step.arg, step.patches);
      case 'statfs':
        return fs.statfsSync(step.path).type;
      case 'stat':
      case 'fstat': {
        const buf = argBuffer(statx.size, false);
        return statResult(native().statx(statDirfd(step), statPath(step), statFlags(step), STAT_MASK, buf), buf);
      }
      case 'rmdir':
        fs.rmdirSync(step.path);
        return 0;
      case 'readdir':
        return fs.readdirSync(step.path);
      case 'readFile':
        return fs.readFileSync(step.path, 'utf8');
      case 'mount':
        return native().mount(step.source, step.target, step.fstype, step.flags, step.data);
      case 'umount2':
        return native().umount2(step.target, step.flags);
    }
  } catch (error) {
    return errnoOf(error);
  }
}

function callback<T>(resolve: (value: unknown) => void, map: (value: T) => unknown = (v) => v) {
  return (error: NodeJS.ErrnoException | null, value?: T) => resolve(error ? errnoOf(error) : map(value as T));
}

/**
 * A blocking call's result, delivered from the event loop's check phase. The threads hand finished
 * calls back through one threadsafe function, whose drain loop runs every call it finds, and an
 * operation resumed right there issues its next call, which can finish before the loop ends: 64
 * creates in flight kept timers waiting 30-80 ms. Resuming on setImmediate ends each drain with
 * what had finished when it began, as the libuv pool's completions do.
 */
function yieldAfter<T>(blocking: boolean, result: Promise<T>): Promise<T> {
  if (!blocking) return result;
  return result.then((value) => new Promise<T>((resolve) => setImmediate(resolve, value)));
}

function execAsync(step: Step): Promise<unknown> {
  return new Promise((resolve) => {
    switch (step.op) {
      case 'open':
        return fs.open(step.path, step.flags, callback(resolve));
      case 'close':
        if (step.background) {
          fs.close(step.fd, () => undefined);
          return resolve(0);
        }
        return fs.close(step.fd, callback(resolve, () => 0));
      case 'all':
        return resolve(Promise.all(step.steps.map(execAsync)));
      case 'ioctl':
        return resolve(yieldAfter(step.blocking, native().ioctlAsync(step.fd, step.request, step.arg, step.patches, step.blocking && dedicatedThreads())));
      case 'ioctlAt':
        return resolve(yieldAfter(step.blocking, native().ioctlAtAsync(step.path, step.flags, step.request, step.arg, step.patches, step.blocking && dedicatedThreads())));
      case 'statfs':
        return fs.statfs(step.path, callback<fs.StatsFs>(resolve, (s) => s.type));
      case 'stat':
      case 'fstat': {
        const buf = Buffer.allocUnsafeSlow(statx.size); // outside any run's code: not a loan
        return resolve(native().statxAsync(statDirfd(step), statPath(step), statFlags(step), STAT_MASK, buf).then((result) => statResult(result, buf)));
      }
      case 'rmdir':
        return fs.rmdir(step.path, callback(resolve, () => 0));
      case 'readdir':
        return fs.readdir(step.path, callback(resolve));
      case 'readFile':
        return fs.readFile(step.path, 'utf8', callback(resolve));
      case 'mount':
        return resolve(native().mountAsync(step.source, step.target, step.fstype, step.flags, step.data, dedicatedThreads()));
      case 'umount2':
        return resolve(native().umount2Async(step.target, step.flags, dedicatedThreads()));
    }
  });
}

/**
 * The driver loop every generator-of-steps in this package shares (op.ts here, mkfs/io.ts for file
 * I/O): feed each step's result back in; an exception from `exec` (a bug or a missing addon, never
 * an errno) is thrown into the generator so its `finally` blocks still release what it holds.
 */
export function driveSync<S, T>(op: Generator<S, T, unknown>, exec: (step: S) => unknown): T {
  let next = op.next();
  while (!next.done) {
    let result: unknown;
    try {
      result = exec(next.value);
    } catch (error) {
      next = op.throw(error);
      continue;
    }
    next = op.next(result);
  }
  return next.value;
}

/** The async form of {@link driveSync}: each step is awaited, off the event loop. */
export async function driveAsync<S, T>(op: Generator<S, T, unknown>, exec: (step: S) => Promise<unknown>, loans?: Buffer[]): Promise<T> {
  let next = resume(op, loans, false, undefined);
  while (!next.done) {
    let result: unknown;
    try {
      result = await exec(next.value);
    } catch (error) {
      next = resume(op, loans, true, error);
      continue;
    }
    next = resume(op, loans, false, result);
  }
  return next.value;
}

/** Runs the operation's code up to its next step, with `loans` as the run whose buffers it borrows. */
function resume<S, T>(op: Generator<S, T, unknown>, loans: Buffer[] | undefined, fail: boolean, value: unknown): IteratorResult<S, T> {
  asyncLoans = loans;
  try {
    return fail ? op.throw(value) : op.next(value);
  } finally {
    asyncLoans = undefined;
  }
}

/** Runs an operation to completion on the calling thread. */
export function runSync<T>(op: Operation<T>): T {
  if (isBound(op)) return callSync(op.call, op.context);
  const mark = lent.length;
  syncRuns++;
  try {
    return driveSync(op, execSync);
  } finally {
    syncRuns--;
    giveBack(lent, mark);
  }
}

/**
 * A buffer of `size` bytes for an ioctl argument, valid until the operation returns: zeroed, unless
 * `zeroed` is false, for output buffers of which the caller reads only what the kernel says it
 * wrote (a tree search's result area: zeroing 256 KiB costs more than the search).
 *
 * A plain call, not a step: it is on every per-call path, and a step costs a generator and a trip
 * through the driver. An operation's code runs only inside its driver's `next()`, so `syncRuns`
 * and `asyncLoans` tell which run is asking; it borrows from the shared spares and gives back when
 * it ends. Called outside any run, it allocates.
 */
export function argBuffer(size: number, zeroed = true): Buffer {
  if (syncRuns > 0) return borrow(lent, size, zeroed);
  if (asyncLoans) return borrow(asyncLoans, size, zeroed);
  return zeroed ? Buffer.alloc(size) : Buffer.allocUnsafeSlow(size);
}

/**
 * Runs an operation with every step off the event loop. Never throws: a failure, even one before
 * the first step (a missing addon), is the promise's rejection.
 */
export function runAsync<T>(op: Operation<T>): Promise<T> {
  try {
    return isBound(op) ? callAsync(op.call, op.context) : runSteps(op);
  } catch (error) {
    return Promise.reject(error);
  }
}

/** {@link runAsync} for a generator of steps. */
async function runSteps<T>(op: Op<T>): Promise<T> {
  const loans: Buffer[] = [];
  try {
    return await driveAsync(op, execAsync, loans);
  } finally {
    giveBack(loans, 0); // every step has settled: the kernel no longer writes into them
  }
}

// ---- step helpers: yield one step, throw a classified BtrfsError on failure ----

/** open(2); throws OPEN_FAILED (or `ctx.kind` when given) on failure. */
export function* open(path: string, flags: number, ctx: StepContext): Op<number> {
  const fd: number = yield { op: 'open', path, flags };
  if (fd < 0) throw sysError(fd, 'open', { ...ctx, path, fd: undefined }, 'OPEN_FAILED');
  return fd;
}

/** close(2); errors are ignored (the descriptor is gone either way on Linux). */
export function* close(fd: number): Op<void> {
  yield { op: 'close', fd };
}

/** Options for {@link ioctl}. */
export interface IoctlOptions {
  /** The request's name, for messages (`'BTRFS_IOC_SNAP_CREATE_V2'`). */
  name: string;
  /** Pointer patches, see {@link Patches}. */
  patches?: Patches;
  /** Runs on a dedicated thread when async: a commit or a wait of unknown length. */
  blocking?: boolean;
  /** Negative errnos returned to the caller instead of thrown (EOVERFLOW for paged results). */
  allow?: readonly number[];
  /** The call needs a subvolume root: EINVAL on anything else becomes NOT_SUBVOLUME. */
  needsSubvolume?: boolean;
  /**
   * False for ioctls on device nodes (/dev/btrfs-control, /dev/loopN), which are never on btrfs:
   * their failures keep the step's kind instead of becoming NOT_BTRFS. Default true.
   */
  onBtrfs?: boolean;
}

/**
 * ioctl(2) on `fd`. On failure, classifies the error: NOT_BTRFS when `fd` is not on btrfs (whatever
 * errno the ioctl gave), NOT_SUBVOLUME when the call needs a subvolume root and `fd` is not one,
 * else `ctx.kind`.
 */
export function* ioctl(fd: number, request: number, arg: IoctlArg, ctx: StepContext, options: IoctlOptions): Op<number> {
  const result: number = yield { op: 'ioctl', fd, request, arg, patches: options.patches ?? null, blocking: options.blocking ?? false };
  if (result >= 0 || (result > -OPEN_FAILED_BASE && options.allow?.includes(result))) return result;
  throw yield* ioctlFailure(fd, result, ctx, options);
}

/**
 * open + ioctl + close of `path` in one native crossing (the composite step), for operations that
 * ask one question of a path. A failed open throws OPEN_FAILED; a failed ioctl is classified as
 * {@link ioctl} does, from the path.
 */
export function* ioctlAt(path: string, flags: number, request: number, arg: IoctlArg, ctx: StepContext, options: IoctlOptions): Op<number> {
  const result: number = yield { op: 'ioctlAt', path, flags, request, arg, patches: options.patches ?? null, blocking: options.blocking ?? false };
  if (result >= 0 || (result > -OPEN_FAILED_BASE && options.allow?.includes(result))) return result;
  throw yield* ioctlFailure(path, result, ctx, options);
}

/**
 * The error for a failed ioctl or ioctlAt step (`target` is the fd or the path it was made on): the
 * open of a descriptor patch's file, the open of the path, or the ioctl.
 */
export function* ioctlFailure(target: number | string, result: number, ctx: StepContext, options: IoctlOptions): Op<Error> {
  if (result <= -FILE_OPEN_FAILED_BASE) {
    const file = options.patches?.find((patch): patch is FilePatch => typeof patch === 'object' && 'path' in patch);
    return sysError(result + FILE_OPEN_FAILED_BASE, 'open', { ...ctx, path: file?.path, fd: undefined }, 'OPEN_FAILED');
  }
  if (typeof target === 'string' && result <= -OPEN_FAILED_BASE) {
    return sysError(result + OPEN_FAILED_BASE, 'open', { ...ctx, path: target, fd: undefined }, 'OPEN_FAILED');
  }
  return yield* classify(target, result, ctx, options);
}

/** Builds the error for a failed ioctl, looking at what `target` (fd or path) is to choose the kind. */
export function* classify(target: number | string, errno: number, ctx: StepContext, options: IoctlOptions): Op<Error> {
  let kind: BtrfsErrorKind = ctx.kind;
  if (options.onBtrfs === false) return sysError(errno, 'ioctl', ctx, kind, options.name);
  const fsType: number = yield { op: 'statfs', path: typeof target === 'number' ? `/proc/self/fd/${target}` : target };
  if (fsType >= 0 && fsType !== BTRFS_SUPER_MAGIC) {
    kind = 'NOT_BTRFS';
  } else if (options.needsSubvolume && errno === -22 /* EINVAL */) {
    const st: StatResult | number = typeof target === 'number' ? yield { op: 'fstat', fd: target } : yield { op: 'stat', path: target };
    if (typeof st !== 'number' && st.ino !== 256) kind = 'NOT_SUBVOLUME';
  }
  return sysError(errno, 'ioctl', ctx, kind, options.name);
}

/**
 * One ioctl on a target: on the caller's descriptor, or on a path through the composite step. One
 * generator, not a delegation to {@link ioctl} or {@link ioctlAt}: this is the per-call path of
 * every question asked of a path, and each generator layer costs.
 * @internal
 */
export function* targetIoctl(
  target: { path?: string; fd?: number },
  openFlags: number,
  request: number,
  arg: IoctlArg,
  ctx: StepContext,
  options: IoctlOptions,
): Op<number> {
  const result: number = yield targetStep(target, openFlags, request, arg, options.patches ?? null, options.blocking ?? false);
  if (result >= 0 || (result > -OPEN_FAILED_BASE && options.allow?.includes(result))) return result;
  throw yield* ioctlFailure(target.fd ?? target.path!, result, ctx, options);
}

/** The step of one ioctl on a target: on the caller's descriptor, or the composite on a path. */
function targetStep(target: TargetLike, openFlags: number, request: number, arg: IoctlArg, patches: Patches | null, blocking: boolean): Step {
  const fd = target.fd;
  return fd !== undefined ? { op: 'ioctl', fd, request, arg, patches, blocking } : { op: 'ioctlAt', path: target.path!, flags: openFlags, request, arg, patches, blocking };
}

// ---- one-call operations ----

/** What a {@link TargetCall} is made of. */
export interface TargetCallSpec<C extends TargetLike, T> {
  /** The ioctl request. */
  request: number;
  /** open(2) flags when the target is a path. */
  openFlags: number;
  /** Async only: the call may wait for a commit, so it runs on a dedicated thread (see IoctlOptions). */
  blocking: boolean;
  /** Size of the argument buffer the drivers supply. */
  size: number;
  /**
   * Writes the call's input into the (zeroed) argument buffer; null when the kernel only writes it.
   * Size 0 with no fill: the ioctl takes no argument, and the drivers pass 0.
   */
  fill: ((arg: Buffer, context: C) => void) | null;
  /** A descriptor patch the call carries (see {@link Patches}), such as LOOP_CONFIGURE's image. */
  patches?: (context: C) => Patches;
  /**
   * How many leading bytes `fill` may write (default: all of them). The Sync driver zeroes only
   * these in its own buffer before each call, the rest never being written: a create's 4 KiB
   * vol_args carries at most 56 + 256 bytes of input.
   */
  fillBytes?: number;
  /** The operation's result once the ioctl returned >= 0, read from the argument buffer. */
  done(arg: Buffer, context: C): T;
  /** Everything else, given the call's `-errno`: throws the classified error, or goes another way. */
  otherwise(context: C, errno: number): Op<T>;
}

/**
 * An operation whose common case is one ioctl on a target (the caller's descriptor, or a path
 * opened, asked and closed in one crossing), described once, so that both drivers run it from the
 * same description:
 * - the Sync driver makes the call at once ({@link runSync}): no generator, no step object, no
 *   trip through the driver loop, no loan from the buffer pool (each description keeps a buffer for
 *   Sync calls, which cannot overlap while it is in use). On this VM each of those layers cost
 *   ~0.25 µs between two syscalls, several times what it costs in a loop of pure JS, and together
 *   they were the gap between the library and C for a question such as getSubvolumeReadOnly
 *   (bench scenario 1);
 * - the async driver makes the call at once too ({@link runAsync}): the addon's promise, continued
 *   by one callback, with a spare buffer;
 * - an operation that makes the call as one of its steps delegates to {@link callOp}.
 *
 * Only the common case is short-cut: a failure goes to `otherwise`, a generator given the call's
 * `-errno`, which classifies it or takes an older road (a legacy ioctl); the call is never made
 * twice.
 */
export class TargetCall<C extends TargetLike, T> {
  readonly request: number;
  readonly openFlags: number;
  readonly blocking: boolean;
  readonly size: number;
  readonly fill: ((arg: Buffer, context: C) => void) | null;
  readonly fillBytes: number;
  readonly patches: ((context: C) => Patches) | null;
  readonly done: (arg: Buffer, context: C) => T;
  readonly otherwise: (context: C, errno: number) => Op<T>;
  /** The Sync driver's argument buffer. */
  readonly syncArg: Buffer;

  constructor(spec: TargetCallSpec<C, T>) {
    if (spec.size === 0 && spec.fill !== null) throw new RangeError('a TargetCall with no argument has nothing to fill');
    this.request = spec.request;
    this.openFlags = spec.openFlags;
    this.blocking = spec.blocking;
    this.size = spec.size;
    this.fill = spec.fill;
    this.fillBytes = Math.min(spec.fillBytes ?? spec.size, spec.size);
    this.patches = spec.patches ?? null;
    this.done = spec.done;
    this.otherwise = spec.otherwise;
    this.syncArg = Buffer.alloc(spec.size);
  }
}

/** The ioctl argument a {@link TargetCall} passes: its buffer, or 0 when it takes none. */
function callArg(call: TargetCall<any, unknown>, arg: Buffer): Buffer | 0 {
  return call.size === 0 ? 0 : arg;
}

/** A {@link TargetCall} bound to one call's context (which names the target): see {@link bind}. */
export interface BoundCall<T> {
  readonly call: TargetCall<any, T>;
  readonly context: TargetLike;
}

/** What {@link runSync} and {@link runAsync} run: a generator of steps, or a bound one-call operation. */
export type Operation<T> = Op<T> | BoundCall<T>;

/** `call` on `context`, as an operation for the drivers. */
export function bind<C extends TargetLike, T>(call: TargetCall<C, T>, context: C): BoundCall<T> {
  return { call, context };
}

function isBound<T>(op: Operation<T>): op is BoundCall<T> {
  return (op as BoundCall<T>).call !== undefined;
}

/** The Sync driver's shortcut for a {@link TargetCall}: the addon called directly. */
function callSync<C extends TargetLike, T>(call: TargetCall<C, T>, context: C): T {
  const arg = call.syncArg;
  if (call.fill !== null) call.fill(arg.fill(0, 0, call.fillBytes), context);
  const patches = call.patches === null ? null : call.patches(context);
  const fd = context.fd;
  const result =
    fd !== undefined ? native().ioctl(fd, call.request, callArg(call, arg), patches) : native().ioctlAt(context.path!, call.openFlags, call.request, callArg(call, arg), patches);
  return result >= 0 ? call.done(arg, context) : runSync(call.otherwise(context, result));
}

/**
 * The async driver's shortcut for a {@link TargetCall}: the addon's promise, continued by one
 * callback, with no generator, no step and no driver loop on the way. On this VM a completion
 * wakes an idle event loop with cold caches, and every layer between the addon's promise and the
 * caller's await measured a few µs of an async loop attach (a raw addon promise 154 µs, through
 * the generic driver 169 µs). Only a failure goes through the driver, with `otherwise`.
 */
function callAsync<C extends TargetLike, T>(call: TargetCall<C, T>, context: C): Promise<T> {
  // One buffer, not a run's list of loans (which costs an array per call). If the addon's promise
  // rejects (a bug), the buffer is simply not given back.
  const arg = takeSpare(call.size, call.fill !== null);
  if (call.fill !== null) call.fill(arg, context);
  const patches = call.patches === null ? null : call.patches(context);
  const blocking = call.blocking && dedicatedThreads();
  const fd = context.fd;
  const pending =
    fd !== undefined
      ? native().ioctlAsync(fd, call.request, callArg(call, arg), patches, blocking)
      : native().ioctlAtAsync(context.path!, call.openFlags, call.request, callArg(call, arg), patches, blocking);
  return yieldAfter(call.blocking, pending).then((result) => {
    if (result < 0) {
      const loans = [arg];
      return driveAsync(call.otherwise(context, result), execAsync, loans).finally(() => giveBack(loans, 0));
    }
    try {
      return call.done(arg, context);
    } finally {
      returnSpare(arg);
    }
  });
}

/** A {@link TargetCall} as a generator: the form other operations delegate to. */
export function* callOp<C extends TargetLike, T>(call: TargetCall<C, T>, context: C): Op<T> {
  const arg = argBuffer(call.size, call.fill !== null);
  if (call.fill !== null) call.fill(arg, context);
  const patches = call.patches === null ? null : call.patches(context);
  const result: number = yield targetStep(context, call.openFlags, call.request, callArg(call, arg), patches, call.blocking);
  return result >= 0 ? call.done(arg, context) : yield* call.otherwise(context, result);
}

// ---- descriptors of the caller's target ----

/** A checked path-or-descriptor (see validate.ts): exactly one of `path` and `fd` is set. */
export interface TargetLike {
  path?: string;
  fd?: number;
}

/** Opens the target (O_RDONLY unless told), or uses the caller's descriptor as it is. */
export function* openTarget(target: TargetLike, ctx: StepContext, flags = fs.constants.O_RDONLY): Op<number> {
  return target.fd ?? (yield* open(target.path!, flags, ctx));
}

/** Closes what {@link openTarget} opened; never the caller's descriptor. */
export function* releaseTarget(target: TargetLike, fd: number): Op<void> {
  if (target.fd === undefined) yield* close(fd);
}

/** Runs `body` with the target open, and releases it whatever happens. */
export function* withTarget<T>(target: TargetLike, ctx: StepContext, body: (fd: number) => Op<T>): Op<T> {
  const fd = yield* openTarget(target, ctx);
  try {
    return yield* body(fd);
  } finally {
    yield* releaseTarget(target, fd);
  }
}

/** Runs `body` with directory `path` open. */
export function* withDir<T>(path: string, ctx: StepContext, body: (fd: number) => Op<T>): Op<T> {
  const fd = yield* open(path, fs.constants.O_RDONLY | fs.constants.O_DIRECTORY, ctx);
  try {
    return yield* body(fd);
  } finally {
    yield* close(fd);
  }
}
