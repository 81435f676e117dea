/**
 * Struct codecs at fixed offsets, over DataView. A {@link Layout} names its C struct, its size and
 * each field's offset, so the ABI test (test/abi) can compare every number with the C headers.
 *
 * Two byte orders exist and are kept apart by name: ioctl arguments are host order (`u64`,
 * `u32`, ...), on-disk items are little-endian (`le64`, `le32`, ...). Both targets (x86-64, arm64)
 * are little-endian, but the names say which is meant. 64-bit fields decode to `bigint`; the public
 * API converts them with {@link toSafeNumber}. Encoding starts from zeros, so reserved fields are 0.
 * @module
 */
import { endianness } from 'node:os';
import { rangeError } from '../errors';

/** Whether the host is little-endian (ioctl arguments are in host order). */
export const HOST_LE = endianness() === 'LE';

/** One field of a struct: where it is, how big, and how to read and write it. */
export interface Field<T> {
  readonly offset: number;
  readonly size: number;
  read(view: DataView, at: number): T;
  write(view: DataView, at: number, value: T): void;
}

const UTF8 = new TextEncoder();

function bytesOf(view: DataView, at: number, length: number): Uint8Array {
  if (at < 0 || at + length > view.byteLength) throw new RangeError(`struct field [${at}, ${at + length}) is outside the ${view.byteLength}-byte buffer`);
  return new Uint8Array(view.buffer, view.byteOffset + at, length);
}

function int(offset: number, size: 1 | 2 | 4, le: boolean, signed = false): Field<number> {
  return {
    offset,
    size,
    read(view, at) {
      const p = at + offset;
      if (size === 1) return signed ? view.getInt8(p) : view.getUint8(p);
      if (size === 2) return signed ? view.getInt16(p, le) : view.getUint16(p, le);
      return signed ? view.getInt32(p, le) : view.getUint32(p, le);
    },
    write(view, at, value) {
      const p = at + offset;
      if (size === 1) signed ? view.setInt8(p, value) : view.setUint8(p, value);
      else if (size === 2) signed ? view.setInt16(p, value, le) : view.setUint16(p, value, le);
      else signed ? view.setInt32(p, value, le) : view.setUint32(p, value, le);
    },
  };
}

function int64(offset: number, le: boolean, signed: boolean): Field<bigint> {
  return {
    offset,
    size: 8,
    read: (view, at) => (signed ? view.getBigInt64(at + offset, le) : view.getBigUint64(at + offset, le)),
    write: (view, at, value) =>
      signed ? view.setBigInt64(at + offset, value, le) : view.setBigUint64(at + offset, value, le),
  };
}

/** u8 (byte order does not matter). */
export const u8 = (offset: number): Field<number> => int(offset, 1, true);
/** Host-order u16, for ioctl arguments. */
export const u16 = (offset: number): Field<number> => int(offset, 2, HOST_LE);
/** Host-order u32, for ioctl arguments. */
export const u32 = (offset: number): Field<number> => int(offset, 4, HOST_LE);
/** Host-order s32, for ioctl arguments. */
export const s32 = (offset: number): Field<number> => int(offset, 4, HOST_LE, true);
/** Host-order u64, for ioctl arguments. */
export const u64 = (offset: number): Field<bigint> => int64(offset, HOST_LE, false);
/** Host-order s64, for ioctl arguments. */
export const s64 = (offset: number): Field<bigint> => int64(offset, HOST_LE, true);
/** Little-endian u16, for on-disk items. */
export const le16 = (offset: number): Field<number> => int(offset, 2, true);
/** Little-endian u32, for on-disk items. */
export const le32 = (offset: number): Field<number> => int(offset, 4, true);
/** Little-endian u64, for on-disk items. */
export const le64 = (offset: number): Field<bigint> => int64(offset, true, false);

/** Raw bytes (a UUID, a reserved area); decode copies them. */
export function bytes(offset: number, size: number): Field<Buffer> {
  return {
    offset,
    size,
    read: (view, at) => Buffer.from(bytesOf(view, at + offset, size)),
    write(view, at, value) {
      if (value.length > size) throw new RangeError(`${value.length} bytes do not fit in a ${size}-byte field`);
      bytesOf(view, at + offset, size).set(value);
    },
  };
}

/**
 * A NUL-terminated string in a fixed char array. Decoding stops at the first NUL; encoding refuses
 * a value that leaves no room for the NUL (validation rejects such names before this point).
 */
export function cstr(offset: number, size: number): Field<string> {
  return {
    offset,
    size,
    read(view, at) {
      const raw = bytesOf(view, at + offset, size);
      const end = raw.indexOf(0);
      return Buffer.from(raw.buffer, raw.byteOffset, end < 0 ? size : end).toString('utf8');
    },
    write(view, at, value) {
      // Encoded in place, with no Buffer per call. A UTF-16 unit is at most 3 UTF-8 bytes: only a
      // long value needs counting.
      if (value.length * 3 >= size) {
        const length = Buffer.byteLength(value, 'utf8');
        if (length >= size) throw new RangeError(`a ${length}-byte string does not fit in a ${size}-byte field`);
      }
      const target = bytesOf(view, at + offset, size);
      target.fill(0);
      UTF8.encodeInto(value, target);
    },
  };
}

/** A nested struct. */
export function struct<F extends Fields>(offset: number, inner: Layout<F>): Field<Values<F>> {
  return {
    offset,
    size: inner.size,
    read: (view, at) => inner.readView(view, at + offset),
    write: (view, at, value) => inner.writeView(view, at + offset, value),
  };
}

/** A `{ sec, nsec }` pair: struct btrfs_ioctl_timespec (host, 16 bytes) or btrfs_timespec (disk, 12). */
export interface Timespec {
  sec: bigint;
  nsec: number;
}

/** Host-order struct btrfs_ioctl_timespec: u64 sec, u32 nsec, 4 bytes of padding. */
export function ioctlTimespec(offset: number): Field<Timespec> {
  const sec = u64(0);
  const nsec = u32(8);
  return {
    offset,
    size: 16,
    read: (view, at) => ({ sec: sec.read(view, at + offset), nsec: nsec.read(view, at + offset) }),
    write(view, at, value) {
      sec.write(view, at + offset, value.sec);
      nsec.write(view, at + offset, value.nsec);
    },
  };
}

/** On-disk struct btrfs_timespec: le64 sec, le32 nsec, packed (12 bytes). */
export function diskTimespec(offset: number): Field<Timespec> {
  const sec = le64(0);
  const nsec = le32(8);
  return {
    offset,
    size: 12,
    read: (view, at) => ({ sec: sec.read(view, at + offset), nsec: nsec.read(view, at + offset) }),
    write(view, at, value) {
      sec.write(view, at + offset, value.sec);
      nsec.write(view, at + offset, value.nsec);
    },
  };
}

/** A map of field names to fields. */
export type Fields = Record<string, Field<any>>;
/** The decoded values of a struct's fields. */
export type Values<F extends Fields> = { [K in keyof F]: F[K] extends Field<infer T> ? T : never };

/** A C struct: its name (as in the header), size, and fields at fixed offsets. */
export interface Layout<F extends Fields> {
  readonly name: string;
  readonly size: number;
  readonly fields: F;
  /** A zeroed buffer of `size` bytes with `values` written in. */
  encode(values?: Partial<Values<F>>): Buffer;
  /** Writes `values` into `buf` at `at` (other bytes untouched). */
  write(buf: Uint8Array, values: Partial<Values<F>>, at?: number): void;
  /** Reads every field of the struct at `at` in `buf`. */
  decode(buf: Uint8Array, at?: number): Values<F>;
  /** Reads one field. */
  get<K extends keyof F>(buf: Uint8Array, key: K, at?: number): Values<F>[K];
  /** Writes one field. */
  set<K extends keyof F>(buf: Uint8Array, key: K, value: Values<F>[K], at?: number): void;
  /** @internal */
  readView(view: DataView, at: number): Values<F>;
  /** @internal */
  writeView(view: DataView, at: number, values: Partial<Values<F>>): void;
}

/** A DataView over exactly the bytes of `buf`, so reads past its end throw. */
export function viewOf(buf: Uint8Array): DataView {
  return new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
}

/**
 * Declares a struct layout.
 * @example
 * ```ts
 * // linux/btrfs.h: struct btrfs_ioctl_vol_args
 * const volArgs = layout('btrfs_ioctl_vol_args', 4096, { fd: s64(0), name: cstr(8, 4088) });
 * ```
 */
export function layout<F extends Fields>(name: string, size: number, fields: F): Layout<F> {
  for (const [key, field] of Object.entries(fields)) {
    if (field.offset + field.size > size) throw new Error(`${name}.${key} overruns the ${size}-byte struct`);
  }
  const entries = Object.entries(fields) as [keyof F & string, Field<unknown>][];
  const self: Layout<F> = {
    name,
    size,
    fields,
    readView(view, at) {
      if (at + size > view.byteLength) throw new RangeError(`${name} (${size} bytes) at ${at} overruns a ${view.byteLength}-byte buffer`);
      const out = {} as Values<F>;
      for (const [key, field] of entries) (out as Record<string, unknown>)[key] = field.read(view, at);
      return out;
    },
    writeView(view, at, values) {
      if (at + size > view.byteLength) throw new RangeError(`${name} (${size} bytes) at ${at} overruns a ${view.byteLength}-byte buffer`);
      for (const [key, field] of entries) {
        const value = (values as Record<string, unknown>)[key];
        if (value !== undefined) field.write(view, at, value);
      }
    },
    encode(values = {}) {
      const buf = Buffer.alloc(size);
      self.writeView(viewOf(buf), 0, values);
      return buf;
    },
    write(buf, values, at = 0) {
      self.writeView(viewOf(buf), at, values);
    },
    decode(buf, at = 0) {
      return self.readView(viewOf(buf), at);
    },
    get(buf, key, at = 0) {
      return fields[key]!.read(viewOf(buf), at) as Values<F>[typeof key];
    },
    set(buf, key, value, at = 0) {
      fields[key]!.write(viewOf(buf), at, value);
    },
  };
  return self;
}

/** 2^64 - 1: the kernel's "unset" value for u64 fields. */
export const U64_MAX = 0xffff_ffff_ffff_ffffn;

/**
 * A kernel u64 as a JavaScript number. Throws `RangeError` rather than round a value above
 * `Number.MAX_SAFE_INTEGER`.
 * @param what field name for the error message
 */
export function toSafeNumber(value: bigint, what: string): number {
  if (value > BigInt(Number.MAX_SAFE_INTEGER) || value < BigInt(Number.MIN_SAFE_INTEGER)) {
    throw rangeError(what, `at most Number.MAX_SAFE_INTEGER to be exact as a number`, value);
  }
  return Number(value);
}

/**
 * A host-order (little-endian on every supported target) u64 at `at`, read as a number without
 * going through bigint; RangeError past Number.MAX_SAFE_INTEGER, like {@link toSafeNumber}.
 */
export function u64Number(view: DataView, at: number, what: string): number {
  const high = view.getUint32(at + 4, HOST_LE);
  const low = view.getUint32(at, HOST_LE);
  if (high > 0x1fffff) throw rangeError(what, 'at most Number.MAX_SAFE_INTEGER to be exact as a number', view.getBigUint64(at, HOST_LE));
  return high * 0x1_0000_0000 + low;
}

/** Like {@link u64Number} for a little-endian (on-disk) u64. */
export function le64Number(view: DataView, at: number, what: string): number {
  const high = view.getUint32(at + 4, true);
  if (high > 0x1fffff) throw rangeError(what, 'at most Number.MAX_SAFE_INTEGER to be exact as a number', view.getBigUint64(at, true));
  return high * 0x1_0000_0000 + view.getUint32(at, true);
}

/** Like {@link toSafeNumber}, but the all-ones "unset" value becomes `null`. */
export function toNumberOrNull(value: bigint, what: string): number | null {
  return value === U64_MAX ? null : toSafeNumber(value, what);
}

/** A 16-byte UUID as a lowercase 8-4-4-4-12 string, or `null` when all bytes are zero. */
export function formatUuid(raw: Uint8Array): string | null {
  if (raw.length !== 16) throw new RangeError(`a UUID has 16 bytes, not ${raw.length}`);
  return formatUuidAt(raw, 0);
}

/** {@link formatUuid} of the 16 bytes at `at` in `bytes`, without a subarray (hot in listings). */
export function formatUuidAt(bytes: Uint8Array, at: number): string | null {
  if (at < 0 || at + 16 > bytes.length) throw new RangeError(`a UUID at ${at} overruns a ${bytes.length}-byte buffer`);
  let any = 0;
  for (let i = at; i < at + 16; i++) any |= bytes[i]!;
  if (any === 0) return null;
  // A byte-to-hex table and plain concatenation: no intermediate Buffer or slices.
  let text = '';
  for (let i = 0; i < 16; i++) {
    if (i === 4 || i === 6 || i === 8 || i === 10) text += '-';
    text += HEX[bytes[at + i]!];
  }
  return text;
}

const HEX: readonly string[] = Array.from({ length: 256 }, (_, byte) => byte.toString(16).padStart(2, '0'));

/** A kernel timespec as a Date (millisecond precision, as Date allows). */
export function toDate(ts: Timespec): Date {
  return new Date(Number(ts.sec) * 1000 + Math.floor(ts.nsec / 1e6));
}
