/**
 * A retention policy: take a read-only snapshot now, keep the newest N, delete the rest.
 *
 *   node out/examples/retention.js <subvolume> <snapshot-dir> <keep>
 *
 * Snapshots are found by asking btrfs, not by parsing names: every subvolume in <snapshot-dir>
 * whose parent UUID is the source's UUID is one of ours, ordered by creation time.
 */
import { basename, join } from 'node:path';
import { createSnapshot, deleteSubvolume, subvolumeInfo, subvolumes } from '../src/index'; // in your project: from 'btrfs'

export async function snapshotAndPrune(source: string, dir: string, keep: number): Promise<{ created: string; deleted: string[] }> {
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const created = join(dir, `${basename(source)}@${stamp}`);
  await createSnapshot(source, created, { readOnly: true });

  const { uuid } = await subvolumeInfo(source);
  const ours: { path: string; otime: Date; otransid: number }[] = [];
  for await (const { path, info } of subvolumes(dir, { top: 5, info: true })) {
    if (info!.parentUuid === uuid) ours.push({ path, otime: info!.otime, otransid: info!.otransid });
  }
  // Oldest first; the transaction id breaks ties between snapshots taken in the same millisecond.
  ours.sort((a, b) => a.otime.getTime() - b.otime.getTime() || a.otransid - b.otransid);
  const doomed = ours.slice(0, Math.max(0, ours.length - keep));
  const deleted: string[] = [];
  for (const { path } of doomed) {
    const full = join(dir, basename(path));
    await deleteSubvolume(full);
    deleted.push(full);
  }
  return { created, deleted };
}

async function main() {
  const [source, dir, keep] = process.argv.slice(2);
  if (!source || !dir || !keep) throw new Error('usage: retention <subvolume> <snapshot-dir> <keep>');
  const { created, deleted } = await snapshotAndPrune(source, dir, Number(keep));
  console.log(`created ${created}`);
  for (const path of deleted) console.log(`deleted ${path}`);
}

if (require.main === module) main().catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
