/**
 * Loads and types the native addon (native/btrfs.c). This is the only place an untyped value
 * crosses into TypeScript; everything else imports {@link native}.
 *
 * Search order, first hit wins (each path tried is listed in the error when none loads):
 * 1. `BTRFS_NATIVE_PATH`, when set (for packagers and tests);
 * 2. `build/Release/btrfs.node`, a local build (`npm run build:native`, or an install from source);
 * 3. `prebuilds/linux-<arch>/btrfs.node`, the binaries shipped inside the npm package.
 * @internal
 * @module
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

/** Arguments an ioctl accepts: a buffer the kernel reads/writes, an integer, or nothing. */
export type IoctlArg = Uint8Array | number | null | undefined;

/**
 * A file the call opens for itself, its descriptor written into the argument (see {@link Patches}):
 * for arguments that carry a file, such as LOOP_CONFIGURE's backing file.
 */
export interface FilePatch {
  /** The file to open. */
  readonly path: string;
  /** open(2) flags (O_CLOEXEC is added). */
  readonly flags: number;
  /** The descriptor field's width in bytes: 4 (a __u32) or 8 (a __s64). */
  readonly size: 4 | 8;
}

/**
 * Patches: `[offset, target, offset, target, ...]`, applied right before the call. A buffer target
 * is a pointer patch: the native layer writes the buffer's address (host-order u64) at `offset`. A
 * {@link FilePatch} target (at most one) is a descriptor patch: the call opens the file first, writes
 * the descriptor at `offset` and closes it after the ioctl; a failed open gives
 * -({@link FILE_OPEN_FAILED_BASE} + errno).
 */
export type Patches = readonly (number | Uint8Array | FilePatch)[];

/** The addon's exports. Every function returns the syscall's result (>= 0) or `-errno`. */
export interface NativeBinding {
  ioctl(fd: number, request: number, arg?: IoctlArg, patches?: Patches | null): number;
  ioctlAsync(fd: number, request: number, arg: IoctlArg, patches: Patches | null, blocking: boolean): Promise<number>;
  /** open(path, openFlags) + ioctl + close in one crossing; a failed open gives -(0x10000 + errno). */
  ioctlAt(path: string, openFlags: number, request: number, arg?: IoctlArg, patches?: Patches | null): number;
  ioctlAtAsync(path: string, openFlags: number, request: number, arg: IoctlArg, patches: Patches | null, blocking: boolean): Promise<number>;
  mount(source: string | null, target: string, fstype: string | null, flags: number, data: string | null): number;
  mountAsync(
    source: string | null,
    target: string,
    fstype: string | null,
    flags: number,
    data: string | null,
    blocking: boolean,
  ): Promise<number>;
  umount2(target: string, flags: number): number;
  umount2Async(target: string, flags: number, blocking: boolean): Promise<number>;
  /** statx(dirfd, path, flags, mask) into `buf` (at least 256 bytes: struct statx). */
  statx(dirfd: number, path: string, flags: number, mask: number, buf: Uint8Array): number;
  statxAsync(dirfd: number, path: string, flags: number, mask: number, buf: Uint8Array): Promise<number>;
}

/** ioctlAt's marker for a failed open: the result is -(OPEN_FAILED_BASE + errno). */
export const OPEN_FAILED_BASE = 0x10000;
/** A descriptor patch's marker for a failed open: the result is -(FILE_OPEN_FAILED_BASE + errno). */
export const FILE_OPEN_FAILED_BASE = 0x20000;

/** The package root: the nearest folder above this file whose package.json names `btrfs`. */
function packageRoot(): string {
  let dir = __dirname;
  for (;;) {
    const manifest = join(dir, 'package.json');
    if (existsSync(manifest)) {
      try {
        if (JSON.parse(readFileSync(manifest, 'utf8')).name === 'btrfs') return dir;
      } catch {
        // not ours; keep climbing
      }
    }
    const parent = dirname(dir);
    if (parent === dir) return join(__dirname, '..');
    dir = parent;
  }
}

/** Candidate addon paths, in the order they are tried. */
export function candidatePaths(root = packageRoot()): string[] {
  const paths: string[] = [];
  if (process.env.BTRFS_NATIVE_PATH) paths.push(process.env.BTRFS_NATIVE_PATH);
  paths.push(join(root, 'build', 'Release', 'btrfs.node'));
  paths.push(join(root, 'prebuilds', `${process.platform}-${process.arch}`, 'btrfs.node'));
  return paths;
}

function load(): NativeBinding {
  if (process.platform !== 'linux') {
    throw new Error(`btrfs: this package supports Linux only (this is ${process.platform})`);
  }
  const tried: string[] = [];
  for (const path of candidatePaths()) {
    if (!existsSync(path)) {
      tried.push(`  ${path}: not found`);
      continue;
    }
    try {
      return require(path) as NativeBinding;
    } catch (error) {
      tried.push(`  ${path}: ${whyNotLoaded(path, error as Error)}`);
    }
  }
  throw new Error(
    `btrfs: could not load the native addon for ${process.platform}-${process.arch} ` +
      `(Node ${process.version}, N-API ${process.versions.napi}). Tried:\n${tried.join('\n')}\n` +
      'Reinstall the package, or build it from source with a C compiler: npm rebuild btrfs',
  );
}

/** ELF e_machine values for the architectures Node runs on here. */
const ELF_MACHINES: Record<number, string> = { 3: 'ia32', 40: 'arm', 62: 'x64', 183: 'arm64', 243: 'riscv64' };

/** A load failure explained: glibc says "No such file" for a file built for another machine. */
function whyNotLoaded(path: string, error: Error): string {
  try {
    const header = readFileSync(path).subarray(0, 20);
    if (header.length === 20 && header.readUInt32BE(0) === 0x7f454c46) {
      const machine = ELF_MACHINES[header.readUInt16LE(18)] ?? `ELF machine ${header.readUInt16LE(18)}`;
      if (machine !== process.arch) return `built for ${machine}, but this process is ${process.arch}`;
    }
  } catch {
    // unreadable: fall back to the loader's message
  }
  return error.message.startsWith(path) ? error.message.slice(path.length).replace(/^:\s*/, '') : error.message;
}

let binding: NativeBinding | undefined;

/** The native addon, loaded on first use so that pure modules (mkfs, codecs) work without it. */
export function native(): NativeBinding {
  binding ??= load();
  return binding;
}
