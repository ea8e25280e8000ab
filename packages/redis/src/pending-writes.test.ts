// Kept writes: one per key (the later replaces the earlier), bounded with the oldest dropped, sent newest
// first, and put back behind newer writes when Redis fails again.

import { type PendingWrite, PendingWrites } from './pending-writes';

const set = (key: string, value = 'v'): PendingWrite => ({ kind: 'set', key, value, expiresAt: 1 });

test('newest first, one write per key', () => {
  const pending = new PendingWrites(10);
  pending.add(set('a', '1'));
  pending.add(set('b'));
  pending.add(set('a', '2'));
  pending.add({ kind: 'delete', key: 'c' });
  expect(pending.takeNewestFirst().map((w) => w.key)).toEqual(['c', 'a', 'b']);
  expect(pending.size).toBe(0);
});

test('bounded: past the bound the oldest write is dropped and counted', () => {
  const pending = new PendingWrites(3);
  for (const key of ['a', 'b', 'c', 'd', 'e']) pending.add(set(key));
  expect(pending.dropped).toBe(2);
  expect(pending.takeNewestFirst().map((w) => w.key)).toEqual(['e', 'd', 'c']);
  expect(new PendingWrites(0).add(set('a'))).toBe(false);
});

test('writes that failed again go back as older than those queued meanwhile, never over a newer one', () => {
  const pending = new PendingWrites(4);
  pending.add(set('a', 'old'));
  pending.add(set('b'));
  pending.add(set('c'));
  const taken = pending.takeNewestFirst();
  pending.add(set('a', 'new'));
  pending.add(set('d'));
  pending.putBackOlder(taken);
  const after = pending.takeNewestFirst();
  expect(after.map((w) => w.key)).toEqual(['d', 'a', 'c', 'b']);
  expect(after[1]).toMatchObject({ value: 'new' });
  // Over the bound again: the oldest go.
  const small = new PendingWrites(2);
  small.add(set('x'));
  const failed = small.takeNewestFirst();
  small.add(set('y'));
  small.add(set('z'));
  small.putBackOlder(failed);
  expect(small.takeNewestFirst().map((w) => w.key)).toEqual(['z', 'y']);
  expect(small.dropped).toBe(1);
});
