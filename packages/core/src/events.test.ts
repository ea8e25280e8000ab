// The per-request events (placed, stuck, cookie) as an observer such as the demo or the status page sees
// them: what each carries, and that the router builds them only while someone listens. Time is a fake clock.

import type { StickyOptions } from './config/options';
import type { RouterEvents } from './events';
import { createStickyRouter, type StickyRouter } from './router';
import { FakeClock } from './testing/fake-clock';
import { cookiePair, request, withCookie } from './testing/requests';
import { steps } from './testing/router-steps';
import { withTestHooks } from './testing-hooks';
import type { RouteRequest } from './types';

const BACKENDS = [
  { url: 'http://10.0.0.1:8080', id: 'a' },
  { url: 'http://10.0.0.2:8080', id: 'b' },
];
const REFUSED = Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });

function setup(extra: Partial<StickyOptions> = {}) {
  const clock = new FakeClock();
  const router = createStickyRouter(
    withTestHooks(
      {
        backends: BACKENDS,
        stickiness: { type: 'lb-cookie' },
        secret: 'events-test-secret-0123456789',
        ...extra,
      },
      { clock },
    ),
  );
  return { router, clock, run: steps(router) };
}

function record<K extends 'placed' | 'stuck' | 'cookie'>(router: StickyRouter, name: K): RouterEvents[K][] {
  const seen: RouterEvents[K][] = [];
  router.on(name, (payload) => seen.push(payload as RouterEvents[K]));
  return seen;
}

/** One request through route → response cookies → release, as an exchange runs it. */
async function exchange(router: StickyRouter, req: RouteRequest, setCookie?: string) {
  const run = steps(router);
  const route = await run.routeNow(req);
  const cookies = run.responseCookies(route, setCookie, req);
  run.release(route);
  return { route, cookies };
}

describe('per-request events', () => {
  test('a new client is placed, its cookie issued with the dates inside it; back with it, it is stuck', async () => {
    const { router, clock } = setup({ stickiness: { type: 'lb-cookie', duration: '10m' } });
    const placed = record(router, 'placed');
    const stuck = record(router, 'stuck');
    const cookies = record(router, 'cookie');
    const first = request();
    const { route, cookies: set } = await exchange(router, first);
    expect(placed).toEqual([{ backend: route.backend!.id, reason: 'new', request: first }]);
    expect(stuck).toEqual([]);
    const born = Math.floor(clock.now() / 1000);
    expect(cookies).toEqual([
      { backend: route.backend!.id, action: 'issued', request: first, born, expires: born + 600 },
    ]);

    clock.advance(5_000);
    const again = withCookie(cookiePair(set));
    await exchange(router, again);
    expect(placed).toHaveLength(1);
    expect(stuck).toEqual([
      { backend: route.backend!.id, reason: 'sticky', request: again, born, expires: born + 600 },
    ]);
  });

  test('source-ip places by hashing; a header-keyed client the store remembers is placed once, then stuck', async () => {
    const hashed = setup({ stickiness: { type: 'source-ip' } });
    const placed = record(hashed.router, 'placed');
    await exchange(hashed.router, request());
    expect(placed.map((p) => p.reason)).toEqual(['hashed']);

    const keyed = setup({ stickiness: { type: 'header', header: 'x-session' } });
    const keyedPlaced = record(keyed.router, 'placed');
    const keyedStuck = record(keyed.router, 'stuck');
    const req = request({ headers: { 'x-session': 'k1' } });
    const first = await exchange(keyed.router, req);
    await exchange(keyed.router, req);
    expect(keyedPlaced.map((p) => p.backend)).toEqual([first.route.backend!.id]);
    // No cookie, no dates: the payload has no born or expires keys at all.
    expect(keyedStuck).toStrictEqual([{ backend: first.route.backend!.id, reason: 'sticky', request: req }]);
    // A client whose backend is down is rerouted: announced by 'reroute', neither placed nor stuck.
    keyed.router.pool.markDown(first.route.backend!.id);
    await exchange(keyed.router, req);
    expect(keyedPlaced).toHaveLength(1);
    expect(keyedStuck).toHaveLength(1);
  });

  test('learn mode: a client whose app cookie the store learned is stuck as learned', async () => {
    const { router } = setup({ stickiness: { type: 'app-cookie', appCookie: 'JSESSIONID', mode: 'learn' } });
    const stuck = record(router, 'stuck');
    const first = await exchange(router, request(), 'JSESSIONID=abc; Path=/');
    const back = withCookie('JSESSIONID=abc');
    await exchange(router, back);
    expect(stuck).toEqual([{ backend: first.route.backend!.id, reason: 'learned', request: back }]);
  });

  test('a deleting balancer cookie is announced as deleted', async () => {
    const { router } = setup({
      stickiness: { type: 'app-cookie', appCookie: 'JSESSIONID', mode: 'follow' },
    });
    const cookies = record(router, 'cookie');
    const first = await exchange(router, request(), 'JSESSIONID=abc; Path=/');
    expect(cookies.map((c) => c.action)).toEqual(['issued']);
    const back = withCookie(`${cookiePair(first.cookies)}; JSESSIONID=abc`);
    await exchange(router, back, 'JSESSIONID=; Max-Age=0; Path=/');
    expect(cookies.map((c) => c.action)).toEqual(['issued', 'deleted']);
    expect(cookies[1]).toEqual({ backend: first.route.backend!.id, action: 'deleted', request: back });
  });

  test('a cookie that is not honoured is announced as forged or expired', async () => {
    const { router, clock } = setup({ stickiness: { type: 'lb-cookie', duration: '1m' } });
    const seen: RouterEvents['forged'][] = [];
    router.on('forged', (payload) => seen.push(payload));
    const { cookies } = await exchange(router, request());
    await exchange(router, withCookie('STICKY=not.a.real.cookie'));
    clock.advance(61_000);
    await exchange(router, withCookie(cookiePair(cookies)));
    expect(seen).toEqual([{ reason: 'forged' }, { reason: 'expired' }]);
  });

  test('nothing is announced once the last listener is gone, and a throwing listener is logged, not thrown', async () => {
    const warnings: string[] = [];
    const { router } = setup({ logger: { warn: (m: string) => warnings.push(m) } });
    const seen: unknown[] = [];
    const listener = (payload: unknown) => seen.push(payload);
    router.on('placed', listener);
    router.on('stuck', listener);
    router.off('placed', listener);
    await exchange(router, request());
    expect(seen).toEqual([]);
    router.off('stuck', listener);
    router.on('cookie', () => {
      throw new Error('observer bug');
    });
    await expect(exchange(router, request())).resolves.toBeDefined();
    expect(warnings).toEqual([expect.stringContaining("a 'cookie' listener threw: Error: observer bug")]);
  });
});

describe('strict mode and a refused connection', () => {
  test('a stuck client whose backend refuses gets a 503, never another backend; a new client is moved', async () => {
    const { router, run } = setup({ strict: true, retryAfter: 3 });
    const { cookies } = await exchange(router, request());
    const stuckRoute = await run.routeNow(withCookie(cookiePair(cookies)));
    expect(stuckRoute.reason).toBe('sticky');
    const decision = await run.failover(stuckRoute, { error: REFUSED });
    expect(decision.retry).toBeUndefined();
    expect(decision.reply).toMatchObject({ status: 503, headers: { 'retry-after': '3' } });

    const newRoute = await run.routeNow(request());
    const moved = await run.failover(newRoute, { error: REFUSED });
    expect(moved.retry?.backend?.id).not.toBe(newRoute.backend!.id);
  });
});
