/**
 * src/kernel/struct.ts: each field kind encoded and decoded against hex strings (as token-types
 * tests its tokens), bounds checks, and the number/UUID/date conversions the public API relies on.
 */
import assert from 'node:assert/strict';
import { endianness } from 'node:os';
import { describe, it } from 'node:test';
import {
  bytes,
  cstr,
  diskTimespec,
  formatUuid,
  ioctlTimespec,
  layout,
  le16,
  le32,
  le64,
  s32,
  s64,
  struct,
  toDate,
  toNumberOrNull,
  toSafeNumber,
  U64_MAX,
  u16,
  u32,
  u64,
  u8,
  type Field,
} from '../../src/kernel/struct';

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');
const LE = endianness() === 'LE';
/** `le` bytes as they appear in host order. */
const host = (le: string): string => (LE ? le : Buffer.from(hex(le)).reverse().toString('hex'));

/** Encodes `value` in a one-field struct and checks the bytes, then decodes them back. */
function roundTrip<T>(field: Field<T>, size: number, value: T, expectedHex: string, decoded: T = value): void {
  const l = layout('t', size, { f: field });
  const buf = l.encode({ f: value });
  assert.equal(buf.toString('hex'), expectedHex.replace(/\s+/g, ''));
  assert.deepEqual(l.decode(buf).f, decoded);
}

describe('struct field kinds', () => {
  it('u8', () => {
    roundTrip(u8(1), 3, 0xab, '00ab00');
    roundTrip(u8(0), 1, 255, 'ff');
  });

  it('u16/u32/s32 are host order', () => {
    roundTrip(u16(0), 2, 0x1234, host('3412'));
    roundTrip(u32(2), 6, 0xdeadbeef, `0000${host('efbeadde')}`);
    roundTrip(s32(0), 4, -2, 'feffffff');
    roundTrip(s32(0), 4, -0x80000000, host('00000080'));
  });

  it('le16/le32 are little-endian whatever the host', () => {
    roundTrip(le16(1), 3, 0x1234, '003412');
    roundTrip(le32(0), 4, 0xdeadbeef, 'efbeadde');
  });

  it('u64 is host order, le64 little-endian, both bigint', () => {
    roundTrip(u64(0), 8, 0x0102030405060708n, host('0807060504030201'));
    roundTrip(le64(0), 8, 0x0102030405060708n, '0807060504030201');
    roundTrip(u64(8), 16, U64_MAX, '0000000000000000 ffffffffffffffff');
    roundTrip(le64(1), 9, 0xfffffffffffffffbn, '00 fbffffffffffffff');
    const l = layout('t', 16, { h: u64(0), d: le64(8) });
    const buf = l.encode({ h: 0x1122334455667788n, d: 0x1122334455667788n });
    assert.equal(buf.subarray(0, 8).toString('hex'), host('8877665544332211'));
    assert.equal(buf.subarray(8).toString('hex'), '8877665544332211');
    assert.equal(typeof l.decode(buf).h, 'bigint');
  });

  it('s64 is signed', () => {
    roundTrip(s64(0), 8, -1n, 'ffffffffffffffff');
    roundTrip(s64(0), 8, -0x8000000000000000n, host('0000000000000080'));
  });

  it('packed little-endian fields at odd offsets (as btrfs_disk_key)', () => {
    const key = layout('btrfs_disk_key', 17, { objectid: le64(0), type: u8(8), offset: le64(9) });
    const buf = hex('0001000000000000 54 0500000000000000'); // DIR_ITEM_KEY 84 = 0x54
    assert.deepEqual(key.decode(buf), { objectid: 256n, type: 84, offset: 5n });
    assert.deepEqual(key.encode({ objectid: 256n, type: 84, offset: 5n }), buf);
  });

  it('bytes copies in and out, and refuses a value longer than the field', () => {
    roundTrip(bytes(1, 4), 6, hex('deadbeef'), '00deadbeef00');
    roundTrip(bytes(0, 4), 4, hex('ab'), 'ab000000', hex('ab000000'));
    const l = layout('t', 4, { f: bytes(0, 4) });
    const buf = hex('01020304');
    const out = l.decode(buf).f;
    buf[0] = 0xff;
    assert.equal(out.toString('hex'), '01020304', 'decode copies');
    assert.throws(() => l.encode({ f: hex('0102030405') }), RangeError);
  });

  it('nested struct and timespecs', () => {
    const inner = layout('inner', 4, { a: u16(0), b: u16(2) });
    roundTrip(struct(2, inner), 6, { a: 1, b: 2 }, `0000${host('0100')}${host('0200')}`);
    roundTrip(ioctlTimespec(0), 16, { sec: 1n, nsec: 2 }, `${host('0100000000000000')}${host('02000000')}00000000`);
    roundTrip(diskTimespec(0), 12, { sec: 0x0102n, nsec: 3 }, '0201000000000000 03000000');
    assert.equal(ioctlTimespec(0).size, 16);
    assert.equal(diskTimespec(0).size, 12);
  });
});

describe('cstr', () => {
  const l = layout('t', 8, { name: cstr(2, 6) });

  it('encodes with a NUL and decodes up to the first NUL', () => {
    roundTrip(cstr(2, 6), 8, 'abc', '0000 616263 000000');
    roundTrip(cstr(0, 6), 6, '', '000000000000');
    assert.equal(l.decode(hex('0000 6162 00 6364 00')).name, 'ab');
  });

  it('decodes a field with no NUL as all of its bytes, not beyond', () => {
    const backing = hex('ffff 616263646566 676869'); // the field is full; more text follows it
    assert.equal(l.decode(backing.subarray(0, 8)).name, 'abcdef');
    assert.equal(l.decode(backing).name, 'abcdef');
  });

  it('writes over old contents, leaving zeros after the NUL', () => {
    const buf = Buffer.alloc(8, 0xff);
    l.set(buf, 'name', 'xy');
    assert.equal(buf.toString('hex'), 'ffff' + '7879' + '00000000');
  });

  it('refuses a string that leaves no room for the NUL (counted in UTF-8 bytes)', () => {
    assert.equal(l.encode({ name: 'abcde' }).subarray(2).toString('hex'), '616263646500');
    assert.throws(() => l.encode({ name: 'abcdef' }), RangeError);
    assert.throws(() => l.encode({ name: 'ééé' }), RangeError); // 3 characters, 6 bytes
    assert.equal(l.decode(l.encode({ name: 'éé' })).name, 'éé');
  });

  it('a refused string leaves the field as it was; a lone surrogate is encoded as Buffer.from does', () => {
    const buf = Buffer.alloc(8, 0xff);
    assert.throws(() => l.set(buf, 'name', 'ab€cd'), RangeError); // 5 characters, 7 bytes
    assert.equal(buf.toString('hex'), 'ff'.repeat(8));
    l.set(buf, 'name', '\ud800x');
    assert.equal(buf.subarray(2).toString('hex'), Buffer.from('\ud800x').toString('hex') + '0000');
  });
});

describe('layouts', () => {
  const l = layout('btrfs_test', 12, { a: u32(0), b: u64(4) });

  it('refuses a field that overruns the struct at declaration', () => {
    assert.throws(() => layout('bad', 8, { a: u64(4) }), /bad\.a overruns the 8-byte struct/);
  });

  it('encode starts from zeros: unset and reserved bytes are 0', () => {
    const buf = l.encode({ a: 1 });
    assert.equal(buf.length, 12);
    assert.equal(buf.toString('hex'), `${host('01000000')}0000000000000000`);
    assert.equal(layout('r', 64, {}).encode().toString('hex'), '00'.repeat(64));
  });

  it('write and set leave other bytes untouched; get reads one field', () => {
    const buf = Buffer.alloc(16, 0xee);
    l.write(buf, { a: 7 }, 2);
    assert.equal(buf.toString('hex'), `eeee${host('07000000')}${'ee'.repeat(10)}`);
    l.set(buf, 'b', 9n, 2);
    assert.equal(l.get(buf, 'b', 2), 9n);
    assert.equal(l.get(buf, 'a', 2), 7);
    assert.equal(buf.subarray(14).toString('hex'), 'eeee');
  });

  it('decode overrunning the buffer throws RangeError', () => {
    assert.throws(() => l.decode(Buffer.alloc(11)), RangeError);
    assert.throws(() => l.decode(Buffer.alloc(12), 1), RangeError);
    assert.throws(() => l.write(Buffer.alloc(11), { a: 1 }), RangeError);
    assert.throws(() => l.get(Buffer.alloc(3), 'a'), RangeError);
  });

  it('reads a Buffer view at its own byteOffset and stops at its byteLength', () => {
    const backing = Buffer.alloc(64, 0xaa);
    const view = backing.subarray(8, 8 + 11); // one byte short, inside a larger ArrayBuffer
    assert.throws(() => l.decode(view), RangeError);
    const exact = backing.subarray(8, 20);
    l.write(exact, { a: 0x01020304, b: 5n });
    assert.equal(backing.subarray(0, 8).toString('hex'), 'aa'.repeat(8));
    assert.equal(backing.subarray(20, 24).toString('hex'), 'aaaaaaaa');
    assert.deepEqual(l.decode(backing.subarray(8, 20)), { a: 0x01020304, b: 5n });
    assert.throws(() => layout('c', 8, { s: cstr(0, 8) }).decode(backing.subarray(60)), RangeError);
  });
});

describe('number conversions', () => {
  it('toSafeNumber converts up to MAX_SAFE_INTEGER and throws ERR_OUT_OF_RANGE above', () => {
    assert.equal(toSafeNumber(0n, 'id'), 0);
    assert.equal(toSafeNumber(256n, 'id'), 256);
    assert.equal(toSafeNumber(BigInt(Number.MAX_SAFE_INTEGER), 'id'), Number.MAX_SAFE_INTEGER);
    for (const big of [BigInt(Number.MAX_SAFE_INTEGER) + 1n, U64_MAX]) {
      assert.throws(
        () => toSafeNumber(big, 'generation'),
        (e: unknown) => e instanceof RangeError && (e as { code?: string }).code === 'ERR_OUT_OF_RANGE' && /generation/.test(e.message),
      );
    }
  });

  it('toNumberOrNull maps the all-ones "unset" to null', () => {
    assert.equal(toNumberOrNull(U64_MAX, 'x'), null);
    assert.equal(toNumberOrNull(0xffff_ffff_ffff_ffffn, 'x'), null);
    assert.equal(toNumberOrNull(42n, 'x'), 42);
    assert.throws(() => toNumberOrNull(U64_MAX - 1n, 'x'), RangeError);
  });

  it('formatUuid: lowercase 8-4-4-4-12, null when all zero', () => {
    assert.equal(formatUuid(Buffer.alloc(16)), null);
    assert.equal(formatUuid(hex('000102030405060708090a0b0c0d0e0f')), '00010203-0405-0607-0809-0a0b0c0d0e0f');
    assert.equal(formatUuid(hex('ABCDEF0123456789ABCDEF0123456789')), 'abcdef01-2345-6789-abcd-ef0123456789');
    const backing = Buffer.concat([hex('ffffff'), hex('00000000000000000000000000000001'), hex('ff')]);
    assert.equal(formatUuid(backing.subarray(3, 19)), '00000000-0000-0000-0000-000000000001', 'reads its own window');
  });

  it('toDate keeps milliseconds and drops the rest', () => {
    assert.equal(toDate({ sec: 0n, nsec: 0 }).getTime(), 0);
    assert.equal(toDate({ sec: 1700000000n, nsec: 123_456_789 }).getTime(), 1700000000123);
    assert.equal(toDate({ sec: 1n, nsec: 999_999_999 }).getTime(), 1999);
    assert.equal(toDate({ sec: 1700000000n, nsec: 0 }).toISOString(), '2023-11-14T22:13:20.000Z');
  });
});
