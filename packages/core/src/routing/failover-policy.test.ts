// The failover policy's edges, each condition on its own: when a stale keep-alive connection is retried on
// the same backend and when it is a real failure, how many retries a request gets, what strict mode does
// with stuck and learned clients, and what each decision counts. The mutation run found these conditions
// exercised only through their common path.

import type { StickyOptions } from '../config/options';
import { createStickyRouter, type StickyRouter } from '../router';
import { FakeClock } from '../testing/fake-clock';
import { cookiePair, request, withCookie } from '../testing/requests';
import { steps } from '../testing/router-steps';
import { withTestHooks } from '../testing-hooks';
import type { Route, RouteRequest } from '../types';

const BACKENDS = ['a', 'b', 'c', 'd'].map((id, i) => ({ url: `http://10.0.0.${i + 1}:8080`, id }));
const REFUSED = Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
const RESET = Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });
const TIMEOUT = Object.assign(new Error('headers timeout'), { code: 'UND_ERR_HEADERS_TIMEOUT' });

function setup(extra: Partial<StickyOptions> = {}, backends = BACKENDS.slice(0, 3)) {
  const router = createStickyRouter(
    withTestHooks(
      {
        backends,
        stickiness: { type: 'lb-cookie' },
        secret: 'failover-test-secret-0123456789',
        logger: { warn() {} },
        ...extra,
      },
      { clock: new FakeClock() },
    ),
  );
  return { router, run: steps(router) };
}

/** A client stuck to a backend by its cookie, routed again: its route, reason 'sticky'. */
async function stuckRoute(router: StickyRouter, req: Partial<RouteRequest> = {}): Promise<Route> {
  const run = steps(router);
  const first = await run.routeNow(request(req));
  const cookie = cookiePair(run.responseCookies(first));
  run.release(first);
  const route = await run.routeNow(withCookie(cookie, req));
  expect(route.reason).toBe('sticky');
  return route;
}

describe('a stale keep-alive connection', () => {
  test.each([
    ['a refused GET', REFUSED, 'GET', false],
    ['a reset GET whose (kept) body went out', RESET, 'GET', true],
    ['a reset POST before its body went out', RESET, 'POST', false],
  ])(
    '%s on a reused connection is sent once more to the same backend',
    async (_name, error, method, bodySent) => {
      const { router, run } = setup();
      const route = await stuckRoute(router, { method });
      const decision = await run.failover(route, {
        error,
        reusedConnection: true,
        bodySent,
        bodyReplayable: true,
      });
      expect(decision.retry?.backend).toBe(route.backend);
      expect(decision.retry?.state.staleRetried).toBe(true);
      expect(router.stats().requests).toMatchObject({ retried: 1, failed: 0 });
      expect(route.backend!.counts.failed).toBe(0);
    },
  );

  test('a POST whose body went out, a timeout, a fresh connection, a draining backend: a real failure', async () => {
    const { router, run } = setup();
    const post = await stuckRoute(router, { method: 'POST' });
    expect(
      (await run.failover(post, { error: RESET, reusedConnection: true, bodySent: true })).reply?.status,
    ).toBe(502);
    // Even when the body was kept and could be sent again: the app may have acted on it.
    const kept = await stuckRoute(router, { method: 'POST' });
    expect(
      (
        await run.failover(kept, {
          error: RESET,
          reusedConnection: true,
          bodySent: true,
          bodyReplayable: true,
        })
      ).reply?.status,
    ).toBe(502);
    const slow = await stuckRoute(router);
    expect((await run.failover(slow, { error: TIMEOUT, reusedConnection: true })).reply?.status).toBe(504);
    const fresh = await stuckRoute(router);
    expect((await run.failover(fresh, { error: RESET })).retry?.backend).not.toBe(fresh.backend);
    const down = await stuckRoute(router);
    router.pool.markDown(down.backend!.id);
    expect((await run.failover(down, { error: RESET, reusedConnection: true })).retry?.backend).not.toBe(
      down.backend,
    );
    expect(router.stats().requests.failed).toBe(5);
  });
});

describe('retries', () => {
  test('a refused request is tried on at most three backends of four, then answered 502', async () => {
    const { router, run } = setup({ stickiness: false }, BACKENDS);
    let route = await run.routeNow(request());
    const tried = [route.backend!.id];
    for (;;) {
      const decision = await run.failover(route, { error: REFUSED });
      if (decision.retry === undefined) {
        expect(decision.reply?.status).toBe(502);
        break;
      }
      route = decision.retry;
      tried.push(route.backend!.id);
    }
    expect(tried).toHaveLength(3);
    expect(new Set(tried).size).toBe(3);
    expect(router.stats().requests).toMatchObject({ failed: 3, retried: 2 });
    expect(router.stats().backends.reduce((n, b) => n + b.failed, 0)).toBe(3);
  });

  test('a stuck client moved by a failure counts as rerouted; a new one stays new', async () => {
    const { router, run } = setup();
    const stuck = await stuckRoute(router);
    const moved = await run.failover(stuck, { error: REFUSED });
    expect(moved.retry?.reason).toBe('rerouted');
    const fresh = await run.routeNow(request());
    const placed = await run.failover(fresh, { error: REFUSED });
    expect(placed.retry?.reason).toBe('new');
    expect(router.stats().requests).toMatchObject({ rerouted: 1, retried: 2 });
  });
});

describe('strict mode', () => {
  test('a stuck or learned client whose backend refuses gets a 503; a new client is moved', async () => {
    const { router, run } = setup({ strict: true });
    const stuck = await stuckRoute(router);
    expect((await run.failover(stuck, { error: REFUSED })).reply?.status).toBe(503);
    const fresh = await run.routeNow(request());
    const moved = await run.failover(fresh, { error: REFUSED });
    expect(moved.retry).toBeDefined();
    expect(moved.retry!.backend!.id).not.toBe(fresh.backend!.id);

    const learn = setup({
      strict: true,
      stickiness: { type: 'app-cookie', appCookie: 'JSESSIONID', mode: 'learn' },
    });
    const first = await learn.run.routeNow(request());
    learn.run.responseCookies(first, 'JSESSIONID=s1; Path=/');
    learn.run.release(first);
    const learned = await learn.run.routeNow(withCookie('JSESSIONID=s1'));
    expect(learned.reason).toBe('learned');
    expect((await learn.run.failover(learned, { error: REFUSED })).reply?.status).toBe(503);
  });
});

describe('keyed clients', () => {
  test('a keyed client whose backend refuses goes where the ring sends its key when that backend is down', async () => {
    // Several keys, so that a retry by the balancer instead of the ring could not match by chance.
    for (const ip of [
      '192.0.2.44',
      '192.0.2.45',
      '198.51.100.3',
      '203.0.113.99',
      '2001:db8::1',
      '10.9.8.7',
    ]) {
      const { router, run } = setup({ stickiness: { type: 'source-ip' } }, BACKENDS);
      const req = request({ ip });
      const route = await run.routeNow(req);
      const decision = await run.failover(route, { error: REFUSED });
      const retried = decision.retry!.backend!.id;
      run.release(decision.retry!);
      // A gateway that never saw the key, with that backend down: the ring's next choice for it.
      const fresh = setup({ stickiness: { type: 'source-ip' } }, BACKENDS);
      fresh.router.pool.markDown(route.backend!.id);
      expect((await fresh.run.routeNow(req)).backend!.id).toBe(retried);
      await Promise.all([router.close(), fresh.router.close()]);
    }
  });
});

describe('what each placement counts per backend', () => {
  test('a hashed client counts as new, a learned one as sticky; a stale retry holds its slot again', async () => {
    const hashed = setup({ stickiness: { type: 'source-ip' } });
    const h = await hashed.run.routeNow(request());
    expect(h.reason).toBe('hashed');
    expect(hashed.router.stats().backends.find((b) => b.id === h.backend!.id)).toMatchObject({
      new: 1,
      sticky: 0,
    });

    const learn = setup({ stickiness: { type: 'app-cookie', appCookie: 'JSESSIONID', mode: 'learn' } });
    const first = await learn.run.routeNow(request());
    learn.run.responseCookies(first, 'JSESSIONID=s1; Path=/');
    learn.run.release(first);
    const learned = await learn.run.routeNow(withCookie('JSESSIONID=s1'));
    expect(learned.reason).toBe('learned');
    const stats = learn.router.stats().backends.find((b) => b.id === learned.backend!.id)!;
    expect(stats).toMatchObject({ new: 1, sticky: 1, active: 1 });

    const stale = await learn.run.failover(learned, { error: RESET, reusedConnection: true });
    expect(learn.router.stats().backends.find((b) => b.id === learned.backend!.id)!.active).toBe(1);
    learn.run.release(stale.retry!);
    expect(learn.router.stats().backends.map((b) => b.active)).toEqual([0, 0, 0]);
  });
});
