// Least connections counts every in-flight request, stuck clients' too: route() takes a slot, release()
// gives it back, and new clients go where the fewest requests are in flight per unit of weight.

import { createStickyRouter } from '../router';
import { FakeClock } from '../testing/fake-clock';
import { cookiePair, request, withCookie } from '../testing/requests';
import { steps } from '../testing/router-steps';
import { withTestHooks } from '../testing-hooks';

const SECRET = 'least-connections-test-secret';

function makeRouter(backends: { url: string; id: string; weight?: number }[]) {
  return createStickyRouter(
    withTestHooks(
      {
        backends,
        algorithm: 'least-connections',
        stickiness: { type: 'lb-cookie' },
        secret: SECRET,
      },
      { clock: new FakeClock() },
    ),
  );
}

const THREE = [
  { url: 'http://10.0.0.1:8080', id: 'a' },
  { url: 'http://10.0.0.2:8080', id: 'b' },
  { url: 'http://10.0.0.3:8080', id: 'c' },
];

describe('LeastConnections', () => {
  it("counts a stuck client's in-flight requests, so new clients go elsewhere until it lets go", async () => {
    const router = makeRouter(THREE);
    const first = await router.route(request());
    const stuckTo = first.backend!.id;
    const cookie = cookiePair(steps(router).responseCookies(first));
    // The stuck client holds five slow requests on its backend.
    const held = [first];
    for (let i = 0; i < 4; i++) {
      const route = await router.route(withCookie(cookie));
      expect(route.reason).toBe('sticky');
      expect(route.backend!.id).toBe(stuckTo);
      held.push(route);
    }
    expect(router.stats().backends.find((b) => b.id === stuckTo)!.active).toBe(5);
    // Eight new clients that stay in flight: all go to the two other backends, four each.
    const others = [];
    for (let i = 0; i < 8; i++) others.push(await router.route(request({ ip: `198.51.100.${i}` })));
    const counts = new Map<string, number>();
    for (const r of others) counts.set(r.backend!.id, (counts.get(r.backend!.id) ?? 0) + 1);
    expect(counts.get(stuckTo)).toBeUndefined();
    expect([...counts.values()]).toEqual([4, 4]);
    // Now every backend has four or five in flight; once the stuck client's requests end, its backend wins.
    for (const r of held) steps(router).release(r);
    const next = await router.route(request({ ip: '198.51.100.200' }));
    expect(next.backend!.id).toBe(stuckTo);
    expect(next.reason).toBe('new');
  });

  it('release() is idempotent: a slot is given back once', async () => {
    const router = makeRouter(THREE);
    const route = await router.route(request());
    steps(router).release(route);
    steps(router).release(route);
    expect(router.stats().backends.map((b) => b.active)).toEqual([0, 0, 0]);
    expect(router.pool.load.active).toBe(0);
  });

  it('weighs in-flight counts by weight, and shares ties evenly', async () => {
    const router = makeRouter([
      { url: 'http://10.0.0.1', id: 'heavy', weight: 3 },
      { url: 'http://10.0.0.2', id: 'light', weight: 1 },
    ]);
    const held = [];
    for (let i = 0; i < 400; i++) held.push(await router.route(request({ ip: `198.51.100.${i % 250}` })));
    const active = Object.fromEntries(router.stats().backends.map((b) => [b.id, b.active]));
    expect(active).toEqual({ heavy: 300, light: 100 });
    for (const r of held) steps(router).release(r);
    // With nothing in flight, equal backends take turns rather than the first always winning.
    const even = makeRouter(THREE);
    const ids = [];
    for (let i = 0; i < 6; i++) {
      const r = await even.route(request());
      ids.push(r.backend!.id);
      steps(even).release(r);
    }
    expect(new Set(ids).size).toBe(3);
  });

  it('never gives a new client to a down or draining backend, even when it is idle', async () => {
    const router = makeRouter(THREE);
    const held = [];
    for (let i = 0; i < 30; i++) held.push(await router.route(request()));
    router.pool.markDown('a');
    router.pool.drain('b');
    for (const r of held) steps(router).release(r);
    for (let i = 0; i < 20; i++) {
      const r = await router.route(request({ ip: `198.51.100.${i}` }));
      expect(r.backend!.id).toBe('c');
    }
    router.pool.markDown('c');
    expect((await router.route(request())).backend).toBeNull();
    await router.close();
  });
});

describe('LeastConnections at its edges', () => {
  it('among idle backends, new clients take them in turn, starting with the first', async () => {
    const router = makeRouter(THREE);
    const order = [];
    for (let i = 0; i < 6; i++) {
      const route = await router.route(request({ ip: `198.51.100.${i}` }));
      order.push(route.backend!.id);
      steps(router).release(route);
    }
    expect(order).toEqual(['a', 'b', 'c', 'a', 'b', 'c']);
  });

  it('a backend in slow start counts as more loaded than it is, not less', async () => {
    const clock = new FakeClock();
    const router = createStickyRouter(
      withTestHooks(
        { backends: THREE.slice(0, 2), algorithm: 'least-connections', slowStart: '30s' },
        { clock },
      ),
    );
    clock.advance(60_000);
    router.pool.markDown('b');
    router.pool.markUp('b');
    // b just came back (ramping); a holds one request. One in flight on a full backend beats an idle one
    // that takes a tenth of its share.
    const held = await router.route(request());
    expect(held.backend!.id).toBe('a');
    for (let i = 0; i < 3; i++) {
      const route = await router.route(request({ ip: `198.51.100.${i}` }));
      expect(route.backend!.id).toBe('a');
      steps(router).release(route);
    }
    clock.advance(60_000);
    expect((await router.route(request())).backend!.id).toBe('b');
  });
});
