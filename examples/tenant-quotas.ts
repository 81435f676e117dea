/**
 * Per-tenant quotas: each tenant gets a subvolume inside a level-1 qgroup with a size limit, so
 * the tenant's snapshots count against the same limit. Prints usage per tenant.
 *
 *   node out/examples/tenant-quotas.js <filesystem> <tenant>=<size in MiB>...
 */
import { join } from 'node:path';
import { createSubvolume, formatQgroupId, qgroupCreate, qgroupInfo, qgroupLimit, qgroupId, quotaEnable, quotaRescanWait, quotaStatus, subvolumeId } from '../src/index'; // in your project: from 'btrfs'

export async function addTenant(fs: string, name: string, number: number, limitBytes: number): Promise<{ subvolume: string; qgroup: number }> {
  const qgroup = qgroupId(1, number); // 1/<number>: the tenant's group
  await qgroupCreate(fs, qgroup);
  await qgroupLimit(fs, qgroup, { maxRfer: limitBytes });
  const subvolume = join(fs, name);
  await createSubvolume(subvolume, { qgroupInherit: [qgroup] }); // born inside the tenant's group
  return { subvolume, qgroup };
}

async function main() {
  const [fs, ...specs] = process.argv.slice(2);
  if (!fs || specs.length === 0) throw new Error('usage: tenant-quotas <filesystem> <tenant>=<MiB>...');
  if (!(await quotaStatus(fs)).enabled) {
    await quotaEnable(fs);
    await quotaRescanWait(fs);
  }
  const tenants = [];
  for (const [i, spec] of specs.entries()) {
    const [name, mib] = spec.split('=');
    tenants.push({ name: name!, ...(await addTenant(fs, name!, 100 + i, Number(mib) * 1024 * 1024)) });
  }
  const groups = new Map((await qgroupInfo(fs)).map((g) => [g.qgroupid, g]));
  for (const t of tenants) {
    const g = groups.get(t.qgroup)!;
    console.log(`${t.name}: subvolume ${await subvolumeId(t.subvolume)} in ${formatQgroupId(t.qgroup)}, ${g.rfer} of ${g.maxRfer} bytes used`);
  }
}

if (require.main === module) main().catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
