/**
 * The I/O steps of mkfs and their two drivers. mkfs is written once, as a generator that yields
 * these steps (see write.ts); {@link runSync} does each with node:fs's synchronous calls and
 * {@link runAsync} with the callback API (libuv's pool), so validation, planning and the write order
 * exist once and cannot drift between `mkfs` and `mkfsSync`. The steps are mkfs's own rather than
 * op.ts's because mkfs needs positioned reads and writes, ftruncate and fsync, which op.ts (an
 * ioctl runner) has no use for; the pattern is the same.
 *
 * Every step resolves to its result or to a negative errno (never throws), like op.ts; the generator
 * decides what a failure means. Only the ioctl steps (BLKGETSIZE64, BLKDISCARD, SCAN_DEV) touch the
 * native addon, and only for block devices: mkfs on an image file needs no native code.
 * @internal
 * @module
 */
import * as fs from 'node:fs';
import { native } from '../native';
import { driveAsync, driveSync } from '../op';

/** The stat fields mkfs uses. */
export interface StatInfo {
  isBlockDevice: boolean;
  isFile: boolean;
  size: number;
  dev: number;
  ino: number;
  rdev: number;
  /** 512-byte blocks allocated: 0 for a file that is one hole (fresh sparse image). */
  blocks: number;
}

export type IoStep =
  | { op: 'stat'; path: string }
  | { op: 'fstat'; fd: number }
  | { op: 'open'; path: string; flags: number; mode?: number }
  | { op: 'close'; fd: number }
  | { op: 'pread'; fd: number; length: number; position: number }
  | { op: 'pwrite'; fd: number; buffer: Buffer; position: number }
  | { op: 'ftruncate'; fd: number; length: number }
  | { op: 'fsync'; fd: number }
  | { op: 'readFile'; path: string }
  | { op: 'readdir'; path: string }
  | { op: 'unlink'; path: string }
  | { op: 'ioctl'; fd: number; request: number; arg: Buffer }
  /**
   * Runs several operations, one per device: concurrently in the async driver, one after the other
   * in the sync one. Every operation runs to its end, even when another fails; the step resolves to
   * their outcomes in order, so the caller reports the first failure by device order either way.
   */
  | { op: 'all'; ops: IoOp<unknown>[] };

/** The outcome of one operation of an 'all' step. */
export type Settled = { ok: true; value: unknown } | { ok: false; error: unknown };

/** A generator of I/O steps returning T. */
export type IoOp<T> = Generator<IoStep, T, any>;

function errnoOf(error: unknown): number {
  const errno = (error as NodeJS.ErrnoException).errno;
  if (typeof errno === 'number' && errno < 0) return errno;
  throw error;
}

function statInfo(s: fs.Stats): StatInfo {
  return { isBlockDevice: s.isBlockDevice(), isFile: s.isFile(), size: s.size, dev: s.dev, ino: s.ino, rdev: s.rdev, blocks: s.blocks };
}

/** pread until `length` bytes or end of file; returns the bytes read. */
function preadAllSync(fd: number, length: number, position: number): Buffer {
  const buf = Buffer.allocUnsafe(length); // filled by the read; only the bytes read are returned
  let done = 0;
  while (done < length) {
    const n = fs.readSync(fd, buf, done, length - done, position + done);
    if (n === 0) break;
    done += n;
  }
  return buf.subarray(0, done);
}

function pwriteAllSync(fd: number, buffer: Buffer, position: number): number {
  let done = 0;
  while (done < buffer.length) done += fs.writeSync(fd, buffer, done, buffer.length - done, position + done);
  return done;
}

/** Does one step synchronously (exported for tests that drive an operation step by step). */
export function execSync(step: IoStep): unknown {
  try {
    switch (step.op) {
      case 'stat':
        return statInfo(fs.statSync(step.path));
      case 'fstat':
        return statInfo(fs.fstatSync(step.fd));
      case 'open':
        return fs.openSync(step.path, step.flags, step.mode);
      case 'close':
        fs.closeSync(step.fd);
        return 0;
      case 'pread':
        return preadAllSync(step.fd, step.length, step.position);
      case 'pwrite':
        return pwriteAllSync(step.fd, step.buffer, step.position);
      case 'ftruncate':
        fs.ftruncateSync(step.fd, step.length);
        return 0;
      case 'fsync':
        fs.fsyncSync(step.fd);
        return 0;
      case 'readFile':
        return fs.readFileSync(step.path, 'utf8');
      case 'readdir':
        return fs.readdirSync(step.path);
      case 'unlink':
        fs.unlinkSync(step.path);
        return 0;
      case 'ioctl':
        return native().ioctl(step.fd, step.request, step.arg);
      case 'all':
        return step.ops.map((op): Settled => {
          try {
            return { ok: true, value: runSync(op) };
          } catch (error) {
            return { ok: false, error };
          }
        });
    }
  } catch (error) {
    return errnoOf(error);
  }
}

const fsp = fs.promises;

async function preadAll(fd: number, length: number, position: number): Promise<Buffer> {
  const buf = Buffer.allocUnsafe(length); // filled by the read; only the bytes read are returned
  let done = 0;
  while (done < length) {
    const { bytesRead } = await new Promise<{ bytesRead: number }>((resolve, reject) =>
      fs.read(fd, buf, done, length - done, position + done, (e, bytesRead) => (e ? reject(e) : resolve({ bytesRead }))),
    );
    if (bytesRead === 0) break;
    done += bytesRead;
  }
  return buf.subarray(0, done);
}

async function pwriteAll(fd: number, buffer: Buffer, position: number): Promise<number> {
  let done = 0;
  while (done < buffer.length) {
    done += await new Promise<number>((resolve, reject) =>
      fs.write(fd, buffer, done, buffer.length - done, position + done, (e, written) => (e ? reject(e) : resolve(written))),
    );
  }
  return done;
}

const cb = <T>(f: (done: (e: NodeJS.ErrnoException | null, v?: T) => void) => void): Promise<T> =>
  new Promise((resolve, reject) => f((e, v) => (e ? reject(e) : resolve(v as T))));

async function execAsync(step: IoStep): Promise<unknown> {
  try {
    switch (step.op) {
      case 'stat':
        return statInfo(await fsp.stat(step.path));
      case 'fstat':
        return statInfo(await cb<fs.Stats>((d) => fs.fstat(step.fd, d)));
      case 'open':
        return await cb<number>((d) => fs.open(step.path, step.flags, step.mode, d));
      case 'close':
        await cb((d) => fs.close(step.fd, d));
        return 0;
      case 'pread':
        return await preadAll(step.fd, step.length, step.position);
      case 'pwrite':
        return await pwriteAll(step.fd, step.buffer, step.position);
      case 'ftruncate':
        await cb((d) => fs.ftruncate(step.fd, step.length, d));
        return 0;
      case 'fsync':
        await cb((d) => fs.fsync(step.fd, d));
        return 0;
      case 'readFile':
        return await fsp.readFile(step.path, 'utf8');
      case 'readdir':
        return await fsp.readdir(step.path);
      case 'unlink':
        await fsp.unlink(step.path);
        return 0;
      case 'ioctl':
        return await native().ioctlAsync(step.fd, step.request, step.arg, null, false);
      case 'all':
        return (await Promise.allSettled(step.ops.map((op) => runAsync(op)))).map(
          (r): Settled => (r.status === 'fulfilled' ? { ok: true, value: r.value } : { ok: false, error: r.reason }),
        );
    }
  } catch (error) {
    return errnoOf(error);
  }
}

/** Runs an mkfs operation on the calling thread. */
export function runSync<T>(op: IoOp<T>): T {
  return driveSync(op, execSync);
}

/** Runs an mkfs operation with every step off the event loop. */
export function runAsync<T>(op: IoOp<T>): Promise<T> {
  return driveAsync(op, execAsync);
}
