// Checksum algorithms against published vectors (RFC 3720 B.4 for CRC-32C, the xxHash reference
// values, FIPS 180-2 for SHA-256, RFC 7693 appendix A for BLAKE2b), the format doc's Appendix B, and
// b2sum (coreutils) as an independent BLAKE2b-256 for every length around the 128-byte block edge.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { blake2b, blake2b256, crc32c, csumField, nameHash, sha256, xxhash64 } from '../../src/mkfs/checksum';

const ascii = (s: string) => Buffer.from(s, 'latin1');

test('CRC-32C: "123456789" and RFC 3720 B.4 vectors', () => {
  assert.equal(crc32c(ascii('123456789')), 0xe3069283);
  assert.equal(crc32c(Buffer.alloc(32)), 0x8a9136aa);
  assert.equal(crc32c(Buffer.alloc(32, 0xff)), 0x62a8ab43);
  assert.equal(crc32c(Buffer.from(Array.from({ length: 32 }, (_, i) => i))), 0x46dd794e);
  assert.equal(crc32c(Buffer.from(Array.from({ length: 32 }, (_, i) => 31 - i))), 0x113fdb5c);
  assert.equal(crc32c(Buffer.alloc(0)), 0);
});

test('CRC-32C: slice-by-8 agrees with the bytewise path at every length and alignment', () => {
  const data = Buffer.from(Array.from({ length: 300 }, (_, i) => (i * 7 + 3) & 0xff));
  const bytewise = (b: Uint8Array) => {
    let c = 0xffffffff;
    for (const x of b) {
      c ^= x;
      for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
    }
    return (c ^ 0xffffffff) >>> 0;
  };
  for (let start = 0; start < 9; start++) for (let len = 0; len < 70; len++) {
    const part = data.subarray(start, start + len);
    assert.equal(crc32c(part), bytewise(part), `start ${start} len ${len}`);
  }
});

test('btrfs name hash: "default" and ".."', () => {
  assert.equal(nameHash('default'), 0x8dbfc2d2);
  assert.equal(nameHash('..'), 0x1aa9502b);
});

test('XXH64: reference vectors (empty, "a", "abc", a 39-byte string through every code path)', () => {
  assert.equal(xxhash64(Buffer.alloc(0)), 0xef46db3751d8e999n);
  assert.equal(xxhash64(ascii('a')), 0xd24ec4f1a98c6e5bn);
  assert.equal(xxhash64(ascii('abc')), 0x44bc2cf5ad770999n);
  assert.equal(xxhash64(ascii('Nobody inspects the spammish repetition')), 0xfbcea83c8a378bf1n);
});

test('SHA-256: FIPS 180-2 "abc"', () => {
  assert.equal(sha256(ascii('abc')).toString('hex'), 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
});

test('BLAKE2b: RFC 7693 "abc" (512) and BLAKE2b-256 "abc"', () => {
  assert.equal(
    blake2b(ascii('abc'), 64).toString('hex'),
    'ba80a53f981c4d0d6a2797b69f12f6e94c212f14685ac4b74b12bb6fdbffa2d17d87c5392aab792dc252d5de4533cc9518d38aa8dbf1925ab92386edd4009923',
  );
  assert.equal(blake2b256(ascii('abc')).toString('hex'), 'bddd813c634239723171ef3fee98579b94964e3bb1cb3e427262c8c068d52319');
  assert.equal(blake2b256(Buffer.alloc(0)).toString('hex'), '0e5751c026e543b2e8ab2eb06099daa1d1e5df47778f7787faab45cdf12fe3a8');
});

test('BLAKE2b-256 agrees with b2sum -l 256 around block boundaries', () => {
  for (const len of [1, 63, 127, 128, 129, 255, 256, 257, 4064, 16352]) {
    const data = Buffer.from(Array.from({ length: len }, (_, i) => (i * 31 + len) & 0xff));
    const ref = execFileSync('b2sum', ['-l', '256'], { input: data, encoding: 'utf8' }).split(' ')[0];
    assert.equal(blake2b256(data).toString('hex'), ref, `length ${len}`);
  }
});

test('csum fields of 4064 zero bytes (a superblock-shaped input), format doc Appendix B', () => {
  const zeros = Buffer.alloc(4064);
  const expected = [
    '86005f29',
    '10ccd0a0c57a2a35',
    '81ac48a9d4a78ebed4628374539dbb2fc163379c3940995e8b8f7b31614b8cde',
    'd95735b6a37352f0e152910ae7d3626f802f01e087f7771e19d4008fb8b4c69d',
  ];
  expected.forEach((hex, type) => {
    const field = csumField(type, zeros);
    assert.equal(field.length, 32);
    assert.equal(field.subarray(0, hex.length / 2).toString('hex'), hex);
    assert.ok(field.subarray(hex.length / 2).every((b) => b === 0));
  });
  assert.throws(() => csumField(4, zeros), RangeError);
});
