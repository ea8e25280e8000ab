// lb-cookie through the router with a fake clock: the cookie is issued with a 20-minute Max-Age by
// default, slides on every response, and its idle timeout and maxLifetime are enforced on the server from
// the dates inside the signed value, whatever the browser does with Max-Age.

import type { StickinessOptions } from '../config/options';
import { BalancerCookieCodec } from '../cookie/balancer-cookie-codec';
import { createStickyRouter, type StickyRouter } from '../router';
import { FakeClock } from '../testing/fake-clock';
import { cookieAttributes, cookiePair, request, withCookie } from '../testing/requests';
import { steps } from '../testing/router-steps';
import { withTestHooks } from '../testing-hooks';

const SECRET = 'lb-cookie-test-secret-0123456789';
const BACKENDS = [
  { url: 'http://10.0.0.1:8080', id: 'a' },
  { url: 'http://10.0.0.2:8080', id: 'b' },
  { url: 'http://10.0.0.3:8080', id: 'c' },
];
const MINUTE = 60_000;

function setup(stickiness: StickinessOptions = { type: 'lb-cookie' }) {
  const clock = new FakeClock();
  const router = createStickyRouter(
    withTestHooks({ backends: BACKENDS, stickiness, secret: SECRET }, { clock }),
  );
  return { clock, router };
}

/** One request-response round trip: routes, collects the balancer cookies, releases. */
async function visit(router: StickyRouter, cookie?: string) {
  const route = await router.route(cookie === undefined ? request() : withCookie(cookie));
  const setCookies = steps(router).responseCookies(route);
  steps(router).release(route);
  return { route, setCookies, cookie: setCookies.length > 0 ? cookiePair(setCookies) : undefined };
}

function expiresInside(cookie: string): number {
  return new BalancerCookieCodec([SECRET]).decode(cookie.slice(cookie.indexOf('=') + 1))!.expires;
}

describe('lb-cookie', () => {
  it('issues a signed cookie with Max-Age=1200 by default, HttpOnly, Path=/, SameSite=Lax', async () => {
    const { router } = setup();
    const { route, setCookies } = await visit(router);
    expect(route.reason).toBe('new');
    expect(setCookies).toHaveLength(1);
    const attributes = cookieAttributes(setCookies[0]!);
    expect(attributes).toEqual({
      name: 'STICKY',
      value: expect.stringMatching(/^[\w-]+\.[0-9a-z]+\.[0-9a-z]+\.[\w-]+$/),
      'max-age': '1200',
      path: '/',
      httponly: true,
      samesite: 'Lax',
    });
  });

  it('keeps a client on its backend while it returns, whichever backend the algorithm would pick', async () => {
    const { router } = setup();
    const first = await visit(router);
    for (let i = 0; i < 10; i++) {
      const again = await visit(router, first.cookie);
      expect(again.route.reason).toBe('sticky');
      expect(again.route.backend).toBe(first.route.backend);
      // Other clients keep being balanced meanwhile.
      await visit(router);
    }
    expect(router.stats().requests).toMatchObject({ sticky: 10, new: 11 });
  });

  it('slides: every response re-issues the cookie with a fresh 20-minute expiry', async () => {
    const { clock, router } = setup();
    let { cookie, route } = await visit(router);
    const backend = route.backend;
    // A request every 15 minutes for 3 hours: never more than 20 minutes idle, so always stuck.
    for (let i = 0; i < 12; i++) {
      clock.advance(15 * MINUTE);
      const before = expiresInside(cookie!);
      const next = await visit(router, cookie);
      expect(next.route.reason).toBe('sticky');
      expect(next.route.backend).toBe(backend);
      expect(cookieAttributes(next.setCookies[0]!)['max-age']).toBe('1200');
      expect(expiresInside(next.cookie!)).toBe(before + 15 * 60);
      cookie = next.cookie;
      route = next.route;
    }
  });

  it('enforces the idle timeout from the date inside the value, even if the client resends the cookie', async () => {
    const { clock, router } = setup();
    const first = await visit(router);
    clock.advance(20 * MINUTE - 1_000);
    expect((await visit(router, first.cookie)).route.reason).toBe('sticky');
    // The same old value again (a client that ignores Max-Age): 20 minutes after it was issued it is dead.
    clock.advance(1_000);
    const late = await visit(router, first.cookie);
    expect(late.route.reason).toBe('new');
    expect(router.stats().requests.expiredCookies).toBe(1);
    expect(router.stats().requests.forgedCookies).toBe(0);
    // The client is balanced as new and gets a fresh cookie, never an error.
    expect(late.cookie).toBeDefined();
    expect(late.cookie).not.toBe(first.cookie);
  });

  it('honours a custom duration (numbers are seconds)', async () => {
    const { clock, router } = setup({ type: 'lb-cookie', duration: 90 });
    const first = await visit(router);
    expect(cookieAttributes(first.setCookies[0]!)['max-age']).toBe('90');
    clock.advance(91_000);
    expect((await visit(router, first.cookie)).route.reason).toBe('new');
  });

  it('enforces maxLifetime from the first issue, however active the client is', async () => {
    const { clock, router } = setup({ type: 'lb-cookie', duration: '20m', maxLifetime: '1h' });
    let { cookie, route } = await visit(router);
    const backend = route.backend;
    for (let minute = 10; minute < 60; minute += 10) {
      clock.advance(10 * MINUTE);
      const next = await visit(router, cookie);
      expect(next.route.reason).toBe('sticky');
      expect(next.route.backend).toBe(backend);
      // Max-Age never reaches past the hour: 20 minutes, until the last 20 minutes count down.
      expect(cookieAttributes(next.setCookies[0]!)['max-age']).toBe(String(Math.min(20, 60 - minute) * 60));
      cookie = next.cookie;
      route = next.route;
    }
    clock.advance(10 * MINUTE);
    const expired = await visit(router, cookie);
    expect(expired.route.reason).toBe('new');
    expect(router.stats().requests.expiredCookies).toBe(1);
    // The fresh cookie starts a new lifetime.
    expect(cookieAttributes(expired.setCookies[0]!)['max-age']).toBe('1200');
  });

  it('ignores and counts a forged, tampered or foreign cookie, and issues a fresh one', async () => {
    const { router } = setup();
    const forged: unknown[] = [];
    router.on('forged', (e) => forged.push(e));
    const { cookie } = await visit(router);
    const value = cookie!.slice('STICKY='.length);
    const tampered = `STICKY=${value.slice(0, -2)}${value.endsWith('AA') ? 'BB' : 'AA'}`;
    const foreign = await visit(
      createStickyRouter({
        backends: BACKENDS,
        stickiness: { type: 'lb-cookie' },
        secret: 'another-secret-0123456789',
      }),
    );
    for (const bad of [
      tampered,
      foreign.cookie!,
      'STICKY=http://10.0.0.2:8080',
      'STICKY=b',
      'STICKY=%00%ff',
    ]) {
      const result = await visit(router, bad);
      expect(result.route.reason).toBe('new');
      expect(result.cookie).toMatch(/^STICKY=[\w-]+\./);
    }
    expect(router.stats().requests.forgedCookies).toBe(5);
    expect(forged).toHaveLength(5);
    expect(forged[0]).toEqual({ reason: 'forged' });
  });

  it('cannot be pointed at another backend by editing the value', async () => {
    const { router } = setup();
    const a = await visit(router);
    const b = await visit(router);
    expect(a.route.backend).not.toBe(b.route.backend);
    // Swap b's backend token into a's cookie: the signature no longer matches.
    const [, ...restA] = a.cookie!.slice(7).split('.');
    const [tokenB] = b.cookie!.slice(7).split('.');
    const spliced = await visit(router, `STICKY=${[tokenB, ...restA].join('.')}`);
    expect(spliced.route.reason).toBe('new');
    expect(router.stats().requests.forgedCookies).toBe(1);
  });

  it('keeps no per-client state: the store stays empty after many clients', async () => {
    const { router } = setup();
    for (let i = 0; i < 500; i++) {
      const first = await visit(router);
      await visit(router, first.cookie);
    }
    expect(router.store.size?.()).toBe(0);
    expect(router.stats().storeEntries).toBe(0);
  });
});
