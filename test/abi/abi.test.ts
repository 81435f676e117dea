/**
 * ABI test: compiles test/abi/abi.c against the system's UAPI headers (linux/btrfs.h, btrfs_tree.h,
 * loop.h, fs.h, magic.h), runs it, and compares every struct size, field offset and size, ioctl
 * number and constant with what src/kernel/ exports.
 *
 * Coverage is enumerated, not listed: every `layout(...)` and every UPPER_CASE number exported by a
 * src/kernel module must have its line in abi.c, and every line of abi.c must pair with an export.
 * A new codec or ioctl therefore fails here until abi.c's X-macro lists are extended.
 *
 * A missing C compiler fails the test (it does not skip): scripts/provision.sh installs gcc.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Field, Layout } from '../../src/kernel/struct';

const root = resolve(__dirname, '..', '..', '..');
const source = join(root, 'test', 'abi', 'abi.c');
const HOW_TO_EXTEND = 'extend the X-macro lists in test/abi/abi.c';

/**
 * Constants src/kernel defines that the 6.1 headers on this machine lack, with the reason. They are
 * skipped, and abi.c must not print them (if it can, the entry is stale). Their values were observed
 * on a 6.18 kernel (../shared/docs/kernel-interfaces.md §4.1, §5.8); test/kernel/quota.test.ts
 * exercises them (the statx bit: test/kernel/subvolume.test.ts).
 */
const ABSENT_FROM_HEADERS: Record<string, string> = {
  BTRFS_QUOTA_CTL_ENABLE_SIMPLE_QUOTA: 'QUOTA_CTL command 4 (simple quotas), added in Linux 6.7',
  BTRFS_QGROUP_STATUS_FLAG_SIMPLE_MODE: 'qgroup status flag 8 (simple quotas), added in Linux 6.7',
  STATX_SUBVOL: 'statx mask bit 0x8000 (subvolume ids), added in Linux 6.10; test/kernel/subvolume.test.ts checks the kernel sets it',
  STATX_SUBVOL_OFFSET: 'offset of stx_subvol (Linux 6.10), __spare3[0] in the 6.1 headers; checked on the kernel as above',
  STATX_MNT_ID_UNIQUE: 'statx mask bit 0x4000 (unique mount ids), added in Linux 6.8; test/kernel/subvolume.test.ts checks the kernel sets it',
};

/**
 * C members the TS layouts deliberately do not decode. No TS field may overlap them: a TS field
 * there would mean the layout claims bytes the header gives to something else.
 */
const NOT_DECODED: Record<string, string> = {
  'btrfs_qgroup_inherit.qgroups': 'caller-sized u64 array after the struct (encodeQgroupInherit)',
  'btrfs_ioctl_get_subvol_info_args.reserved': 'reserved',
  'btrfs_ioctl_get_subvol_rootref_args.rootref': 'read by index with ROOTREF_OFFSET and ROOTREF_SIZE',
  'btrfs_ioctl_search_args.buf': 'result area at SEARCH_ARGS_BUF_OFFSET, walked by searchItems',
  'btrfs_ioctl_search_args_v2.buf': 'caller-sized result area at SEARCH_ARGS_V2_BUF_OFFSET',
  'btrfs_root_item.inode': 'the 160-byte inode item of the root directory is not decoded',
  'btrfs_root_item.drop_progress': 'only used by the kernel while dropping a tree',
  'btrfs_root_item.reserved': 'reserved',
  'btrfs_ioctl_quota_rescan_args.reserved': 'reserved',
};

interface CFacts {
  sizes: Map<string, number>;
  fields: Map<string, { offset: number; size: number }>;
  values: Map<string, bigint>;
}

type AnyLayout = Layout<Record<string, Field<unknown>>>;

function isLayout(value: unknown): value is AnyLayout {
  if (value === null || typeof value !== 'object') return false;
  const v = value as Partial<AnyLayout>;
  return typeof v.name === 'string' && typeof v.size === 'number' && typeof v.fields === 'object' && typeof v.encode === 'function';
}

/** Every compiled src/kernel module whose source still exists (out/ may hold stale files). */
function kernelModules(): [string, Record<string, unknown>][] {
  const names = readdirSync(join(root, 'src', 'kernel'))
    .filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts'))
    .map((f) => f.slice(0, -3))
    .sort();
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return names.map((name) => [name, require(join(root, 'out', 'src', 'kernel', `${name}.js`)) as Record<string, unknown>]);
}

/** The TS side: layouts by C struct name, named numbers by export name. */
function tsFacts() {
  const layouts = new Map<string, { layout: AnyLayout; where: string }>();
  const values = new Map<string, { value: number | bigint; where: string }>();
  for (const [module, exports] of kernelModules()) {
    for (const [key, value] of Object.entries(exports)) {
      const where = `src/kernel/${module}.ts: ${key}`;
      if (isLayout(value)) {
        const seen = layouts.get(value.name);
        assert.ok(!seen || seen.layout === value, `two layouts named ${value.name}: ${seen?.where} and ${where}`);
        if (!seen) layouts.set(value.name, { layout: value, where });
      } else if (/^[A-Z][A-Z0-9_]*$/.test(key) && (typeof value === 'number' || typeof value === 'bigint')) {
        const seen = values.get(key);
        assert.ok(!seen || BigInt(seen.value) === BigInt(value), `${key} differs between ${seen?.where} and ${where}`);
        if (!seen) values.set(key, { value, where });
      }
    }
  }
  return { layouts, values };
}

function parse(output: string): CFacts {
  const facts: CFacts = { sizes: new Map(), fields: new Map(), values: new Map() };
  for (const line of output.split('\n')) {
    if (line === '') continue;
    let m: RegExpExecArray | null;
    if ((m = /^(\w+) sizeof (\d+)$/.exec(line))) facts.sizes.set(m[1]!, Number(m[2]));
    else if ((m = /^(\w+\.\w+) (\d+) (\d+)$/.exec(line))) facts.fields.set(m[1]!, { offset: Number(m[2]), size: Number(m[3]) });
    else if ((m = /^(\w+) (\d+)$/.exec(line))) facts.values.set(m[1]!, BigInt(m[2]!));
    else assert.fail(`abi.c printed a line the test cannot read: ${JSON.stringify(line)}`);
  }
  return facts;
}

describe('ABI: src/kernel codecs against the C headers', () => {
  let dir: string;
  let c: CFacts;
  const ts = tsFacts();

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'btrfs-abi-'));
    const exe = join(dir, 'abi');
    try {
      execFileSync('cc', ['-std=gnu11', '-Wall', '-Wextra', '-Werror', '-o', exe, source], { stdio: ['ignore', 'pipe', 'pipe'] });
    } catch (error) {
      const e = error as NodeJS.ErrnoException & { stderr?: Buffer };
      if (e.code === 'ENOENT') throw new Error('cc not found: the ABI test needs a C compiler (scripts/provision.sh installs gcc)');
      throw new Error(`cc failed to compile test/abi/abi.c:\n${e.stderr?.toString() ?? e.message}`);
    }
    c = parse(execFileSync(exe, { encoding: 'utf8' }));
  });

  after(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('finds the codecs it is meant to check', () => {
    // Guards the enumeration itself: if it silently found nothing, every other test would pass.
    for (const name of ['btrfs_ioctl_vol_args_v2', 'btrfs_ioctl_search_args_v2', 'btrfs_root_item', 'btrfs_dir_item']) {
      assert.ok(ts.layouts.has(name), `layout ${name} not found among src/kernel exports`);
    }
    for (const name of ['BTRFS_IOC_TREE_SEARCH_V2', 'BTRFS_IOC_GET_SUBVOL_INFO', 'BTRFS_SUPER_MAGIC', 'ROOTREF_OFFSET']) {
      assert.ok(ts.values.has(name), `${name} not found among src/kernel exports`);
    }
    assert.ok(c.sizes.size >= 16 && c.fields.size >= 100 && c.values.size >= 50, 'abi.c printed too little');
  });

  it('every layout size equals sizeof', () => {
    const problems: string[] = [];
    for (const [name, { layout, where }] of ts.layouts) {
      const size = c.sizes.get(name);
      if (size === undefined) problems.push(`${where}: struct ${name} is not in STRUCTS; ${HOW_TO_EXTEND}`);
      else if (size !== layout.size) problems.push(`${where}: size ${layout.size}, but sizeof(struct ${name}) = ${size}`);
    }
    assert.deepEqual(problems, []);
  });

  it('every layout field has the offset and size of the C member', () => {
    const problems: string[] = [];
    for (const [name, { layout, where }] of ts.layouts) {
      for (const [key, field] of Object.entries(layout.fields)) {
        const cf = c.fields.get(`${name}.${key}`);
        if (!cf) problems.push(`${where}.${key}: ${name}.${key} is not in FIELDS; ${HOW_TO_EXTEND}`);
        else if (cf.offset !== field.offset || cf.size !== field.size) {
          problems.push(`${where}.${key}: offset ${field.offset} size ${field.size}, but C has offset ${cf.offset} size ${cf.size}`);
        }
      }
    }
    assert.deepEqual(problems, []);
  });

  it('members the TS side does not decode are listed, and no TS field overlaps them', () => {
    const problems: string[] = [];
    for (const [member, { offset, size }] of c.fields) {
      const [name, key] = member.split('.') as [string, string];
      const entry = ts.layouts.get(name);
      if (!entry || key in entry.layout.fields) continue;
      if (!(member in NOT_DECODED)) {
        problems.push(`${member}: printed by abi.c but absent from the TS layout; decode it, or list it in NOT_DECODED`);
        continue;
      }
      // A flexible array (size 0) starts where the fixed part ends.
      if (size === 0 && offset !== entry.layout.size) problems.push(`${member}: flexible array at ${offset}, TS size ${entry.layout.size}`);
      for (const [other, field] of Object.entries(entry.layout.fields)) {
        if (field.offset < offset + size && offset < field.offset + field.size) {
          problems.push(`${name}.${other} [${field.offset}, +${field.size}) overlaps the undecoded ${member} [${offset}, +${size})`);
        }
      }
    }
    for (const member of Object.keys(NOT_DECODED)) {
      const [name, key] = member.split('.') as [string, string];
      if (!c.fields.has(member)) problems.push(`NOT_DECODED lists ${member}, which abi.c does not print`);
      else if (key in (ts.layouts.get(name)?.layout.fields ?? {})) problems.push(`NOT_DECODED lists ${member}, but the TS layout decodes it`);
    }
    assert.deepEqual(problems, []);
  });

  it('every ioctl number and constant equals the header value', () => {
    const problems: string[] = [];
    for (const [name, { value, where }] of ts.values) {
      if (name in ABSENT_FROM_HEADERS) {
        if (c.values.has(name)) problems.push(`${name} is in the headers after all; drop it from ABSENT_FROM_HEADERS`);
        continue;
      }
      const header = c.values.get(name);
      if (header === undefined) problems.push(`${where}: ${name} is not in VALUES; ${HOW_TO_EXTEND} (or list it in ABSENT_FROM_HEADERS)`);
      else if (BigInt(value) !== header) {
        problems.push(`${where}: ${name} = ${value} (0x${BigInt(value).toString(16)}), header says ${header} (0x${header.toString(16)})`);
      }
    }
    assert.deepEqual(problems, []);
  });

  it('ioctl request numbers are unsigned 32-bit JavaScript numbers', () => {
    // Request numbers (and the small loop/block constants sharing these prefixes, which fit as well).
    const ioctls = [...ts.values].filter(([name]) => /^(BTRFS_IOC_|FS_IOC_|LOOP_|BLK)/.test(name));
    assert.ok(ioctls.length >= 18, `only ${ioctls.length} ioctl numbers found`);
    for (const [name, { value }] of ioctls) {
      assert.equal(typeof value, 'number', `${name} should be a number (the native layer takes an unsigned 32-bit request)`);
      assert.ok(Number.isInteger(value) && (value as number) >= 0 && (value as number) < 2 ** 32, `${name} = ${value} is not an unsigned 32-bit value`);
    }
  });

  it('every line abi.c prints pairs with a src/kernel export', () => {
    const problems: string[] = [];
    for (const name of c.sizes.keys()) if (!ts.layouts.has(name)) problems.push(`abi.c prints struct ${name}, but no src/kernel layout names it`);
    for (const member of c.fields.keys()) {
      if (!ts.layouts.has(member.split('.')[0]!)) problems.push(`abi.c prints ${member}, but no src/kernel layout names its struct`);
    }
    for (const name of c.values.keys()) if (!ts.values.has(name)) problems.push(`abi.c prints ${name}, but no src/kernel module exports it`);
    assert.deepEqual(problems, []);
  });
});
