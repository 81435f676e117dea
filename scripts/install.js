#!/usr/bin/env node
// npm "install" step. Uses the prebuilt addon shipped in prebuilds/ when one loads on this machine;
// otherwise compiles native/btrfs.c with node-gyp (needs a C compiler and Node's headers).
'use strict';
const { existsSync } = require('node:fs');
const { join } = require('node:path');
const { spawnSync } = require('node:child_process');

const root = join(__dirname, '..');
const prebuilt = join(root, 'prebuilds', `${process.platform}-${process.arch}`, 'btrfs.node');

if (process.platform !== 'linux') {
  console.warn(`btrfs: Linux only; nothing to build on ${process.platform}`);
  process.exit(0);
}
if (process.env.BTRFS_BUILD_FROM_SOURCE !== '1' && existsSync(prebuilt)) {
  try {
    require(prebuilt);
    process.exit(0); // the prebuild loads: no compiler needed
  } catch (error) {
    console.warn(`btrfs: prebuilt addon did not load (${error.message}); building from source`);
  }
}
// npm puts its own node-gyp on PATH for lifecycle scripts; a local devDependency works too.
const args = ['rebuild'];
if (existsSync('/usr/include/node/node_api.h') && !process.env.npm_config_nodedir) args.push('--nodedir=/usr');
const result = spawnSync('node-gyp', args, { cwd: root, stdio: 'inherit', shell: false });
if (result.error) {
  console.error(`btrfs: could not run node-gyp (${result.error.message}). No prebuilt addon fits ${process.platform}-${process.arch}.`);
  process.exit(1);
}
process.exit(result.status ?? 1);
