/**
 * Snapshot a subvolume before a risky change, and roll back if the change fails.
 *
 *   node out/examples/snapshot-before-upgrade.js <subvolume> [--fail]
 *
 * The "upgrade" here writes a version file; with --fail it throws half way, and the subvolume is
 * put back exactly as it was: the read-only snapshot becomes the subvolume again.
 */
import { rename, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { createSnapshot, deleteSubvolume, setSubvolumeReadOnly } from '../src/index'; // in your project: from 'btrfs'

export async function withRollback<T>(subvolume: string, change: () => Promise<T>): Promise<T> {
  const snapshot = join(dirname(subvolume), `.${basename(subvolume)}.pre-upgrade-${Date.now()}`);
  await createSnapshot(subvolume, snapshot, { readOnly: true });
  try {
    const result = await change();
    await deleteSubvolume(snapshot); // success: the safety net is no longer needed
    return result;
  } catch (error) {
    // Roll back: swap the broken subvolume for a writable copy of the snapshot.
    await setSubvolumeReadOnly(snapshot, false);
    const broken = `${snapshot}.broken`;
    await rename(subvolume, broken);
    await rename(snapshot, subvolume);
    await deleteSubvolume(broken, { recursive: true });
    throw error;
  }
}

async function main() {
  const [subvolume, flag] = process.argv.slice(2);
  if (!subvolume) throw new Error('usage: snapshot-before-upgrade <subvolume> [--fail]');
  try {
    await withRollback(subvolume, async () => {
      await writeFile(join(subvolume, 'VERSION'), '2.0\n');
      if (flag === '--fail') throw new Error('upgrade failed half way');
    });
    console.log('upgraded');
  } catch (error) {
    console.log(`rolled back: ${(error as Error).message}`);
  }
}

if (require.main === module) main().catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
