// The near cache: bounded (least recently used first), entries expire on the injected clock, sliding reads
// slide, and the live entries come out most recently used first with the time each has left.

import { NearCache } from './near-cache';

function clock(start = 1_000_000) {
  let now = start;
  return {
    now: () => now,
    advance(ms: number) {
      now += ms;
    },
  };
}

test('an entry lives exactly its TTL on the injected clock', () => {
  const c = clock();
  const near = new NearCache(10, c.now);
  near.set('k', 'a', 5_000);
  c.advance(4_999);
  expect(near.lookup('k')).toEqual({ value: 'a', ttlMs: 1 });
  c.advance(1);
  expect(near.get('k')).toBeUndefined();
  expect(near.size).toBe(0);
});

test('a sliding read moves the expiry; a plain read does not', () => {
  const c = clock();
  const near = new NearCache(10, c.now);
  near.set('k', 'a', 1_000);
  c.advance(900);
  expect(near.get('k')).toBe('a');
  c.advance(100);
  expect(near.get('k')).toBeUndefined();
  near.set('s', 'b', 1_000);
  c.advance(900);
  expect(near.get('s', 1_000)).toBe('b');
  c.advance(900);
  expect(near.get('s')).toBe('b');
});

test('full: the least recently used entry goes first', () => {
  const near = new NearCache(3, clock().now);
  near.set('a', '1', 60_000);
  near.set('b', '2', 60_000);
  near.set('c', '3', 60_000);
  expect(near.get('a')).toBe('1');
  near.set('d', '4', 60_000);
  expect(near.size).toBe(3);
  expect(near.get('b')).toBeUndefined();
  expect(['a', 'c', 'd'].map((k) => near.get(k))).toEqual(['1', '3', '4']);
});

test('size 0 keeps nothing; a non-positive TTL forgets the key', () => {
  const off = new NearCache(0, clock().now);
  off.set('a', '1', 60_000);
  expect(off.get('a')).toBeUndefined();
  const near = new NearCache(5, clock().now);
  near.set('a', '1', 60_000);
  near.set('a', '1', 0);
  expect(near.get('a')).toBeUndefined();
});

test('live(): most recently used first, expired ones left out, with the time left', () => {
  const c = clock();
  const near = new NearCache(10, c.now);
  near.set('old', '1', 1_000);
  near.set('mid', '2', 10_000);
  near.set('new', '3', 20_000);
  c.advance(1_000);
  expect([...near.live()]).toEqual([
    { key: 'new', value: '3', ttlMs: 19_000 },
    { key: 'mid', value: '2', ttlMs: 9_000 },
  ]);
});
