#!/usr/bin/env node
// Runs the full mkfs cross product (test/mkfs/matrix.test.ts): every nodesize x csum x layout x
// feature set x size x label/uuid, each checked by btrfs check, dump-super and a normalized
// dump-tree against mkfs.btrfs. Needs btrfs-progs and a build of the tests (npm run build:test).
// Usage: node scripts/mkfs-matrix.js [substring filter]   (e.g. "4096 blake2")
'use strict';
const { spawnSync } = require('node:child_process');
const { join } = require('node:path');

const file = join(__dirname, '..', 'out', 'test', 'mkfs', 'matrix.test.js');
const env = { ...process.env, MKFS_MATRIX: '1' };
if (process.argv[2]) env.MKFS_MATRIX_FILTER = process.argv.slice(2).join(' ');
const result = spawnSync(process.execPath, ['--test', '--test-reporter=dot', file], { stdio: 'inherit', env });
process.exit(result.status ?? 1);
