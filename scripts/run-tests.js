#!/usr/bin/env node
// Runs every compiled test file (out/test/**/*.test.js) with node's test runner, one file at a
// time (each makes its own scratch filesystem; two at once would only compete for the 2 cores).
// Usage: node scripts/run-tests.js [substring filter...]
'use strict';
const { readdirSync, statSync } = require('node:fs');
const { join, relative } = require('node:path');
const { spawnSync } = require('node:child_process');

const root = join(__dirname, '..');
const filters = process.argv.slice(2);
const files = [];
(function walk(dir) {
  for (const name of readdirSync(dir).sort()) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) walk(path);
    else if (name.endsWith('.test.js')) files.push(path);
  }
})(join(root, 'out', 'test'));
const selected = files.filter((f) => filters.length === 0 || filters.some((s) => f.includes(s)));
if (selected.length === 0) {
  console.error('run-tests: no test files matched');
  process.exit(1);
}
console.error(`run-tests: ${selected.length} files: ${selected.map((f) => relative(root, f)).join(' ')}`);
const result = spawnSync(process.execPath, ['--test', '--test-concurrency=1', ...selected], { stdio: 'inherit', cwd: root });
process.exit(result.status ?? 1);
