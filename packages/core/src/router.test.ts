// The router as adapters drive it: stickiness off and switched at run time, failover of stuck clients
// (down, removed, refused), strict mode, draining, retries and passive health, X-Forwarded-*, stats,
// events and the ready-made error replies. Time is a fake clock; nothing sleeps.

import { StickyConfigError } from './config/errors';
import type { StickyOptions } from './config/options';
import { createStickyRouter, type RerouteEvent, type StickyRouter } from './router';
import { FakeClock } from './testing/fake-clock';
import { cookieAttributes, cookiePair, request, withCookie } from './testing/requests';
import { steps } from './testing/router-steps';
import { type TestHooks, withTestHooks } from './testing-hooks';
import type { Route, RouteRequest, StickyStore } from './types';

const SECRET = 'router-test-secret-0123456789';
const BACKENDS = [
  { url: 'http://10.0.0.1:8080', id: 'a' },
  { url: 'http://10.0.0.2:8080', id: 'b' },
  { url: 'http://10.0.0.3:8080', id: 'c' },
];
const REFUSED = Object.assign(new Error('connect ECONNREFUSED 10.0.0.1:8080'), { code: 'ECONNREFUSED' });
const TIMED_OUT = Object.assign(new Error('headers timeout'), { code: 'UND_ERR_HEADERS_TIMEOUT' });

function setup(extra: Partial<StickyOptions> = {}, hooks: TestHooks = {}) {
  const clock = new FakeClock();
  const router = createStickyRouter(
    withTestHooks(
      {
        backends: BACKENDS,
        stickiness: { type: 'lb-cookie' },
        secret: SECRET,
        ...extra,
      },
      { clock, ...hooks },
    ),
  );
  const events: [string, unknown][] = [];
  for (const name of ['add', 'remove', 'drain', 'down', 'up', 'state', 'reroute', 'retry', 'stickiness']) {
    router.on(name as 'add', (payload) => events.push([name, payload]));
  }
  return {
    clock,
    router,
    events,
    of: (name: string) => events.filter(([n]) => n === name).map(([, p]) => p),
  };
}

/** A stuck client: its first visit's cookie, and the backend it is stuck to. */
async function stuckClient(router: StickyRouter, req: RouteRequest = request()) {
  const route = await router.route(req);
  const cookie = cookiePair(steps(router).responseCookies(route));
  steps(router).release(route);
  return { cookie, backend: route.backend! };
}

describe('stickiness: false', () => {
  it('balances every request, sets no cookie, keeps nothing', async () => {
    const { router } = setup({ stickiness: false });
    const ids = [];
    for (let i = 0; i < 6; i++) {
      const route = await router.route(withCookie('STICKY=whatever'));
      expect(route.reason).toBe('new');
      expect(steps(router).responseCookies(route, 'JSESSIONID=x; Max-Age=60')).toEqual([]);
      ids.push(route.backend!.id);
      steps(router).release(route);
    }
    expect(ids).toEqual(['a', 'b', 'c', 'a', 'b', 'c']);
    expect(router.stats().storeEntries).toBe(0);
    expect(router.stats().requests.forgedCookies).toBe(0);
  });
});

describe('setStickiness', () => {
  it('switches from the next request, and rejects invalid settings keeping the current one', async () => {
    const { router, of } = setup({ stickiness: false });
    expect(() => router.setStickiness({ type: 'lb-cookie', duration: '2d' })).toThrow(StickyConfigError);
    expect(() => router.setStickiness({ type: 'nope' } as never)).toThrow(/stickiness\.type/);
    expect(router.getStickiness()).toEqual({ type: 'off' });
    expect(of('stickiness')).toEqual([]);

    router.setStickiness({ type: 'lb-cookie', duration: '5m' });
    expect(of('stickiness')).toEqual([{ type: 'lb-cookie', durationMs: 300_000, maxLifetimeMs: null }]);
    const route = await router.route(request());
    expect(cookieAttributes(steps(router).responseCookies(route)[0]!)['max-age']).toBe('300');
    expect(router.stats().stickiness).toMatchObject({ type: 'lb-cookie' });

    router.setStickiness({ type: 'source-ip' });
    expect((await router.route(request({ ip: '198.51.100.1' }))).reason).toBe('hashed');
  });

  it('off then on again with the same secret: existing cookies are still valid', async () => {
    const { router } = setup();
    const client = await stuckClient(router);
    router.setStickiness(false);
    const off = await router.route(withCookie(client.cookie));
    expect(off.reason).toBe('new');
    expect(steps(router).responseCookies(off)).toEqual([]);
    router.setStickiness({ type: 'lb-cookie' });
    await router.route(request()); // the round robin moves on
    const back = await router.route(withCookie(client.cookie));
    expect(back).toMatchObject({ reason: 'sticky', backend: client.backend });
    // A router made without a secret keeps its random one across the switch as well.
    const bare = createStickyRouter({
      backends: BACKENDS,
      stickiness: { type: 'lb-cookie' },
      logger: { warn() {} },
    });
    const bareClient = await stuckClient(bare);
    bare.setStickiness(false);
    bare.setStickiness({ type: 'lb-cookie' });
    expect((await bare.route(withCookie(bareClient.cookie))).reason).toBe('sticky');
  });
});

describe('routeNow', () => {
  it('answers the Route itself, not a promise, where no store is asked: cookie modes and stickiness off', () => {
    for (const stickiness of [
      { type: 'lb-cookie' },
      { type: 'app-cookie', appCookie: 'JSESSIONID' },
      false,
    ] as const) {
      const { router } = setup({ stickiness });
      const first = steps(router).routeNow(request());
      expect(first).not.toBeInstanceOf(Promise);
      const route = first as Route;
      expect(route.reason).toBe('new');
      steps(router).release(route);
      if (stickiness === false) continue;
      const appCookies = stickiness.type === 'app-cookie' ? 'JSESSIONID=s1; Max-Age=60' : undefined;
      const cookie = cookiePair(steps(router).responseCookies(route, appCookies));
      const again = steps(router).routeNow(withCookie(`JSESSIONID=s1; ${cookie}`));
      expect(again).toMatchObject({ reason: 'sticky', backend: route.backend });
    }
  });

  it('answers a promise where the store decides, placing the client as route() does', async () => {
    const { router } = setup({ stickiness: { type: 'source-ip' } });
    const pending = steps(router).routeNow(request({ ip: '198.51.100.7' }));
    expect(pending).toBeInstanceOf(Promise);
    const first = await pending;
    expect(first.reason).toBe('hashed');
    steps(router).release(first);
    expect(await router.route(request({ ip: '198.51.100.7' }))).toMatchObject({
      reason: 'sticky',
      backend: first.backend,
    });
  });

  it("a throwing 'reroute' listener is reported, and neither throws into the adapter nor stops the request", () => {
    const warnings: string[] = [];
    const { router } = setup({ logger: { warn: (m) => warnings.push(m) } });
    const first = steps(router).routeNow(request()) as Route;
    const cookie = cookiePair(steps(router).responseCookies(first));
    steps(router).release(first);
    router.pool.markDown(first.backend!.id);
    router.on('reroute', () => {
      throw new Error('listener bug');
    });
    const route = steps(router).routeNow(withCookie(cookie)) as Route;
    expect(route.reason).toBe('rerouted');
    expect(route.backend!.id).not.toBe(first.backend!.id);
    expect(warnings).toEqual([expect.stringMatching(/'reroute' listener threw: Error: listener bug/)]);
  });
});

describe('failover of stuck clients', () => {
  it('a client whose backend is down moves: rerouted, new cookie, x-sticky-rerouted, reroute event', async () => {
    const { router, of } = setup();
    const client = await stuckClient(router);
    router.pool.markDown(client.backend.id);
    const route = await router.route(withCookie(client.cookie));
    expect(route.reason).toBe('rerouted');
    expect(route.backend).not.toBeNull();
    expect(route.backend!.id).not.toBe(client.backend.id);
    expect(route.upstreamHeaders['x-sticky-rerouted']).toBe('1');
    expect(of('reroute')).toEqual([
      { from: client.backend.id, to: route.backend!.id, why: 'down' } satisfies RerouteEvent,
    ]);
    const cookie = cookiePair(steps(router).responseCookies(route));
    expect(cookie).not.toBe(client.cookie);
    steps(router).release(route);
    // The new cookie sticks to the new backend, with no reroute header.
    const next = await router.route(withCookie(cookie));
    expect(next).toMatchObject({ reason: 'sticky', backend: route.backend });
    expect(next.upstreamHeaders['x-sticky-rerouted']).toBeUndefined();
    expect(router.stats().requests.rerouted).toBe(1);
    expect(router.stats().backends.find((b) => b.id === route.backend!.id)!.rerouted).toBe(1);
  });

  it('a client whose backend was removed moves too (why: gone)', async () => {
    const { router, of } = setup();
    const client = await stuckClient(router);
    expect(router.pool.remove(client.backend.id)).toBe(true);
    const route = await router.route(withCookie(client.cookie));
    expect(route.reason).toBe('rerouted');
    expect(route.backend!.id).not.toBe(client.backend.id);
    expect(of('reroute')).toEqual([{ from: null, to: route.backend!.id, why: 'gone' }]);
  });

  it('strict: true answers no backend (503 with Retry-After) instead of moving the client', async () => {
    const { router, of } = setup({ strict: true, retryAfter: 7 });
    const client = await stuckClient(router);
    router.pool.markDown(client.backend.id);
    const route = await router.route(withCookie(client.cookie));
    expect(route.backend).toBeNull();
    expect(steps(router).responseCookies(route)).toEqual([]);
    steps(router).release(route);
    expect(of('reroute')).toEqual([]);
    expect(router.stats().requests.noBackend).toBe(1);
    expect(steps(router).reply(503)).toEqual({
      status: 503,
      headers: {
        'content-type': 'text/plain; charset=utf-8',
        'cache-control': 'no-store',
        'retry-after': '7',
      },
      body: 'Service Unavailable\n',
    });
    // New clients are still balanced; the stuck one gets its backend back when it returns.
    expect((await router.route(request())).backend).not.toBeNull();
    router.pool.markUp(client.backend.id);
    expect(await router.route(withCookie(client.cookie))).toMatchObject({
      reason: 'sticky',
      backend: client.backend,
    });
  });
});

describe('drain', () => {
  it('a draining backend keeps its stuck clients and takes no new ones; the timeout removes it', async () => {
    const { clock, router, of } = setup();
    const clients = [];
    for (let i = 0; i < 6; i++) clients.push(await stuckClient(router));
    const draining = clients[0]!.backend.id;
    expect(router.pool.drain(draining, { timeout: '5m' })).toBe(true);
    expect(of('drain')).toEqual([
      { id: draining, url: 'http://10.0.0.1:8080', idleMs: 1_200_000, timeoutMs: 300_000 },
    ]);
    expect(router.stats().backends.find((b) => b.id === draining)!.state).toBe('draining');
    for (let i = 0; i < 30; i++) {
      const route = await router.route(request({ ip: `198.51.100.${i}` }));
      expect(route.backend!.id).not.toBe(draining);
      steps(router).release(route);
    }
    for (const client of clients) {
      const route = await router.route(withCookie(client.cookie));
      expect(route).toMatchObject({ reason: 'sticky', backend: client.backend });
      steps(router).release(route);
    }
    clock.advance(299_000);
    expect(router.pool.get(draining)).toBeDefined();
    clock.advance(1_000);
    expect(router.pool.get(draining)).toBeUndefined();
    expect(of('remove')).toEqual([{ id: draining, url: 'http://10.0.0.1:8080', reason: 'drain-timeout' }]);
    // Only its clients move.
    for (const client of clients) {
      const route = await router.route(withCookie(client.cookie));
      expect(route.reason).toBe(client.backend.id === draining ? 'rerouted' : 'sticky');
      steps(router).release(route);
    }
  });

  it('undrain cancels the removal; drain defaults to 300 s; unknown ids answer false', async () => {
    const { clock, router } = setup();
    router.pool.drain('a');
    router.pool.undrain('a');
    clock.advance(600_000);
    expect(router.pool.get('a')!.state).toBe('healthy');
    router.pool.drain('b');
    clock.advance(299_999);
    expect(router.pool.get('b')).toBeDefined();
    clock.advance(1);
    expect(router.pool.get('b')).toBeUndefined();
    expect(router.pool.drain('nope')).toBe(false);
    expect(router.pool.undrain('a')).toBe(false);
    expect(router.pool.remove('nope')).toBe(false);
    expect(router.pool.markDown('nope')).toBe(false);
    expect(router.pool.markUp('a')).toBe(false);
  });
});

describe('drain until idle', () => {
  /** A request of `client` (its cookie), released at once; answers the backend that served it. */
  async function visit(router: StickyRouter, client: { cookie: string }) {
    const route = await router.route(withCookie(client.cookie));
    steps(router).release(route);
    return route;
  }
  const drainStats = (router: StickyRouter, id: string) => {
    const b = router.stats().backends.find((x) => x.id === id);
    return b && { quietMs: b.quietMs, drain: b.drain };
  };

  it('stuck clients that keep coming keep it; it goes `idle` after the last one, not before', async () => {
    const { clock, router, of } = setup();
    const clients = [];
    for (let i = 0; i < 6; i++) clients.push(await stuckClient(router));
    const onA = clients.filter((c) => c.backend.id === 'a');
    const onB = clients.find((c) => c.backend.id === 'b')!;
    expect(onA).toHaveLength(2);
    const since = clock.now();
    router.pool.drain('a', { idle: '2m', timeout: '1h' });
    expect(of('drain')).toEqual([
      { id: 'a', url: 'http://10.0.0.1:8080', idleMs: 120_000, timeoutMs: 3_600_000 },
    ]);
    expect(drainStats(router, 'a')).toEqual({
      quietMs: 0,
      drain: { since, idleMs: 120_000, timeoutMs: 3_600_000, removesAt: since + 120_000 },
    });
    expect(drainStats(router, 'b')).toEqual({ quietMs: undefined, drain: undefined });
    // 15 minutes of its clients coming back every 90 s, one after the other: far past `idle`, never idle.
    for (let i = 0; i < 10; i++) {
      clock.advance(90_000);
      expect(drainStats(router, 'a')!.quietMs).toBe(90_000);
      expect((await visit(router, onA[i % 2]!)).backend!.id).toBe('a');
      expect(drainStats(router, 'a')!.quietMs).toBe(0);
      for (let n = 0; n < 3; n++) {
        const route = await router.route(request({ ip: `198.51.100.${i * 3 + n}` }));
        expect(route.backend!.id).not.toBe('a');
        steps(router).release(route);
      }
    }
    const last = clock.now();
    expect(drainStats(router, 'a')!.drain!.removesAt).toBe(last + 120_000);
    // Requests of other backends' clients do not keep it.
    clock.advance(60_000);
    expect((await visit(router, onB)).backend!.id).toBe('b');
    clock.advance(59_999);
    expect(drainStats(router, 'a')!.quietMs).toBe(119_999);
    expect(of('remove')).toEqual([]);
    clock.advance(1);
    expect(router.pool.get('a')).toBeUndefined();
    expect(of('remove')).toEqual([{ id: 'a', url: 'http://10.0.0.1:8080', reason: 'drain-idle' }]);
    for (const client of onA) expect((await visit(router, client)).reason).toBe('rerouted');
    expect(clock.pending).toBe(0);
  });

  it('a request still in flight there (a WebSocket) keeps it: quiet counts from its end, to the second', async () => {
    const { clock, router, of } = setup();
    const client = await stuckClient(router);
    const id = client.backend.id;
    router.pool.drain(id, { idle: '2m', timeout: '1h' });
    clock.advance(30_000);
    const open = await router.route(withCookie(client.cookie)); // an upgrade held open for ten minutes
    expect(open.backend!.id).toBe(id);
    clock.advance(10 * 60_000);
    expect(router.pool.get(id)).toBeDefined();
    // Looked at every second since the rule fell due, the last time just now, with the upgrade still open.
    expect(drainStats(router, id)!.quietMs).toBe(0);
    steps(router).release(open);
    clock.advance(120_000 - 1);
    expect(of('remove')).toEqual([]);
    clock.advance(1);
    expect(of('remove')).toEqual([expect.objectContaining({ id, reason: 'drain-idle' })]);
  });

  it('the timeout comes first when its clients never go quiet', async () => {
    const { clock, router, of } = setup();
    const clients = [];
    for (let i = 0; i < 3; i++) clients.push(await stuckClient(router));
    const onA = clients.find((c) => c.backend.id === 'a')!;
    router.pool.drain('a', { idle: '2m', timeout: '5m' });
    for (let i = 0; i < 4; i++) {
      clock.advance(60_000);
      await visit(router, onA);
    }
    clock.advance(59_999);
    expect(router.pool.get('a')).toBeDefined();
    clock.advance(1);
    expect(of('remove')).toEqual([{ id: 'a', url: 'http://10.0.0.1:8080', reason: 'drain-timeout' }]);
  });

  it('no stuck client at all: removed `idle` after the drain began', async () => {
    const { clock, router, of } = setup();
    router.pool.drain('c', { idle: '1s', timeout: '5m' });
    clock.advance(999);
    expect(router.pool.get('c')).toBeDefined();
    clock.advance(1);
    expect(of('remove')).toEqual([{ id: 'c', url: 'http://10.0.0.3:8080', reason: 'drain-idle' }]);
  });

  it('idle defaults to the stickiness idle duration; without stickiness the timeout alone removes', () => {
    const idleOf = (stickiness: StickyOptions['stickiness']) => {
      const { router, of } = setup({ stickiness });
      router.pool.drain('a', { timeout: '2h' });
      return (of('drain')[0] as { idleMs: number | null }).idleMs;
    };
    expect(idleOf({ type: 'lb-cookie', duration: '10m' })).toBe(600_000);
    expect(idleOf({ type: 'lb-cookie' })).toBe(1_200_000);
    expect(idleOf({ type: 'app-cookie', appCookie: 'SID' })).toBe(1_200_000);
    expect(idleOf({ type: 'app-cookie', appCookie: 'SID', mode: 'learn' })).toBe(1_200_000);
    expect(idleOf({ type: 'app-cookie', appCookie: 'JSESSIONID', mode: 'route' })).toBe(1_800_000);
    expect(idleOf({ type: 'source-ip', duration: '5m' })).toBe(300_000);
    expect(idleOf({ type: 'header', header: 'x-api-key' })).toBe(1_200_000);
    expect(idleOf({ type: 'query', param: 'apikey', duration: '7m' })).toBe(420_000);
    expect(idleOf(false)).toBeNull();

    const { clock, router, of } = setup({ stickiness: { type: 'lb-cookie', duration: '10m' } });
    router.pool.drain('a', { timeout: '1h' });
    clock.advance(599_999);
    expect(router.pool.get('a')).toBeDefined();
    clock.advance(1);
    expect(of('remove')).toEqual([expect.objectContaining({ id: 'a', reason: 'drain-idle' })]);

    const off = setup({ stickiness: false });
    off.router.pool.drain('a', { timeout: '1h' });
    expect(drainStats(off.router, 'a')!.drain).toMatchObject({
      idleMs: null,
      removesAt: off.clock.now() + 3_600_000,
    });
    off.clock.advance(3_599_999);
    expect(off.router.pool.get('a')).toBeDefined();
    off.clock.advance(1);
    expect(off.of('remove')).toEqual([expect.objectContaining({ id: 'a', reason: 'drain-timeout' })]);
  });

  it.each([
    ['source-ip', { type: 'source-ip' }, 'sticky'],
    ['learn', { type: 'app-cookie', appCookie: 'SID', mode: 'learn' }, 'learned'],
  ] as const)(
    '%s: requests whose key the store maps to it count as its stuck clients',
    async (_, stickiness, reason) => {
      const { clock, router } = setup({ stickiness });
      // Keys of clients whose store entry names 'a' (source-ip: learned on first placement; learn: from the app).
      const keyed: RouteRequest[] = [];
      for (let i = 0; keyed.length < 2 && i < 30; i++) {
        const req =
          stickiness.type === 'source-ip' ? request({ ip: `192.0.2.${i}` }) : withCookie(`SID=session-${i}`);
        const route = await router.route(req);
        steps(router).responseCookies(route, `SID=session-${i}; Path=/`);
        steps(router).release(route);
        if (route.backend!.id === 'a') keyed.push(req);
      }
      expect(keyed).toHaveLength(2);
      router.pool.drain('a', { idle: '2m', timeout: '1h' });
      for (let i = 0; i < 6; i++) {
        clock.advance(100_000);
        const route = await router.route(keyed[i % 2]!);
        steps(router).release(route);
        expect({ backend: route.backend!.id, reason: route.reason }).toEqual({ backend: 'a', reason });
      }
      clock.advance(119_999);
      expect(router.pool.get('a')).toBeDefined();
      clock.advance(1);
      expect(router.pool.get('a')).toBeUndefined();
    },
  );

  it('undrain forgets the drain; draining again keeps how long it has been quiet', async () => {
    const { clock, router } = setup();
    router.pool.drain('a', { idle: '2m', timeout: '1h' });
    clock.advance(60_000);
    router.pool.undrain('a');
    expect(drainStats(router, 'a')).toEqual({ quietMs: undefined, drain: undefined });
    clock.advance(600_000);
    expect(router.pool.get('a')!.state).toBe('healthy');
    router.pool.drain('b', { idle: '2m', timeout: '1h' });
    clock.advance(90_000);
    router.pool.drain('b', { idle: '3m', timeout: '1h' });
    expect(drainStats(router, 'b')!.quietMs).toBe(90_000);
    clock.advance(89_999);
    expect(router.pool.get('b')).toBeDefined();
    clock.advance(1);
    expect(router.pool.get('b')).toBeUndefined();
  });

  it('a timeout longer than a Node timer can wait (24.8 days) still waits it out', () => {
    const { clock, router } = setup({ stickiness: false });
    router.pool.drain('a', { timeout: '30d' });
    clock.advance(29 * 86_400_000);
    expect(router.pool.get('a')).toBeDefined();
    clock.advance(86_400_000);
    expect(router.pool.get('a')).toBeUndefined();
  });

  it('bad drain options are StickyConfigErrors naming the option', () => {
    const { router } = setup();
    const optionOf = (fn: () => unknown) => {
      try {
        fn();
      } catch (error) {
        expect(error).toBeInstanceOf(StickyConfigError);
        return [(error as StickyConfigError).option, (error as Error).message];
      }
      throw new Error('no error');
    };
    expect(optionOf(() => router.pool.drain('a', { idle: '500ms', timeout: '1h' }))[0]).toBe('drain.idle');
    expect(optionOf(() => router.pool.drain('a', { idle: 'soon' as never }))[0]).toBe('drain.idle');
    expect(optionOf(() => router.pool.drain('a', { idle: '10m' }))).toEqual([
      'drain.idle',
      expect.stringContaining('not shorter than 5m, the default'),
    ]);
    expect(optionOf(() => router.pool.drain('a', { idle: '10m', timeout: '10m' }))[0]).toBe('drain.idle');
    expect(optionOf(() => router.pool.drain('a', { idel: '1m' } as never))[0]).toBe('drain.idel');
    for (const notAnObject of ['5m', null])
      expect(optionOf(() => router.pool.drain('a', notAnObject as never))).toEqual([
        'drain',
        expect.stringContaining(`must be an object { idle?, timeout? } (got ${JSON.stringify(notAnObject)}`),
      ]);
    expect(router.pool.get('a')!.state).toBe('healthy');
  });
});

describe('failover()', () => {
  async function routed(router: StickyRouter, req: RouteRequest = request()): Promise<Route> {
    return router.route(req);
  }

  it('connection refused: retried on another backend until each was tried (at most twice), then 502', async () => {
    const { router, of } = setup({ stickiness: false });
    const route = await routed(router);
    const first = await steps(router).failover(route, { error: REFUSED });
    expect(first.reply).toBeUndefined();
    const retry = first.retry!;
    expect(retry.backend!.id).not.toBe(route.backend!.id);
    expect(retry).toMatchObject({ reason: 'new', attempts: 1 });
    expect(retry.upstreamHeaders['x-sticky-rerouted']).toBeUndefined();
    expect(of('retry')).toEqual([{ from: route.backend!.id, to: retry.backend!.id, method: 'GET' }]);
    // The original's slot was given back, the retry holds one.
    expect(router.stats().backends.map((b) => b.active)).toEqual(
      BACKENDS.map((b) => (b.id === retry.backend!.id ? 1 : 0)),
    );
    const second = await steps(router).failover(retry, { error: REFUSED });
    expect(second.retry!.backend!.id).not.toBe(route.backend!.id);
    expect(second.retry!.backend!.id).not.toBe(retry.backend!.id);
    expect(second.retry!.attempts).toBe(2);
    const third = await steps(router).failover(second.retry!, { error: REFUSED });
    expect(third.retry).toBeUndefined();
    expect(third.reply).toEqual({
      status: 502,
      headers: { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' },
      body: 'Bad Gateway\n',
    });
    expect(router.pool.load.active).toBe(0);
    expect(router.stats().requests).toMatchObject({ retried: 2, failed: 3 });
  });

  it('a second passive failure after a manual markUp gets a full cool-down of its own', async () => {
    const { router, clock } = setup({ stickiness: false, healthCheck: { maxFailures: 1, cooldown: '10s' } });
    const fail = async () => {
      let route = await routed(router);
      while (route.backend!.id !== 'a') {
        steps(router).release(route);
        route = await routed(router);
      }
      await steps(router).failover(route, { error: REFUSED, bodySent: true });
    };
    await fail();
    expect(router.pool.get('a')!.state).toBe('down');
    clock.advance(4_000);
    router.pool.markUp('a');
    await fail();
    clock.advance(7_000); // 11 s after the first failure, 7 s after the second
    expect(router.pool.get('a')!.state).toBe('down');
    clock.advance(3_000);
    expect(router.pool.get('a')!.state).toBe('healthy');
  });

  it('a reset on a reused keep-alive connection retries once on the same backend, moving no one', async () => {
    const { router, of } = setup();
    const first = await routed(router);
    const cookie = cookiePair(steps(router).responseCookies(first));
    steps(router).release(first);
    const stuck = await routed(router, withCookie(cookie));
    expect(stuck.reason).toBe('sticky');
    const reset = Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });
    const again = await steps(router).failover(stuck, { error: reset, reusedConnection: true });
    expect(again.retry).toMatchObject({ backend: stuck.backend, reason: 'sticky', attempts: 0 });
    expect(again.retry!.upstreamHeaders['x-sticky-rerouted']).toBeUndefined();
    expect(of('reroute')).toEqual([]);
    expect(router.stats().requests).toMatchObject({ retried: 1, failed: 0, rerouted: 0 });
    // Only once: a second stale reset is a real failure, and the usual failover takes over.
    const next = await steps(router).failover(again.retry!, { error: reset, reusedConnection: true });
    expect(next.retry?.backend?.id).not.toBe(stuck.backend!.id);
    expect(next.retry?.reason).toBe('rerouted');
    steps(router).release(next.retry!);
    expect(router.pool.load.active).toBe(0);
  });

  it('a reset on a reused connection after the body was sent is not retried', async () => {
    const { router } = setup({ stickiness: false });
    const reset = Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });
    const route = await routed(router, request({ method: 'POST' }));
    const next = await steps(router).failover(route, {
      error: reset,
      reusedConnection: true,
      bodySent: true,
    });
    expect(next.reply?.status).toBe(502);
  });

  it.each(['HEAD', 'OPTIONS', 'PUT', 'DELETE', 'get'])('retries the idempotent method %s', async (method) => {
    const { router } = setup({ stickiness: false });
    const next = await steps(router).failover(await routed(router, request({ method })), { error: REFUSED });
    expect(next.retry).toBeDefined();
  });

  it('a refused POST or PATCH (nothing reached the backend) is retried; its body is replayed', async () => {
    const { router } = setup({ stickiness: false });
    for (const method of ['POST', 'PATCH'])
      expect(
        (await steps(router).failover(await routed(router, request({ method })), { error: REFUSED })).retry,
      ).toBeDefined();
  });

  it('does not retry a reset POST or PATCH (it may have reached the app), a body it could not keep, or a started response: 502', async () => {
    const { router } = setup({ stickiness: false });
    const RESET = Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });
    for (const [method, failure] of [
      ['POST', { error: RESET }],
      ['PATCH', { error: RESET }],
      ['PUT', { error: REFUSED, bodySent: true }],
      ['GET', { error: REFUSED, responseStarted: true }],
    ] as const) {
      const next = await steps(router).failover(await routed(router, request({ method })), failure);
      expect(next.retry).toBeUndefined();
      expect(next.reply!.status).toBe(502);
    }
  });

  it('answers 504 for a timeout and 502 for anything else, without retrying', async () => {
    const { router } = setup({ stickiness: false });
    const timeout = await steps(router).failover(await routed(router), { error: TIMED_OUT });
    expect(timeout.reply).toMatchObject({ status: 504, body: 'Gateway Timeout\n' });
    for (const error of [new Error('parse error'), 'a string', null, { code: 42 }]) {
      const other = await steps(router).failover(await routed(router), { error });
      expect(other.reply!.status).toBe(502);
      expect(other.reply!.body).not.toMatch(/error|at /i);
    }
  });

  it('a stuck client refused by its backend is retried elsewhere as rerouted, with a new cookie', async () => {
    const { router, of } = setup();
    const client = await stuckClient(router);
    const route = await router.route(withCookie(client.cookie));
    expect(route.reason).toBe('sticky');
    const { retry } = await steps(router).failover(route, { error: REFUSED });
    expect(retry!.reason).toBe('rerouted');
    expect(retry!.backend!.id).not.toBe(client.backend.id);
    expect(retry!.upstreamHeaders['x-sticky-rerouted']).toBe('1');
    expect(of('reroute')).toEqual([{ from: client.backend.id, to: retry!.backend!.id, why: 'failed' }]);
    const cookie = cookiePair(steps(router).responseCookies(retry!));
    steps(router).release(retry!);
    expect(await router.route(withCookie(cookie))).toMatchObject({
      reason: 'sticky',
      backend: retry!.backend,
    });
  });

  it('a keyed client refused by its backend moves for good: the store follows the retry', async () => {
    const { router, of } = setup({ stickiness: { type: 'source-ip' } });
    const req = request({ ip: '198.51.100.77' });
    const first = await router.route(req);
    expect(first.reason).toBe('hashed');
    steps(router).release(first);
    const stuck = await router.route(req);
    expect(stuck).toMatchObject({ reason: 'sticky', backend: first.backend });
    const { retry } = await steps(router).failover(stuck, { error: REFUSED });
    expect(retry!.reason).toBe('rerouted');
    expect(retry!.backend).not.toBe(first.backend);
    expect(of('reroute')).toEqual([{ from: first.backend!.id, to: retry!.backend!.id, why: 'failed' }]);
    steps(router).release(retry!);
    // Its old backend is still up (one failure is not enough to mark it down), yet the client stays moved,
    // as an lb-cookie client does with its new cookie.
    expect(first.backend!.state).toBe('healthy');
    expect(await router.route(req)).toMatchObject({ reason: 'sticky', backend: retry!.backend });
  });

  it('a client placed for the first time (new or hashed) is retried as such, not as rerouted', async () => {
    for (const stickiness of [false, { type: 'source-ip' }, { type: 'lb-cookie' }] as const) {
      const { router, of } = setup({ stickiness });
      const route = await router.route(request({ ip: '198.51.100.78' }));
      expect(['new', 'hashed']).toContain(route.reason);
      const { retry } = await steps(router).failover(route, { error: REFUSED });
      expect(retry!.reason).toBe(route.reason);
      expect(retry!.upstreamHeaders['x-sticky-rerouted']).toBeUndefined();
      expect(of('reroute')).toEqual([]);
      expect(router.stats().requests.rerouted).toBe(0);
    }
  });

  it('answers 502 when no other backend is left to retry on', async () => {
    const { router } = setup({ stickiness: false, backends: [BACKENDS[0]!] });
    const next = await steps(router).failover(await routed(router), { error: REFUSED });
    expect(next.reply!.status).toBe(502);
  });

  it('passive health: maxFailures consecutive failures mark a backend down, the cooldown brings it back', async () => {
    const { clock, router, of } = setup({
      stickiness: false,
      healthCheck: { maxFailures: 3, cooldown: '10s' },
    });
    const a = router.pool.get('a')!;
    const failOn = async (error: unknown) => {
      const route = await router.route(request());
      if (route.backend === a) await steps(router).failover(route, { error, responseStarted: true });
      else steps(router).release(route);
    };
    // The rotation goes a, b, c: six requests are two failures on a, one short of maxFailures.
    for (let i = 0; i < 6; i++) await failOn(REFUSED);
    expect(a.consecutiveFailures).toBe(2);
    expect(a.state).toBe('healthy');
    // A success resets the count.
    const ok = await router.route(request());
    expect(ok.backend).toBe(a);
    steps(router).succeeded(ok);
    steps(router).release(ok);
    expect(a.consecutiveFailures).toBe(0);
    for (let i = 0; i < 9; i++) await failOn(i % 2 ? TIMED_OUT : REFUSED);
    expect(a.state).toBe('down');
    expect(of('down')).toEqual([{ id: 'a', url: 'http://10.0.0.1:8080', reason: 'passive' }]);
    for (let i = 0; i < 10; i++) {
      const route = await router.route(request());
      expect(route.backend!.id).not.toBe('a');
      steps(router).release(route);
    }
    clock.advance(9_999);
    expect(a.state).toBe('down');
    clock.advance(1);
    expect(a.state).toBe('healthy');
    expect(of('up')).toEqual([{ id: 'a', url: 'http://10.0.0.1:8080', reason: 'cooldown' }]);
  });

  it('passive health ignores errors that are not connection failures, and is off with maxFailures: 0', async () => {
    const { router } = setup({
      stickiness: false,
      backends: [BACKENDS[0]!],
      healthCheck: { maxFailures: 1 },
    });
    await steps(router).failover(await routed(router), { error: new Error('bad response') });
    expect(router.pool.get('a')!.state).toBe('healthy');
    const off = setup({
      stickiness: false,
      backends: [BACKENDS[0]!],
      healthCheck: { maxFailures: 0 },
    }).router;
    for (let i = 0; i < 10; i++) await steps(off).failover(await routed(off), { error: REFUSED });
    expect(off.pool.get('a')!.state).toBe('healthy');
  });
});

describe('X-Forwarded-*', () => {
  it('sends the client IP, proto and host; ignores a spoofed X-Forwarded-For', async () => {
    const { router } = setup({ stickiness: false });
    const spoofed = await router.route(
      request({
        ip: '203.0.113.9',
        remoteAddress: '203.0.113.9',
        secure: true,
        headers: { host: 'shop.example', 'x-forwarded-for': '1.2.3.4' },
      }),
    );
    expect(spoofed.upstreamHeaders).toEqual({
      'x-forwarded-for': '203.0.113.9',
      'x-forwarded-proto': 'https',
      'x-forwarded-host': 'shop.example',
    });
    const noPeer = await router.route(
      request({ ip: '203.0.113.9', headers: { 'x-forwarded-for': '1.2.3.4' } }),
    );
    expect(noPeer.upstreamHeaders['x-forwarded-for']).toBe('203.0.113.9');
    expect(noPeer.upstreamHeaders['x-forwarded-proto']).toBe('http');
    expect(noPeer.upstreamHeaders['x-forwarded-host']).toBeUndefined();
  });

  it('keeps a trusted chain (the framework resolved the IP from it) and appends the peer', async () => {
    const { router } = setup({ stickiness: false });
    const trusted = await router.route(
      request({
        ip: '198.51.100.20',
        remoteAddress: '10.1.1.1',
        headers: { 'x-forwarded-for': '198.51.100.20, 10.2.2.2' },
      }),
    );
    expect(trusted.upstreamHeaders['x-forwarded-for']).toBe('198.51.100.20, 10.2.2.2, 10.1.1.1');
    const split = await router.route(
      request({
        ip: '198.51.100.20',
        remoteAddress: '10.1.1.1',
        headers: { 'x-forwarded-for': ['198.51.100.20', '10.2.2.2'] },
      }),
    );
    expect(split.upstreamHeaders['x-forwarded-for']).toBe('198.51.100.20, 10.2.2.2, 10.1.1.1');
  });
});

describe('stats, events and lifecycle', () => {
  it('counts requests per reason and per backend', async () => {
    const { router } = setup();
    const client = await stuckClient(router);
    const held = await router.route(withCookie(client.cookie));
    await router.route(withCookie('STICKY=forged'));
    const stats = router.stats();
    expect(stats.algorithm).toBe('round-robin');
    expect(stats.requests).toMatchObject({ total: 3, new: 2, sticky: 1, forgedCookies: 1, noBackend: 0 });
    const mine = stats.backends.find((b) => b.id === client.backend.id)!;
    expect(mine).toMatchObject({
      url: 'http://10.0.0.1:8080',
      weight: 1,
      state: 'healthy',
      active: 1,
      total: 2,
      new: 1,
      sticky: 1,
      rampFactor: 1,
    });
    steps(router).release(held);
    expect(router.stats().backends.find((b) => b.id === client.backend.id)!.active).toBe(0);
  });

  it('announces pool changes as events', async () => {
    const { router, events } = setup();
    router.pool.add({ url: 'http://10.0.0.4:8080', id: 'd', weight: 2 });
    router.pool.markDown('d');
    router.pool.markUp('d');
    router.pool.drain('d', { timeout: 60 });
    router.pool.remove('d');
    expect(
      events.map(([name, payload]) => [
        name,
        (payload as { to?: string }).to ?? (payload as { id: string }).id,
      ]),
    ).toEqual([
      ['add', 'd'],
      ['state', 'healthy'],
      ['down', 'd'],
      ['state', 'down'],
      ['up', 'd'],
      ['state', 'healthy'],
      ['drain', 'd'],
      ['state', 'draining'],
      ['remove', 'd'],
      ['state', 'removed'],
    ]);
    expect(() => router.pool.add({ url: 'http://10.0.0.9', id: 'a' })).toThrow(StickyConfigError);
    expect(() => router.pool.add('ftp://x')).toThrow(/backend\.url/);
    expect(() => router.pool.drain('a', { timeout: 'later' as never })).toThrow(/drain\.timeout/);
  });

  it('answers no backend when all are gone, and never throws on a null route', async () => {
    const { router } = setup({ stickiness: { type: 'source-ip' } });
    for (const b of BACKENDS) router.pool.remove(b.id);
    const route = await router.route(request());
    expect(route.backend).toBeNull();
    expect(steps(router).responseCookies(route)).toEqual([]);
    steps(router).release(route);
    steps(router).succeeded(route);
    expect((await steps(router).failover(route, { error: REFUSED })).reply!.status).toBe(502);
  });

  it('close() stops every timer it started', async () => {
    const { clock, router } = setup({ stickiness: false, healthCheck: { maxFailures: 1, cooldown: 60 } });
    router.pool.drain('b', { timeout: 600 });
    await steps(router).failover(await router.route(request()), { error: REFUSED });
    expect(clock.pending).toBe(2);
    await router.close();
    await router.close();
    expect(clock.pending).toBe(0);
  });

  it('slow start: a backend that just joined ramps from 10% to its full share of new clients', async () => {
    const { clock, router } = setup({ stickiness: false, slowStart: '100s' }, { random: () => 0.5 });
    clock.advance(200_000);
    router.pool.add({ url: 'http://10.0.0.4:8080', id: 'd' });
    expect(router.stats().backends.find((b) => b.id === 'd')!.rampFactor).toBe(0.1);
    const count = async () => {
      let n = 0;
      for (let i = 0; i < 40; i++) {
        const route = await router.route(request());
        if (route.backend!.id === 'd') n++;
        steps(router).release(route);
      }
      return n;
    };
    // random() = 0.5: a backend under half its ramp is passed over.
    expect(await count()).toBe(0);
    clock.advance(60_000);
    expect(router.stats().backends.find((b) => b.id === 'd')!.rampFactor).toBeCloseTo(0.6);
    expect(await count()).toBe(10);
    clock.advance(40_000);
    expect(router.stats().backends.find((b) => b.id === 'd')!.rampFactor).toBe(1);
  });
});

describe('a failing store', () => {
  const broken: StickyStore = {
    get: () => Promise.reject(new Error('store down')),
    setIfAbsent: () => Promise.reject(new Error('store down')),
    set: () => Promise.reject(new Error('store down')),
    delete: () => Promise.reject(new Error('store down')),
  };

  it('falls back to hashing, counts the errors and warns at most every 10 seconds', async () => {
    const warnings: string[] = [];
    const { clock, router } = setup({
      stickiness: { type: 'source-ip' },
      store: broken,
      logger: { warn: (m) => warnings.push(m) },
    });
    const errors: unknown[] = [];
    router.on('store-error', (e) => errors.push(e));
    const first = await router.route(request({ ip: '198.51.100.7' }));
    expect(first.reason).toBe('hashed');
    steps(router).release(first);
    const again = await router.route(request({ ip: '198.51.100.7' }));
    expect(again).toMatchObject({ reason: 'hashed', backend: first.backend });
    expect(router.stats().requests.storeErrors).toBe(4);
    expect(errors).toHaveLength(4);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/store down/);
    clock.advance(10_000);
    await router.route(request({ ip: '198.51.100.8' }));
    expect(warnings).toHaveLength(2);
    expect(router.stats().storeEntries).toBeUndefined();
  });

  it('learn mode with a failing store still routes (hashed by the app cookie value)', async () => {
    const { router } = setup({
      stickiness: { type: 'app-cookie', appCookie: 'SID', mode: 'learn' },
      store: broken,
      logger: { warn() {} },
    });
    const route = await router.route(withCookie('SID=abc'));
    expect(route.reason).toBe('hashed');
    expect(steps(router).responseCookies(route, 'SID=abc; Max-Age=60')).toEqual([]);
  });
});
