#!/usr/bin/env node
// Checks a built addon before it ships, as node-pty's scripts/linux/verify-glibc-requirements.sh
// does: the ELF header names the expected machine, the only library it needs is libc.so.6, every
// symbol it imports is either a versioned glibc symbol or a Node-API function (resolved from the
// node binary that loads it), and the newest GLIBC_x.y version it references is at most the floor
// (2.17, the oldest glibc that has aarch64). Uses binutils' readelf, which reads any architecture.
// Build-time only: the library itself never runs a tool.
//
// Usage: node scripts/verify-glibc.js [--json] [file...]
//   Without files, checks prebuilds/linux-*/btrfs.node; the expected arch is the linux-<arch> folder.
'use strict';
const { execFileSync } = require('node:child_process');
const { closeSync, existsSync, openSync, readSync, readdirSync } = require('node:fs');
const { basename, dirname, join } = require('node:path');

/** elf.h e_machine values for the architectures we ship, by Node's process.arch name. */
const MACHINES = { x64: 62 /* EM_X86_64 */, arm64: 183 /* EM_AARCH64 */ };
const MACHINE_NAMES = { 62: 'x86-64', 183: 'AArch64' };
const GLIBC_FLOOR = '2.17';

/** Reads the ELF identification and header fields we care about (elf.h Elf64_Ehdr). */
function readElfHeader(file) {
  const header = Buffer.alloc(64);
  const fd = openSync(file, 'r');
  try {
    readSync(fd, header, 0, header.length, 0);
  } finally {
    closeSync(fd);
  }
  if (header.readUInt32BE(0) !== 0x7f454c46) return { elf: false };
  const is64 = header[4] === 2; // EI_CLASS: ELFCLASS64
  const littleEndian = header[5] === 1; // EI_DATA: ELFDATA2LSB
  const u16 = (offset) => (littleEndian ? header.readUInt16LE(offset) : header.readUInt16BE(offset));
  return { elf: true, is64, littleEndian, type: u16(16), machine: u16(18) };
}

function readelf(args, file) {
  // LC_ALL=C: the parsers below read readelf's English headings.
  return execFileSync('readelf', ['-W', ...args, file], {
    encoding: 'utf8',
    env: { ...process.env, LC_ALL: 'C' },
    maxBuffer: 1 << 30, // a whole node binary lists ~75k symbols
  });
}

/** Compares dotted version strings numerically ('2.2.5' < '2.17'). */
function compareVersions(a, b) {
  const x = a.split('.').map(Number);
  const y = b.split('.').map(Number);
  for (let i = 0; i < Math.max(x.length, y.length); i++) {
    const d = (x[i] ?? 0) - (y[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

/** The (NEEDED) entries of the dynamic section. */
function neededLibraries(file) {
  return [...readelf(['-d'], file).matchAll(/\(NEEDED\)\s+Shared library: \[([^\]]+)\]/g)].map((m) => m[1]);
}

/** The .gnu.version_r entries: which version names are required from which file. */
function versionNeeds(file) {
  const needs = [];
  let inNeeds = false;
  let current;
  for (const line of readelf(['-V'], file).split('\n')) {
    if (/^Version \w+ section/.test(line)) inNeeds = line.startsWith('Version needs section');
    if (!inNeeds) continue;
    const fileMatch = /File: (\S+)/.exec(line);
    if (fileMatch) current = fileMatch[1];
    const nameMatch = /Name: (\S+)/.exec(line);
    if (nameMatch) needs.push({ file: current, version: nameMatch[1] });
  }
  return needs;
}

/** Undefined (imported) dynamic symbols, with their version when they carry one. */
function importedSymbols(file) {
  const imports = [];
  for (const line of readelf(['--dyn-syms'], file).split('\n')) {
    // Num: Value Size Type Bind Vis Ndx Name [(version index)]
    const m = /^\s*\d+:\s+[0-9a-f]+\s+\d+\s+\w+\s+(\w+)\s+\w+\s+UND\s+(\S+)/.exec(line);
    if (!m) continue;
    const [name, version] = m[2].split(/@+/);
    imports.push({ name, version: version ?? null, weak: m[1] === 'WEAK' });
  }
  return imports;
}

function hasSymtab(file) {
  return /\]\s+\.symtab\s/.test(readelf(['-S'], file));
}

/**
 * Inspects one addon and lists every problem found (an empty `problems` means it may ship).
 * @param {string} file path to a .node file
 * @param {string} [arch] expected Node arch ('x64', 'arm64'); unchecked when omitted
 * @param {{ floor?: string, requireStripped?: boolean }} [options] floor defaults to 2.17
 */
function inspectAddon(file, arch, options = {}) {
  const floor = options.floor ?? GLIBC_FLOOR;
  const report = {
    file,
    arch: arch ?? null,
    machine: null,
    needed: [], // DT_NEEDED libraries
    versionNeeds: [], // { file, version } from .gnu.version_r
    glibcFloor: null, // newest GLIBC_x.y required
    libc: [], // versioned imports, name@VERSION
    node: [], // Node-API imports, resolved from the node binary
    weak: [], // weak unversioned toolchain hooks
    stripped: false,
    problems: [],
  };
  const problems = report.problems;
  const header = readElfHeader(file);
  if (!header.elf) {
    problems.push('not an ELF file');
    return report;
  }
  report.machine = MACHINE_NAMES[header.machine] ?? `e_machine ${header.machine}`;
  if (!header.is64 || !header.littleEndian) problems.push('not a 64-bit little-endian ELF file');
  if (header.type !== 3) problems.push(`e_type ${header.type}, not ET_DYN (a shared object)`);
  if (arch !== undefined) {
    const expected = MACHINES[arch];
    if (expected === undefined) problems.push(`no known ELF machine for arch ${arch}`);
    else if (header.machine !== expected) {
      problems.push(`machine is ${report.machine}, expected ${MACHINE_NAMES[expected]} for ${arch}`);
    }
  }

  report.needed = neededLibraries(file);
  for (const lib of report.needed) if (lib !== 'libc.so.6') problems.push(`needs ${lib}; only libc.so.6 is allowed`);

  report.versionNeeds = versionNeeds(file);
  for (const { file: from, version } of report.versionNeeds) {
    if (from !== 'libc.so.6') problems.push(`requires version ${version} from ${from}`);
    else if (!/^GLIBC_\d+(\.\d+)+$/.test(version)) problems.push(`requires ${version} from libc.so.6`);
  }
  const glibc = report.versionNeeds.map((n) => /^GLIBC_([\d.]+)$/.exec(n.version)?.[1]).filter(Boolean);
  report.glibcFloor = glibc.sort(compareVersions).at(-1) ?? null;
  if (report.glibcFloor && compareVersions(report.glibcFloor, floor) > 0) {
    problems.push(`needs glibc ${report.glibcFloor}, above the floor ${floor}`);
  }

  for (const sym of importedSymbols(file)) {
    if (sym.version !== null) {
      report.libc.push(`${sym.name}@${sym.version}`);
      if (!sym.version.startsWith('GLIBC_')) problems.push(`imports ${sym.name}@${sym.version}, not a glibc symbol`);
    } else if (/^(napi|node_api)_/.test(sym.name)) {
      report.node.push(sym.name);
    } else if (sym.weak) {
      report.weak.push(sym.name); // toolchain hooks (__gmon_start__, _ITM_*): null when absent
    } else {
      problems.push(`imports ${sym.name} without a version: it would bind to whatever library provides it`);
    }
  }
  report.libc.sort();
  report.node.sort();
  report.weak.sort();

  report.stripped = !hasSymtab(file);
  if (options.requireStripped && !report.stripped) problems.push('not stripped (.symtab present)');
  return report;
}

/** The prebuilds shipped from `root`, each with the arch named by its linux-<arch> folder. */
function shippedPrebuilds(root = join(__dirname, '..')) {
  const dir = join(root, 'prebuilds');
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((name) => name.startsWith('linux-') && existsSync(join(dir, name, 'btrfs.node')))
    .map((name) => ({ file: join(dir, name, 'btrfs.node'), arch: name.slice('linux-'.length) }));
}

/** One-paragraph human summary of a report. */
function formatReport(report) {
  const needs = report.needed.join(', ') || 'nothing';
  const stripped = report.stripped ? 'stripped' : 'not stripped';
  const lines = [
    `${report.file}: ${report.machine}, needs ${needs}, glibc floor ${report.glibcFloor ?? 'none'}, ${stripped}`,
    `  libc imports (${report.libc.length}): ${report.libc.join(' ')}`,
    `  Node-API imports: ${report.node.length}; weak toolchain hooks: ${report.weak.join(' ') || 'none'}`,
  ];
  for (const problem of report.problems) lines.push(`  PROBLEM: ${problem}`);
  return lines.join('\n');
}

module.exports = { GLIBC_FLOOR, MACHINES, compareVersions, formatReport, inspectAddon, readElfHeader, shippedPrebuilds };

if (require.main === module) {
  const args = process.argv.slice(2);
  const json = args.includes('--json');
  const files = args.filter((a) => a !== '--json');
  const targets = files.length
    ? files.map((file) => ({ file, arch: /^linux-(.+)$/.exec(basename(dirname(file)))?.[1] }))
    : shippedPrebuilds();
  if (targets.length === 0) {
    console.error('verify-glibc: nothing to check (no prebuilds/linux-*/btrfs.node; run npm run build:prebuilds)');
    process.exit(1);
  }
  const reports = targets.map(({ file, arch }) => inspectAddon(file, arch));
  if (json) console.log(JSON.stringify(reports, null, 2));
  else for (const report of reports) console.log(formatReport(report));
  process.exit(reports.some((r) => r.problems.length > 0) ? 1 : 0);
}
