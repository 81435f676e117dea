/**
 * src/kernel/ioc.ts: the asm-generic request encoding, checked against the request numbers in
 * docs/kernel-interfaces.md §2 (printed there by a C generator and confirmed on arm64).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { _IO, _IOC, _IOR, _IOW, _IOWR, IOC_NONE, IOC_READ, IOC_WRITE } from '../../src/kernel/ioc';
import * as search from '../../src/kernel/search';
import * as subvol from '../../src/kernel/subvol';

type Dir = 'N' | 'W' | 'R' | 'WR';
/** [name, request, dir, type, nr, size], from the docs' ioctl table (§2). */
const TABLE: [string, number, Dir, number, number, number][] = [
  ['BTRFS_IOC_SNAP_CREATE_V2', 0x50009417, 'W', 0x94, 23, 4096],
  ['BTRFS_IOC_SUBVOL_CREATE_V2', 0x50009418, 'W', 0x94, 24, 4096],
  ['BTRFS_IOC_SNAP_DESTROY', 0x5000940f, 'W', 0x94, 15, 4096],
  ['BTRFS_IOC_SNAP_DESTROY_V2', 0x5000943f, 'W', 0x94, 63, 4096],
  ['BTRFS_IOC_SUBVOL_GETFLAGS', 0x80089419, 'R', 0x94, 25, 8],
  ['BTRFS_IOC_SUBVOL_SETFLAGS', 0x4008941a, 'W', 0x94, 26, 8],
  ['BTRFS_IOC_DEFAULT_SUBVOL', 0x40089413, 'W', 0x94, 19, 8],
  ['BTRFS_IOC_INO_LOOKUP', 0xd0009412, 'WR', 0x94, 18, 4096],
  ['BTRFS_IOC_INO_LOOKUP_USER', 0xd000943e, 'WR', 0x94, 62, 4096],
  ['BTRFS_IOC_GET_SUBVOL_INFO', 0x81f8943c, 'R', 0x94, 60, 504],
  ['BTRFS_IOC_GET_SUBVOL_ROOTREF', 0xd000943d, 'WR', 0x94, 61, 4096],
  ['BTRFS_IOC_TREE_SEARCH', 0xd0009411, 'WR', 0x94, 17, 4096],
  ['BTRFS_IOC_TREE_SEARCH_V2', 0xc0709411, 'WR', 0x94, 17, 112],
  ['BTRFS_IOC_SYNC', 0x00009408, 'N', 0x94, 8, 0],
  ['BTRFS_IOC_START_SYNC', 0x80089418, 'R', 0x94, 24, 8],
  ['BTRFS_IOC_WAIT_SYNC', 0x40089416, 'W', 0x94, 22, 8],
  ['BTRFS_IOC_QUOTA_CTL', 0xc0109428, 'WR', 0x94, 40, 16],
  ['BTRFS_IOC_QUOTA_RESCAN', 0x4040942c, 'W', 0x94, 44, 64],
  ['BTRFS_IOC_QUOTA_RESCAN_STATUS', 0x8040942d, 'R', 0x94, 45, 64],
  ['BTRFS_IOC_QUOTA_RESCAN_WAIT', 0x0000942e, 'N', 0x94, 46, 0],
  ['BTRFS_IOC_QGROUP_CREATE', 0x4010942a, 'W', 0x94, 42, 16],
  ['BTRFS_IOC_QGROUP_ASSIGN', 0x40189429, 'W', 0x94, 41, 24],
  ['BTRFS_IOC_QGROUP_LIMIT', 0x8030942b, 'R', 0x94, 43, 48],
  ['BTRFS_IOC_FS_INFO', 0x8400941f, 'R', 0x94, 31, 1024],
  ['BTRFS_IOC_DEV_INFO', 0xd000941e, 'WR', 0x94, 30, 4096],
  ['BTRFS_IOC_GET_FEATURES', 0x80189439, 'R', 0x94, 57, 24],
  ['BTRFS_IOC_GET_SUPPORTED_FEATURES', 0x80489439, 'R', 0x94, 57, 72],
  ['BTRFS_IOC_SCAN_DEV', 0x50009404, 'W', 0x94, 4, 4096],
  ['BTRFS_IOC_FORGET_DEV', 0x50009405, 'W', 0x94, 5, 4096],
  ['BTRFS_IOC_DEVICES_READY', 0x90009427, 'R', 0x94, 39, 4096],
  ['BTRFS_IOC_SNAP_CREATE', 0x50009401, 'W', 0x94, 1, 4096],
  ['BTRFS_IOC_SUBVOL_CREATE', 0x5000940e, 'W', 0x94, 14, 4096],
  ['LOOP_CTL_GET_FREE', 0x00004c82, 'N', 0x4c, 130, 0],
  ['LOOP_CONFIGURE', 0x00004c0a, 'N', 0x4c, 10, 0],
  ['LOOP_SET_FD', 0x00004c00, 'N', 0x4c, 0, 0],
  ['LOOP_SET_STATUS64', 0x00004c04, 'N', 0x4c, 4, 0],
  ['LOOP_GET_STATUS64', 0x00004c05, 'N', 0x4c, 5, 0],
  ['LOOP_CLR_FD', 0x00004c01, 'N', 0x4c, 1, 0],
  ['LOOP_CTL_ADD', 0x4c80, 'N', 0x4c, 0x80, 0],
  ['LOOP_CTL_REMOVE', 0x4c81, 'N', 0x4c, 0x81, 0],
  ['BLKGETSIZE64', 0x80081272, 'R', 0x12, 114, 8],
  ['BLKDISCARD', 0x00001277, 'N', 0x12, 119, 0],
  ['BLKROGET', 0x125e, 'N', 0x12, 0x5e, 0],
  ['FS_IOC_GETFLAGS', 0x80086601, 'R', 0x66, 1, 8],
  ['FS_IOC_SETFLAGS', 0x40086602, 'W', 0x66, 2, 8],
];

const DIR_BITS: Record<Dir, number> = { N: IOC_NONE, W: IOC_WRITE, R: IOC_READ, WR: IOC_READ | IOC_WRITE };

function macro(dir: Dir, type: number, nr: number, size: number): number {
  switch (dir) {
    case 'N':
      return _IO(type, nr);
    case 'R':
      return _IOR(type, nr, size);
    case 'W':
      return _IOW(type, nr, size);
    case 'WR':
      return _IOWR(type, nr, size);
  }
}

describe('ioctl request encoding', () => {
  it('has the asm-generic direction bits', () => {
    assert.deepEqual([IOC_NONE, IOC_WRITE, IOC_READ], [0, 1, 2]);
  });

  it('_IOC and _IO/_IOR/_IOW/_IOWR give every request number in the docs table', () => {
    for (const [name, request, dir, type, nr, size] of TABLE) {
      assert.equal(_IOC(DIR_BITS[dir], type, nr, size), request, `${name} via _IOC`);
      assert.equal(macro(dir, type, nr, size), request, `${name} via the ${dir} macro`);
    }
  });

  it('results are unsigned: at least 2^31 exactly when the READ bit is set', () => {
    for (const [name, , dir, type, nr, size] of TABLE) {
      const value = macro(dir, type, nr, size);
      assert.ok(Number.isInteger(value) && value >= 0 && value < 2 ** 32, `${name} = ${value}`);
      assert.equal(value >= 2 ** 31, (DIR_BITS[dir] & IOC_READ) !== 0, `${name} = 0x${value.toString(16)}`);
    }
    assert.equal(_IOWR(0x94, 17, 112), 3228603409);
    assert.equal(_IOR(0x94, 60, 504), 0x81f8943c);
    // A signed 32-bit value would be negative here; a Buffer round trip as u32 keeps it.
    const buf = Buffer.alloc(4);
    buf.writeUInt32LE(_IOWR(0x94, 18, 4096));
    assert.equal(buf.readUInt32LE(), 0xd0009412);
  });

  it('fields land in their bits: nr 0-7, type 8-15, size 16-29, dir 30-31', () => {
    assert.equal(_IOC(0, 0, 0xff, 0), 0xff);
    assert.equal(_IOC(0, 0xff, 0, 0), 0xff00);
    assert.equal(_IOC(0, 0, 0, 0x3fff), 0x3fff0000);
    assert.equal(_IOC(3, 0, 0, 0), 0xc0000000);
    assert.equal(_IOC(3, 0xff, 0xff, 0x3fff), 0xffffffff);
  });

  it('refuses a size that does not fit in 14 bits', () => {
    assert.equal(_IOR(0x94, 1, 16383), 0xbfff9401);
    assert.throws(() => _IOR(0x94, 1, 16384), RangeError);
    assert.throws(() => _IOW(0x94, 1, -1), RangeError);
  });

  it('the BTRFS_IOC_* exports of src/kernel match the table', () => {
    const exported = { ...subvol, ...search } as Record<string, unknown>;
    const byName = new Map(TABLE.map(([name, request]) => [name, request]));
    const names = Object.keys(exported).filter((k) => k.startsWith('BTRFS_IOC_'));
    assert.ok(names.length >= 18, `only ${names.length} BTRFS_IOC_* exports`);
    for (const name of names) {
      assert.ok(byName.has(name), `${name} is not in the docs table copied here; add its row`);
      assert.equal(exported[name], byName.get(name), name);
    }
  });
});
