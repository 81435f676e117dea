/**
 * The API docs build (`npm run docs`, TypeDoc) with no warning: every export documented, every
 * {@link} resolving. Runs TypeDoc in validation-only mode (nothing written).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, it } from 'node:test';

const root = join(__dirname, '..', '..', '..');

describe('API docs', () => {
  it('TypeDoc validates the public API with no warning', () => {
    const result = spawnSync(process.execPath, [join(root, 'node_modules', 'typedoc', 'bin', 'typedoc'), '--emit', 'none'], { cwd: root, encoding: 'utf8' });
    const output = `${result.stdout}${result.stderr}`.replace(/\x1b\[[0-9;]*m/g, '');
    assert.equal(result.status, 0, output);
    assert.ok(!/\[warning\]/.test(output), output);
  });
});
