/**
 * The superblock (format doc §1): one 4096-byte image per device and copy, identical but for the
 * embedded dev_item, `bytenr` and the checksum.
 * @internal
 * @module
 */
import { sealBlock } from './checksum';
import {
  BG_SYSTEM,
  BTRFS_MAGIC,
  CHUNK_ITEM_KEY,
  CHUNK_TREE,
  CSUM_TREE,
  DEV_TREE,
  EXTENT_TREE,
  FIRST_CHUNK_TREE,
  FS_TREE,
  ROOT_TREE,
  ROOT_TREE_DIR,
  SUPER_INFO_SIZE,
} from './constants';
import { diskKey, rootBackup, superBlock } from './items';
import { type BuiltTrees, chunkItemBytes, devItemFor, type TreeParams } from './trees';

export interface SuperParams extends TreeParams {
  label: string;
  incompat: bigint;
  compatRo: bigint;
  totalBytes: number;
}

/** The sys_chunk_array: (key, chunk item) for every SYSTEM chunk (§1.4). */
export function sysChunkArray(p: SuperParams): Buffer {
  const parts: Buffer[] = [];
  for (const c of p.chunks.filter((c) => c.type & BG_SYSTEM)) {
    parts.push(diskKey.encode({ objectid: FIRST_CHUNK_TREE, type: CHUNK_ITEM_KEY, offset: BigInt(c.start) }), chunkItemBytes(c, p.sectorsize));
  }
  const array = Buffer.concat(parts);
  if (array.length > 2048) throw new RangeError(`the system chunks need ${array.length} bytes of sys_chunk_array, more than 2048`);
  return array;
}

/** The superblock for device `devid`, copy at physical `bytenr`, checksummed. */
export function superblockFor(p: SuperParams, trees: BuiltTrees, devid: number, bytenr: number): Buffer {
  const root = trees.roots.get(ROOT_TREE)!;
  const chunkRoot = trees.roots.get(CHUNK_TREE)!;
  const G = p.generation;
  const array = sysChunkArray(p);
  const sb = superBlock.encode({
    fsid: p.fsid,
    bytenr: BigInt(bytenr),
    flags: 1n, // BTRFS_HEADER_FLAG_WRITTEN
    magic: BTRFS_MAGIC,
    generation: G,
    root: BigInt(root.bytenr),
    chunkRoot: BigInt(chunkRoot.bytenr),
    totalBytes: BigInt(p.totalBytes),
    bytesUsed: BigInt(trees.bytesUsed),
    rootDirObjectid: ROOT_TREE_DIR,
    numDevices: BigInt(p.devices.length),
    sectorsize: p.sectorsize,
    nodesize: p.nodesize,
    leafsize: p.nodesize,
    stripesize: p.sectorsize,
    sysChunkArraySize: array.length,
    chunkRootGeneration: G,
    compatRoFlags: p.compatRo,
    incompatFlags: p.incompat,
    csumType: p.csumType,
    rootLevel: root.level,
    chunkRootLevel: chunkRoot.level,
    devItem: devItemFor(p, devid, trees.devBytesUsed),
    label: Buffer.from(p.label, 'utf8'),
    // Without the free space tree, all-ones marks the v1 space cache invalid, as mkfs does.
    cacheGeneration: p.freeSpaceTree ? 0n : 0xffff_ffff_ffff_ffffn,
    // Equal to the generation: the kernel then trusts the UUID tree instead of rescanning it.
    uuidTreeGeneration: G,
    sysChunkArray: array,
  });
  // Backup slot 0 holds the final roots; the other three stay zero (§1.5).
  const r = (id: bigint) => trees.roots.get(id)!;
  rootBackup.write(
    sb,
    {
      treeRoot: BigInt(root.bytenr),
      treeRootGen: G,
      chunkRoot: BigInt(chunkRoot.bytenr),
      chunkRootGen: G,
      extentRoot: BigInt(r(EXTENT_TREE).bytenr),
      extentRootGen: G,
      fsRoot: BigInt(r(FS_TREE).bytenr),
      fsRootGen: G,
      devRoot: BigInt(r(DEV_TREE).bytenr),
      devRootGen: G,
      csumRoot: BigInt(r(CSUM_TREE).bytenr),
      csumRootGen: G,
      totalBytes: BigInt(p.totalBytes),
      bytesUsed: BigInt(trees.bytesUsed),
      numDevices: BigInt(p.devices.length),
      treeRootLevel: root.level,
      chunkRootLevel: chunkRoot.level,
      extentRootLevel: r(EXTENT_TREE).level,
      fsRootLevel: r(FS_TREE).level,
      devRootLevel: r(DEV_TREE).level,
      csumRootLevel: r(CSUM_TREE).level,
    },
    0xb2b,
  );
  if (sb.length !== SUPER_INFO_SIZE) throw new Error('superblock size');
  sealBlock(p.csumType, sb);
  return sb;
}
