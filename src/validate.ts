/**
 * Argument checks, run in every exported function before any syscall, so bad input never touches
 * the filesystem. Type problems are `TypeError` (`ERR_INVALID_ARG_TYPE` / `ERR_INVALID_ARG_VALUE`),
 * numbers out of range `RangeError` (`ERR_OUT_OF_RANGE`), as Node's own APIs do.
 * @internal
 * @module
 */
import { basename, dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { argTypeError, argValueError, rangeError, type StepContext } from './errors';

/** A path as Node's fs accepts it. */
export type PathLike = string | Buffer | URL;

/** What {@link PathOrFd} accepts besides a path: anything with a numeric `fd`, such as a fs.promises FileHandle. */
export interface HasFd {
  readonly fd: number;
}

/**
 * A path, or an open file descriptor (an integer, or a `fs.promises` FileHandle). The library never
 * closes a descriptor it was given.
 */
export type PathOrFd = PathLike | number | HasFd;

/** A checked path-or-descriptor: exactly one of `path` and `fd` is set. */
export interface Target {
  path?: string;
  fd?: number;
}

/** A 64-bit id as callers may pass it. */
export type Id = number | bigint;

/** Checks a path (string, Buffer or file: URL) and returns it as a string. */
export function checkPath(value: unknown, name = 'path'): string {
  let path: string;
  if (typeof value === 'string') path = value;
  else if (Buffer.isBuffer(value)) {
    // Paths travel as JS strings (fs and the native layer take UTF-8): refuse bytes that would not
    // survive the round trip rather than act on a different file.
    path = value.toString('utf8');
    if (!Buffer.from(path, 'utf8').equals(value)) throw argValueError(name, 'must be valid UTF-8 when given as a Buffer', value);
  }
  else if (value instanceof URL) {
    if (value.protocol !== 'file:') throw argValueError(name, 'must be a file: URL', value.href);
    path = fileURLToPath(value);
  } else throw argTypeError(name, 'of type string or an instance of Buffer or URL', value);
  if (path.length === 0) throw argValueError(name, 'must not be empty', value);
  if (path.includes('\0')) throw argValueError(name, 'must be a string without null bytes', value);
  // A UTF-16 unit is at most 3 UTF-8 bytes: only a long path needs counting (not free per call).
  if (path.length > 1365 && Buffer.byteLength(path) > 4095) throw argValueError(name, 'must be at most 4095 bytes (PATH_MAX)', `${path.slice(0, 32)}...`);
  return path;
}

/**
 * {@link checkPath}, made absolute and normalized as `path.resolve` does. A path that is already
 * so (absolute, no `//`, no `.` or `..` component, no trailing slash) is returned as it is:
 * `resolve` builds a new string each time (~300 bytes), on the path of every loop attach.
 */
export function checkAbsolutePath(value: unknown, name = 'path'): string {
  const path = checkPath(value, name);
  const normal = path.charCodeAt(0) === 0x2f && !path.includes('//') && !path.includes('/.') && (path.length === 1 || path.charCodeAt(path.length - 1) !== 0x2f);
  return normal ? path : resolve(path);
}

/** Checks a path or a descriptor (integer or an object with a numeric `fd`). */
export function checkPathOrFd(value: unknown, name = 'path'): Target {
  if (typeof value === 'number') return { fd: checkFd(value, name) };
  if (value !== null && typeof value === 'object' && !Buffer.isBuffer(value) && !(value instanceof URL)) {
    const fd = (value as { fd?: unknown }).fd;
    if (typeof fd === 'number') return { fd: checkFd(fd, `${name}.fd`) };
  }
  try {
    return { path: checkPath(value, name) };
  } catch (error) {
    if ((error as { code?: string }).code === 'ERR_INVALID_ARG_TYPE') {
      throw argTypeError(name, 'a path (string, Buffer, URL), a file descriptor or a FileHandle', value);
    }
    throw error;
  }
}

function checkFd(value: number, name: string): number {
  if (!Number.isInteger(value)) throw rangeError(name, 'an integer', value);
  if (value < 0 || value > 0x7fffffff) throw rangeError(name, '>= 0 and <= 2147483647', value);
  return value;
}

/** Context for errors about `target`: the path, or the descriptor. */
export function contextOf(operation: string, kind: StepContext['kind'], target: Target): StepContext {
  return target.fd !== undefined ? { operation, kind, fd: target.fd } : { operation, kind, path: target.path! };
}

/**
 * Checks a new subvolume's path: the last component must be a usable name (1 to 255 bytes, not `.`
 * or `..`). Returns the parent directory and the name.
 */
export function checkNewPath(value: unknown, name = 'path'): { path: string; parent: string; name: string } {
  const path = checkPath(value, name);
  const trimmed = path.length > 1 && path.endsWith('/') ? path.replace(/\/+$/, '') : path;
  const leaf = basename(trimmed);
  if (leaf === '' || leaf === '.' || leaf === '..' || trimmed === '/') {
    throw argValueError(name, 'must end in a name (not "/", "." or "..")', value);
  }
  if (Buffer.byteLength(leaf) > 255) throw argValueError(name, 'must end in a name of at most 255 bytes', value);
  return { path, parent: dirname(trimmed), name: leaf };
}

/** Checks a 64-bit id (number or bigint, 0 to 2^64 - 1 as a bigint, safe integers as numbers). */
export function checkId(value: unknown, name: string): bigint {
  if (typeof value === 'bigint') {
    if (value < 0n || value > 0xffff_ffff_ffff_ffffn) throw rangeError(name, '>= 0 and < 2^64', value);
    return value;
  }
  if (typeof value !== 'number') throw argTypeError(name, 'of type number or bigint', value);
  if (!Number.isInteger(value)) throw rangeError(name, 'an integer', value);
  if (value < 0 || value > Number.MAX_SAFE_INTEGER) throw rangeError(name, '>= 0 and <= 2^53 - 1', value);
  return BigInt(value);
}

/** Like {@link checkId}, with `undefined` (omitted) giving `fallback`. */
export function checkOptionalId(value: unknown, name: string, fallback = 0n): bigint {
  return value === undefined ? fallback : checkId(value, name);
}

/**
 * Checks a qgroup id: a number or bigint `(level << 48) | id`, or the string form `'level/id'`.
 */
export function checkQgroupId(value: unknown, name = 'qgroupid'): bigint {
  if (typeof value === 'string') {
    const match = /^(\d+)\/(\d+)$/.exec(value);
    if (!match) throw argValueError(name, "must look like 'level/id'", value);
    const level = BigInt(match[1]!);
    const id = BigInt(match[2]!);
    if (level > 0xffffn) throw rangeError(`${name} level`, '>= 0 and < 65536', value);
    if (id > 0xffff_ffff_ffffn) throw rangeError(`${name} id`, '>= 0 and < 2^48', value);
    return (level << 48n) | id;
  }
  return checkId(value, name);
}

/** Options not given: one shared, frozen object (an empty literal per call was garbage on every Sync call). */
const NO_OPTIONS: object = Object.freeze({});

/** Checks an options argument: `undefined` or a plain object. */
export function checkOptions<T extends object>(value: unknown, name = 'options'): Partial<T> {
  if (value === undefined) return NO_OPTIONS as Partial<T>;
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw argTypeError(name, 'of type object', value);
  return value as Partial<T>;
}

/** Checks an optional boolean. */
export function checkBoolean(value: unknown, name: string, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (typeof value !== 'boolean') throw argTypeError(name, 'of type boolean', value);
  return value;
}
