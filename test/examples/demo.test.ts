/**
 * The README's demo (`npm run demo`) runs to the end and leaves nothing behind: no mount, no loop
 * device, no image file; and interrupted half way (SIGINT, as Ctrl-C sends), it cleans up too.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { needsRoot } from '../helpers/scratch';

const DEMO = join(__dirname, '..', '..', 'examples', 'demo.js');

/** Demo directories, mounts and loop devices that exist now. */
function leftovers(): string[] {
  const found: string[] = [];
  for (const name of readdirSync(tmpdir())) if (name.startsWith('btrfs-demo-')) found.push(join(tmpdir(), name));
  for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) if (line.includes('/btrfs-demo-')) found.push(line);
  for (const name of readdirSync('/sys/block')) {
    try {
      const backing = readFileSync(`/sys/block/${name}/loop/backing_file`, 'utf8');
      if (backing.includes('/btrfs-demo-')) found.push(`/dev/${name}`);
    } catch {
      // not a bound loop device
    }
  }
  return found;
}

async function settle(): Promise<string[]> {
  for (let i = 0; i < 100 && leftovers().length > 0; i++) await new Promise((r) => setTimeout(r, 50));
  return leftovers();
}

describe('the demo (kernel)', { skip: needsRoot }, () => {
  it('runs to the end: RAID1 mkfs, mount, subvolumes, snapshots, a quota limit hit, usage; nothing left', async () => {
    assert.deepEqual(leftovers(), [], 'a previous run left something');
    const result = spawnSync(process.execPath, [DEMO], { encoding: 'utf8', timeout: 120_000 });
    assert.equal(result.status, 0, result.stdout + result.stderr);
    for (const expected of [/profiles \{"data":"raid1","metadata":"raid1","system":"raid1"\}/, /read-only: true; its parent uuid is www's uuid: true/, /EDQUOT/, /0\/257\s+www\s+referenced\s+3\d\.\d MiB/, /Done: nothing left/]) {
      assert.match(result.stdout, expected);
    }
    assert.deepEqual(await settle(), []);
  });

  it('cleans up when interrupted half way (SIGINT)', async () => {
    const child = spawn(process.execPath, [DEMO], { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    const interrupted = new Promise<number | null>((resolve) => {
      child.stdout.on('data', (chunk: Buffer) => {
        output += chunk.toString();
        // Once it has mounted and made subvolumes: the most there is to undo.
        if (output.includes('[5]') && !child.killed) child.kill('SIGINT');
      });
      child.on('exit', (code) => resolve(code));
    });
    const code = await interrupted;
    assert.equal(code, 130, output);
    assert.match(output, /SIGINT: cleaning up/);
    assert.deepEqual(await settle(), [], output);
    assert.equal(existsSync(join(tmpdir(), 'btrfs-demo-')), false);
  });
});
