/**
 * Scenario 6: mount + umount of a loop-backed image (attach with autoclear, mount, umount), mount +
 * umount of an attached loop device, and attach + detach of a loop device. Against C doing the same
 * syscalls and against `mount`/`umount`/`losetup` processes. Figures are ms per cycle.
 */
import type { Ctx, Variant } from './context';
import type { Row } from './report';
import {
  attachLoopDevice,
  attachLoopDeviceSync,
  mount,
  mountSync,
  umount,
  umountSync,
} from '../src/index';
import { constants } from 'node:fs';
import { LOOP_CLR_FD, LOOP_CONFIGURE, LOOP_CTL_GET_FREE, loop_config } from '../src/kernel/loop';
import { native } from '../src/native';
import { command, commandMs, limit, pick, Samples, sh, timeMs, timeSyncMs } from './util';

export async function mountScenario(ctx: Ctx): Promise<Row[]> {
  const { opts } = ctx;
  // Cycles per round: enough that a round measures the steady state. With 10, a round of async
  // attaches ran while V8 was still compiling the attach path (on one of the 2 cores the pool
  // thread needs), and the per-round means swung 0.2-1.1 ms. A process per call is slow: fewer.
  const K = pick(opts, 30, 10, 2);
  const LOOP_K = pick(opts, 100, 20, 2);
  const CLI_K = pick(opts, 10, 5, 2);
  const runs = pick(opts, 5, 3, 1);
  const a = ctx.images({ count: 1, size: 512 * 1024 ** 2, mkfs: [] });
  const b = ctx.images({ count: 1, size: 512 * 1024 ** 2, mkfs: [] });
  const image = a.images[0]!;
  const mnt = a.mnt;
  const device = sh('losetup', '--find', '--show', b.images[0]!).trim();
  const s = new Samples();
  const cycles = {
    loopmount: {
      n: K,
      label: 'mount + umount of an image (loop, autoclear)',
      sync: () => { mountSync(image, mnt, { loop: true }); umountSync(mnt); },
      async: async () => { await mount(image, mnt, { loop: true }); await umount(mnt); },
      c: () => limit('mount', image, mnt, K),
      cText: 'GET_FREE + LOOP_CONFIGURE + mount + umount2',
      cli: async () => (await commandMs('mount', ['-o', 'loop', image, mnt])) + (await commandMs('umount', [mnt])),
      cliText: 'mount -o loop; umount',
    },
    mountdev: {
      n: K,
      label: 'mount + umount of a loop device',
      sync: () => { mountSync(device, mnt); umountSync(mnt); },
      async: async () => { await mount(device, mnt); await umount(mnt); },
      c: () => limit('mountdev', device, mnt, K),
      cText: 'mount + umount2',
      cli: async () => (await commandMs('mount', [device, mnt])) + (await commandMs('umount', [mnt])),
      cliText: 'mount; umount',
    },
    loop: {
      n: LOOP_K,
      label: 'attach + detach a loop device',
      sync: () => attachLoopDeviceSync(image).detachSync(),
      async: async () => (await attachLoopDevice(image)).detach(),
      c: () => limit('loop', image, LOOP_K),
      cText: 'LOOP_CONFIGURE (the device detached last; GET_FREE if taken), close; open + LOOP_CLR_FD',
      cli: async () => {
        const attached = await command('losetup', ['--find', '--show', image]);
        return attached.ms + (await commandMs('losetup', ['-d', attached.stdout.trim()]));
      },
      cliText: 'losetup --find --show; losetup -d',
    },
  };
  const variants: Variant[] = [];
  for (const [key, c] of Object.entries(cycles)) {
    const n = c.n;
    variants.push({ name: `${key} sync`, run: () => s.add(`${key}.sync`, timeSyncMs(() => { for (let i = 0; i < n; i++) c.sync(); }) / n) });
    variants.push({ name: `${key} async`, run: async () => s.add(`${key}.async`, (await timeMs(async () => { for (let i = 0; i < n; i++) await c.async(); })) / n) });
    variants.push({ name: `${key} C`, run: async () => s.add(`${key}.c`, (await c.c()).ns / 1e6 / n) });
    variants.push({ name: `${key} cli`, run: async () => { let ms = 0; for (let i = 0; i < CLI_K; i++) ms += await c.cli(); s.add(`${key}.cli`, ms / CLI_K); } });
  }
  // The floor for the loop rows: the same attach + detach from a bare loop over the addon, with no
  // library code (one crossing each: LOOP_CONFIGURE with the image as a descriptor patch, then
  // LOOP_CLR_FD), Sync and async, on a device asked of GET_FREE once per round.
  const config = Buffer.alloc(loop_config.size);
  const imagePatch = [loop_config.fields.fd.offset, { path: image, flags: constants.O_RDWR, size: 4 as const }];
  const bareCycle = async (async: boolean, device: string) => {
    config.fill(0);
    const addon = native();
    const bound = async
      ? await addon.ioctlAtAsync(device, constants.O_RDWR, LOOP_CONFIGURE, config, imagePatch, false)
      : addon.ioctlAt(device, constants.O_RDWR, LOOP_CONFIGURE, config, imagePatch);
    if (bound < 0) throw new Error(`bare LOOP_CONFIGURE ${device}: ${bound}`);
    const cleared = async
      ? await addon.ioctlAtAsync(device, constants.O_RDONLY, LOOP_CLR_FD, 0, null, false)
      : addon.ioctlAt(device, constants.O_RDONLY, LOOP_CLR_FD, 0, null);
    if (cleared < 0) throw new Error(`bare LOOP_CLR_FD ${device}: ${cleared}`);
  };
  const freeDevice = () => `/dev/loop${native().ioctlAt('/dev/loop-control', constants.O_RDWR, LOOP_CTL_GET_FREE, null, null)}`;
  variants.push({
    name: 'loop bare sync',
    run: () => {
      const device = freeDevice();
      s.add('loop.bare.sync', timeSyncMs(() => { for (let i = 0; i < LOOP_K; i++) void bareCycle(false, device); }) / LOOP_K);
    },
  });
  variants.push({
    name: 'loop bare async',
    run: async () => {
      const device = freeDevice();
      s.add('loop.bare.async', (await timeMs(async () => { for (let i = 0; i < LOOP_K; i++) await bareCycle(true, device); })) / LOOP_K);
    },
  });
  try {
    await ctx.interleave(runs, variants, s);
  } finally {
    try {
      sh('losetup', '-d', device);
    } catch {
      // the sweep detaches it
    }
  }
  const rows: Row[] = [];
  for (const [key, c] of Object.entries(cycles)) {
    const base = `6.${key}`;
    for (const mode of ['sync', 'async'] as const) {
      rows.push({
        id: `${base}.${mode}`, scenario: 6, metric: `${c.label}${mode === 'sync' ? ', Sync' : ''}`, impl: 'btrfs', kind: 'ours', unit: 'ms', better: 'lower', samples: s.get(`${key}.${mode}`),
        limit: `${base}.c`, peers: [`${base}.cli`], targets: [{ type: 'limit', max: 1.5 }, { type: 'peer', id: `${base}.cli`, max: 1, name: c.cliText.split(';')[0]! }],
      });
    }
    rows.push({ id: `${base}.c`, scenario: 6, metric: c.cText, impl: 'C limit', kind: 'limit', unit: 'ms', better: 'lower', samples: s.get(`${key}.c`) });
    rows.push({ id: `${base}.cli`, scenario: 6, metric: c.cliText, impl: 'util-linux', kind: 'peer', unit: 'ms', better: 'lower', samples: s.get(`${key}.cli`) });
  }
  for (const mode of ['sync', 'async'] as const) {
    rows.push({
      id: `6.loop.bare.${mode}`, scenario: 6, metric: `breakdown: the same attach + detach from a bare loop over the addon (no library)${mode === 'sync' ? ', Sync' : ''}`,
      impl: 'addon', kind: 'info', unit: 'ms', better: 'lower', samples: s.get(`loop.bare.${mode}`), limit: '6.loop.c',
    });
  }
  return rows;
}
