#!/usr/bin/env node
/**
 * `btrfs-node`: a command-line tool over the library, with btrfs-progs' subcommand names, human
 * output by default and `--json` on every read command. It never runs another program.
 *
 * Exit codes: 0 success; 1 the operation failed (the message names the errno and the path);
 * 2 the command line is wrong.
 * @module
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import * as lib from '../index';
import { parseSize, size, table, tree, UsageError } from './format';

/** Where the CLI writes; tests pass their own. */
export interface CliIO {
  stdout: NodeJS.WritableStream & { isTTY?: boolean };
  stderr: NodeJS.WritableStream & { isTTY?: boolean };
}

type OptionSpec = NonNullable<Parameters<typeof parseArgs>[0]>['options'];
type Values = Record<string, string | boolean | string[] | undefined>;

interface Command {
  usage: string;
  summary: string;
  options?: OptionSpec;
  /** Positional arguments: minimum and maximum count. */
  args: [min: number, max: number];
  /** Read commands take --json. */
  read?: boolean;
  /** Resolves to the exit code when it is not 0. */
  run(args: string[], values: Values, out: Output): Promise<number | void>;
}

/** Output sink that knows about --json and --raw. */
class Output {
  constructor(
    readonly io: CliIO,
    readonly json: boolean,
    readonly raw: boolean,
  ) {}
  /** Prints `value` as JSON with --json, else `human()`. */
  result(value: unknown, human: () => string): void {
    const text = this.json ? JSON.stringify(value, null, 2) : human();
    if (text !== '') this.io.stdout.write(`${text}\n`);
  }
  line(text: string): void {
    this.io.stdout.write(`${text}\n`);
  }
  /** Progress: on a terminal only, on stderr, overwriting the line. */
  progress(text: string): void {
    if (this.io.stderr.isTTY && !this.json) this.io.stderr.write(`\r\x1b[K${text}`);
  }
  progressDone(): void {
    if (this.io.stderr.isTTY && !this.json) this.io.stderr.write('\r\x1b[K');
  }
  size(bytes: number | null): string {
    return size(bytes, this.raw);
  }
}

const bool = { type: 'boolean' } as const;
const str = { type: 'string' } as const;

function qgroupArg(text: string): number {
  try {
    return /^\d+$/.test(text) ? Number(text) : lib.parseQgroupId(text);
  } catch {
    throw new UsageError(`not a qgroup id: '${text}' (use level/id, e.g. 1/100, or a number)`);
  }
}

function intArg(text: string, what: string): number {
  if (!/^\d+$/.test(text)) throw new UsageError(`${what} must be a non-negative integer, not '${text}'`);
  return Number(text);
}

function boolArg(text: string, what: string): boolean {
  if (text === 'true') return true;
  if (text === 'false') return false;
  throw new UsageError(`${what} must be true or false, not '${text}'`);
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const COMMANDS: Record<string, Command> = {
  'subvolume create': {
    usage: 'subvolume create [-i qgroupid] <path>...',
    summary: 'create subvolumes',
    options: { i: { type: 'string', multiple: true } },
    args: [1, Infinity],
    async run(args, v, out) {
      const inherit = ((v.i as string[] | undefined) ?? []).map(qgroupArg);
      for (const path of args) {
        await lib.createSubvolume(path, inherit.length ? { qgroupInherit: inherit } : {});
        out.line(`Create subvolume '${path}'`);
      }
    },
  },
  'subvolume snapshot': {
    usage: 'subvolume snapshot [-r] [-R] [-i qgroupid] <source> <dest>',
    summary: 'snapshot a subvolume (-r read-only, -R with nested subvolumes)',
    options: { r: bool, R: bool, i: { type: 'string', multiple: true } },
    args: [2, 2],
    async run([source, dest], v, out) {
      const inherit = ((v.i as string[] | undefined) ?? []).map(qgroupArg);
      await lib.createSnapshot(source!, dest!, { readOnly: !!v.r, recursive: !!v.R, ...(inherit.length ? { qgroupInherit: inherit } : {}) });
      out.line(`Create ${v.r ? 'a readonly' : 'a'} snapshot of '${source}' in '${dest}'`);
    },
  },
  'subvolume delete': {
    usage: 'subvolume delete [-R] [-i id] <path>...',
    summary: 'delete subvolumes (-R recursively; -i by id, from any path of the filesystem)',
    options: { R: bool, i: str },
    args: [1, Infinity],
    async run(args, v, out) {
      for (const path of args) {
        if (v.i !== undefined) {
          const id = intArg(v.i as string, '-i');
          await lib.deleteSubvolume(path, { id, recursive: !!v.R });
          out.line(`Delete subvolume ${id}`);
        } else {
          await lib.deleteSubvolume(path, { recursive: !!v.R });
          out.line(`Delete subvolume '${path}'`);
        }
      }
    },
  },
  'subvolume list': {
    usage: 'subvolume list [-o] [-t|--tree] [--info] <path>',
    summary: 'list subvolumes (all of the filesystem; -o only below path; --tree as a tree)',
    options: { o: bool, t: bool, tree: bool, info: bool },
    args: [1, 1],
    read: true,
    async run([path], v, out) {
      const withInfo = !!v.info || (!out.json && !(v.tree || v.t));
      const entries: lib.SubvolumeEntry[] = [];
      for await (const entry of lib.subvolumes(path!, { ...(v.o ? {} : { top: 5 }), info: withInfo })) entries.push(entry);
      out.result(entries, () => {
        if (v.tree || v.t) return tree(entries.map((e) => ({ path: e.path, label: `[${e.id}]` })), v.o ? `${path}` : '<FS_TREE>');
        return table([
          ['ID', 'GEN', 'PARENT', 'PATH'],
          ...entries.map((e) => [String(e.id), String(e.info?.generation ?? ''), String(e.info?.parentId ?? ''), e.path]),
        ], new Set([0, 1, 2]));
      });
    },
  },
  'subvolume show': {
    usage: 'subvolume show [-i id] <path>',
    summary: 'show a subvolume',
    options: { i: str },
    args: [1, 1],
    read: true,
    async run([path], v, out) {
      const info = await lib.subvolumeInfo(path!, v.i === undefined ? 0 : intArg(v.i as string, '-i'));
      const date = (d: Date) => (d.getTime() === 0 ? '-' : d.toISOString());
      out.result(info, () =>
        [
          path,
          `\tSubvolume ID:\t\t${info.id}`,
          `\tUUID:\t\t\t${info.uuid ?? '-'}`,
          `\tParent UUID:\t\t${info.parentUuid ?? '-'}`,
          `\tReceived UUID:\t\t${info.receivedUuid ?? '-'}`,
          `\tCreation time:\t\t${date(info.otime)}`,
          `\tGeneration:\t\t${info.generation}`,
          `\tGen at creation:\t${info.otransid}`,
          `\tParent ID:\t\t${info.parentId}`,
          `\tFlags:\t\t\t${info.readOnly ? 'readonly' : '-'}`,
          `\tSend transid:\t\t${info.stransid}`,
          `\tReceive transid:\t${info.rtransid}`,
        ].join('\n'),
      );
    },
  },
  'subvolume get-default': {
    usage: 'subvolume get-default <path>',
    summary: 'show the default subvolume',
    args: [1, 1],
    read: true,
    async run([path], _v, out) {
      const id = await lib.getDefaultSubvolume(path!);
      const where = id === 5 ? '(FS_TREE)' : `path ${await lib.subvolumePath(path!, id)}`;
      out.result({ id }, () => `ID ${id} ${where}`);
    },
  },
  'subvolume set-default': {
    usage: 'subvolume set-default [<id>] <path>',
    summary: 'set the default subvolume (by id, or the subvolume at path)',
    args: [1, 2],
    async run(args, _v, out) {
      const [id, path] = args.length === 2 ? [intArg(args[0]!, 'id'), args[1]!] : [0, args[0]!];
      await lib.setDefaultSubvolume(path, id);
      out.line(`Set default subvolume to ${id || (await lib.subvolumeId(path))}`);
    },
  },
  'subvolume sync': {
    usage: 'subvolume sync <path> [<id>...]',
    summary: 'wait until deleted subvolumes are cleaned up',
    args: [1, Infinity],
    async run([path, ...ids], _v, out) {
      const wanted = ids.map((id) => intArg(id, 'id'));
      await lib.sync(path!); // a commit wakes the cleaner
      for (;;) {
        const pending = (await lib.deletedSubvolumes(path!)).filter((id) => wanted.length === 0 || wanted.includes(id));
        if (pending.length === 0) break;
        out.progress(`waiting for ${pending.length} deleted subvolume(s) to be cleaned`);
        await sleep(250);
      }
      out.progressDone();
    },
  },
  'property get': {
    usage: 'property get <path> [ro]',
    summary: 'show the read-only property of a subvolume',
    args: [1, 2],
    read: true,
    async run([path, name], _v, out) {
      if (name !== undefined && name !== 'ro') throw new UsageError(`unknown property '${name}' (supported: ro)`);
      const ro = await lib.getSubvolumeReadOnly(path!);
      out.result({ ro }, () => `ro=${ro}`);
    },
  },
  'property set': {
    usage: 'property set <path> ro <true|false>',
    summary: 'set the read-only property of a subvolume',
    args: [3, 3],
    async run([path, name, value], _v) {
      if (name !== 'ro') throw new UsageError(`unknown property '${name}' (supported: ro)`);
      await lib.setSubvolumeReadOnly(path!, boolArg(value!, 'ro'));
    },
  },
  'quota enable': {
    usage: 'quota enable [--simple] <path>',
    summary: 'enable quotas (--simple: simple quotas)',
    options: { simple: bool, s: bool },
    args: [1, 1],
    async run([path], v) {
      await (v.simple || v.s ? lib.quotaEnableSimple(path!) : lib.quotaEnable(path!));
    },
  },
  'quota disable': {
    usage: 'quota disable <path>',
    summary: 'disable quotas',
    args: [1, 1],
    async run([path]) {
      await lib.quotaDisable(path!);
    },
  },
  'quota rescan': {
    usage: 'quota rescan [-s] [-w] <path>',
    summary: 'rescan quota accounting (-s show status, -w wait for it)',
    options: { s: bool, w: bool },
    args: [1, 1],
    read: true,
    async run([path], v, out) {
      if (v.s) {
        const status = await lib.quotaRescanStatus(path!);
        out.result(status, () => (status.running ? `rescan operation running (current key ${status.progress})` : 'no rescan operation in progress'));
        return;
      }
      await lib.quotaRescan(path!);
      if (!v.w) return;
      const controller = new AbortController();
      const wait = lib.quotaRescanWait(path!, { signal: controller.signal });
      let done = false;
      void wait.finally(() => {
        done = true;
      });
      while (!done) {
        const status = await lib.quotaRescanStatus(path!).catch(() => null);
        if (status?.running) out.progress(`rescanning: key ${status.progress ?? 0}`);
        await Promise.race([wait.catch(() => undefined), sleep(200)]);
      }
      out.progressDone();
      await wait;
    },
  },
  'quota status': {
    usage: 'quota status <path>',
    summary: 'show whether quotas are on, their mode and consistency',
    args: [1, 1],
    read: true,
    async run([path], _v, out) {
      const status = await lib.quotaStatus(path!);
      out.result(status, () => {
        if (!status.enabled) return 'Quotas on ' + path + ':\n\tEnabled:\t\tno';
        return [
          `Quotas on ${path}:`,
          `\tEnabled:\t\tyes`,
          `\tMode:\t\t\t${status.mode}`,
          `\tInconsistent:\t\t${status.inconsistent ? 'yes' : 'no'}`,
          `\tRescanning:\t\t${status.rescanning ? 'yes' : 'no'}`,
          `\tGeneration:\t\t${status.generation}`,
        ].join('\n');
      });
    },
  },
  'qgroup create': {
    usage: 'qgroup create <qgroupid> <path>',
    summary: 'create a qgroup (level 1 or above)',
    args: [2, 2],
    async run([id, path]) {
      await lib.qgroupCreate(path!, qgroupArg(id!));
    },
  },
  'qgroup destroy': {
    usage: 'qgroup destroy <qgroupid> <path>',
    summary: 'destroy a qgroup',
    args: [2, 2],
    async run([id, path]) {
      await lib.qgroupDestroy(path!, qgroupArg(id!));
    },
  },
  'qgroup assign': {
    usage: 'qgroup assign <child> <parent> <path>',
    summary: 'make a qgroup a member of a higher-level one',
    args: [3, 3],
    async run([child, parent, path]) {
      await lib.qgroupAssign(path!, qgroupArg(child!), qgroupArg(parent!));
    },
  },
  'qgroup remove': {
    usage: 'qgroup remove <child> <parent> <path>',
    summary: 'remove a qgroup relation',
    args: [3, 3],
    async run([child, parent, path]) {
      await lib.qgroupRemove(path!, qgroupArg(child!), qgroupArg(parent!));
    },
  },
  'qgroup limit': {
    usage: 'qgroup limit [-e] <size|none> [<qgroupid>] <path>',
    summary: 'limit referenced (or with -e exclusive) space; none clears the limit',
    options: { e: bool },
    args: [2, 3],
    async run(args, v) {
      const [limit, id, path] = args.length === 3 ? [args[0]!, qgroupArg(args[1]!), args[2]!] : [args[0]!, 0, args[1]!];
      const bytes = parseSize(limit);
      await lib.qgroupLimit(path, id, v.e ? { maxExcl: bytes } : { maxRfer: bytes });
    },
  },
  'qgroup show': {
    usage: 'qgroup show [-p] [-c] [-r] [-e] <path>',
    summary: 'show qgroups with usage (-p parents, -c children, -r/-e limits)',
    options: { p: bool, c: bool, r: bool, e: bool },
    args: [1, 1],
    read: true,
    async run([path], v, out) {
      const groups = await lib.qgroupInfo(path!);
      out.result(groups, () => {
        const header = ['Qgroupid', 'Referenced', 'Exclusive'];
        if (v.r) header.push('Max referenced');
        if (v.e) header.push('Max exclusive');
        if (v.p) header.push('Parent');
        if (v.c) header.push('Child');
        const ids = (list: number[]) => (list.length ? list.map((id) => lib.formatQgroupId(id)).join(',') : '-');
        const rows = groups.map((g) => {
          const row = [lib.formatQgroupId(g.qgroupid), out.size(g.rfer), out.size(g.excl)];
          if (v.r) row.push(out.size(g.maxRfer));
          if (v.e) row.push(out.size(g.maxExcl));
          if (v.p) row.push(ids(g.parents));
          if (v.c) row.push(ids(g.children));
          return row;
        });
        return table([header, ...rows], new Set([1, 2]));
      });
    },
  },
  mkfs: {
    usage: 'mkfs [-L label] [-d profile] [-m profile] [-n nodesize] [-s sectorsize] [-b bytes] [-O features] [--csum type] [-U uuid] [-M] [-K] [-f] [--create] <device>...',
    summary: 'make a btrfs filesystem (written by this library, not mkfs.btrfs)',
    options: {
      L: str,
      d: str,
      m: str,
      n: str,
      s: str,
      b: str,
      O: str,
      csum: str,
      U: str,
      M: bool,
      K: bool,
      f: bool,
      create: bool,
    },
    args: [1, Infinity],
    read: true,
    async run(devices, v, out) {
      const options: lib.MkfsOptions = { force: !!v.f, discard: !v.K, mixed: !!v.M, create: !!v.create };
      if (v.L !== undefined) options.label = v.L as string;
      if (v.U !== undefined) options.uuid = v.U as string;
      if (v.d !== undefined) options.dataProfile = (v.d as string).toLowerCase() as lib.RaidProfileName;
      if (v.m !== undefined) options.metadataProfile = (v.m as string).toLowerCase() as lib.RaidProfileName;
      if (v.n !== undefined) options.nodesize = parseSize(v.n as string) ?? undefined;
      if (v.s !== undefined) options.sectorsize = parseSize(v.s as string) ?? undefined;
      if (v.b !== undefined) options.byteCount = parseSize(v.b as string) ?? undefined;
      if (v.O !== undefined) options.features = (v.O as string).split(',').filter(Boolean) as lib.MkfsOptions['features'];
      if (v.csum !== undefined) options.csum = v.csum as lib.MkfsOptions['csum'];
      // The Promise form keeps the event loop free, so a ticking status line can run meanwhile.
      const started = Date.now();
      const tick = () => out.progress(`formatting ${devices.length} device(s)... ${((Date.now() - started) / 1000).toFixed(1)} s`);
      tick();
      const timer = setInterval(tick, 100);
      let result: lib.MkfsResult;
      try {
        result = await lib.mkfs(devices, options);
      } finally {
        clearInterval(timer);
        out.progressDone();
      }
      out.result(result, () =>
        [
          `Label:              ${result.label || '(null)'}`,
          `UUID:               ${result.uuid}`,
          `Node size:          ${result.nodesize}`,
          `Sector size:        ${result.sectorsize}`,
          `Filesystem size:    ${out.size(result.numBytes)}`,
          `Block group profiles: data ${result.profiles.data}, metadata ${result.profiles.metadata}, system ${result.profiles.system}`,
          `Checksum:           ${result.csum}`,
          `Features:           ${result.features.join(', ')}`,
          table([['ID', 'SIZE', 'PATH'], ...result.devices.map((d) => [String(d.devid), out.size(d.size), d.path])], new Set([0, 1])),
        ].join('\n'),
      );
    },
  },
  mount: {
    usage: 'mount [-t type] [-o options] [--ro] [--loop] [--bind] <source> <target>',
    summary: 'mount a filesystem (an image file with --loop)',
    options: { t: str, o: str, ro: bool, loop: bool, bind: bool },
    args: [2, 2],
    async run([source, target], v) {
      let flags = 0;
      if (v.ro) flags |= lib.MountFlags.RDONLY;
      if (v.bind) flags |= lib.MountFlags.BIND;
      await lib.mount(source!, target!, { fstype: (v.t as string | undefined) ?? 'btrfs', flags, data: (v.o as string | undefined) ?? '', loop: !!v.loop });
    },
  },
  umount: {
    usage: 'umount [-l] [-f] <target>',
    summary: 'unmount (-l lazily, -f forcibly)',
    options: { l: bool, f: bool },
    args: [1, 1],
    async run([target], v) {
      await lib.umount(target!, { flags: (v.l ? lib.UmountFlags.DETACH : 0) | (v.f ? lib.UmountFlags.FORCE : 0) });
    },
  },
  'loop attach': {
    usage: 'loop attach [--ro] [--offset bytes] [--size bytes] [--direct-io] [--partscan] <file>',
    summary: 'attach a file to a free loop device and print it',
    options: { ro: bool, offset: str, size: str, 'direct-io': bool, partscan: bool },
    args: [1, 1],
    read: true,
    async run([file], v, out) {
      const loop = await lib.attachLoopDevice(file!, {
        readOnly: !!v.ro,
        offset: v.offset === undefined ? 0 : (parseSize(v.offset as string) ?? 0),
        sizeLimit: v.size === undefined ? 0 : (parseSize(v.size as string) ?? 0),
        directIo: !!v['direct-io'],
        partscan: !!v.partscan,
      });
      out.result(loop, () => loop.path);
    },
  },
  'loop detach': {
    usage: 'loop detach <device>...',
    summary: 'detach loop devices',
    args: [1, Infinity],
    async run(devices) {
      for (const device of devices) await lib.detachLoopDevice(/^\d+$/.test(device) ? Number(device) : device);
    },
  },
  'loop list': {
    usage: 'loop list',
    summary: 'list attached loop devices',
    args: [0, 0],
    read: true,
    async run(_args, _v, out) {
      const loops = await lib.loopDevices();
      out.result(loops, () =>
        table([
          ['NAME', 'SIZELIMIT', 'OFFSET', 'AUTOCLEAR', 'RO', 'DIO', 'BACK-FILE'],
          ...loops.map((l) => [l.path, String(l.sizeLimit), String(l.offset), l.autoclear ? '1' : '0', l.readOnly ? '1' : '0', l.directIo ? '1' : '0', l.backingFile]),
        ], new Set([1, 2])),
      );
    },
  },
  'device scan': {
    usage: 'device scan [--forget] <device>...',
    summary: 'register devices with btrfs (--forget: unregister)',
    options: { forget: bool, u: bool },
    args: [1, Infinity],
    async run(devices, v, out) {
      for (const device of devices) {
        if (v.forget || v.u) await lib.forgetDevice(device);
        else {
          await lib.scanDevice(device);
          out.line(`Scanning for btrfs filesystems on '${device}'`);
        }
      }
    },
  },
  'device ready': {
    usage: 'device ready <device>',
    summary: 'exit 0 when every device of the filesystem is known, 1 otherwise',
    args: [1, 1],
    read: true,
    async run([device], _v, out) {
      const ready = await lib.isDeviceReady(device!);
      out.result({ ready }, () => (ready ? 'ready' : 'not ready: devices missing'));
      return ready ? 0 : 1;
    },
  },
};

function version(): string {
  try {
    return JSON.parse(readFileSync(join(__dirname, '..', '..', 'package.json'), 'utf8')).version;
  } catch {
    return 'unknown';
  }
}

function help(): string {
  const lines = [`btrfs-node ${version()}: btrfs from Node.js, without btrfs-progs`, '', 'Usage: btrfs-node <command> [options] [--json] [--raw]', ''];
  const width = Math.max(...Object.keys(COMMANDS).map((c) => c.length));
  for (const [name, command] of Object.entries(COMMANDS)) lines.push(`  ${name.padEnd(width)}  ${command.summary}`);
  lines.push('', 'Every read command takes --json; sizes are human units unless --raw.', "Run 'btrfs-node <command> --help' for a command's options.");
  return lines.join('\n');
}

/** Runs the tool with `argv` (without node and script); resolves to the exit code. */
export async function main(argv: string[], io: CliIO = { stdout: process.stdout, stderr: process.stderr }): Promise<number> {
  if (argv.length === 0 || argv[0] === '--help' || argv[0] === '-h' || argv[0] === 'help') {
    io.stdout.write(`${help()}\n`);
    return argv.length === 0 ? 2 : 0;
  }
  if (argv[0] === '--version') {
    io.stdout.write(`${version()}\n`);
    return 0;
  }
  const two = `${argv[0]} ${argv[1] ?? ''}`;
  const name = COMMANDS[two] ? two : COMMANDS[argv[0]!] ? argv[0]! : undefined;
  if (!name) {
    io.stderr.write(`btrfs-node: unknown command '${argv.slice(0, 2).join(' ')}'\n${help()}\n`);
    return 2;
  }
  const command = COMMANDS[name]!;
  const rest = argv.slice(name.split(' ').length);
  try {
    const options = { ...(command.options ?? {}), json: bool, raw: bool, help: bool, h: bool };
    const { values, positionals } = parseArgs({ args: rest, options, allowPositionals: true, strict: true });
    if (values.help || values.h) {
      io.stdout.write(`Usage: btrfs-node ${command.usage}\n  ${command.summary}\n`);
      return 0;
    }
    if (values.json && !command.read) throw new UsageError(`'${name}' prints nothing to format: --json is for read commands`);
    const [min, max] = command.args;
    if (positionals.length < min || positionals.length > max) throw new UsageError(`wrong number of arguments\nUsage: btrfs-node ${command.usage}`);
    const out = new Output(io, !!values.json, !!values.raw);
    return (await command.run(positionals, values as Values, out)) ?? 0;
  } catch (error) {
    return report(error, io);
  }
}

/** Prints an error the way scripts can rely on, and picks the exit code. */
function report(error: unknown, io: CliIO): number {
  if (error instanceof lib.BtrfsError) {
    io.stderr.write(`btrfs-node: ERROR: ${error.message}\n`);
    return 1;
  }
  const code = (error as { code?: string }).code;
  if (error instanceof UsageError || (typeof code === 'string' && (code.startsWith('ERR_PARSE_ARGS') || code.startsWith('ERR_INVALID_ARG') || code === 'ERR_OUT_OF_RANGE'))) {
    io.stderr.write(`btrfs-node: ${(error as Error).message}\n`);
    return 2;
  }
  io.stderr.write(`btrfs-node: ${(error as Error)?.stack ?? String(error)}\n`);
  return 1;
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (error) => {
      process.stderr.write(`btrfs-node: ${(error as Error)?.stack ?? String(error)}\n`);
      process.exitCode = 1;
    },
  );
}
