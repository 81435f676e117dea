// The kernel path (root): each filesystem our mkfs makes mounts through a loop device, takes files
// and a subvolume, reads them back, passes `btrfs scrub start -B`, unmounts, still passes btrfs
// check, and mounts again. Features progs 6.2 cannot check (block-group-tree, squota) are verified
// here alone. Only 4 KiB sectors mount on this 4 KiB-page machine, so mixed cases use 4 KiB nodes.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { mkfs, type MkfsOptions } from '../../src/index';
import { needsRoot } from '../helpers/scratch';
import { GiB, MiB, btrfsCheck, scratchDir } from './cases';

const dir = scratchDir();
after(() => dir.cleanup());

const run = (cmd: string, ...args: string[]) => execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });

const CASES: [string, MkfsOptions, number?][] = [
  ['defaults', {}],
  ['nodesize 4K', { nodesize: 4096 }],
  ['nodesize 64K', { nodesize: 65536 }],
  ['xxhash', { csum: 'xxhash' }],
  ['sha256', { csum: 'sha256' }],
  ['blake2', { csum: 'blake2' }],
  ['mixed', { mixed: true }],
  ['mixed dup + blake2', { mixed: true, metadataProfile: 'dup', dataProfile: 'dup', csum: 'blake2' }],
  ['no skinny-metadata', { features: ['^skinny-metadata'] }],
  ['no free-space-tree', { features: ['^free-space-tree'] }],
  ['quota', { features: ['quota'] }],
  ['squota (kernel only)', { features: ['squota'] }],
  ['block-group-tree (kernel only)', { features: ['block-group-tree'] }],
  ['block-group-tree + quota + 4K: two-level root tree', { nodesize: 4096, features: ['block-group-tree', 'quota'] }],
  ['dup/dup', { metadataProfile: 'dup', dataProfile: 'dup' }],
  ['single/single at the minimum size', { metadataProfile: 'single', dataProfile: 'single' }, 45 * MiB],
  ['default at the minimum size', {}, 114294784],
  ['mixed at the minimum size', { mixed: true }, 16 * MiB],
  ['label + uuid + byteCount', { label: 'round-trip', uuid: '0badc0de-0000-4000-8000-000000000001', byteCount: 700 * MiB }],
  ['2 TiB sparse', {}, 2048 * GiB],
];

describe('mount round trip', { skip: needsRoot }, () => {
  for (const [name, options, size] of CASES) {
    test(name, async () => {
      const img = dir.image('mount.img', size ?? GiB);
      const mnt = join(dir.dir, 'mnt');
      mkdirSync(mnt, { recursive: true });
      const r = await mkfs(img, options);
      const loop = run('losetup', '--find', '--show', img).trim();
      try {
        run('mount', loop, mnt);
        let mounted = true;
        try {
          const fileSize = Math.min(8 * MiB, Math.floor(r.numBytes / 16));
          const data = randomBytes(fileSize);
          writeFileSync(join(mnt, 'file'), data);
          run('btrfs', 'subvolume', 'create', join(mnt, 'sub'));
          writeFileSync(join(mnt, 'sub', 'small'), 'hello');
          run('sync');
          // Drop caches of this filesystem so the read really comes from disk.
          run('umount', mnt);
          mounted = false;
          run('mount', loop, mnt);
          mounted = true;
          assert.equal(createHash('sha256').update(readFileSync(join(mnt, 'file'))).digest('hex'), createHash('sha256').update(data).digest('hex'));
          assert.equal(readFileSync(join(mnt, 'sub', 'small'), 'utf8'), 'hello');
          const scrub = run('btrfs', 'scrub', 'start', '-B', mnt);
          assert.match(scrub, /no errors found/);
          if (options.label) assert.equal(run('btrfs', 'filesystem', 'label', mnt).trim(), options.label);
        } finally {
          if (mounted) run('umount', mnt);
        }
        if (!options.features?.toString().match(/squota|block-group-tree/)) assert.match(btrfsCheck(loop), /no error found/);
        run('mount', loop, mnt);
        run('umount', mnt);
        const dmesg = run('dmesg').split('\n').slice(-200).join('\n');
        assert.doesNotMatch(dmesg, new RegExp(`(corrupt|bad tree block|csum failed)[^\\n]*${r.uuid}`));
      } finally {
        run('losetup', '-d', loop);
      }
    });
  }
});
