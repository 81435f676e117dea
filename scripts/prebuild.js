#!/usr/bin/env node
// Builds the addons shipped inside the npm package: prebuilds/linux-x64/btrfs.node and
// prebuilds/linux-arm64/btrfs.node. Runs at `npm pack` (prepack) and as `npm run build:prebuilds`.
//
// Written here rather than using prebuildify because that downloads Node's headers; this only uses
// the headers already on the machine (--nodedir, /usr by default). Each arch is built by node-gyp in
// a temp copy of binding.gyp + native/, so the local build/Release (what the tests load) is never
// touched. The arch that is not the host's is cross-built with Debian's cross gcc
// (gcc-aarch64-linux-gnu + libc6-dev-arm64-cross, or gcc-x86-64-linux-gnu). Each result is stripped
// and then checked by scripts/verify-glibc.js (ELF machine, libc-only imports, glibc floor 2.17);
// any problem fails the build, so a bad binary cannot be packed.
//
// Usage: node scripts/prebuild.js [arch...]   (default: x64 arm64)
'use strict';
const { spawnSync } = require('node:child_process');
const { copyFileSync, cpSync, existsSync, mkdirSync, mkdtempSync, renameSync, rmSync, statSync } = require('node:fs');
const { tmpdir } = require('node:os');
const { join } = require('node:path');
const { MACHINES, formatReport, inspectAddon } = require('./verify-glibc.js');

const root = join(__dirname, '..');
/** GNU triplet prefixes of the cross toolchains, by Node arch. */
const CROSS_PREFIX = { x64: 'x86_64-linux-gnu-', arm64: 'aarch64-linux-gnu-' };

function fail(message) {
  console.error(`prebuild: ${message}`);
  process.exit(1);
}

function run(command, args, options = {}) {
  const result = spawnSync(command, args, { stdio: 'inherit', ...options });
  if (result.error) fail(`could not run ${command}: ${result.error.message}`);
  if (result.status !== 0) fail(`${command} ${args.join(' ')} exited with ${result.status ?? result.signal}`);
}

/** Headers already on disk; never let node-gyp fall back to downloading them. */
function nodeDir() {
  const dir = process.env.npm_config_nodedir || '/usr';
  if (!existsSync(join(dir, 'include', 'node', 'node_api.h'))) {
    fail(`no Node headers in ${dir}/include/node (set npm_config_nodedir); refusing to download them`);
  }
  return dir;
}

/** Compiler environment and strip tool for `arch`: the host's own, or the cross toolchain. */
function toolchain(arch) {
  if (arch === process.arch) return { env: process.env, strip: 'strip' };
  const prefix = CROSS_PREFIX[arch];
  const gcc = `${prefix}gcc`;
  if (spawnSync(gcc, ['--version'], { stdio: 'ignore' }).status !== 0) {
    const pkg = `gcc-${prefix.slice(0, -1).replace(/_/g, '-')}`;
    const libc = `libc6-dev-${arch === 'arm64' ? 'arm64' : 'amd64'}-cross`;
    fail(`cross compiler ${gcc} not found (apt-get install -y ${pkg} ${libc})`);
  }
  const env = { ...process.env, CC: gcc, CXX: `${prefix}g++`, LINK: gcc, AR: `${prefix}ar` };
  return { env, strip: `${prefix}strip` };
}

function build(arch, nodedir) {
  const { env, strip } = toolchain(arch);
  const work = mkdtempSync(join(tmpdir(), `btrfs-prebuild-${arch}-`));
  try {
    copyFileSync(join(root, 'binding.gyp'), join(work, 'binding.gyp'));
    cpSync(join(root, 'native'), join(work, 'native'), { recursive: true });
    const nodeGyp = require.resolve('node-gyp/bin/node-gyp.js', { paths: [root] });
    const args = [nodeGyp, 'rebuild', `--nodedir=${nodedir}`, `--arch=${arch}`, '--loglevel=warn'];
    run(process.execPath, args, { cwd: work, env });
    const built = join(work, 'build', 'Release', 'btrfs.node');
    // --strip-unneeded keeps .dynsym (what the loader and the verifier need), drops the rest.
    run(strip, ['--strip-unneeded', built]);
    const report = inspectAddon(built, arch, { requireStripped: true });
    console.log(formatReport({ ...report, file: `prebuilds/linux-${arch}/btrfs.node` }));
    if (report.problems.length > 0) fail(`linux-${arch} build failed verification`);
    const dest = join(root, 'prebuilds', `linux-${arch}`);
    mkdirSync(dest, { recursive: true });
    // Copy next to the target, then rename: an interrupted run never leaves half a binary to ship.
    copyFileSync(built, join(dest, 'btrfs.node.tmp'));
    renameSync(join(dest, 'btrfs.node.tmp'), join(dest, 'btrfs.node'));
    console.log(`prebuild: prebuilds/linux-${arch}/btrfs.node (${statSync(join(dest, 'btrfs.node')).size} bytes)`);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

if (process.platform !== 'linux') fail(`prebuilds are built on Linux (this is ${process.platform})`);
const arches = process.argv.length > 2 ? process.argv.slice(2) : Object.keys(MACHINES);
for (const arch of arches) {
  if (!(arch in MACHINES)) fail(`unknown arch ${arch}; known: ${Object.keys(MACHINES).join(', ')}`);
}
const nodedir = nodeDir();
for (const arch of arches) build(arch, nodedir);
