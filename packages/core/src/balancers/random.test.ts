// Weighted random and power of two choices, with the random source injected: shares follow the weights,
// the less loaded of two draws wins, and down or draining backends are never drawn for a new client.

import type { BackendInput } from '../config/options';
import { createStickyRouter } from '../router';
import { FakeClock } from '../testing/fake-clock';
import { request } from '../testing/requests';
import { steps } from '../testing/router-steps';
import { seededRandom } from '../testing/seeded-random';
import { withTestHooks } from '../testing-hooks';

const WEIGHTED = [
  { url: 'http://10.0.0.1:8080', id: 'a', weight: 3 },
  { url: 'http://10.0.0.2:8080', id: 'b', weight: 1 },
  { url: 'http://10.0.0.3:8080', id: 'c', weight: 1 },
];

function makeRouter(
  algorithm: 'random' | 'power-of-two',
  random: () => number,
  backends: BackendInput[] = WEIGHTED,
) {
  return createStickyRouter(withTestHooks({ backends, algorithm }, { random, clock: new FakeClock() }));
}

/** Routes `n` new clients, releasing each at once, and counts where they went. */
async function shares(router: ReturnType<typeof makeRouter>, n: number): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for (let i = 0; i < n; i++) {
    const route = await router.route(request({ ip: `198.51.100.${i % 250}` }));
    const id = route.backend?.id ?? 'none';
    counts[id] = (counts[id] ?? 0) + 1;
    steps(router).release(route);
  }
  return counts;
}

describe.each(['random', 'power-of-two'] as const)('%s', (algorithm) => {
  it('follows the weights roughly (3 : 1 : 1 over 5,000 clients)', async () => {
    const counts = await shares(makeRouter(algorithm, seededRandom(7)), 5000);
    expect(counts.a! / 5000).toBeGreaterThan(0.56);
    expect(counts.a! / 5000).toBeLessThan(0.64);
    expect(counts.b! / 5000).toBeGreaterThan(0.17);
    expect(counts.c! / 5000).toBeGreaterThan(0.17);
  });

  it('never draws a down or draining backend, whatever the random source says', async () => {
    // A source that always points at the first backend (a), which is down.
    const router = makeRouter(algorithm, () => 0);
    router.pool.markDown('a');
    router.pool.drain('b');
    expect(await shares(router, 200)).toEqual({ c: 200 });
    const seeded = makeRouter(algorithm, seededRandom(11));
    seeded.pool.drain('a');
    seeded.pool.markDown('c');
    expect(await shares(seeded, 500)).toEqual({ b: 500 });
    seeded.pool.markDown('b');
    expect(await shares(seeded, 3)).toEqual({ none: 3 });
  });
});

describe('power-of-two', () => {
  it('sends a new client to the less loaded of its two draws', async () => {
    const backends = [
      { url: 'http://10.0.0.1', id: 'a' },
      { url: 'http://10.0.0.2', id: 'b' },
    ];
    // Draws alternate a, b, a, b, …: each pick sees both backends and must take the one with fewer in flight.
    let draws = 0;
    const router = makeRouter('power-of-two', () => (draws++ % 2 === 0 ? 0.1 : 0.9), backends);
    const held = [];
    for (let i = 0; i < 10; i++) held.push(await router.route(request()));
    expect(router.stats().backends.map((b) => b.active)).toEqual([5, 5]);
    // Hold more on a: every new client goes to b until they are level again.
    for (const r of held.filter((r) => r.backend!.id === 'b')) steps(router).release(r);
    for (let i = 0; i < 5; i++) expect((await router.route(request())).backend!.id).toBe('b');
  });

  it('with plain random, holds loads far closer than weighted random does', async () => {
    const backends = Array.from({ length: 5 }, (_, i) => ({ url: `http://10.0.1.${i}`, id: `s${i}` }));
    const spread = async (algorithm: 'random' | 'power-of-two') => {
      const router = makeRouter(algorithm, seededRandom(3), backends);
      for (let i = 0; i < 1000; i++) await router.route(request());
      const active = router.stats().backends.map((b) => b.active);
      return Math.max(...active) - Math.min(...active);
    };
    const p2c = await spread('power-of-two');
    expect(p2c).toBeLessThanOrEqual(10);
    expect(p2c).toBeLessThan(await spread('random'));
  });
});

describe('failover exclusions', () => {
  it('a retry never lands on the backend that failed', async () => {
    for (const algorithm of ['random', 'power-of-two'] as const) {
      const router = makeRouter(algorithm, () => 0);
      const route = await router.route(request());
      expect(route.backend!.id).toBe('a');
      const next = await steps(router).failover(route, {
        error: Object.assign(new Error('refused'), { code: 'ECONNREFUSED' }),
      });
      expect(next.retry?.backend?.id).toBeDefined();
      expect(next.retry!.backend!.id).not.toBe('a');
    }
  });
});

describe('slow start', () => {
  it('a client whose every draw slow start turns away still gets the backend it drew first', async () => {
    // Right after start every backend ramps (10 % of its share); a source stuck at 0.99 draws c and then
    // fails every admission, so all eight draws are turned away and the first one drawn is the answer.
    for (const algorithm of ['random', 'power-of-two'] as const) {
      const router = createStickyRouter(
        withTestHooks(
          { backends: WEIGHTED, algorithm, slowStart: '30s' },
          { random: () => 0.99, clock: new FakeClock() },
        ),
      );
      expect(await shares(router, 5)).toEqual({ c: 5 });
    }
  });
});

describe('power-of-two at its edges', () => {
  const TWO = [
    { url: 'http://10.0.0.1', id: 'a' },
    { url: 'http://10.0.0.2', id: 'b' },
  ];

  it('a tie goes to the first draw', async () => {
    // Draws b then a, both idle: b.
    let draws = 0;
    const router = makeRouter('power-of-two', () => (draws++ % 2 === 0 ? 0.9 : 0.1), TWO);
    expect((await router.route(request())).backend!.id).toBe('b');
  });

  it('compares load per unit of weight', async () => {
    // a has weight 4 (draws below 0.8), b weight 1. Each pick takes the next two draws.
    const draws = [0.1, 0.1, 0.9, 0.9, 0.1, 0.9, 0.9, 0.1];
    const router = makeRouter('power-of-two', () => draws.shift()!, [
      { url: 'http://10.0.0.1', id: 'a', weight: 4 },
      { url: 'http://10.0.0.2', id: 'b', weight: 1 },
    ]);
    const picks = [];
    for (let i = 0; i < 4; i++) picks.push((await router.route(request())).backend!.id);
    // a, b, then one each in flight: a carries 1/4 per unit against b's 1, so a; then 2/4 against 1, a again.
    expect(picks).toEqual(['a', 'b', 'a', 'a']);
  });

  it('with every backend down there is no draw to compare: no backend, no error', async () => {
    const router = makeRouter('power-of-two', seededRandom(1), TWO);
    router.pool.markDown('a');
    router.pool.markDown('b');
    expect((await router.route(request())).backend).toBeNull();
  });
});
