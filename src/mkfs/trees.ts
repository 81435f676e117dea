/**
 * The trees of a new filesystem: their items, their blocks' addresses, and the serialized,
 * checksummed blocks. No B-tree engine: every tree is built complete in memory, sorted, and packed
 * into leaves; a tree that needs more than one leaf gets node levels above them (format doc §6.6).
 *
 * Items depend on addresses (root items, extent items, free space) and addresses on how many blocks
 * each tree needs, so {@link buildTrees} iterates: assume one block per tree, allocate, build the
 * items, count the blocks they need, and repeat until nothing changes (two rounds in practice).
 * @internal
 * @module
 */
import { nameHash, sealBlock } from './checksum';
import {
  BG_METADATA,
  BG_SYSTEM,
  BLOCK_GROUP_ITEM_KEY,
  BLOCK_GROUP_TREE,
  CHUNK_ITEM_KEY,
  CHUNK_TREE,
  CSUM_TREE,
  DATA_RELOC_TREE,
  DEV_EXTENT_KEY,
  DEV_ITEMS,
  DEV_ITEM_KEY,
  DEV_TREE,
  DIR_ITEM_KEY,
  EXTENT_FLAG_TREE_BLOCK,
  EXTENT_ITEM_KEY,
  EXTENT_TREE,
  FIRST_CHUNK_TREE,
  FIRST_FREE,
  FREE_SPACE_EXTENT_KEY,
  FREE_SPACE_INFO_KEY,
  FREE_SPACE_TREE,
  FS_TREE,
  HEADER_FLAG_WRITTEN,
  INODE_ITEM_KEY,
  INODE_REF_KEY,
  METADATA_ITEM_KEY,
  MIXED_BACKREF_REV,
  QGROUP_INFO_KEY,
  QGROUP_LIMIT_KEY,
  QGROUP_STATUS_FLAG_ON,
  QGROUP_STATUS_FLAG_SIMPLE_MODE,
  QGROUP_STATUS_KEY,
  QGROUP_STATUS_VERSION,
  QUOTA_TREE,
  ROOT_ITEM_KEY,
  ROOT_TREE,
  ROOT_TREE_DIR,
  STRIPE_LEN,
  TREE_BLOCK_REF_KEY,
  UUID_KEY_SUBVOL,
  UUID_TREE,
} from './constants';
import {
  blockGroupItem,
  chunkItem,
  compareKeys,
  devExtent,
  devItem,
  diskKey,
  dirInode,
  dirItem,
  extentItem,
  freeSpaceInfo,
  header,
  inodeItem,
  inodeRef,
  item,
  itemHeader,
  type Item,
  type Key,
  keyPtr,
  qgroupInfo,
  qgroupLimit,
  qgroupStatus,
  rootItem,
  stripe as stripeLayout,
} from './items';
import { type Chunk, hitsSuperblock, mapRange, type PlanDevice, unitsOf } from './plan';
import type { Timespec } from '../kernel/struct';

/** Everything the trees depend on. */
export interface TreeParams {
  fsid: Buffer;
  chunkTreeUuid: Buffer;
  fsTreeUuid: Buffer;
  devices: PlanDevice[];
  chunks: Chunk[];
  nodesize: number;
  sectorsize: number;
  csumType: number;
  generation: bigint;
  skinnyMetadata: boolean;
  freeSpaceTree: boolean;
  blockGroupTree: boolean;
  quota: 'off' | 'qgroup' | 'simple';
  /** mkfs time (seconds; nsec 0, as mkfs.btrfs). */
  time: Timespec;
}

/** One serialized tree block and where it goes. */
export interface Block {
  logical: number;
  chunk: Chunk;
  data: Buffer;
}

/** Where a tree's root is. */
export interface TreeRoot {
  id: bigint;
  bytenr: number;
  level: number;
  blocks: number;
}

export interface BuiltTrees {
  blocks: Block[];
  roots: Map<bigint, TreeRoot>;
  /** Bytes in tree blocks (superblock bytes_used). */
  bytesUsed: number;
  /** Per device: bytes in its dev extents. */
  devBytesUsed: Map<number, number>;
}

const HEADER_SIZE = 101;
const ITEM_SIZE = 25;
const PTR_SIZE = 33;

interface Alloc {
  /** Addresses of the tree's blocks: leaves first, then nodes level by level; the root last. */
  addrs: number[];
  chunk: Chunk;
}

/** Splits sorted items into leaves, greedily filling each. */
function packLeaves(items: Item[], nodesize: number): Item[][] {
  const capacity = nodesize - HEADER_SIZE;
  const leaves: Item[][] = [[]];
  let used = 0;
  for (const it of items) {
    const cost = ITEM_SIZE + it.data.length;
    if (cost > capacity) throw new RangeError(`an item of ${it.data.length} bytes does not fit in a ${nodesize}-byte leaf`);
    if (used + cost > capacity) {
      leaves.push([]);
      used = 0;
    }
    leaves[leaves.length - 1]!.push(it);
    used += cost;
  }
  return leaves;
}

/** Blocks per level (leaves first) for a tree of `leafCount` leaves. */
function levelSizes(leafCount: number, nodesize: number): number[] {
  const perNode = Math.floor((nodesize - HEADER_SIZE) / PTR_SIZE);
  const sizes = [leafCount];
  while (sizes[sizes.length - 1]! > 1) sizes.push(Math.ceil(sizes[sizes.length - 1]! / perNode));
  return sizes;
}

/** Trees in allocation order: which chunk type holds them. The chunk tree lives in the SYSTEM chunk. */
function treeOrder(p: TreeParams): bigint[] {
  const ids = [ROOT_TREE, EXTENT_TREE, CHUNK_TREE, DEV_TREE, FS_TREE, CSUM_TREE];
  if (p.quota !== 'off') ids.push(QUOTA_TREE);
  ids.push(UUID_TREE);
  if (p.freeSpaceTree) ids.push(FREE_SPACE_TREE);
  if (p.blockGroupTree) ids.push(BLOCK_GROUP_TREE);
  ids.push(DATA_RELOC_TREE);
  return ids;
}

/** Gives each tree its blocks, skipping any whose copy would overlap a superblock copy (§4.7). */
function allocate(p: TreeParams, ids: bigint[], counts: Map<bigint, number>): Map<bigint, Alloc> {
  const system = p.chunks.find((c) => c.type & BG_SYSTEM)!;
  const meta = p.chunks.find((c) => c.type & BG_METADATA)!;
  const cursors = new Map<Chunk, number>([
    [system, system.start],
    [meta, meta.start],
  ]);
  const next = (chunk: Chunk): number => {
    for (;;) {
      const at = cursors.get(chunk)!;
      if (at + p.nodesize > chunk.start + chunk.length) {
        throw new RangeError(`the ${chunk.length}-byte chunk at ${chunk.start} cannot hold the new filesystem's tree blocks`);
      }
      cursors.set(chunk, at + p.nodesize);
      // nodesize <= 64 KiB and chunks are 64 KiB aligned, so a block never crosses a stripe unit.
      // RAID5/6: the whole full stripe is written (data and parity), so no member may touch one.
      const hit =
        chunk.profile.parity > 0
          ? unitsOf(chunk, at).some((u) => hitsSuperblock(u.offset, STRIPE_LEN))
          : mapRange(chunk, at).some((c) => hitsSuperblock(c.offset, p.nodesize));
      if (!hit) return at;
    }
  };
  const out = new Map<bigint, Alloc>();
  for (const id of ids) {
    const chunk = id === CHUNK_TREE ? system : meta;
    const addrs: number[] = [];
    for (let i = 0; i < counts.get(id)!; i++) addrs.push(next(chunk));
    out.set(id, { addrs, chunk });
  }
  return out;
}

const u64 = (value: bigint): Buffer => {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(value);
  return b;
};

const ZERO_KEY: Key = { objectid: 0n, type: 0, offset: 0n };
const ZERO_TIME: Timespec = { sec: 0n, nsec: 0 };

/** The items of every tree, given where every block is and each block's first key. */
function buildItems(p: TreeParams, ids: bigint[], allocs: Map<bigint, Alloc>, firstKeys: Map<number, { key: Key; level: number }>): Map<bigint, Item[]> {
  const G = p.generation;
  const nodesize = BigInt(p.nodesize);
  const trees = new Map<bigint, Item[]>(ids.map((id) => [id, []]));
  const push = (id: bigint, it: Item) => trees.get(id)!.push(it);
  const rootOf = (id: bigint) => {
    const a = allocs.get(id)!;
    return { bytenr: a.addrs[a.addrs.length - 1]!, blocks: a.addrs.length, level: levelOf(a.addrs.length) };
  };
  const levelOf = (blocks: number) => {
    // leaves + nodes = blocks; find the level count that gives it
    for (let leaves = 1; leaves <= blocks; leaves++) {
      const sizes = levelSizes(leaves, p.nodesize);
      if (sizes.reduce((a, b) => a + b, 0) === blocks) return sizes.length - 1;
    }
    throw new Error(`no tree shape has ${blocks} blocks`);
  };

  // Chunk tree: DEV_ITEMs, then CHUNK_ITEMs (§3.1).
  const devUsed = new Map<number, number>(p.devices.map((d) => [d.devid, 0]));
  for (const c of p.chunks) for (const s of c.stripes) devUsed.set(s.devid, devUsed.get(s.devid)! + c.stripeSize);
  for (const d of p.devices) push(CHUNK_TREE, item(DEV_ITEMS, DEV_ITEM_KEY, BigInt(d.devid), devItemBytes(p, d, devUsed.get(d.devid)!)));
  for (const c of p.chunks) push(CHUNK_TREE, item(FIRST_CHUNK_TREE, CHUNK_ITEM_KEY, BigInt(c.start), chunkItemBytes(c, p.sectorsize)));

  // Dev tree: one DEV_EXTENT per stripe.
  const extents = p.chunks.flatMap((c) => c.stripes.map((s) => ({ c, s })));
  extents.sort((a, b) => a.s.devid - b.s.devid || a.s.offset - b.s.offset);
  for (const { c, s } of extents) {
    push(
      DEV_TREE,
      item(BigInt(s.devid), DEV_EXTENT_KEY, BigInt(s.offset), devExtent.encode({
        chunkTree: CHUNK_TREE,
        chunkObjectid: FIRST_CHUNK_TREE,
        chunkOffset: BigInt(c.start),
        length: BigInt(c.stripeSize),
        chunkTreeUuid: p.chunkTreeUuid,
      })),
    );
  }

  // Extent tree: one METADATA_ITEM (or EXTENT_ITEM) per tree block; block groups, unless they have a tree of their own.
  const allBlocks: { addr: number; owner: bigint; level: number }[] = [];
  for (const id of ids) {
    const addrs = allocs.get(id)!.addrs;
    const sizes = levelSizes(leafCountFor(addrs.length, p.nodesize), p.nodesize);
    let i = 0;
    sizes.forEach((count, level) => {
      for (let k = 0; k < count; k++) allBlocks.push({ addr: addrs[i++]!, owner: id, level });
    });
  }
  for (const b of allBlocks) {
    const ref = Buffer.alloc(9);
    ref.writeUInt8(TREE_BLOCK_REF_KEY, 0);
    ref.writeBigUInt64LE(b.owner, 1);
    const head = extentItem.encode({ refs: 1n, generation: G, flags: EXTENT_FLAG_TREE_BLOCK });
    if (p.skinnyMetadata) push(EXTENT_TREE, item(BigInt(b.addr), METADATA_ITEM_KEY, BigInt(b.level), Buffer.concat([head, ref])));
    else {
      // tree_block_info: the block's first key and level.
      const info = Buffer.alloc(18);
      const first = firstKeys.get(b.addr) ?? { key: ZERO_KEY, level: b.level };
      diskKey.write(info, first.key, 0);
      info.writeUInt8(b.level, 17);
      push(EXTENT_TREE, item(BigInt(b.addr), EXTENT_ITEM_KEY, nodesize, Buffer.concat([head, info, ref])));
    }
  }
  const bgTree = p.blockGroupTree ? BLOCK_GROUP_TREE : EXTENT_TREE;
  for (const c of p.chunks) {
    const used = allBlocks.filter((b) => b.addr >= c.start && b.addr < c.start + c.length).length * p.nodesize;
    push(bgTree, item(BigInt(c.start), BLOCK_GROUP_ITEM_KEY, BigInt(c.length), blockGroupItem.encode({
      used: BigInt(used),
      chunkObjectid: FIRST_CHUNK_TREE,
      flags: BigInt(c.type),
    })));
  }

  // Free space tree: per block group, INFO then one EXTENT per free range. Superblock stripes count
  // as free: the kernel excludes them in memory (§3.1).
  if (p.freeSpaceTree) {
    for (const c of p.chunks) {
      const used = allBlocks.map((b) => b.addr).filter((a) => a >= c.start && a < c.start + c.length).sort((a, b) => a - b);
      const free: [number, number][] = [];
      let at = c.start;
      for (const a of used) {
        if (a > at) free.push([at, a - at]);
        at = a + p.nodesize;
      }
      if (at < c.start + c.length) free.push([at, c.start + c.length - at]);
      push(FREE_SPACE_TREE, item(BigInt(c.start), FREE_SPACE_INFO_KEY, BigInt(c.length), freeSpaceInfo.encode({ extentCount: free.length, flags: 0 })));
      for (const [start, len] of free) push(FREE_SPACE_TREE, item(BigInt(start), FREE_SPACE_EXTENT_KEY, BigInt(len)));
    }
  }

  // FS tree and data reloc tree: an empty root directory each (inode 256 with "..").
  push(FS_TREE, item(FIRST_FREE, INODE_ITEM_KEY, 0n, dirInode(G, nodesize, p.time, p.time)));
  push(FS_TREE, item(FIRST_FREE, INODE_REF_KEY, FIRST_FREE, inodeRef(0n, '..')));
  push(DATA_RELOC_TREE, item(FIRST_FREE, INODE_ITEM_KEY, 0n, dirInode(G, 0n, p.time, ZERO_TIME)));
  push(DATA_RELOC_TREE, item(FIRST_FREE, INODE_REF_KEY, FIRST_FREE, inodeRef(0n, '..')));

  // UUID tree: the FS tree's uuid -> subvolume 5.
  push(UUID_TREE, item(p.fsTreeUuid.readBigUInt64LE(0), UUID_KEY_SUBVOL, p.fsTreeUuid.readBigUInt64LE(8), u64(FS_TREE)));

  // Quota tree: status, and qgroup 0/5 counting the FS tree's blocks.
  if (p.quota !== 'off') {
    const simple = p.quota === 'simple';
    const status = qgroupStatus.encode({
      version: QGROUP_STATUS_VERSION,
      generation: G,
      flags: QGROUP_STATUS_FLAG_ON | (simple ? QGROUP_STATUS_FLAG_SIMPLE_MODE : 0n),
      rescan: 0n,
      // Simple quotas account extents from enable_gen on; the FS tree's block (generation G) is one.
      enableGen: G,
    });
    push(QUOTA_TREE, item(0n, QGROUP_STATUS_KEY, 0n, simple ? status : status.subarray(0, 32)));
    const fsBytes = BigInt(rootOf(FS_TREE).blocks) * nodesize;
    push(QUOTA_TREE, item(0n, QGROUP_INFO_KEY, FS_TREE, qgroupInfo.encode({ generation: G, rfer: fsBytes, rferCmpr: fsBytes, excl: fsBytes, exclCmpr: fsBytes })));
    push(QUOTA_TREE, item(0n, QGROUP_LIMIT_KEY, FS_TREE, qgroupLimit.encode({})));
  }

  // Root tree: a ROOT_ITEM per tree except itself and the chunk tree, and the root directory (§5.12).
  for (const id of ids) {
    if (id === ROOT_TREE || id === CHUNK_TREE) continue;
    const r = rootOf(id);
    const isSubvol = id === FS_TREE || id === DATA_RELOC_TREE;
    const data = rootItem.encode({
      generation: G,
      rootDirid: isSubvol ? FIRST_FREE : 0n,
      bytenr: BigInt(r.bytenr),
      bytesUsed: BigInt(r.blocks) * nodesize,
      refs: 1,
      level: r.level,
      generationV2: G,
      ...(id === FS_TREE ? { uuid: p.fsTreeUuid, ctime: p.time, otime: p.time } : {}),
    });
    // The legacy embedded inode: unused by the kernel; mkfs fills it for most trees, as here.
    if (id !== UUID_TREE && id !== DATA_RELOC_TREE) {
      inodeItem.write(data, { generation: 1n, size: 3n, nlink: 1, nbytes: nodesize, mode: 0o40755 }, 0);
    }
    push(ROOT_TREE, item(id, ROOT_ITEM_KEY, 0n, data));
  }
  push(ROOT_TREE, item(FS_TREE, INODE_REF_KEY, ROOT_TREE_DIR, inodeRef(0n, 'default')));
  push(ROOT_TREE, item(ROOT_TREE_DIR, INODE_ITEM_KEY, 0n, dirInode(G, nodesize, p.time, p.time)));
  push(ROOT_TREE, item(ROOT_TREE_DIR, INODE_REF_KEY, ROOT_TREE_DIR, inodeRef(0n, '..')));
  push(
    ROOT_TREE,
    item(ROOT_TREE_DIR, DIR_ITEM_KEY, BigInt(nameHash('default')), dirItem({ objectid: FS_TREE, type: ROOT_ITEM_KEY, offset: 0xffff_ffff_ffff_ffffn }, 2, 'default')),
  );

  for (const list of trees.values()) list.sort((a, b) => compareKeys(a.key, b.key));
  return trees;
}

/** Leaves in a tree of `blocks` blocks (inverse of levelSizes' sum). */
function leafCountFor(blocks: number, nodesize: number): number {
  for (let leaves = 1; leaves <= blocks; leaves++) {
    if (levelSizes(leaves, nodesize).reduce((a, b) => a + b, 0) === blocks) return leaves;
  }
  throw new Error(`no tree shape has ${blocks} blocks`);
}

function devItemBytes(p: TreeParams, d: PlanDevice, used: number): Buffer {
  return devItem.encode({
    devid: BigInt(d.devid),
    totalBytes: BigInt(d.size),
    bytesUsed: BigInt(used),
    ioAlign: p.sectorsize,
    ioWidth: p.sectorsize,
    sectorSize: p.sectorsize,
    uuid: d.uuid,
    fsid: p.fsid,
  });
}

/** A DEV_ITEM payload (also embedded in that device's superblock). */
export function devItemFor(p: TreeParams, devid: number, devBytesUsed: Map<number, number>): Buffer {
  return devItemBytes(p, p.devices.find((d) => d.devid === devid)!, devBytesUsed.get(devid)!);
}

/** A CHUNK_ITEM payload with its stripes (also what sys_chunk_array holds). */
export function chunkItemBytes(c: Chunk, sectorsize: number): Buffer {
  const head = chunkItem.encode({
    length: BigInt(c.length),
    owner: EXTENT_TREE,
    stripeLen: BigInt(STRIPE_LEN),
    type: BigInt(c.type),
    ioAlign: STRIPE_LEN,
    ioWidth: STRIPE_LEN,
    sectorSize: sectorsize,
    numStripes: c.stripes.length,
    subStripes: c.profile.subStripes,
  });
  return Buffer.concat([head, ...c.stripes.map((s) => stripeLayout.encode({ devid: BigInt(s.devid), offset: BigInt(s.offset), devUuid: s.devUuid }))]);
}

/** Builds every tree, iterating until block counts and first keys settle. */
export function buildTrees(p: TreeParams): BuiltTrees {
  const ids = treeOrder(p);
  let counts = new Map(ids.map((id) => [id, 1]));
  let firstKeys = new Map<number, { key: Key; level: number }>();
  for (let round = 0; round < 8; round++) {
    const allocs = allocate(p, ids, counts);
    const items = buildItems(p, ids, allocs, firstKeys);
    const needed = new Map(ids.map((id) => [id, levelSizes(packLeaves(items.get(id)!, p.nodesize).length, p.nodesize).reduce((a, b) => a + b, 0)]));
    const serialized = serialize(p, ids, allocs, items);
    const same = ids.every((id) => needed.get(id) === counts.get(id));
    const keysSame = same && [...serialized.firstKeys].every(([addr, k]) => {
      const old = firstKeys.get(addr);
      return old !== undefined && compareKeys(old.key, k.key) === 0 && old.level === k.level;
    });
    if (same && (p.skinnyMetadata || keysSame)) {
      const devBytesUsed = new Map<number, number>(p.devices.map((d) => [d.devid, 0]));
      for (const c of p.chunks) for (const s of c.stripes) devBytesUsed.set(s.devid, devBytesUsed.get(s.devid)! + c.stripeSize);
      const roots = new Map<bigint, TreeRoot>();
      for (const id of ids) {
        const a = allocs.get(id)!;
        roots.set(id, { id, bytenr: a.addrs[a.addrs.length - 1]!, level: levelSizes(leafCountFor(a.addrs.length, p.nodesize), p.nodesize).length - 1, blocks: a.addrs.length });
      }
      return { blocks: serialized.blocks, roots, bytesUsed: serialized.blocks.length * p.nodesize, devBytesUsed };
    }
    counts = needed;
    firstKeys = serialized.firstKeys;
  }
  throw new Error('mkfs: tree layout did not settle');
}

/** Serializes and checksums every block. */
function serialize(p: TreeParams, ids: bigint[], allocs: Map<bigint, Alloc>, items: Map<bigint, Item[]>) {
  const blocks: Block[] = [];
  const firstKeys = new Map<number, { key: Key; level: number }>();
  for (const id of ids) {
    const { addrs, chunk } = allocs.get(id)!;
    const leaves = packLeaves(items.get(id)!, p.nodesize);
    const sizes = levelSizes(leaves.length, p.nodesize);
    // When counts are not settled yet, the allocation may not match the packing: skip this tree.
    if (sizes.reduce((a, b) => a + b, 0) !== addrs.length) continue;
    let next = 0;
    let level: { addr: number; first: Key }[] = leaves.map((leafItems) => {
      const addr = addrs[next++]!;
      blocks.push({ logical: addr, chunk, data: leafBlock(p, id, addr, leafItems) });
      const first = leafItems[0]?.key ?? ZERO_KEY;
      firstKeys.set(addr, { key: first, level: 0 });
      return { addr, first };
    });
    const perNode = Math.floor((p.nodesize - HEADER_SIZE) / PTR_SIZE);
    for (let lvl = 1; level.length > 1; lvl++) {
      const upper: { addr: number; first: Key }[] = [];
      for (let i = 0; i < level.length; i += perNode) {
        const children = level.slice(i, i + perNode);
        const addr = addrs[next++]!;
        blocks.push({ logical: addr, chunk, data: nodeBlock(p, id, addr, lvl, children) });
        firstKeys.set(addr, { key: children[0]!.first, level: lvl });
        upper.push({ addr, first: children[0]!.first });
      }
      level = upper;
    }
  }
  return { blocks, firstKeys };
}

function blockHeader(p: TreeParams, owner: bigint, addr: number, nritems: number, level: number): Buffer {
  const block = Buffer.alloc(p.nodesize);
  header.write(block, {
    fsid: p.fsid,
    bytenr: BigInt(addr),
    flags: HEADER_FLAG_WRITTEN | (MIXED_BACKREF_REV << 56n),
    chunkTreeUuid: p.chunkTreeUuid,
    generation: p.generation,
    owner,
    nritems,
    level,
  });
  return block;
}

/** A leaf: item headers from the front, data packed from the end (§2.2). */
function leafBlock(p: TreeParams, owner: bigint, addr: number, leafItems: Item[]): Buffer {
  const block = blockHeader(p, owner, addr, leafItems.length, 0);
  let end = p.nodesize - HEADER_SIZE;
  leafItems.forEach((it, i) => {
    end -= it.data.length;
    itemHeader.write(block, { ...it.key, dataOffset: end, dataSize: it.data.length }, HEADER_SIZE + i * ITEM_SIZE);
    it.data.copy(block, HEADER_SIZE + end);
  });
  sealBlock(p.csumType, block);
  return block;
}

/** A node: key pointers to its children (§2.3). */
function nodeBlock(p: TreeParams, owner: bigint, addr: number, level: number, children: { addr: number; first: Key }[]): Buffer {
  const block = blockHeader(p, owner, addr, children.length, level);
  children.forEach((c, i) => {
    keyPtr.write(block, { ...c.first, blockptr: BigInt(c.addr), generation: p.generation }, HEADER_SIZE + i * PTR_SIZE);
  });
  sealBlock(p.csumType, block);
  return block;
}
