/**
 * The command-line tool, run as the real binary (dist/cli/main.js, what `bin` points at) against a
 * scratch filesystem: JSON output equals the library's own results, human output looks like
 * btrfs-progs', and exit codes and stderr are right for bad input.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import * as btrfs from '../../src/index';
import { btrfsProgs, loopsBelow, mountsBelow, needsRoot, type Scratch, scratchBtrfs, scratchImages } from '../helpers/scratch';

const BIN = join(__dirname, '..', '..', '..', 'dist', 'cli', 'main.js');

function cli(...args: string[]): { code: number; stdout: string; stderr: string } {
  const result = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8' });
  return { code: result.status ?? -1, stdout: result.stdout, stderr: result.stderr };
}

function json(...args: string[]): unknown {
  const result = cli(...args, '--json');
  assert.equal(result.code, 0, result.stderr);
  return JSON.parse(result.stdout);
}

describe('btrfs-node CLI: usage (no root)', () => {
  it('help, version, unknown commands and bad options', () => {
    const help = cli('--help');
    assert.equal(help.code, 0);
    for (const command of ['subvolume create', 'subvolume list', 'qgroup show', 'mkfs', 'loop attach', 'device scan']) assert.ok(help.stdout.includes(command), command);
    assert.match(cli('--version').stdout, /^\d+\.\d+\.\d+/);
    const unknown = cli('frobnicate');
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /unknown command 'frobnicate'/);
    const bad = cli('subvolume', 'create', '--bogus', 'x');
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--bogus/);
    const count = cli('subvolume', 'show');
    assert.equal(count.code, 2);
    assert.match(count.stderr, /Usage: btrfs-node subvolume show/);
    assert.equal(cli('subvolume', 'create', '--json', '/tmp/x').code, 2, '--json only on read commands');
    assert.equal(cli('qgroup', 'limit', '10Q', '/tmp').code, 2);
    assert.equal(cli('property', 'set', '/tmp', 'ro', 'maybe').code, 2);
    assert.equal(cli('subvolume', 'show', '--help').code, 0);
  });

  it('an operation failure: exit 1, the errno name and the path on stderr', () => {
    const result = cli('subvolume', 'show', '/proc');
    assert.equal(result.code, 1);
    assert.match(result.stderr, /^btrfs-node: ERROR: ENOTTY: .*'\/proc'.*not a btrfs filesystem/);
    assert.equal(result.stdout, '');
    const missing = cli('subvolume', 'show', '/definitely/missing');
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /ENOENT: .*'\/definitely\/missing'/);
  });
});

describe('btrfs-node CLI: progress on a terminal only (no root: mkfs of an image file)', () => {
  it('mkfs shows a status line on a TTY and nothing on stderr when piped', async () => {
    const { main } = await import('../../src/cli/main');
    const { mkdtempSync, rmSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { Writable } = await import('node:stream');
    const dir = mkdtempSync(join(tmpdir(), 'btrfs-cli-'));
    try {
      for (const tty of [true, false]) {
        let out = '';
        let err = '';
        const stdout = Object.assign(new Writable({ write: (c, _e, cb) => ((out += c), cb()) }), { isTTY: false });
        const stderr = Object.assign(new Writable({ write: (c, _e, cb) => ((err += c), cb()) }), { isTTY: tty });
        const code = await main(['mkfs', '--create', '-b', '256M', '-f', join(dir, `${tty}.img`)], { stdout, stderr });
        assert.equal(code, 0, err);
        assert.match(out, /UUID:/);
        if (tty) assert.match(err, /formatting 1 device\(s\)\.\.\. \d+\.\d s/);
        else assert.equal(err, '');
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('btrfs-node CLI against a scratch filesystem (kernel)', { skip: needsRoot }, () => {
  let s: Scratch;
  let m: string;
  before(() => {
    s = scratchBtrfs();
    m = s.mnt;
  });
  after(() => s?.cleanup());

  it('subvolume create/snapshot/show/list: JSON equals the library, human output as progs', () => {
    assert.equal(cli('subvolume', 'create', `${m}/a`, `${m}/b`).code, 0);
    mkdirSync(`${m}/a/dir`);
    assert.equal(cli('subvolume', 'create', `${m}/a/dir/c`).code, 0);
    const snap = cli('subvolume', 'snapshot', '-r', `${m}/a`, `${m}/snap`);
    assert.equal(snap.code, 0, snap.stderr);
    assert.match(snap.stdout, /readonly snapshot of/);

    const shown = json('subvolume', 'show', `${m}/snap`) as Record<string, unknown>;
    const info = btrfs.subvolumeInfoSync(`${m}/snap`);
    assert.deepEqual(shown, JSON.parse(JSON.stringify(info)));
    const human = cli('subvolume', 'show', `${m}/snap`).stdout;
    assert.match(human, new RegExp(`Subvolume ID:\\s+${info.id}`));
    assert.match(human, /Flags:\s+readonly/);
    assert.match(human, new RegExp(`Parent UUID:\\s+${info.parentUuid}`));

    const listed = json('subvolume', 'list', m) as { path: string; id: number }[];
    assert.deepEqual(
      listed.map((e) => `${e.id} ${e.path}`),
      [...btrfs.subvolumesSync(m, { top: 5 })].map((e) => `${e.id} ${e.path}`),
    );
    const progs = btrfsProgs('subvolume', 'list', m)
      .trim()
      .split('\n')
      .map((l) => Number(/^ID (\d+)/.exec(l)![1]))
      .sort();
    assert.deepEqual(listed.map((e) => e.id).sort(), progs);
    const table = cli('subvolume', 'list', m).stdout;
    assert.match(table, /^\s*ID\s+GEN\s+PARENT\s+PATH/);
    assert.match(table, /a\/dir\/c/);
    const treeView = cli('subvolume', 'list', '--tree', m).stdout;
    assert.match(treeView, /^<FS_TREE>\n├── a {2}\[256\]\n│ {3}└── dir\/c {2}\[\d+\]/);
    const below = json('subvolume', 'list', '-o', `${m}/a`) as { path: string }[];
    assert.deepEqual(below.map((e) => e.path), ['dir/c']);
  });

  it('property, default subvolume, delete and sync', () => {
    assert.equal(cli('property', 'get', `${m}/snap`, 'ro').stdout.trim(), 'ro=true');
    assert.deepEqual(json('property', 'get', `${m}/snap`), { ro: true });
    assert.equal(cli('property', 'set', `${m}/snap`, 'ro', 'false').code, 0);
    assert.equal(btrfs.getSubvolumeReadOnlySync(`${m}/snap`), false);
    assert.equal(cli('subvolume', 'get-default', m).stdout.trim(), 'ID 5 (FS_TREE)');
    const id = btrfs.subvolumeIdSync(`${m}/b`);
    assert.equal(cli('subvolume', 'set-default', String(id), m).code, 0);
    assert.deepEqual(json('subvolume', 'get-default', m), { id });
    assert.match(cli('subvolume', 'get-default', m).stdout, new RegExp(`^ID ${id} path b`));
    cli('subvolume', 'set-default', '5', m);
    const del = cli('subvolume', 'delete', `${m}/snap`);
    assert.equal(del.code, 0, del.stderr);
    assert.equal(cli('subvolume', 'sync', m).code, 0);
    assert.deepEqual(btrfs.deletedSubvolumesSync(m), []);
    const refused = cli('subvolume', 'delete', `${m}/a`);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /ENOTEMPTY/);
    assert.equal(cli('subvolume', 'delete', '-R', `${m}/a`).code, 0);
    assert.equal(btrfs.isSubvolumeSync(`${m}/b`), true);
  });

  it('quota and qgroups: show --json equals qgroupInfo; limits in human units and --raw', () => {
    assert.equal(cli('quota', 'enable', m).code, 0);
    assert.equal(cli('quota', 'rescan', '-w', m).code, 0);
    const status = json('quota', 'status', m) as { enabled: boolean; mode: string };
    assert.equal(status.enabled, true);
    assert.equal(status.mode, 'full');
    assert.equal(cli('qgroup', 'create', '1/100', m).code, 0);
    const b = btrfs.subvolumeIdSync(`${m}/b`);
    assert.equal(cli('qgroup', 'assign', `0/${b}`, '1/100', m).code, 0);
    assert.equal(cli('qgroup', 'limit', '10M', '1/100', m).code, 0);
    writeFileSync(`${m}/b/data`, Buffer.alloc(1 << 20));
    btrfs.syncSync(m);
    assert.deepEqual(json('qgroup', 'show', m), JSON.parse(JSON.stringify(btrfs.qgroupInfoSync(m))));
    const human = cli('qgroup', 'show', '-pcre', m).stdout;
    assert.match(human, /1\/100\s+\S+\s+\S+\s+10\.00MiB\s+none\s+-\s+0\/\d+/);
    const raw = cli('qgroup', 'show', '-r', '--raw', m).stdout;
    assert.match(raw, /1\/100\s+\d+\s+\d+\s+10485760/);
    assert.equal(cli('qgroup', 'limit', 'none', '1/100', m).code, 0);
    assert.equal(btrfs.qgroupInfoSync(m).find((g) => g.qgroupid === btrfs.parseQgroupId('1/100'))!.maxRfer, null);
    const bad = cli('qgroup', 'create', '0/5', m);
    assert.notEqual(bad.code, 0);
    assert.equal(cli('quota', 'disable', m).code, 0);
    assert.deepEqual(json('quota', 'status', m), { enabled: false });
  });
});

describe('btrfs-node CLI: mkfs, mount, loop, device (kernel)', { skip: needsRoot }, () => {
  let s: ReturnType<typeof scratchImages>;
  before(() => {
    s = scratchImages({ count: 1, mkfs: false, size: 512 * 1024 ** 2 });
  });
  after(() => s?.cleanup());

  it('mkfs --json, mount --loop, loop list, umount leaves nothing', () => {
    const made = json('mkfs', '-L', 'clitest', '-f', s.images[0]!) as { uuid: string; label: string };
    assert.equal(made.label, 'clitest');
    assert.match(btrfsProgs('inspect-internal', 'dump-super', s.images[0]!), new RegExp(`fsid\\s+${made.uuid}`));
    const mounted = cli('mount', '--loop', '-o', 'compress=zstd', s.images[0]!, s.mnt);
    assert.equal(mounted.code, 0, mounted.stderr);
    assert.ok(mountsBelow(s.dir).includes(s.mnt));
    const loops = json('loop', 'list') as { path: string; backingFile: string }[];
    assert.ok(loops.some((l) => l.backingFile === s.images[0]));
    assert.match(cli('loop', 'list').stdout, /NAME\s+SIZELIMIT/);
    assert.equal(cli('umount', s.mnt).code, 0);
    const umountAgain = cli('umount', s.mnt);
    assert.equal(umountAgain.code, 1);
    assert.match(umountAgain.stderr, /EINVAL/);
    for (let i = 0; i < 100 && loopsBelow(s.dir).length; i++) spawnSync('sleep', ['0.02']);
    assert.deepEqual(loopsBelow(s.dir), []);
    const attached = json('loop', 'attach', '--ro', s.images[0]!) as { path: string };
    assert.match(attached.path, /^\/dev\/loop\d+$/);
    assert.equal(cli('device', 'ready', attached.path).code, 0);
    assert.equal(cli('device', 'scan', attached.path).code, 0);
    assert.equal(cli('device', 'scan', '--forget', attached.path).code, 0);
    assert.equal(cli('loop', 'detach', attached.path).code, 0);
    assert.deepEqual(loopsBelow(s.dir), []);
  });
});
