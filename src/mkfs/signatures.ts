/**
 * Known signatures on a device, found by their magic numbers, so mkfs can refuse to overwrite data
 * without `force`. Pure functions over bytes the caller read; {@link SIGNATURE_READS} says which.
 * Offsets and magics are the formats' published ones (ext2 superblock at 1024 with s_magic at +56,
 * XFS "XFSB" at 0, Linux swap "SWAPSPACE2" in the last 10 bytes of the first page, MBR 0x55AA at
 * 510, GPT "EFI PART" at LBA 1, LUKS "LUKS\xba\xbe" at 0 and LUKS2's secondary header "SKUL\xba\xbe").
 * @internal
 * @module
 */
import { SUPER_OFFSETS } from './constants';

/** A signature found on a device. */
export interface Signature {
  /** 'btrfs', 'ext4' (ext2/3/4), 'xfs', 'swap', 'dos' (MBR partition table), 'gpt', 'luks'. */
  type: string;
  /** Byte offset of the magic on the device. */
  offset: number;
}

/** The head of the device to read: enough for every magic below except the btrfs mirrors. */
export const HEAD_BYTES = 128 * 1024;

/** Regions to read for {@link detectSignatures}: the head, and each btrfs superblock mirror that exists. */
export function signatureReads(deviceSize: number): { offset: number; length: number }[] {
  const reads = [{ offset: 0, length: Math.min(HEAD_BYTES, deviceSize) }];
  for (const sb of SUPER_OFFSETS.slice(1)) if (sb + 4096 <= deviceSize) reads.push({ offset: sb, length: 4096 });
  return reads;
}

const BTRFS_MAGIC = Buffer.from('_BHRfS_M');
const has = (buf: Buffer, at: number, magic: Buffer | string): boolean => {
  const m = typeof magic === 'string' ? Buffer.from(magic, 'latin1') : magic;
  return at >= 0 && at + m.length <= buf.length && buf.subarray(at, at + m.length).equals(m);
};

/**
 * Signatures in `head` (bytes from offset 0) and `mirrors` (4 KiB read at each btrfs mirror
 * offset, keyed by offset).
 */
export function detectSignatures(head: Buffer, mirrors: Map<number, Buffer> = new Map()): Signature[] {
  const found: Signature[] = [];
  // btrfs: magic at +0x40 of any superblock copy (a stale mirror counts: mount -o usebackuproot and
  // btrfs rescue can find it, and mkfs.btrfs wipes it too).
  if (has(head, 0x10000 + 0x40, BTRFS_MAGIC)) found.push({ type: 'btrfs', offset: 0x10040 });
  for (const [offset, buf] of mirrors) if (has(buf, 0x40, BTRFS_MAGIC)) found.push({ type: 'btrfs', offset: offset + 0x40 });
  // ext2/3/4: s_magic 0xEF53 (LE) at 1024 + 56; check s_rev_level-independent fields lightly:
  // s_log_block_size (1024 + 24) must be a sane 0..6.
  if (head.length >= 1024 + 58 && head.readUInt16LE(1024 + 56) === 0xef53 && head.readUInt32LE(1024 + 24) <= 6) {
    found.push({ type: 'ext4', offset: 1024 + 56 });
  }
  if (has(head, 0, 'XFSB')) found.push({ type: 'xfs', offset: 0 });
  if (has(head, 0, Buffer.from([0x4c, 0x55, 0x4b, 0x53, 0xba, 0xbe]))) found.push({ type: 'luks', offset: 0 });
  // LUKS2 keeps a second header copy at one of these offsets; it survives a wiped first header.
  for (const at of [0x4000, 0x8000, 0x10000]) {
    if (has(head, at, Buffer.from([0x53, 0x4b, 0x55, 0x4c, 0xba, 0xbe]))) found.push({ type: 'luks', offset: at });
  }
  // Swap: the signature ends the first page; page sizes 4 KiB to 64 KiB.
  for (const page of [4096, 8192, 16384, 65536]) {
    for (const magic of ['SWAPSPACE2', 'SWAP-SPACE']) if (has(head, page - 10, magic)) found.push({ type: 'swap', offset: page - 10 });
  }
  // GPT header at LBA 1, for 512- and 4096-byte sectors.
  for (const at of [512, 4096]) if (has(head, at, 'EFI PART')) found.push({ type: 'gpt', offset: at });
  // MBR boot signature; only a partition table if some entry is in use (a type byte set), so a
  // protective MBR before GPT also counts, and an all-zero sector with a stray 0x55AA does not.
  if (head.length >= 512 && head[510] === 0x55 && head[511] === 0xaa) {
    let used = false;
    for (let i = 0; i < 4; i++) if (head[446 + i * 16 + 4] !== 0) used = true;
    if (used) found.push({ type: 'dos', offset: 510 });
  }
  return found;
}
