/**
 * Scratch btrfs filesystems for tests: a sparse image in a temp dir, a loop device, mkfs.btrfs from
 * btrfs-progs (the independent oracle, not our code), mounted in the temp dir. Torn down by
 * `cleanup()` even when a test fails; the sweep in `process.on('exit')` is the last resort.
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync, closeSync, openSync, ftruncateSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** True when this process can make loop devices and mount (root). */
export const isRoot = process.geteuid?.() === 0;

/** Skip reason for node:test when not root; false when root. */
export const needsRoot: string | false = isRoot ? false : 'needs root (loop devices, mount)';

export interface Scratch {
  /** Temp directory holding the image and the mount point. */
  dir: string;
  image: string;
  device: string;
  /** The mounted filesystem's top level. */
  mnt: string;
  cleanup(): void;
}

const live = new Set<Scratch>();

function run(cmd: string, args: string[]): string {
  return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

export interface ScratchOptions {
  /** Image size in bytes; default 1 GiB (sparse). */
  size?: number;
  /** Extra mkfs.btrfs arguments. */
  mkfs?: string[];
  /** mount -o options. */
  mountOptions?: string;
}

/** Makes, formats and mounts a scratch btrfs. Call `cleanup()` (e.g. in `after`). */
export function scratchBtrfs(options: ScratchOptions = {}): Scratch {
  const dir = mkdtempSync(join(tmpdir(), 'btrfs-test-'));
  const image = join(dir, 'image');
  const mnt = join(dir, 'mnt');
  mkdirSync(mnt);
  const fd = openSync(image, 'w');
  ftruncateSync(fd, options.size ?? 1024 ** 3);
  closeSync(fd);
  let device = '';
  const scratch: Scratch = {
    dir,
    image,
    device,
    mnt,
    cleanup() {
      live.delete(scratch);
      teardown(scratch);
    },
  };
  live.add(scratch);
  try {
    device = run('losetup', ['--find', '--show', image]).trim();
    scratch.device = device;
    run('mkfs.btrfs', ['-q', '-f', ...(options.mkfs ?? []), device]);
    run('mount', [...(options.mountOptions ? ['-o', options.mountOptions] : []), device, mnt]);
  } catch (error) {
    scratch.cleanup();
    throw error;
  }
  return scratch;
}

function teardown(s: Scratch): void {
  for (let i = 0; i < 50; i++) {
    try {
      const mounted = run('findmnt', ['-n', '-o', 'TARGET', '--mountpoint', s.mnt]).trim();
      if (!mounted) break;
    } catch {
      break; // findmnt exits 1 when nothing is mounted there
    }
    try {
      run('umount', [s.mnt]);
    } catch {
      if (i === 49) run('umount', ['-l', s.mnt]);
      else execFileSync('sleep', ['0.1']);
    }
  }
  if (s.device) {
    try {
      run('losetup', ['-d', s.device]);
    } catch {
      // already detached
    }
  }
  rmSync(s.dir, { recursive: true, force: true });
}

export interface ScratchImages {
  /** Temp directory holding everything; removed by cleanup(). */
  dir: string;
  /** Image files, formatted by mkfs.btrfs unless `mkfs: false`. */
  images: string[];
  /** An empty directory to mount on. */
  mnt: string;
  /** Unmounts everything below `dir`, detaches every loop device backed by a file in it, removes it. */
  cleanup(): void;
}

/**
 * Image files (not attached, not mounted) for tests of mount and loop devices themselves. With
 * `devices` > 1 and `mkfs` true, the images are attached to loop devices and formatted as one
 * multi-device btrfs (then detached again): the returned images hold a filesystem spanning them all.
 */
export function scratchImages(options: { count?: number; size?: number; mkfs?: string[] | false } = {}): ScratchImages {
  const dir = mkdtempSync(join(tmpdir(), 'btrfs-img-'));
  const mnt = join(dir, 'mnt');
  mkdirSync(mnt);
  const images = Array.from({ length: options.count ?? 1 }, (_, i) => join(dir, `disk${i}.img`));
  const result: ScratchImages = {
    dir,
    images,
    mnt,
    cleanup() {
      sweep(dir);
    },
  };
  sweeps.add(dir);
  try {
    for (const image of images) {
      const fd = openSync(image, 'w');
      ftruncateSync(fd, options.size ?? 512 * 1024 ** 2);
      closeSync(fd);
    }
    if (options.mkfs !== false) {
      if (images.length === 1) run('mkfs.btrfs', ['-q', '-f', ...(options.mkfs ?? []), images[0]!]);
      else {
        const loops = images.map((image) => run('losetup', ['--find', '--show', image]).trim());
        try {
          run('mkfs.btrfs', ['-q', '-f', ...(options.mkfs ?? []), ...loops]);
        } finally {
          for (const loop of loops) run('losetup', ['-d', loop]);
        }
      }
    }
  } catch (error) {
    result.cleanup();
    throw error;
  }
  return result;
}

const sweeps = new Set<string>();

/** Mount points at or below `dir`, deepest first. */
export function mountsBelow(dir: string): string[] {
  const targets = readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((line) => line.split(' ')[4])
    .filter((t): t is string => !!t && (t === dir || t.startsWith(`${dir}/`)));
  return [...new Set(targets)].sort((a, b) => b.length - a.length);
}

/** Loop devices whose backing file is below `dir` (from sysfs, as losetup reads it). */
export function loopsBelow(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync('/sys/block')) {
    if (!/^loop\d+$/.test(name)) continue;
    let backing = '';
    try {
      backing = readFileSync(`/sys/block/${name}/loop/backing_file`, 'utf8').trim();
    } catch {
      continue;
    }
    if (backing.startsWith(`${dir}/`)) out.push(`/dev/${name}`);
  }
  return out;
}

function sweep(dir: string): void {
  sweeps.delete(dir);
  for (let i = 0; i < 50; i++) {
    const mounts = mountsBelow(dir);
    if (mounts.length === 0) break;
    for (const target of mounts) {
      try {
        run('umount', [i < 40 ? target : '-l', ...(i < 40 ? [] : [target])]);
      } catch {
        execFileSync('sleep', ['0.1']);
      }
    }
  }
  for (const loop of loopsBelow(dir)) {
    try {
      run('losetup', ['-d', loop]);
    } catch {
      // released meanwhile
    }
  }
  rmSync(dir, { recursive: true, force: true });
}

process.on('exit', () => {
  for (const dir of [...sweeps]) sweep(dir);
  for (const s of [...live]) s.cleanup();
});

/** Runs a btrfs-progs command and returns its stdout. */
export function btrfsProgs(...args: string[]): string {
  return run('btrfs', args);
}

/** Writes `size` bytes of a pattern to `path`. */
export function writeBytes(path: string, size: number): void {
  writeFileSync(path, Buffer.alloc(size, 0x5a));
}

/** Open descriptors of this process (to prove none leak). */
export function openFds(): string[] {
  return readdirSync('/proc/self/fd').sort();
}
