// No balancer cookie is valid forever on the server, and a cookie minted in one mode is held to the bounds of
// the mode that reads it: gateways that share a secret (or one gateway whose stickiness is switched) read
// each other's cookies, lb-cookie by its idle rule, follow mode by the expiry inside and its session bound.

import type { StickinessOptions } from '../config/options';
import { BalancerCookieCodec } from '../cookie/balancer-cookie-codec';
import { createStickyRouter, type StickyRouter } from '../router';
import { FakeClock } from '../testing/fake-clock';
import { cookieAttributes, cookiePair, request, withCookie } from '../testing/requests';
import { steps } from '../testing/router-steps';
import { withTestHooks } from '../testing-hooks';
import { FOLLOW_SESSION_IDLE_MS } from './app-cookie-follow';

const SECRET = 'bounds-test-secret-0123456789';
const BACKENDS = [
  { url: 'http://10.0.0.1:8080', id: 'a' },
  { url: 'http://10.0.0.2:8080', id: 'b' },
  { url: 'http://10.0.0.3:8080', id: 'c' },
];
const FOLLOW: StickinessOptions = { type: 'app-cookie', appCookie: 'JSESSIONID' };
const LB_1M: StickinessOptions = { type: 'lb-cookie', duration: '1m' };

function gateway(clock: FakeClock, stickiness: StickinessOptions, persistent = true): StickyRouter {
  return createStickyRouter(
    withTestHooks({ backends: BACKENDS, stickiness, secret: SECRET, cookie: { persistent } }, { clock }),
  );
}

async function visit(router: StickyRouter, cookie?: string, upstream?: string) {
  const route = await router.route(cookie === undefined ? request() : withCookie(cookie));
  const setCookies = steps(router).responseCookies(route, upstream);
  steps(router).release(route);
  return { route, setCookies };
}

function inside(setCookie: string) {
  return new BalancerCookieCodec([SECRET]).decode(cookieAttributes(setCookie).value as string)!;
}

describe('server-side bounds of the balancer cookie', () => {
  it('lb-cookie (1m) honours a follow-mode session cookie for a minute after its issue, not after 65 s', async () => {
    const clock = new FakeClock();
    const follow = gateway(clock, FOLLOW);
    const issued = await visit(follow, undefined, 'JSESSIONID=s1; Path=/');
    expect(inside(issued.setCookies[0]!)).toMatchObject({ kind: 'follow', expires: 0 });
    const cookie = cookiePair(issued.setCookies);
    const lb = gateway(clock, LB_1M);

    clock.advance(30_000);
    const within = await visit(lb, cookie);
    expect(within.route).toMatchObject({ reason: 'sticky', backend: { id: issued.route.backend!.id } });
    // Replaced by a cookie of lb-cookie's own: dated, a minute of idle time, its birth kept.
    expect(cookieAttributes(within.setCookies[0]!)['max-age']).toBe('60');
    expect(inside(within.setCookies[0]!)).toMatchObject({
      kind: 'lb',
      expires: clock.now() / 1000 + 60,
      born: inside(issued.setCookies[0]!).born,
    });

    clock.advance(35_000); // 65 s after the follow cookie was issued
    expect((await visit(lb, cookie)).route.reason).toBe('new');
    expect(lb.stats().requests.expiredCookies).toBe(1);
  });

  it('lb-cookie (1m) holds a follow-mode cookie with a long expiry to its own idle minute', async () => {
    const clock = new FakeClock();
    const issued = await visit(gateway(clock, FOLLOW), undefined, 'JSESSIONID=s1; Max-Age=600');
    const lb = gateway(clock, LB_1M);
    clock.advance(65_000);
    expect((await visit(lb, cookiePair(issued.setCookies))).route.reason).toBe('new');
    // Follow mode itself still honours it: the app cookie lives 600 s.
    expect((await visit(gateway(clock, FOLLOW), cookiePair(issued.setCookies))).route.reason).toBe('sticky');
  });

  it('follow mode honours an lb-cookie value until the expiry inside it', async () => {
    const clock = new FakeClock();
    const issued = await visit(gateway(clock, { type: 'lb-cookie', duration: '20m' }));
    const follow = gateway(clock, FOLLOW);
    clock.advance(20 * 60_000 - 1000);
    expect((await visit(follow, cookiePair(issued.setCookies))).route.reason).toBe('sticky');
    clock.advance(1000);
    expect((await visit(follow, cookiePair(issued.setCookies))).route.reason).toBe('new');
    expect(follow.stats().requests.expiredCookies).toBe(1);
  });

  it('switching stickiness at run time applies the same bounds to the cookies already out there', async () => {
    const clock = new FakeClock();
    const router = gateway(clock, FOLLOW);
    const issued = await visit(router, undefined, 'JSESSIONID=s1');
    router.setStickiness(LB_1M);
    clock.advance(59_000);
    expect((await visit(router, cookiePair(issued.setCookies))).route.reason).toBe('sticky');
    clock.advance(6_000);
    expect((await visit(router, cookiePair(issued.setCookies))).route.reason).toBe('new');
  });

  it('a session cookie minted before kinds were signed (expires 0, signed as lb) is bounded in both modes', async () => {
    const clock = new FakeClock();
    const codec = new BalancerCookieCodec([SECRET]);
    const nowSec = clock.now() / 1000;
    const old = `STICKY=${codec.encode(codec.backendToken('a'), 0, nowSec)}`;
    const lb = gateway(clock, LB_1M);
    const follow = gateway(clock, FOLLOW);
    clock.advance(61_000);
    expect((await visit(lb, old)).route.reason).toBe('new');
    expect((await visit(follow, old)).route.reason).toBe('sticky');
    clock.advance(FOLLOW_SESSION_IDLE_MS);
    expect((await visit(follow, old)).route.reason).toBe('new');
  });

  it('lb-cookie with persistent: false sends a browser-session cookie whose idle timeout the server keeps', async () => {
    const clock = new FakeClock();
    const router = gateway(clock, LB_1M, false);
    const issued = await visit(router);
    const attributes = cookieAttributes(issued.setCookies[0]!);
    expect(attributes['max-age']).toBeUndefined();
    expect(attributes.expires).toBeUndefined();
    expect(inside(issued.setCookies[0]!).expires).toBe(clock.now() / 1000 + 60);
    clock.advance(60_000);
    expect((await visit(router, cookiePair(issued.setCookies))).route.reason).toBe('new');
    expect(router.stats().requests.expiredCookies).toBe(1);
  });
});
