/**
 * Mount a btrfs image file read-only, list its subvolumes, and unmount: no losetup, no mount(8).
 * The loop device is attached with autoclear, so it goes away with the unmount.
 *
 *   node out/examples/mount-image-readonly.js <image> <mountpoint>
 */
import { MountFlags, mount, subvolumes, umount } from '../src/index'; // in your project: from 'btrfs'

export async function listImage(image: string, mountpoint: string): Promise<string[]> {
  await mount(image, mountpoint, { loop: true, flags: MountFlags.RDONLY });
  try {
    const paths: string[] = [];
    for await (const { id, path } of subvolumes(mountpoint, { top: 5 })) paths.push(`${id} ${path}`);
    return paths;
  } finally {
    await umount(mountpoint);
  }
}

async function main() {
  const [image, mountpoint] = process.argv.slice(2);
  if (!image || !mountpoint) throw new Error('usage: mount-image-readonly <image> <mountpoint>');
  for (const line of await listImage(image, mountpoint)) console.log(line);
}

if (require.main === module) main().catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
