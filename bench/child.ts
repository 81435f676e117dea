/**
 * Jobs run in a fresh Node process, for peak-RSS measurements that the parent's own history would
 * blur: `node out/bench/child.js '<json>'` prints one JSON line. `beforeKiB` is the peak RSS once the
 * library is loaded (and its addon, where the job needs it), `afterKiB` the peak after the job.
 *
 *   { job: 'list', path, info, async }        iterate every subvolume below path
 *   { job: 'mkfs', path, size, async }        mkfs on a fresh sparse image file of `size` bytes
 */
import { rmSync } from 'node:fs';
import { mkfs, mkfsSync, subvolumeIdSync, subvolumes, subvolumesSync } from '../src/index';

const peakKiB = (): number => process.resourceUsage().maxRSS;

async function main(): Promise<void> {
  const job = JSON.parse(process.argv[2] ?? '{}') as { job: string; path: string; info?: boolean; async?: boolean; size?: number };
  if (job.job === 'list') {
    subvolumeIdSync(job.path); // loads the addon before the baseline
    const beforeKiB = peakKiB();
    let n = 0;
    if (job.async) for await (const _ of subvolumes(job.path, { info: job.info })) n++;
    else for (const _ of subvolumesSync(job.path, { info: job.info })) n++;
    console.log(JSON.stringify({ n, beforeKiB, afterKiB: peakKiB() }));
  } else if (job.job === 'mkfs') {
    rmSync(job.path, { force: true });
    const beforeKiB = peakKiB();
    const options = { create: true, byteCount: job.size! };
    const result = job.async ? await mkfs(job.path, options) : mkfsSync(job.path, options);
    console.log(JSON.stringify({ n: 1, beforeKiB, afterKiB: peakKiB(), uuid: result.uuid }));
    rmSync(job.path, { force: true });
  } else {
    throw new Error(`unknown job ${job.job}`);
  }
}

main().catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
