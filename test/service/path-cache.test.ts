// The caches of built object paths: a UUID's path is found from the bytes wherever they lie, alike
// UUIDs do not collide, the table grows and starts over at its bound.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PATH_CACHE_SIZE, StringPathCache, UuidPathCache } from '../../src/service/path-cache.js';

/** UUIDs that differ only in their last two bytes (as hand-made ones often do). */
function alikeUuid(i: number): Buffer {
  const u = Buffer.alloc(16, 0xab);
  u.writeUInt16BE(i, 14);
  return u;
}

describe('UuidPathCache', () => {
  it('finds each of many alike UUIDs, through every resize, from a packed buffer at any offset', () => {
    const cache = new UuidPathCache();
    const n = 5000;
    for (let i = 0; i < n; i++) cache.set(alikeUuid(i), `/p/${i}`);
    const packed = Buffer.concat([Buffer.alloc(3), ...Array.from({ length: n }, (_, i) => alikeUuid(i))]);
    for (let i = 0; i < n; i++) {
      assert.equal(cache.getAt(packed, 3 + i * 16), `/p/${i}`);
      assert.equal(cache.get(alikeUuid(i)), `/p/${i}`);
    }
    assert.equal(cache.get(alikeUuid(n)), undefined);
    const other = alikeUuid(1);
    other[0] = 0;
    assert.equal(cache.get(other), undefined, 'a difference in the first byte counts');
  });

  it('setAt copies the bytes: changing the source afterwards does not change the key', () => {
    const cache = new UuidPathCache();
    const src = alikeUuid(7);
    cache.setAt(src, 0, '/seven');
    src.fill(0);
    assert.equal(cache.get(alikeUuid(7)), '/seven');
    assert.equal(cache.get(src), undefined);
  });

  it('starts over when full', () => {
    const cache = new UuidPathCache();
    const key = (i: number) => {
      const u = alikeUuid(i & 0xffff);
      u.writeUInt16BE(i >>> 16, 12);
      return u;
    };
    for (let i = 0; i < PATH_CACHE_SIZE; i++) cache.set(key(i), `/p/${i}`);
    assert.equal(cache.get(key(1)), '/p/1');
    cache.set(key(PATH_CACHE_SIZE), '/first-of-the-new');
    assert.equal(cache.get(key(1)), undefined, 'the old entries are gone');
    assert.equal(cache.get(key(PATH_CACHE_SIZE)), '/first-of-the-new');
  });
});

describe('StringPathCache', () => {
  it('remembers by string and starts over when full', () => {
    const cache = new StringPathCache();
    for (let i = 0; i < PATH_CACHE_SIZE; i++) cache.set(`k${i}`, `/p/${i}`);
    assert.equal(cache.get('k5'), '/p/5');
    cache.set('new', '/new');
    assert.equal(cache.get('k5'), undefined);
    assert.equal(cache.get('new'), '/new');
  });
});
