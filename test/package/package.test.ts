/**
 * The package as a user receives it. `npm pack` (whose prepack runs the TypeScript build and
 * scripts/prebuild.js), then `npm install <tarball>` into a fresh project whose PATH holds node and
 * npm only, so a compile from source could not happen. Then: the tarball's contents, `require` and
 * `import` of the installed copy, TypeScript consumers (commonjs and nodenext), the loader's error,
 * and the ELF facts of both prebuilds. No root needed; needs gcc, gcc-aarch64-linux-gnu, readelf.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import {
  closeSync,
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  readSync,
  readdirSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { after, before, describe, test } from 'node:test';

const repo = join(__dirname, '..', '..', '..'); // out/test/package → the repository

/** scripts/verify-glibc.js, typed for the parts used here. */
interface AddonReport {
  machine: string | null;
  needed: string[];
  versionNeeds: { file: string; version: string }[];
  glibcFloor: string | null;
  libc: string[];
  node: string[];
  stripped: boolean;
  problems: string[];
}
const verify = require(join(repo, 'scripts', 'verify-glibc.js')) as {
  compareVersions(a: string, b: string): number;
  inspectAddon(file: string, arch?: string, options?: { requireStripped?: boolean }): AddonReport;
};

/** Finds an executable on the current PATH (the test's own, not the stripped one). */
function which(name: string): string {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    const candidate = join(dir, name);
    if (dir && existsSync(candidate)) return candidate;
  }
  throw new Error(`${name} not found on PATH`);
}

let work: string; // temp root, removed in after()
let tarball: string;
let packed: string[]; // tarball entries, without the leading package/
let consumer: string; // the project the tarball was installed into
let installed: string; // consumer/node_modules/btrfs
let env: NodeJS.ProcessEnv; // PATH with node and npm only, no compiler

/** Runs node in the consumer project with the compiler-free environment; returns parsed JSON stdout. */
function nodeJson(args: string[], extraEnv: NodeJS.ProcessEnv = {}, cwd = consumer): Record<string, unknown> {
  const result = spawnSync('node', args, { cwd, env: { ...env, ...extraEnv }, encoding: 'utf8' });
  assert.equal(result.status, 0, `node ${args.join(' ')} failed:\n${result.stderr}`);
  return JSON.parse(result.stdout) as Record<string, unknown>;
}

function tsc(project: string): void {
  const result = spawnSync(process.execPath, [join(repo, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', project], {
    cwd: consumer,
    encoding: 'utf8',
  });
  assert.equal(result.status, 0, `tsc -p ${project}:\n${result.stdout}${result.stderr}`);
}

before(() => {
  work = mkdtempSync(join(tmpdir(), 'btrfs-package-'));

  // The tarball, built the way `npm publish` builds it (prepack included).
  execFileSync('npm', ['pack', '--pack-destination', work], { cwd: repo, stdio: ['ignore', 'ignore', 'pipe'] });
  const name = readdirSync(work).find((f) => f.endsWith('.tgz'));
  assert.ok(name, 'npm pack wrote no tarball');
  tarball = join(work, name);
  packed = execFileSync('tar', ['-tzf', tarball], { encoding: 'utf8' })
    .split('\n')
    .filter(Boolean)
    .map((entry) => entry.replace(/^package\//, ''));

  // A PATH with node, npm and sh (npm runs lifecycle scripts through it) and nothing else: no cc,
  // gcc, make or python, so the install step must take the prebuild. CC/CXX point at /bin/false in
  // case anything looks there instead.
  const bin = join(work, 'bin');
  mkdirSync(bin);
  symlinkSync(process.execPath, join(bin, 'node'));
  symlinkSync(which('npm'), join(bin, 'npm'));
  symlinkSync(which('sh'), join(bin, 'sh'));
  env = { PATH: bin, HOME: process.env.HOME ?? work, CC: '/bin/false', CXX: '/bin/false', LC_ALL: 'C' };

  consumer = join(work, 'consumer');
  mkdirSync(consumer);
  writeFileSync(join(consumer, 'package.json'), JSON.stringify({ name: 'consumer', version: '1.0.0', private: true }));
  const install = spawnSync('npm', ['install', '--offline', '--no-audit', '--no-fund', tarball], {
    cwd: consumer,
    env,
    encoding: 'utf8',
  });
  assert.equal(install.status, 0, `npm install (no compiler on PATH) failed:\n${install.stdout}${install.stderr}`);
  installed = join(consumer, 'node_modules', 'btrfs');
});

after(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('npm pack', () => {
  test('ships the builds, both prebuilds, the sources to rebuild from, and the docs', () => {
    for (const file of [
      'package.json',
      'dist/index.js',
      'dist/index.mjs',
      'dist/index.d.ts',
      'dist/index.d.mts',
      'prebuilds/linux-x64/btrfs.node',
      'prebuilds/linux-arm64/btrfs.node',
      'native/btrfs.c',
      'binding.gyp',
      'scripts/install.js',
      'LICENSE',
    ]) {
      assert.ok(packed.includes(file), `${file} missing from the tarball`);
    }
  });

  // npm always packs a README when there is one; this only guards against "files" or .npmignore
  // hiding it. Skipped, visibly, until the repository has one.
  const noReadme = !existsSync(join(repo, 'README.md')) && 'README.md not written yet';
  test('ships README.md', { skip: noReadme }, () => {
    assert.ok(packed.includes('README.md'), 'README.md missing from the tarball');
  });

  test('leaves out sources, tests and local build output', () => {
    const source = (f: string) => /\.(c|m)?ts$/.test(f) && !/\.d\.(c|m)?ts$/.test(f);
    const stray = packed.filter((f) => /^(src|test|out|build|bench|examples|node_modules)\//.test(f) || source(f));
    assert.deepEqual(stray, []);
  });
});

describe('installed without a compiler', () => {
  test('the btrfs-node bin is linked and runs', () => {
    const bin = join(consumer, 'node_modules', '.bin', 'btrfs-node');
    assert.ok(existsSync(bin), 'node_modules/.bin/btrfs-node missing');
    const version = spawnSync(bin, ['--version'], { encoding: 'utf8', env });
    assert.equal(version.status, 0, version.stderr);
    assert.equal(version.stdout.trim(), JSON.parse(readFileSync(join(installed, 'package.json'), 'utf8')).version);
    const failed = spawnSync(bin, ['subvolume', 'show', '/proc'], { encoding: 'utf8', env });
    assert.equal(failed.status, 1);
    assert.match(failed.stderr, /ENOTTY/);
  });

  test('the install step used the prebuild: nothing was compiled', () => {
    assert.ok(existsSync(join(installed, 'prebuilds', 'linux-x64', 'btrfs.node')));
    assert.equal(existsSync(join(installed, 'build')), false, 'install.js compiled from source');
  });

  test('require() loads the prebuilt addon and reaches the kernel', () => {
    writeFileSync(
      join(consumer, 'check.cjs'),
      `const btrfs = require('btrfs');
let kind;
try { btrfs.subvolumeIdSync('/proc'); kind = 'no error'; }
catch (e) { kind = e instanceof btrfs.BtrfsError ? e.kind : 'not a BtrfsError: ' + e.message; }
console.log(JSON.stringify({
  names: Object.keys(btrfs).sort(),
  kind,
  isSubvolume: typeof btrfs.isSubvolumeSync('/'),
  addons: Object.keys(require.cache).filter((k) => k.endsWith('.node')),
}));
`,
    );
    const out = nodeJson(['check.cjs']);
    for (const name of ['subvolumeInfoSync', 'subvolumeInfo', 'createSnapshot', 'createSnapshotSync', 'BtrfsError']) {
      assert.ok((out.names as string[]).includes(name), `require('btrfs') lacks ${name}`);
    }
    // An ioctl on procfs fails with ENOTTY, classified NOT_BTRFS: the addon loaded and ran.
    assert.equal(out.kind, 'NOT_BTRFS');
    assert.equal(out.isSubvolume, 'boolean');
    assert.deepEqual(out.addons, [join(installed, 'prebuilds', 'linux-x64', 'btrfs.node')]);
  });

  test('import() gives the same functions as require(), sync and async', () => {
    writeFileSync(
      join(consumer, 'check.mjs'),
      `import * as btrfs from 'btrfs';
import btrfsDefault, { BtrfsError, subvolumeId } from 'btrfs';
import { createRequire } from 'node:module';
const cjs = createRequire(import.meta.url)('btrfs');
const names = Object.keys(btrfs).filter((n) => n !== 'default').sort();
let kind;
try { await subvolumeId('/proc'); kind = 'no error'; }
catch (e) { kind = e instanceof BtrfsError ? e.kind : 'not a BtrfsError: ' + e.message; }
console.log(JSON.stringify({
  names,
  cjsNames: Object.keys(cjs).sort(),
  same: names.every((n) => btrfs[n] === cjs[n]),
  defaultIsCjs: btrfsDefault === cjs,
  kind,
}));
`,
    );
    const out = nodeJson(['check.mjs']);
    assert.deepEqual(out.names, out.cjsNames);
    assert.ok((out.names as string[]).includes('subvolumeInfoSync'));
    assert.equal(out.same, true, 'ESM and CommonJS exports are different objects');
    assert.equal(out.defaultIsCjs, true);
    assert.equal(out.kind, 'NOT_BTRFS');
  });
});

describe('TypeScript consumers', () => {
  // The types must be real: an id is a number, so assigning it to a string has to fail.
  const usage = (from: string) => `import { BtrfsError, subvolumeIdSync, subvolumeInfo, type SubvolumeInfo } from ${from};

export async function describeSubvolume(path: string): Promise<string> {
  const info: SubvolumeInfo = await subvolumeInfo(path);
  const created: Date = info.otime;
  return \`\${info.id} \${info.uuid ?? '-'} \${info.readOnly} \${created.toISOString()}\`;
}

export function kindOf(error: unknown): string | undefined {
  return error instanceof BtrfsError ? error.kind : undefined;
}

// @ts-expect-error subvolumeIdSync returns a number
export const wrong: string = subvolumeIdSync('/');
`;
  const compilerOptions = {
    strict: true,
    noEmit: true,
    target: 'ES2022',
    lib: ['ES2022'],
    skipLibCheck: false, // check our .d.ts files too, not only their use
    types: ['node'],
    typeRoots: [join(repo, 'node_modules', '@types')],
  };

  test('"module": "commonjs" resolves dist/index.d.ts', () => {
    mkdirSync(join(consumer, 'ts-cjs'));
    writeFileSync(join(consumer, 'ts-cjs', 'use.ts'), usage("'btrfs'"));
    writeFileSync(
      join(consumer, 'ts-cjs', 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: { ...compilerOptions, module: 'commonjs', moduleResolution: 'node10' },
        files: ['use.ts'],
      }),
    );
    tsc('ts-cjs');
  });

  test('"module": "nodenext" resolves dist/index.d.mts for import and dist/index.d.ts for require', () => {
    const dir = join(consumer, 'ts-esm');
    mkdirSync(dir);
    writeFileSync(join(dir, 'package.json'), JSON.stringify({ type: 'module' }));
    writeFileSync(
      join(dir, 'use.ts'),
      `${usage("'btrfs'")}
import btrfs from 'btrfs';
export const viaDefault: number = btrfs.subvolumeIdSync('/');
`,
    );
    writeFileSync(
      join(dir, 'use-require.cts'),
      `import btrfs = require('btrfs');
export const id: number = btrfs.subvolumeIdSync('/');
export const info: Promise<btrfs.SubvolumeInfo> = btrfs.subvolumeInfo('/');
`,
    );
    writeFileSync(
      join(dir, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: { ...compilerOptions, module: 'nodenext', moduleResolution: 'nodenext' },
        files: ['use.ts', 'use-require.cts'],
      }),
    );
    tsc('ts-esm');
  });
});

describe('the loader', () => {
  test('when nothing loads, the error lists every path tried and why', () => {
    // A copy of the installed package without build/, and a prebuild for the wrong machine.
    const bare = join(work, 'bare');
    cpSync(join(installed, 'dist'), join(bare, 'dist'), { recursive: true });
    cpSync(join(installed, 'package.json'), join(bare, 'package.json'));
    mkdirSync(join(bare, 'prebuilds', 'linux-x64'), { recursive: true });
    const wrongMachine = join(installed, 'prebuilds', 'linux-arm64', 'btrfs.node');
    cpSync(wrongMachine, join(bare, 'prebuilds', 'linux-x64', 'btrfs.node'));
    const script = `try { require('./dist/index.js').subvolumeIdSync('/'); console.log('{}'); }
catch (e) { console.log(JSON.stringify({ message: e.message })); }`;
    const missing = join(work, 'nonexistent', 'btrfs.node');
    const { message } = nodeJson(['-e', script], { BTRFS_NATIVE_PATH: missing }, bare) as { message: string };
    const lines = message.split('\n');
    assert.match(lines[0] ?? '', /could not load the native addon for linux-x64/);
    assert.ok(lines.includes(`  ${missing}: not found`), message);
    assert.ok(lines.includes(`  ${join(bare, 'build', 'Release', 'btrfs.node')}: not found`), message);
    // dlopen's own reason for the wrong-machine file, after its path.
    const prebuild = join(bare, 'prebuilds', 'linux-x64', 'btrfs.node');
    assert.ok(lines.some((l) => l.startsWith(`  ${prebuild}: `) && !l.endsWith(': not found')), message);
  });
});

describe('prebuilds', () => {
  for (const [arch, machine, name] of [
    ['x64', 62, 'x86-64'],
    ['arm64', 183, 'AArch64'],
  ] as const) {
    test(`linux-${arch}: ${name}, libc only, glibc <= 2.17, stripped`, () => {
      const file = join(installed, 'prebuilds', `linux-${arch}`, 'btrfs.node');
      // e_machine read here directly, not through the verifier: offset 18, little-endian u16.
      const header = Buffer.alloc(20);
      const fd = openSync(file, 'r');
      try {
        readSync(fd, header, 0, 20, 0);
      } finally {
        closeSync(fd);
      }
      assert.equal(header.toString('latin1', 0, 4), '\x7fELF');
      assert.equal(header.readUInt16LE(18), machine);

      const report = verify.inspectAddon(file, arch, { requireStripped: true });
      assert.deepEqual(report.problems, []);
      assert.equal(report.machine, name);
      assert.deepEqual(report.needed, ['libc.so.6']); // no libpthread: pthread_* bind to libc's versions
      assert.ok(report.versionNeeds.every((n) => n.file === 'libc.so.6'));
      const floor = report.glibcFloor;
      assert.ok(floor !== null && verify.compareVersions(floor, '2.17') <= 0, `glibc floor ${floor}`);
      assert.ok(report.libc.some((s) => s.startsWith('ioctl@GLIBC_')));
      assert.ok(report.node.includes('napi_create_async_work'));
      assert.equal(report.stripped, true);
    });
  }
});
