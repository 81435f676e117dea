/**
 * src/validate.ts: the argument checks every exported function runs before any syscall. Each bad
 * input must give the right class (TypeError / RangeError) and Node's code, naming the argument.
 */
import assert from 'node:assert/strict';
import { open } from 'node:fs/promises';
import { describe, it } from 'node:test';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import {
  checkAbsolutePath,
  checkBoolean,
  checkId,
  checkNewPath,
  checkOptionalId,
  checkOptions,
  checkPath,
  checkPathOrFd,
  checkQgroupId,
} from '../../src/validate';

type Ctor = typeof TypeError | typeof RangeError;
/** An assert.throws matcher: exact class, Node code, and the argument's name in the message. */
function fails(ctor: Ctor, code: string, name?: string) {
  return (e: unknown): boolean => {
    assert.ok(e instanceof ctor, `expected ${ctor.name}, got ${String(e)}`);
    assert.equal(e.constructor, ctor);
    assert.equal((e as { code?: string }).code, code);
    if (name !== undefined) assert.ok(e.message.includes(name), `message should name "${name}": ${e.message}`);
    return true;
  };
}
const TYPE = 'ERR_INVALID_ARG_TYPE';
const VALUE = 'ERR_INVALID_ARG_VALUE';
const RANGE = 'ERR_OUT_OF_RANGE';

describe('checkPath', () => {
  it('accepts a string, a Buffer and a file: URL, returning a string', () => {
    assert.equal(checkPath('/mnt/data'), '/mnt/data');
    assert.equal(checkPath('relative/dir'), 'relative/dir');
    assert.equal(checkPath(Buffer.from('/mnt/dätä')), '/mnt/dätä');
    assert.equal(checkPath(new URL('file:///mnt/a%20b')), '/mnt/a b');
    assert.equal(checkPath(pathToFileURL('/tmp/x y')), '/tmp/x y');
  });

  it('rejects NUL bytes, the empty path and overlong paths with ERR_INVALID_ARG_VALUE', () => {
    assert.throws(() => checkPath('/a\0b'), fails(TypeError, VALUE, 'path'));
    assert.throws(() => checkPath(Buffer.from('/a\0b')), fails(TypeError, VALUE));
    assert.throws(() => checkPath(''), fails(TypeError, VALUE, 'path'));
    assert.throws(() => checkPath(Buffer.alloc(0)), fails(TypeError, VALUE));
    assert.equal(checkPath('/' + 'a'.repeat(4094)).length, 4095);
    assert.throws(() => checkPath('/' + 'a'.repeat(4095)), fails(TypeError, VALUE));
  });

  it('rejects a URL that is not file: with ERR_INVALID_ARG_VALUE', () => {
    assert.throws(() => checkPath(new URL('http://example.com/x')), fails(TypeError, VALUE, 'path'));
  });

  it('rejects other types with ERR_INVALID_ARG_TYPE, naming the argument', () => {
    for (const bad of [undefined, null, 123, 1n, true, {}, [], () => '/x', new Uint8Array(3)]) {
      assert.throws(() => checkPath(bad), fails(TypeError, TYPE, 'path'), String(bad));
    }
    assert.throws(() => checkPath(5, 'source'), fails(TypeError, TYPE, 'source'));
  });
});

describe('checkAbsolutePath', () => {
  it('gives what path.resolve gives, and a path already absolute and normal as it is', () => {
    const cases = ['/', '/mnt/a.img', '/mnt//a.img', '/mnt/./a.img', '/mnt/x/../a.img', '/mnt/a/', '/mnt/.hidden', '/mnt/a/.', '/mnt/..', '//mnt', 'a.img', './a.img', '../a.img', 'dir/', '.'];
    for (const path of cases) assert.equal(checkAbsolutePath(path), resolve(path), path);
    const normal = `/var/tmp/${'img'.repeat(2)}`;
    assert.equal(checkAbsolutePath(normal), normal);
    assert.equal(checkAbsolutePath(Buffer.from('/mnt//x')), '/mnt/x');
  });

  it('checks as checkPath does first', () => {
    assert.throws(() => checkAbsolutePath(''), fails(TypeError, VALUE, 'path'));
    assert.throws(() => checkAbsolutePath(7, 'file'), fails(TypeError, TYPE, 'file'));
  });
});

describe('checkPathOrFd', () => {
  it('takes an integer descriptor', () => {
    assert.deepEqual(checkPathOrFd(0), { fd: 0 });
    assert.deepEqual(checkPathOrFd(7), { fd: 7 });
    assert.deepEqual(checkPathOrFd(2147483647), { fd: 2147483647 });
  });

  it('takes a FileHandle, or anything with a numeric fd', async () => {
    const handle = await open(__filename, 'r');
    try {
      assert.deepEqual(checkPathOrFd(handle), { fd: handle.fd });
    } finally {
      await handle.close();
    }
    assert.deepEqual(checkPathOrFd({ fd: 12 }), { fd: 12 });
  });

  it('takes paths like checkPath', () => {
    assert.deepEqual(checkPathOrFd('/mnt'), { path: '/mnt' });
    assert.deepEqual(checkPathOrFd(Buffer.from('/mnt')), { path: '/mnt' });
    assert.deepEqual(checkPathOrFd(new URL('file:///mnt')), { path: '/mnt' });
    assert.throws(() => checkPathOrFd('a\0'), fails(TypeError, VALUE));
  });

  it('rejects negative, fractional and too large descriptors with ERR_OUT_OF_RANGE', () => {
    for (const bad of [-1, 1.5, NaN, Infinity, 2 ** 31]) {
      assert.throws(() => checkPathOrFd(bad), fails(RangeError, RANGE, 'path'), String(bad));
    }
    assert.throws(() => checkPathOrFd({ fd: -3 }), fails(RangeError, RANGE, 'path.fd'));
    assert.throws(() => checkPathOrFd(-1, 'source'), fails(RangeError, RANGE, 'source'));
  });

  it('rejects other types with ERR_INVALID_ARG_TYPE', () => {
    for (const bad of [undefined, null, true, 1n, {}, { fd: '3' }, []]) {
      assert.throws(() => checkPathOrFd(bad), fails(TypeError, TYPE, 'path'), String(bad));
    }
  });
});

describe('checkNewPath', () => {
  it('splits into parent and name; a trailing slash is fine', () => {
    assert.deepEqual(checkNewPath('/mnt/data/sub'), { path: '/mnt/data/sub', parent: '/mnt/data', name: 'sub' });
    assert.deepEqual(checkNewPath('/mnt/data/sub/'), { path: '/mnt/data/sub/', parent: '/mnt/data', name: 'sub' });
    assert.deepEqual(checkNewPath('/mnt/data/sub//'), { path: '/mnt/data/sub//', parent: '/mnt/data', name: 'sub' });
    assert.deepEqual(checkNewPath('sub'), { path: 'sub', parent: '.', name: 'sub' });
    assert.deepEqual(checkNewPath('/top'), { path: '/top', parent: '/', name: 'top' });
  });

  it('allows a 255-byte name and rejects 256 bytes (counted in UTF-8)', () => {
    assert.equal(checkNewPath('/x/' + 'a'.repeat(255)).name.length, 255);
    assert.throws(() => checkNewPath('/x/' + 'a'.repeat(256)), fails(TypeError, VALUE, 'path'));
    assert.equal(checkNewPath('/x/' + 'é'.repeat(127) + 'a').name.length, 128); // 255 bytes
    assert.throws(() => checkNewPath('/x/' + 'é'.repeat(128)), fails(TypeError, VALUE)); // 256 bytes
  });

  it('rejects a path that does not end in a name', () => {
    for (const bad of ['/', '//', '.', '..', '/mnt/.', '/mnt/..', '/mnt/../', './']) {
      assert.throws(() => checkNewPath(bad), fails(TypeError, VALUE, 'path'), bad);
    }
  });

  it('checks the path first', () => {
    assert.throws(() => checkNewPath(42), fails(TypeError, TYPE, 'path'));
    assert.throws(() => checkNewPath(''), fails(TypeError, VALUE));
  });
});

describe('checkId', () => {
  it('accepts safe integers and bigints up to 2^64 - 1', () => {
    assert.equal(checkId(0, 'id'), 0n);
    assert.equal(checkId(256, 'id'), 256n);
    assert.equal(checkId(Number.MAX_SAFE_INTEGER, 'id'), BigInt(Number.MAX_SAFE_INTEGER));
    assert.equal(checkId(0n, 'id'), 0n);
    assert.equal(checkId(2n ** 64n - 1n, 'id'), 2n ** 64n - 1n);
  });

  it('rejects negative, fractional, unsafe and huge values with ERR_OUT_OF_RANGE', () => {
    for (const bad of [-1, -0.5, 1.5, NaN, Infinity, -Infinity, 2 ** 53, Number.MAX_SAFE_INTEGER + 2, -1n, 2n ** 64n]) {
      assert.throws(() => checkId(bad, 'transid'), fails(RangeError, RANGE, 'transid'), String(bad));
    }
  });

  it('rejects other types with ERR_INVALID_ARG_TYPE', () => {
    for (const bad of ['5', null, {}, true]) assert.throws(() => checkId(bad, 'id'), fails(TypeError, TYPE, 'id'), String(bad));
  });

  it('checkOptionalId: undefined gives the fallback; anything else is checked', () => {
    assert.equal(checkOptionalId(undefined, 'id'), 0n);
    assert.equal(checkOptionalId(undefined, 'id', 5n), 5n);
    assert.equal(checkOptionalId(7, 'id'), 7n);
    assert.throws(() => checkOptionalId(null, 'id'), fails(TypeError, TYPE));
    assert.throws(() => checkOptionalId(-1, 'id'), fails(RangeError, RANGE));
  });
});

describe('checkQgroupId', () => {
  it("parses 'level/id' into (level << 48) | id", () => {
    assert.equal(checkQgroupId('1/100'), (1n << 48n) | 100n);
    assert.equal(checkQgroupId('0/5'), 5n);
    assert.equal(checkQgroupId('65535/281474976710655'), 2n ** 64n - 1n);
  });

  it('takes numbers and bigints as checkId does', () => {
    assert.equal(checkQgroupId(257), 257n);
    assert.equal(checkQgroupId((2n << 48n) | 1n), (2n << 48n) | 1n);
    assert.throws(() => checkQgroupId(-1), fails(RangeError, RANGE, 'qgroupid'));
  });

  it('rejects malformed strings with ERR_INVALID_ARG_VALUE', () => {
    for (const bad of ['', 'abc', '1', '1/', '/1', '1/2/3', '-1/2', '1/-2', ' 1/2', '1/2 ', '1.5/2', '0x1/2']) {
      assert.throws(() => checkQgroupId(bad), fails(TypeError, VALUE, 'qgroupid'), bad);
    }
  });

  it('rejects a level over 16 bits or an id over 48 bits with ERR_OUT_OF_RANGE', () => {
    assert.throws(() => checkQgroupId('65536/1'), fails(RangeError, RANGE, 'qgroupid'));
    assert.throws(() => checkQgroupId('0/281474976710656'), fails(RangeError, RANGE, 'qgroupid'));
  });
});

describe('checkOptions and checkBoolean', () => {
  it('checkOptions: undefined is {}, an object passes through', () => {
    assert.deepEqual(checkOptions(undefined), {});
    const opts = { readOnly: true };
    assert.equal(checkOptions(opts), opts);
  });

  it('checkOptions rejects null, arrays and primitives with ERR_INVALID_ARG_TYPE', () => {
    for (const bad of [null, [], 'x', 5, true, 1n]) {
      assert.throws(() => checkOptions(bad), fails(TypeError, TYPE, 'options'), String(bad));
    }
  });

  it('checkBoolean: undefined is the fallback, only booleans otherwise', () => {
    assert.equal(checkBoolean(undefined, 'readOnly', true), true);
    assert.equal(checkBoolean(undefined, 'readOnly', false), false);
    assert.equal(checkBoolean(false, 'readOnly', true), false);
    assert.equal(checkBoolean(true, 'readOnly', false), true);
    for (const bad of ['yes', 1, 0, null, {}]) {
      assert.throws(() => checkBoolean(bad, 'options.readOnly', false), fails(TypeError, TYPE, 'options.readOnly'), String(bad));
    }
  });
});
