// app-cookie in route mode: the route at the end of the app's session id (Tomcat's jvmRoute) names the
// backend, read from the cookie or from the `;jsessionid=` path parameter; no balancer cookie, no store, and
// routeNow answers at once. A session without a route is balanced as new; an unknown or down route is rerouted
// (503 in strict mode); a draining backend keeps its sessions.

import type { RerouteEvent } from '../events';
import { createStickyRouter, type StickyRouter } from '../router';
import { FakeClock } from '../testing/fake-clock';
import { request, withCookie } from '../testing/requests';
import { steps } from '../testing/router-steps';
import { withTestHooks } from '../testing-hooks';
import type { Route, RouteRequest } from '../types';
import { readPathParameter } from './app-cookie-route';

const BACKENDS = [
  { url: 'http://10.0.0.1:8080', id: 'node1' },
  { url: 'http://10.0.0.2:8080', id: 'node2' },
  { url: 'http://10.0.0.3:8080', id: 'node3' },
];

function setup(extra: { strict?: boolean; routeSeparator?: string; backends?: typeof BACKENDS } = {}) {
  const warnings: string[] = [];
  const router = createStickyRouter(
    withTestHooks(
      {
        backends: extra.backends ?? BACKENDS,
        stickiness: {
          type: 'app-cookie',
          appCookie: 'JSESSIONID',
          mode: 'route',
          ...(extra.routeSeparator === undefined ? {} : { routeSeparator: extra.routeSeparator }),
        },
        strict: extra.strict ?? false,
        logger: { warn: (message: string) => warnings.push(message) },
      },
      { clock: new FakeClock() },
    ),
  );
  const reroutes: RerouteEvent[] = [];
  router.on('reroute', (event) => reroutes.push(event));
  return { router, reroutes, warnings };
}

/** Routes synchronously (route mode asks no store), reads the response's balancer cookies, releases. */
function visit(router: StickyRouter, req: RouteRequest, upstreamSetCookie?: string) {
  const route = steps(router).routeNow(req);
  if (route instanceof Promise) throw new Error('route mode answered a promise');
  const setCookies = steps(router).responseCookies(route, upstreamSetCookie);
  steps(router).release(route);
  return { route, setCookies };
}

const backendOf = (route: Route) => route.backend?.id ?? null;

describe('app-cookie route', () => {
  it('the route after the last dot names the backend, from the cookie; nothing is issued or stored', () => {
    const { router } = setup();
    for (const id of ['node1', 'node2', 'node3', 'node2']) {
      for (let i = 0; i < 3; i++) {
        // Newcomers move the round robin on between the visits.
        visit(router, request());
        const { route, setCookies } = visit(
          router,
          withCookie(`theme=dark; JSESSIONID=4F2A.9C.${id}; lang=en`),
          'JSESSIONID=4F2A.9C.node1; Path=/; HttpOnly',
        );
        expect({ backend: backendOf(route), reason: route.reason }).toEqual({
          backend: id,
          reason: 'sticky',
        });
        expect(route.upstreamHeaders['x-sticky-rerouted']).toBeUndefined();
        expect(setCookies).toEqual([]);
      }
    }
    expect(router.stats().requests).toMatchObject({ sticky: 12, rerouted: 0, new: 12 });
    expect(router.stats().storeEntries).toBe(0);
  });

  it('reads the ;jsessionid= path parameter when the request has no cookie; the cookie wins over it', () => {
    const { router } = setup();
    expect(backendOf(visit(router, request({ url: '/cart;jsessionid=4F2A9C.node3?x=1' })).route)).toBe(
      'node3',
    );
    expect(backendOf(visit(router, request({ url: '/cart;jsessionid=4F2A9C.node2' })).route)).toBe('node2');
    expect(
      backendOf(visit(router, request({ url: '/a;jsessionid=4F2A9C.node1/b;v=2?jsessionid=x.node3' })).route),
    ).toBe('node1');
    const both = visit(router, withCookie('JSESSIONID=77.node1', { url: '/cart;jsessionid=4F2A9C.node3' }));
    expect(backendOf(both.route)).toBe('node1');
    expect(router.stats().requests.sticky).toBe(4);
  });

  it('a session id without a route, or nothing, is balanced as new; not the query, not another name', () => {
    const { router } = setup();
    const placed = new Set<string | null>();
    for (const req of [
      request(),
      withCookie('JSESSIONID=4F2A9C'),
      withCookie('JSESSIONID=4F2A9C.'),
      withCookie('JSESSIONID='),
      withCookie('OTHERSID=4F2A9C.node1'),
      request({ url: '/cart?jsessionid=4F2A9C.node1' }),
      request({ url: '/cart?x=1;jsessionid=4F2A9C.node1' }),
      request({ url: '/cart;JSESSIONID=4F2A9C.node1' }),
      request({ url: '/cart;jsessionid=' }),
    ]) {
      const { route } = visit(router, req);
      expect(route.reason).toBe('new');
      expect(route.upstreamHeaders['x-sticky-rerouted']).toBeUndefined();
      placed.add(backendOf(route));
    }
    expect(placed).toEqual(new Set(['node1', 'node2', 'node3']));
    expect(router.stats().requests).toMatchObject({ new: 9, sticky: 0, rerouted: 0 });
  });

  it('an unknown route or a down backend is rerouted with x-sticky-rerouted; strict answers 503', () => {
    const { router, reroutes } = setup();
    const unknown = visit(router, withCookie('JSESSIONID=4F2A9C.node9'));
    expect(unknown.route.reason).toBe('rerouted');
    expect(unknown.route.upstreamHeaders['x-sticky-rerouted']).toBe('1');
    expect(unknown.setCookies).toEqual([]);
    router.pool.markDown('node2');
    const down = visit(router, request({ url: '/cart;jsessionid=4F2A9C.node2' }));
    expect(down.route.reason).toBe('rerouted');
    expect(backendOf(down.route)).not.toBe('node2');
    expect(reroutes).toEqual([
      { from: null, to: backendOf(unknown.route), why: 'gone' },
      { from: 'node2', to: backendOf(down.route), why: 'down' },
    ]);
    router.pool.remove('node3');
    expect(visit(router, withCookie('JSESSIONID=1.node3')).route.reason).toBe('rerouted');

    const strict = setup({ strict: true }).router;
    strict.pool.markDown('node2');
    for (const req of [withCookie('JSESSIONID=4F2A9C.node9'), withCookie('JSESSIONID=4F2A9C.node2')]) {
      const { route } = visit(strict, req);
      expect(route.backend).toBeNull();
      expect(route.reason).toBe('rerouted');
    }
    expect(backendOf(visit(strict, withCookie('JSESSIONID=4F2A9C.node1')).route)).toBe('node1');
    expect(backendOf(visit(strict, withCookie('JSESSIONID=4F2A9C')).route)).not.toBeNull();
    expect(strict.stats().requests.noBackend).toBe(2);
  });

  it('a draining backend keeps its sessions and takes no new client', () => {
    const { router } = setup();
    router.pool.drain('node1', { timeout: '1h' });
    for (let i = 0; i < 6; i++) {
      expect(backendOf(visit(router, request()).route)).not.toBe('node1');
      expect(visit(router, withCookie('JSESSIONID=4F2A9C.node1')).route).toMatchObject({
        reason: 'sticky',
        backend: { id: 'node1' },
      });
    }
  });

  it('routeSeparator: the route follows the last separator; ids that hold it are warned about', () => {
    const { router, warnings } = setup({ routeSeparator: '~' });
    expect(warnings).toEqual([]);
    expect(backendOf(visit(router, withCookie('JSESSIONID=4F2A.9C~node2')).route)).toBe('node2');
    expect(visit(router, withCookie('JSESSIONID=4F2A9C.node2')).route.reason).toBe('new');
    expect(visit(router, withCookie('JSESSIONID=4F2A9C.node2~nodeX')).route.reason).toBe('rerouted');
    expect(router.getStickiness()).toEqual({
      type: 'app-cookie',
      appCookie: 'JSESSIONID',
      mode: 'route',
      routeSeparator: '~',
    });

    const urls = setup({
      backends: [...BACKENDS.slice(0, 2), { url: 'http://10.0.0.3:8080', id: 'node.3' }],
    });
    expect(urls.warnings).toHaveLength(1);
    expect(urls.warnings[0]).toContain("'node.3'");
    urls.router.setStickiness({
      type: 'app-cookie',
      appCookie: 'JSESSIONID',
      mode: 'route',
      routeSeparator: '!',
    });
    expect(urls.warnings).toHaveLength(1);
  });
});

describe('readPathParameter', () => {
  it('reads one path parameter up to ; / ? or #, never from the query', () => {
    const p = ';jsessionid=';
    expect(readPathParameter('/cart;jsessionid=AB.n1', p)).toBe('AB.n1');
    expect(readPathParameter('/cart;jsessionid=AB.n1;v=1', p)).toBe('AB.n1');
    expect(readPathParameter('/cart;jsessionid=AB.n1/next', p)).toBe('AB.n1');
    expect(readPathParameter('/cart;jsessionid=AB.n1?x=1', p)).toBe('AB.n1');
    expect(readPathParameter('/cart;jsessionid=AB.n1#top', p)).toBe('AB.n1');
    expect(readPathParameter('/cart;jsessionid=', p)).toBe('');
    expect(readPathParameter('/cart', p)).toBeUndefined();
    expect(readPathParameter('/cart?q=;jsessionid=AB.n1', p)).toBeUndefined();
  });
});
