// Consistent hashing measured over 100,000 keys: removing one of ten backends moves exactly that backend's
// keys, adding an eleventh moves about 1/11 of them (≤ 12%), all to the newcomer. And the bounded-load
// variant the router uses: with many clients in flight at once, no backend holds more than 1.25× the mean.

import { Backend } from '../pool/backend';
import { createStickyRouter } from '../router';
import { FakeClock } from '../testing/fake-clock';
import { request } from '../testing/requests';
import { steps } from '../testing/router-steps';
import { withTestHooks } from '../testing-hooks';
import { HashRing } from './consistent-hash';
import { hash32 } from './hash32';

const KEYS = Array.from({ length: 100_000 }, (_, i) => `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`);

function backends(n: number, from = 0): Backend[] {
  return Array.from(
    { length: n },
    (_, i) => new Backend(`b${from + i}`, new URL(`http://10.0.0.${from + i}`), 1, 0),
  );
}

function assign(ring: HashRing): string[] {
  return KEYS.map((key) => ring.lookup(key, undefined, false)!.id);
}

describe('HashRing', () => {
  const load = { active: 0, acceptingWeight: 10 };
  const ten = backends(10);
  const ring = new HashRing(load);
  ring.rebuild(ten);
  const before = assign(ring);

  it('spreads 100,000 keys over ten backends evenly enough (each within 35% of the mean)', () => {
    const counts = new Map<string, number>();
    for (const id of before) counts.set(id, (counts.get(id) ?? 0) + 1);
    expect(counts.size).toBe(10);
    for (const n of counts.values()) {
      expect(n).toBeGreaterThan(6_500);
      expect(n).toBeLessThan(13_500);
    }
  });

  it("removing one of ten backends moves exactly that backend's keys", () => {
    const removed = ten[3]!;
    const smaller = new HashRing(load);
    smaller.rebuild(ten.filter((b) => b !== removed));
    const after = assign(smaller);
    let movedFromRemoved = 0;
    let movedOthers = 0;
    let ownedByRemoved = 0;
    for (let i = 0; i < KEYS.length; i++) {
      if (before[i] === removed.id) {
        ownedByRemoved++;
        if (after[i] !== removed.id) movedFromRemoved++;
      } else if (after[i] !== before[i]) {
        movedOthers++;
      }
    }
    expect(ownedByRemoved).toBeGreaterThan(5_000);
    expect(movedFromRemoved).toBe(ownedByRemoved);
    expect(movedOthers).toBe(0);
  });

  it('adding an eleventh backend moves at most 12% of keys, all of them to the newcomer', () => {
    const eleventh = backends(1, 10)[0]!;
    const larger = new HashRing(load);
    larger.rebuild([...ten, eleventh]);
    const after = assign(larger);
    let moved = 0;
    let movedElsewhere = 0;
    for (let i = 0; i < KEYS.length; i++) {
      if (after[i] !== before[i]) {
        moved++;
        if (after[i] !== eleventh.id) movedElsewhere++;
      }
    }
    expect(movedElsewhere).toBe(0);
    expect(moved / KEYS.length).toBeLessThanOrEqual(0.12);
    expect(moved / KEYS.length).toBeGreaterThan(0.05);
  });

  it('skips a backend that is down while walking, and gives its keys back when it returns', () => {
    const down = ten[5]!;
    down.health = 'down';
    let wrong = 0;
    let onDown = 0;
    for (let i = 0; i < 20_000; i++) {
      const id = ring.lookup(KEYS[i]!, undefined, false)!.id;
      if (id === down.id) onDown++;
      else if (before[i] !== down.id && id !== before[i]) wrong++;
    }
    down.health = 'healthy';
    expect(onDown).toBe(0);
    expect(wrong).toBe(0);
    const back = assign(ring);
    expect(back.filter((id, i) => id !== before[i])).toHaveLength(0);
  });

  it('honours exclusions, and answers null for an empty ring or when nothing is eligible', () => {
    const excluded = new Set(['b0', 'b1', 'b2', 'b3', 'b4', 'b5', 'b6', 'b7', 'b8']);
    for (const key of KEYS.slice(0, 100)) expect(ring.lookup(key, excluded, false)!.id).toBe('b9');
    excluded.add('b9');
    expect(ring.lookup('10.0.0.1', excluded)).toBeNull();
    expect(new HashRing(load).lookup('10.0.0.1')).toBeNull();
  });

  it('gives weight-2 backends about twice the keys', () => {
    const mixed = [
      new Backend('w1', new URL('http://10.1.0.1'), 1, 0),
      new Backend('w2', new URL('http://10.1.0.2'), 2, 0),
    ];
    const r = new HashRing({ active: 0, acceptingWeight: 3 });
    r.rebuild(mixed);
    let heavy = 0;
    for (const key of KEYS.slice(0, 30_000)) if (r.lookup(key, undefined, false)!.id === 'w2') heavy++;
    expect(heavy / 30_000).toBeGreaterThan(0.58);
    expect(heavy / 30_000).toBeLessThan(0.75);
  });
});

describe('hash32', () => {
  it('is stable and spreads similar strings', () => {
    expect(hash32('10.0.0.1')).toBe(hash32('10.0.0.1'));
    expect(hash32('10.0.0.1')).not.toBe(hash32('10.0.0.2'));
    expect(hash32('')).toBeGreaterThanOrEqual(0);
    const buckets = new Array(16).fill(0);
    for (const key of KEYS.slice(0, 16_000)) buckets[hash32(key) >>> 28]++;
    for (const n of buckets) expect(Math.abs(n - 1000)).toBeLessThan(150);
  });
});

describe('source-ip-hash with bounded load, through the router', () => {
  const TEN = Array.from({ length: 10 }, (_, i) => ({ url: `http://10.0.0.${i + 1}:8080`, id: `b${i}` }));

  it('sends the same IP to the same backend', async () => {
    const router = createStickyRouter(
      withTestHooks({ backends: TEN, algorithm: 'source-ip-hash' }, { clock: new FakeClock() }),
    );
    for (const ip of ['203.0.113.1', '203.0.113.2', '2001:db8::1']) {
      const first = await router.route(request({ ip }));
      steps(router).release(first);
      for (let i = 0; i < 5; i++) {
        const again = await router.route(request({ ip }));
        expect(again.backend).toBe(first.backend);
        steps(router).release(again);
      }
    }
  });

  it.each([
    ['algorithm source-ip-hash', { algorithm: 'source-ip-hash' as const }, 3_000],
    ['algorithm source-ip-hash, few IPs behind many requests', { algorithm: 'source-ip-hash' as const }, 40],
    ['stickiness source-ip', { stickiness: { type: 'source-ip' as const } }, 3_000],
  ])(
    '%s: with 3,000 requests in flight no backend holds more than 1.25× the mean (+1)',
    async (_, extra, ips) => {
      const router = createStickyRouter(
        withTestHooks({ backends: TEN, ...extra }, { clock: new FakeClock() }),
      );
      const held = [];
      for (let i = 0; i < 3_000; i++) {
        const n = i % ips;
        held.push(await router.route(request({ ip: `203.0.${n >> 8}.${n & 255}` })));
      }
      const active = router.stats().backends.map((b) => b.active);
      expect(active.reduce((a, b) => a + b, 0)).toBe(3_000);
      const mean = 3_000 / 10;
      expect(Math.max(...active)).toBeLessThanOrEqual(1.25 * mean + 1);
      for (const r of held) steps(router).release(r);
      expect(router.pool.load.active).toBe(0);
    },
  );

  it('never places a new client on a down or draining backend', async () => {
    const router = createStickyRouter(
      withTestHooks({ backends: TEN, algorithm: 'source-ip-hash' }, { clock: new FakeClock() }),
    );
    router.pool.markDown('b0');
    router.pool.drain('b1');
    const used = new Set<string>();
    for (let i = 0; i < 2_000; i++) {
      const r = await router.route(request({ ip: `198.51.${i >> 8}.${i & 255}` }));
      used.add(r.backend!.id);
      steps(router).release(r);
    }
    expect([...used].sort()).toEqual(['b2', 'b3', 'b4', 'b5', 'b6', 'b7', 'b8', 'b9']);
  });
});
