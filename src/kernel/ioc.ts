/**
 * ioctl request numbers, encoded as asm-generic/ioctl.h does on x86-64 and arm64:
 * `dir << 30 | size << 16 | type << 8 | nr`. Results are unsigned 32-bit numbers (many are
 * above 2^31, which is why everything here ends in `>>> 0`).
 * @module
 */

const NRBITS = 8;
const TYPEBITS = 8;
const SIZEBITS = 14;
const NRSHIFT = 0;
const TYPESHIFT = NRSHIFT + NRBITS;
const SIZESHIFT = TYPESHIFT + TYPEBITS;
const DIRSHIFT = SIZESHIFT + SIZEBITS;

/** asm-generic/ioctl.h: _IOC_NONE */
export const IOC_NONE = 0;
/** asm-generic/ioctl.h: _IOC_WRITE (user to kernel) */
export const IOC_WRITE = 1;
/** asm-generic/ioctl.h: _IOC_READ (kernel to user) */
export const IOC_READ = 2;

/** asm-generic/ioctl.h: _IOC(dir, type, nr, size) as an unsigned 32-bit number. */
export function _IOC(dir: number, type: number, nr: number, size: number): number {
  if (!Number.isInteger(size) || size < 0 || size >= 1 << SIZEBITS) throw new RangeError(`ioctl size ${size} does not fit in ${SIZEBITS} bits`);
  if (!Number.isInteger(dir) || dir < 0 || dir > 3) throw new RangeError(`ioctl dir ${dir} is not 0..3`);
  if (!Number.isInteger(type) || type < 0 || type >= 1 << TYPEBITS) throw new RangeError(`ioctl type ${type} does not fit in ${TYPEBITS} bits`);
  if (!Number.isInteger(nr) || nr < 0 || nr >= 1 << NRBITS) throw new RangeError(`ioctl nr ${nr} does not fit in ${NRBITS} bits`);
  return ((dir << DIRSHIFT) | (size << SIZESHIFT) | (type << TYPESHIFT) | (nr << NRSHIFT)) >>> 0;
}
/** asm-generic/ioctl.h: _IO(type, nr) */
export const _IO = (type: number, nr: number): number => _IOC(IOC_NONE, type, nr, 0);
/** asm-generic/ioctl.h: _IOR(type, nr, size); size is sizeof the argument type */
export const _IOR = (type: number, nr: number, size: number): number => _IOC(IOC_READ, type, nr, size);
/** asm-generic/ioctl.h: _IOW(type, nr, size) */
export const _IOW = (type: number, nr: number, size: number): number => _IOC(IOC_WRITE, type, nr, size);
/** asm-generic/ioctl.h: _IOWR(type, nr, size) */
export const _IOWR = (type: number, nr: number, size: number): number => _IOC(IOC_READ | IOC_WRITE, type, nr, size);
