/**
 * RAID5/6 parity of a full stripe (format doc §4.6): P is the byte-wise XOR of the data stripes; Q
 * is the Reed-Solomon syndrome over GF(2^8) with the polynomial x^8+x^4+x^3+x^2+1 (0x11D) and
 * generator g = 2, Q = sum over j of g^j * D_j, where D_0 is the data stripe with the lowest logical
 * address. Q is computed by Horner's rule from the highest j down: Q <- 2*Q xor D_j.
 *
 * Both work on four bytes at a time: XOR is byte-wise anyway, and multiplying each byte of a 32-bit
 * word by 2 is a shift of the low seven bits of every byte plus 0x1D wherever a byte's top bit fell
 * out (0x1D is what x^8 reduces to modulo 0x11D). Verified against the parity mkfs.btrfs writes
 * (test/mkfs/parity.test.ts).
 * @internal
 * @module
 */

const words = (b: Buffer): Uint32Array => {
  if (b.byteOffset % 4 !== 0 || b.length % 4 !== 0) throw new RangeError('parity buffers must be 4-byte aligned and sized');
  return new Uint32Array(b.buffer, b.byteOffset, b.length / 4);
};

/** Multiplies every byte of `w` by 2 in GF(2^8) mod 0x11D. */
export function gfDouble32(w: number): number {
  const high = w & 0x80808080;
  return (((w & 0x7f7f7f7f) << 1) ^ ((high >>> 7) * 0x1d)) >>> 0;
}

/** One byte times 2 in GF(2^8) mod 0x11D (the scalar form, for tests). */
export function gfDouble(b: number): number {
  return ((b << 1) ^ (b & 0x80 ? 0x1d : 0)) & 0xff;
}

/** P (and Q when `withQ`) of equal-length data stripes D_0..D_{d-1}. */
export function parity(data: Buffer[], withQ: boolean): { p: Buffer; q: Buffer | null } {
  const len = data[0]!.length;
  const p = Buffer.alloc(len);
  const q = withQ ? Buffer.alloc(len) : null;
  const pw = words(p);
  const qw = q ? words(q) : null;
  const dw = data.map((d) => {
    if (d.length !== len) throw new RangeError('data stripes must have the same length');
    return words(d);
  });
  for (let j = dw.length - 1; j >= 0; j--) {
    const d = dw[j]!;
    for (let i = 0; i < d.length; i++) pw[i] = pw[i]! ^ d[i]!;
    if (qw) for (let i = 0; i < d.length; i++) qw[i] = gfDouble32(qw[i]!) ^ d[i]!;
  }
  return { p, q };
}
