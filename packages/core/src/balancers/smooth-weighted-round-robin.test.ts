// Smooth weighted round robin, driven through the router: nginx's exact sequence, and no new client ever
// sent to a backend that is down or draining.

import { Backend } from '../pool/backend';
import { createStickyRouter } from '../router';
import { FakeClock } from '../testing/fake-clock';
import { request } from '../testing/requests';
import { steps } from '../testing/router-steps';
import { withTestHooks } from '../testing-hooks';
import { smoothWeightedSchedule } from './smooth-weighted-round-robin';

const BACKENDS = [
  { url: 'http://10.0.0.1:8080', id: 'a', weight: 5 },
  { url: 'http://10.0.0.2:8080', id: 'b', weight: 1 },
  { url: 'http://10.0.0.3:8080', id: 'c', weight: 1 },
];

async function sequence(router: ReturnType<typeof createStickyRouter>, n: number): Promise<string> {
  let out = '';
  for (let i = 0; i < n; i++) {
    const route = await router.route(request({ ip: `198.51.100.${i % 250}` }));
    out += route.backend?.id ?? '-';
    expect(route.reason).toBe('new');
    steps(router).release(route);
  }
  return out;
}

describe('SmoothWeightedRoundRobin', () => {
  it("gives nginx's sequence a a b a c a a for weights 5, 1, 1, repeating", async () => {
    const router = createStickyRouter(withTestHooks({ backends: BACKENDS }, { clock: new FakeClock() }));
    expect(await sequence(router, 21)).toBe('aabacaa'.repeat(3));
  });

  it('computes the same period directly, and a plain rotation for equal weights', () => {
    const of = (...spec: [string, number][]) =>
      spec.map(([id, w]) => new Backend(id, new URL(`http://${id}`), w, 0));
    expect(
      smoothWeightedSchedule(of(['a', 5], ['b', 1], ['c', 1]))
        .map((b) => b.id)
        .join(''),
    ).toBe('aabacaa');
    expect(smoothWeightedSchedule(of(['x', 2], ['y', 2])).map((b) => b.id)).toEqual(['x', 'y']);
    expect(smoothWeightedSchedule([])).toEqual([]);
  });

  it('spreads weights 3, 2 smoothly (a b a b a) and equal weights in turn', async () => {
    const weighted = createStickyRouter({
      backends: [
        { url: 'http://10.0.0.1', id: 'a', weight: 3 },
        { url: 'http://10.0.0.2', id: 'b', weight: 2 },
      ],
    });
    expect(await sequence(weighted, 10)).toBe('ababaababa');
    const equal = createStickyRouter({ backends: ['http://10.0.0.1', 'http://10.0.0.2', 'http://10.0.0.3'] });
    const ids = [];
    for (let i = 0; i < 6; i++) ids.push((await equal.route(request())).backend!.url.hostname);
    expect(ids).toEqual(['10.0.0.1', '10.0.0.2', '10.0.0.3', '10.0.0.1', '10.0.0.2', '10.0.0.3']);
  });

  it('skips down and draining backends, and takes them back when they return', async () => {
    const router = createStickyRouter(withTestHooks({ backends: BACKENDS }, { clock: new FakeClock() }));
    router.pool.markDown('b');
    expect(await sequence(router, 12)).toBe('aaacaa'.repeat(2));
    router.pool.drain('c');
    expect(await sequence(router, 10)).toBe('a'.repeat(10));
    router.pool.markUp('b');
    router.pool.undrain('c');
    expect(await sequence(router, 7)).toBe('aabacaa');
    router.pool.markDown('a');
    router.pool.markDown('b');
    router.pool.markDown('c');
    const route = await router.route(request());
    expect(route.backend).toBeNull();
    expect(router.stats().requests.noBackend).toBe(1);
  });
});
