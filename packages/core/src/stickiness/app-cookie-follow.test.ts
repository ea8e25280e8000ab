// app-cookie in follow mode: the balancer cookie lives exactly as long as the application's session
// cookie — set with the same Max-Age/Expires (or as a session cookie), deleted with it, absent without it,
// and after a reroute re-issued for the new backend with the old expiry.

import { BalancerCookieCodec } from '../cookie/balancer-cookie-codec';
import { createStickyRouter, type StickyRouter } from '../router';
import { FakeClock } from '../testing/fake-clock';
import { cookieAttributes, cookiePair, request, withCookie } from '../testing/requests';
import { steps } from '../testing/router-steps';
import { withTestHooks } from '../testing-hooks';
import type { RouteRequest } from '../types';
import { FOLLOW_SESSION_IDLE_MS } from './app-cookie-follow';

const SECRET = 'follow-test-secret-0123456789';
const BACKENDS = [
  { url: 'http://10.0.0.1:8080', id: 'a' },
  { url: 'http://10.0.0.2:8080', id: 'b' },
  { url: 'http://10.0.0.3:8080', id: 'c' },
];

function setup() {
  const clock = new FakeClock();
  const router = createStickyRouter(
    withTestHooks(
      {
        backends: BACKENDS,
        stickiness: { type: 'app-cookie', appCookie: 'JSESSIONID' },
        secret: SECRET,
      },
      { clock },
    ),
  );
  return { clock, router };
}

async function visit(
  router: StickyRouter,
  cookie: string | undefined,
  upstream?: string | string[],
  overrides: Partial<RouteRequest> = {},
) {
  const route = await router.route(cookie === undefined ? request(overrides) : withCookie(cookie, overrides));
  const setCookies = steps(router).responseCookies(route, upstream);
  steps(router).release(route);
  return { route, setCookies };
}

function insideValue(setCookie: string) {
  return new BalancerCookieCodec([SECRET]).decode(cookieAttributes(setCookie).value as string)!;
}

describe('app-cookie follow', () => {
  it('sets no balancer cookie when the response does not set the app cookie', async () => {
    const { router } = setup();
    expect((await visit(router, undefined)).setCookies).toEqual([]);
    expect((await visit(router, undefined, 'theme=dark; Max-Age=99')).setCookies).toEqual([]);
    expect((await visit(router, undefined, ['XJSESSIONID=1', 'JSESSIONIDX=2'])).setCookies).toEqual([]);
  });

  it('mirrors Max-Age, and the value expires server-side at the same moment', async () => {
    const { clock, router } = setup();
    const first = await visit(router, undefined, [
      'theme=dark',
      'JSESSIONID=s1; Max-Age=1800; Path=/; HttpOnly',
    ]);
    expect(first.setCookies).toHaveLength(1);
    const attributes = cookieAttributes(first.setCookies[0]!);
    expect(attributes).toMatchObject({ name: 'STICKY', 'max-age': '1800', path: '/', httponly: true });
    expect(attributes.expires).toBeUndefined();
    expect(insideValue(first.setCookies[0]!).expires).toBe(clock.now() / 1000 + 1800);

    // The client comes back with both cookies: stuck, and nothing to re-issue while the app says nothing.
    const cookie = `JSESSIONID=s1; ${cookiePair(first.setCookies)}`;
    clock.advance(1_799_000);
    const again = await visit(router, cookie);
    expect(again.route.reason).toBe('sticky');
    expect(again.route.backend).toBe(first.route.backend);
    expect(again.setCookies).toEqual([]);
    // Past the app cookie's lifetime the balancer cookie is dead too, even if the client still sends it.
    clock.advance(1_000);
    expect((await visit(router, cookie)).route.reason).toBe('new');
    expect(router.stats().requests.expiredCookies).toBe(1);
  });

  it('mirrors Expires', async () => {
    const { clock, router } = setup();
    const expires = new Date(clock.now() + 7_200_000).toUTCString();
    const { setCookies } = await visit(router, undefined, `JSESSIONID=s1; Expires=${expires}; Path=/`);
    const attributes = cookieAttributes(setCookies[0]!);
    expect(attributes.expires).toBe(expires);
    expect(attributes['max-age']).toBeUndefined();
    expect(insideValue(setCookies[0]!).expires).toBe(clock.now() / 1000 + 7200);
  });

  it('follows a session cookie with a session cookie, which the server honours for 24 hours after its issue', async () => {
    const { clock, router } = setup();
    const first = await visit(router, undefined, 'JSESSIONID=s1; Path=/; HttpOnly');
    const attributes = cookieAttributes(first.setCookies[0]!);
    expect(attributes['max-age']).toBeUndefined();
    expect(attributes.expires).toBeUndefined();
    expect(insideValue(first.setCookies[0]!)).toMatchObject({ expires: 0, born: clock.now() / 1000 });
    const cookie = `JSESSIONID=s1; ${cookiePair(first.setCookies)}`;
    clock.advance(FOLLOW_SESSION_IDLE_MS - 1000);
    // Stuck (and re-issued, being past half its bound: see below); the original value dies a second later.
    expect((await visit(router, cookie)).route).toMatchObject({
      reason: 'sticky',
      backend: first.route.backend,
    });
    clock.advance(1000);
    expect((await visit(router, cookie)).route.reason).toBe('new');
    expect(router.stats().requests.expiredCookies).toBe(1);
  });

  it('a session balancer cookie slides: re-issued (still a session cookie) once past half its bound', async () => {
    const { clock, router } = setup();
    const first = await visit(router, undefined, 'JSESSIONID=s1');
    let cookie = cookiePair(first.setCookies);
    clock.advance(FOLLOW_SESSION_IDLE_MS / 2 - 1000);
    expect((await visit(router, cookie)).setCookies).toEqual([]); // not yet
    // Then a client that comes back every 13 hours keeps its backend for days, one renewal per visit.
    for (const step of [2000, 13 * 3_600_000, 13 * 3_600_000, 13 * 3_600_000]) {
      clock.advance(step);
      const again = await visit(router, cookie);
      expect(again.route).toMatchObject({ reason: 'sticky', backend: first.route.backend });
      expect(again.setCookies).toHaveLength(1);
      const renewed = cookieAttributes(again.setCookies[0]!);
      expect(renewed['max-age']).toBeUndefined();
      expect(renewed.expires).toBeUndefined();
      expect(insideValue(again.setCookies[0]!)).toMatchObject({ expires: 0, born: clock.now() / 1000 });
      cookie = cookiePair(again.setCookies);
    }
    expect(router.stats().requests.expiredCookies).toBe(0);
  });

  it('re-issues the balancer cookie when the app refreshes its cookie (sliding app sessions)', async () => {
    const { clock, router } = setup();
    const first = await visit(router, undefined, 'JSESSIONID=s1; Max-Age=600');
    clock.advance(300_000);
    const again = await visit(router, cookiePair(first.setCookies), 'JSESSIONID=s1; Max-Age=600');
    expect(again.route.reason).toBe('sticky');
    expect(insideValue(again.setCookies[0]!).expires).toBe(clock.now() / 1000 + 600);
  });

  it('deletes the balancer cookie (and its expiry) when the app deletes its cookie', async () => {
    const { router } = setup();
    const first = await visit(router, undefined, 'JSESSIONID=s1; Max-Age=1800');
    for (const deletion of [
      'JSESSIONID=; Max-Age=0; Path=/',
      'JSESSIONID=x; Expires=Thu, 01 Jan 1970 00:00:00 GMT',
    ]) {
      const logout = await visit(router, `JSESSIONID=s1; ${cookiePair(first.setCookies)}`, deletion);
      expect(logout.route.reason).toBe('sticky');
      expect(logout.setCookies).toHaveLength(1);
      expect(cookieAttributes(logout.setCookies[0]!)).toMatchObject({
        name: 'STICKY',
        value: '',
        'max-age': '0',
        expires: 'Thu, 01 Jan 1970 00:00:00 GMT',
        path: '/',
      });
    }
  });

  it('after a reroute, issues a cookie for the new backend that keeps the old expiry', async () => {
    const { clock, router } = setup();
    const first = await visit(router, undefined, 'JSESSIONID=s1; Max-Age=1800');
    const expires = insideValue(first.setCookies[0]!).expires;
    clock.advance(600_000);
    router.pool.markDown(first.route.backend!.id);
    const moved = await visit(router, `JSESSIONID=s1; ${cookiePair(first.setCookies)}`);
    expect(moved.route.reason).toBe('rerouted');
    expect(moved.route.backend).not.toBe(first.route.backend);
    expect(moved.route.upstreamHeaders['x-sticky-rerouted']).toBe('1');
    expect(cookieAttributes(moved.setCookies[0]!)['max-age']).toBe('1200');
    expect(insideValue(moved.setCookies[0]!).expires).toBe(expires);
    // And it sticks there.
    const after = await visit(router, cookiePair(moved.setCookies));
    expect(after.route).toMatchObject({ reason: 'sticky', backend: moved.route.backend });
  });

  it('after a reroute of a session cookie, issues a session cookie', async () => {
    const { router } = setup();
    const first = await visit(router, undefined, 'JSESSIONID=s1');
    router.pool.remove(first.route.backend!.id);
    const moved = await visit(router, cookiePair(first.setCookies));
    expect(moved.route.reason).toBe('rerouted');
    const attributes = cookieAttributes(moved.setCookies[0]!);
    expect(attributes['max-age']).toBeUndefined();
    expect(insideValue(moved.setCookies[0]!).expires).toBe(0);
  });

  it('a forged balancer cookie is ignored: balanced as new, no cookie until the app sets its own', async () => {
    const { router } = setup();
    const forged = await visit(router, 'JSESSIONID=s1; STICKY=abc.def.ghi.jkl');
    expect(forged.route.reason).toBe('new');
    expect(forged.setCookies).toEqual([]);
    expect(router.stats().requests.forgedCookies).toBe(1);
  });

  describe('only what a browser stores', () => {
    const http = { headers: { host: 'home.example.org:8080' } };
    const https = { headers: { host: 'home.example.org' }, secure: true };

    it('no balancer cookie for an app cookie the browser refuses', async () => {
      const { router } = setup();
      for (const refused of [
        'JSESSIONID=s1; Max-Age=600; Domain=sibling.example.org',
        'JSESSIONID=s1; Max-Age=600; Domain=.org',
        'JSESSIONID=s1; Max-Age=600; Domain=example.org.',
        'JSESSIONID=s1; Max-Age=600; Domain=example.org:8080',
        'JSESSIONID=s1; Max-Age=600; Secure',
        'JSESSIONID=s1; SameSite=None',
        '__Host-JSESSIONID=s1; Path=/',
      ]) {
        const { setCookies } = await visit(router, undefined, refused, http);
        expect({ refused, setCookies }).toEqual({ refused, setCookies: [] });
      }
      expect((await visit(router, undefined, 'JSESSIONID=s1; Secure', https)).setCookies).toHaveLength(1);
      const localhost = { headers: { host: 'localhost:3000' } };
      expect((await visit(router, undefined, 'JSESSIONID=s1; Secure', localhost)).setCookies).toHaveLength(1);
    });

    it('one line is one cookie: an invalid Max-Age after a comma makes a session cookie', async () => {
      const { router } = setup();
      const { setCookies } = await visit(router, undefined, 'JSESSIONID=b;max-age=3600, c=d', http);
      const attributes = cookieAttributes(setCookies[0]!);
      expect(attributes['max-age']).toBeUndefined();
      expect(insideValue(setCookies[0]!).expires).toBe(0);
    });

    it('shares the app cookie’s Domain, so it is sent wherever the app cookie is, and is deleted there', async () => {
      const { router } = setup();
      const first = await visit(router, undefined, 'JSESSIONID=s1; Max-Age=600; Domain=.Example.org', http);
      expect(cookieAttributes(first.setCookies[0]!)).toMatchObject({
        domain: 'example.org',
        'max-age': '600',
      });
      const cookie = `JSESSIONID=s1; ${cookiePair(first.setCookies)}`;
      const sibling = { headers: { host: 'sibling.example.org' } };
      expect((await visit(router, cookie, undefined, sibling)).route.reason).toBe('sticky');
      const logout = await visit(router, cookie, 'JSESSIONID=; Max-Age=0; Domain=example.org', http);
      expect(cookieAttributes(logout.setCookies[0]!)).toMatchObject({
        value: '',
        'max-age': '0',
        domain: 'example.org',
      });
    });

    it('a partitioned app cookie gets a partitioned balancer cookie (the browser keeps the two kinds apart)', async () => {
      const { router } = setup();
      const first = await visit(router, undefined, 'JSESSIONID=s1; Secure; Partitioned; Path=/', https);
      expect(cookieAttributes(first.setCookies[0]!)).toMatchObject({ partitioned: true, secure: true });
      // Deleting the unpartitioned cookie leaves the partitioned one, in the browser and here alike.
      const cookie = `JSESSIONID=s1; ${cookiePair(first.setCookies)}`;
      const other = await visit(router, cookie, 'JSESSIONID=; Max-Age=0; Secure', https);
      expect(cookieAttributes(other.setCookies[0]!)).toMatchObject({ value: '', 'max-age': '0' });
      expect(cookieAttributes(other.setCookies[0]!).partitioned).toBeUndefined();
    });

    it('a host-only app cookie gets a balancer cookie in the configured scope (cookie.domain)', async () => {
      const router = createStickyRouter(
        withTestHooks(
          {
            backends: BACKENDS,
            stickiness: { type: 'app-cookie', appCookie: 'JSESSIONID' },
            secret: SECRET,
            cookie: { domain: 'example.org' },
          },
          { clock: new FakeClock() },
        ),
      );
      const hostOnly = await visit(router, undefined, 'JSESSIONID=s1', http);
      expect(cookieAttributes(hostOnly.setCookies[0]!).domain).toBe('example.org');
      const own = await visit(router, undefined, 'JSESSIONID=s1; Domain=home.example.org', http);
      expect(cookieAttributes(own.setCookies[0]!).domain).toBe('home.example.org');
    });

    it('a deletion the browser refuses deletes nothing', async () => {
      const { router } = setup();
      const first = await visit(router, undefined, 'JSESSIONID=s1; Max-Age=600', http);
      const cookie = `JSESSIONID=s1; ${cookiePair(first.setCookies)}`;
      for (const refused of ['JSESSIONID=; Max-Age=0; Secure', 'JSESSIONID=; Max-Age=0; Domain=other.org'])
        expect((await visit(router, cookie, refused, http)).setCookies).toEqual([]);
    });

    it('reads the host of an HTTP/2 request from :authority', async () => {
      const { router } = setup();
      const h2 = { headers: { ':authority': 'home.example.org' }, secure: true };
      const ok = await visit(router, undefined, 'JSESSIONID=s1; Domain=example.org', h2);
      expect(cookieAttributes(ok.setCookies[0]!).domain).toBe('example.org');
      expect((await visit(router, undefined, 'JSESSIONID=s1; Domain=example.com', h2)).setCookies).toEqual(
        [],
      );
    });

    it('a response whose Set-Cookie does not name the app cookie costs no parse: the shared empty answer', async () => {
      const { router } = setup();
      const route = await router.route(request(http));
      const none = steps(router).responseCookies(route, ['theme=dark; Domain=example.org', 'XJSESSIONID=1']);
      expect(none).toBe(steps(router).responseCookies(route, undefined));
      expect(Object.isFrozen(none)).toBe(true);
      steps(router).release(route);
    });

    it('when the browser holds two balancer cookies, the newest valid one counts', async () => {
      const { clock, router } = setup();
      const older = await visit(router, undefined, 'JSESSIONID=s1; Domain=example.org', http);
      clock.advance(60_000);
      router.pool.markDown(older.route.backend!.id);
      // Rerouted: the gateway re-issues in its own scope (host-only), beside the app's domain cookie.
      const moved = await visit(router, `JSESSIONID=s1; ${cookiePair(older.setCookies)}`, undefined, http);
      expect(moved.route.reason).toBe('rerouted');
      router.pool.markUp(older.route.backend!.id);
      for (const order of [
        `${cookiePair(older.setCookies)}; ${cookiePair(moved.setCookies)}`,
        `${cookiePair(moved.setCookies)}; ${cookiePair(older.setCookies)}`,
        `STICKY=forged.0.0.x; ${cookiePair(moved.setCookies)}`,
      ]) {
        const again = await visit(router, `JSESSIONID=s1; ${order}`, undefined, http);
        expect(again.route).toMatchObject({ reason: 'sticky', backend: moved.route.backend });
      }
    });
  });
});

describe('app-cookie follow at its edges', () => {
  const host = { headers: { host: 'home.example.org' } };

  it('a balancer cookie with an expiry is honoured to that expiry, past the 24-hour session bound, and not renewed', async () => {
    const { clock, router } = setup();
    const first = await visit(router, undefined, 'JSESSIONID=s1; Max-Age=2592000');
    const cookie = `JSESSIONID=s1; ${cookiePair(first.setCookies)}`;
    clock.advance(FOLLOW_SESSION_IDLE_MS + 3_600_000);
    const later = await visit(router, cookie);
    expect(later.route).toMatchObject({ reason: 'sticky', backend: first.route.backend });
    // Its life is the app cookie's: nothing to renew while the app says nothing.
    expect(later.setCookies).toEqual([]);
  });

  it('a session balancer cookie is renewed from exactly half its bound', async () => {
    const { clock, router } = setup();
    const first = await visit(router, undefined, 'JSESSIONID=s1');
    clock.advance(FOLLOW_SESSION_IDLE_MS / 2);
    expect((await visit(router, cookiePair(first.setCookies))).setCookies).toHaveLength(1);
  });

  it('mirrors each of several app cookies in one response, each in its own domain', async () => {
    const { router } = setup();
    const first = await visit(
      router,
      undefined,
      ['JSESSIONID=s1; Max-Age=600; Domain=example.org', 'JSESSIONID=s2; Max-Age=60'],
      host,
    );
    expect(first.setCookies.map((c) => cookieAttributes(c))).toEqual([
      expect.objectContaining({ domain: 'example.org', 'max-age': '600' }),
      expect.not.objectContaining({ domain: expect.anything() }),
    ]);
    expect(cookieAttributes(first.setCookies[1]!)['max-age']).toBe('60');
  });

  it('an app domain the cookie library will not write (an underscore) falls back to host-only, still partitioned', async () => {
    const { router } = setup();
    const underscored = { headers: { host: 'my_app.example.org' }, secure: true };
    const first = await visit(
      router,
      undefined,
      'JSESSIONID=s1; Domain=my_app.example.org; Secure; Partitioned; Max-Age=600',
      underscored,
    );
    expect(first.setCookies).toHaveLength(1);
    const attributes = cookieAttributes(first.setCookies[0]!);
    expect(attributes.domain).toBeUndefined();
    expect(attributes).toMatchObject({ partitioned: true, secure: true, 'max-age': '600' });
  });
});
