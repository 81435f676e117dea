/**
 * Jobs run in a fresh Node process, for peak-RSS measurements that the parent's own history would
 * blur: `node out/bench/child.js '<json>'` prints one JSON line. `beforeKiB` is the RSS right before
 * the job, once the library (and its addon, where the job needs it) is loaded; `afterKiB` the peak
 * RSS after it. Their difference is what the job adds to the process's memory at its highest, an
 * upper bound of "what it adds to the peak" (Node's start-up peak may be higher than both).
 *
 *   { job: 'list', path, info, async }        iterate every subvolume below path
 *   { job: 'mkfs', path, size, async }        mkfs on a fresh sparse image file of `size` bytes
 */
import { rmSync } from 'node:fs';
import { mkfs, mkfsSync, subvolumeIdSync, subvolumes, subvolumesSync } from '../src/index';

const peakKiB = (): number => process.resourceUsage().maxRSS;
const rssKiB = (): number => process.memoryUsage.rss() / 1024;

async function main(): Promise<void> {
  const job = JSON.parse(process.argv[2] ?? '{}') as { job: string; path: string; info?: boolean; async?: boolean; size?: number };
  if (job.job === 'list') {
    subvolumeIdSync(job.path); // loads the addon before the baseline
    const beforeKiB = rssKiB();
    let n = 0;
    if (job.async) for await (const _ of subvolumes(job.path, { info: job.info })) n++;
    else for (const _ of subvolumesSync(job.path, { info: job.info })) n++;
    console.log(JSON.stringify({ n, beforeKiB, afterKiB: peakKiB() }));
  } else if (job.job === 'mkfs') {
    rmSync(job.path, { force: true });
    const beforeKiB = rssKiB();
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
