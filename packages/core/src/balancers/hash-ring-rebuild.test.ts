// The ring's rebuild is fast at 10,000 backends (it hashes each id's prefix once and sorts packed numbers)
// yet places every point exactly where hash32(`${id}#${i}`) says, and equal hashes by owner id, so that
// gateways whose backends were added in another order still build the same ring.

import { Backend } from '../pool/backend';
import { HashRing, POINTS_PER_WEIGHT } from './consistent-hash';
import { fnv1aPrefix, hash32, hash32Numbered } from './hash32';

test('hash32Numbered(fnv1aPrefix(p), n) is hash32(p + n)', () => {
  for (const prefix of ['', 'b1#', 'http://10.0.0.1:8080#', 'ümlaut-ïd#'])
    for (const n of [0, 1, 9, 10, 99, 100, 12345, 2 ** 31])
      expect(hash32Numbered(fnv1aPrefix(prefix), n)).toBe(hash32(`${prefix}${n}`));
});

test('a rebuilt ring is sorted, complete, and the same whatever the order of its members', () => {
  const members = Array.from(
    { length: 3000 },
    (_, i) => new Backend(`backend-${(i * 7919) % 3001}`, new URL('http://10.0.0.1'), 1 + (i % 3), 0),
  );
  const ring = new HashRing({ active: 0, acceptingWeight: 1 });
  ring.rebuild(members);
  const reversed = new HashRing({ active: 0, acceptingWeight: 1 });
  reversed.rebuild([...members].reverse());
  const view = (r: HashRing) => r as unknown as { points: Uint32Array; owners: Backend[] };
  const { points, owners } = view(ring);
  const total = members.reduce((sum, b) => sum + b.weight * POINTS_PER_WEIGHT, 0);
  expect(points.length).toBe(total);
  let ties = 0;
  let unordered = 0;
  for (let i = 1; i < points.length; i++) {
    if (points[i]! < points[i - 1]!) unordered++;
    if (points[i] === points[i - 1]) {
      ties++;
      if (owners[i]!.id < owners[i - 1]!.id) unordered++;
    }
  }
  expect(unordered).toBe(0);
  expect(ties).toBeGreaterThan(0); // ~600,000 points in 2^32 collide a few dozen times: the tie rule is exercised
  const other = view(reversed).owners;
  expect(owners.filter((b, i) => other[i] !== b).length).toBe(0);
  // Every point is where hash32 puts it.
  const sample = members[17]!;
  const placed = Array.from(points.filter((_, i) => owners[i] === sample)).sort((a, b) => a - b);
  const expected = Array.from({ length: sample.weight * POINTS_PER_WEIGHT }, (_, i) =>
    hash32(`${sample.id}#${i}`),
  );
  expect(placed).toEqual(expected.sort((a, b) => a - b));
});

test('past 2^21 points, where packed numbers no longer fit, the ring is sorted and built the same way', () => {
  // Three backends of weight 7,000: 2.1 million points, one past the packed sort's 2,097,152.
  const members = ['c', 'a', 'b'].map((id) => new Backend(id, new URL('http://10.0.0.1'), 7_000, 0));
  const view = (r: HashRing) => r as unknown as { points: Uint32Array; owners: Backend[] };
  const built = (order: Backend[]) => {
    const ring = new HashRing({ active: 0, acceptingWeight: 1 });
    ring.rebuild(order);
    return view(ring);
  };
  const { points, owners } = built(members);
  expect(points.length).toBe(3 * 7_000 * POINTS_PER_WEIGHT);
  let unordered = 0;
  for (let i = 1; i < points.length; i++)
    if (points[i]! < points[i - 1]! || (points[i] === points[i - 1] && owners[i]!.id < owners[i - 1]!.id))
      unordered++;
  expect(unordered).toBe(0);
  const other = built([...members].reverse()).owners;
  expect(owners.filter((b, i) => other[i] !== b).length).toBe(0);
  expect(owners.filter((b) => b.id === 'a').length).toBe(7_000 * POINTS_PER_WEIGHT);
});
