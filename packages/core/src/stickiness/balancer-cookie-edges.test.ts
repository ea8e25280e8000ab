// The edges of the balancer cookie that the mutation run found untested: the exact second a server-side
// bound passes, a cookie whose birth must not survive a move to another backend, two clients of one backend
// in the same second (the issue cache must not hand one the other's cookie), and the ways a Cookie header
// can hold the balancer cookie (an array, only other cookies, a valid one beside a forged one, a tie).

import type { StickinessOptions } from '../config/options';
import { BalancerCookieCodec } from '../cookie/balancer-cookie-codec';
import { createStickyRouter, type StickyRouter } from '../router';
import { FakeClock } from '../testing/fake-clock';
import { cookieAttributes, cookiePair, request } from '../testing/requests';
import { steps } from '../testing/router-steps';
import { withTestHooks } from '../testing-hooks';
import type { RouteRequest } from '../types';

const SECRET = 'edges-test-secret-0123456789';
const THREE = [
  { url: 'http://10.0.0.1:8080', id: 'a' },
  { url: 'http://10.0.0.2:8080', id: 'b' },
  { url: 'http://10.0.0.3:8080', id: 'c' },
];
const ONE = [THREE[0]!];

function gateway(
  clock: FakeClock,
  stickiness: StickinessOptions,
  backends: typeof THREE = THREE,
): StickyRouter {
  return createStickyRouter(withTestHooks({ backends, stickiness, secret: SECRET }, { clock }));
}

async function visit(router: StickyRouter, req: RouteRequest = request(), upstream?: string) {
  const route = await router.route(req);
  const setCookies = steps(router).responseCookies(route, upstream);
  steps(router).release(route);
  return { route, setCookies };
}

/** Moves the clock forward to `ms` (epoch). */
function at(clock: FakeClock, ms: number) {
  clock.advance(ms - clock.now());
}

const withHeader = (cookie: string | string[], secure = false) => request({ headers: { cookie }, secure });
const inside = (setCookie: string) =>
  new BalancerCookieCodec([SECRET]).decode(cookieAttributes(setCookie).value as string)!;

describe('the exact second a bound passes', () => {
  it('lb-cookie honours a follow-mode session cookie until `duration` after its issue, not at that second', async () => {
    const clock = new FakeClock();
    const issued = await visit(
      gateway(clock, { type: 'app-cookie', appCookie: 'JSESSIONID' }),
      request(),
      'JSESSIONID=s1',
    );
    const born = inside(issued.setCookies[0]!).born;
    const reader = gateway(clock, { type: 'lb-cookie', duration: '1m' });
    at(clock, born * 1000 + 59_999);
    expect((await visit(reader, withHeader(cookiePair(issued.setCookies)))).route.reason).toBe('sticky');
    at(clock, born * 1000 + 60_000);
    expect((await visit(reader, withHeader(cookiePair(issued.setCookies)))).route.reason).toBe('new');
    expect(reader.stats().requests.expiredCookies).toBe(1);
  });

  it('maxLifetime bounds a cookie another gateway issued with a later expiry, to the second', async () => {
    const clock = new FakeClock();
    // A gateway without maxLifetime issues a 2-hour cookie; one that caps lifetimes at an hour reads it.
    const issued = await visit(gateway(clock, { type: 'lb-cookie', duration: '2h' }));
    const { born, expires } = inside(issued.setCookies[0]!);
    expect(expires - born).toBe(7_200);
    const capped = gateway(clock, { type: 'lb-cookie', duration: '2h', maxLifetime: '1h' });
    at(clock, born * 1000 + 3_599_999);
    expect((await visit(capped, withHeader(cookiePair(issued.setCookies)))).route.reason).toBe('sticky');
    at(clock, born * 1000 + 3_600_000);
    expect((await visit(capped, withHeader(cookiePair(issued.setCookies)))).route.reason).toBe('new');
    expect(capped.stats().requests.expiredCookies).toBe(1);
  });
});

describe("a cookie's birth", () => {
  it('is kept while the client stays on its backend and restarts when it is moved to another', async () => {
    const clock = new FakeClock();
    const router = gateway(clock, { type: 'lb-cookie', duration: '20m', maxLifetime: '1h' });
    const first = await visit(router);
    const born = inside(first.setCookies[0]!).born;
    clock.advance(10 * 60_000);
    const stayed = await visit(router, withHeader(cookiePair(first.setCookies)));
    expect(stayed.route.reason).toBe('sticky');
    expect(inside(stayed.setCookies[0]!).born).toBe(born);
    clock.advance(10 * 60_000);
    router.pool.markDown(first.route.backend!.id);
    const moved = await visit(router, withHeader(cookiePair(stayed.setCookies)));
    expect(moved.route.reason).toBe('rerouted');
    // A new backend is a new session there: its lifetime counts from now, a full 20 minutes of Max-Age.
    expect(inside(moved.setCookies[0]!).born).toBe(born + 20 * 60);
    expect(cookieAttributes(moved.setCookies[0]!)['max-age']).toBe('1200');
  });
});

describe('two clients of one backend in the same second', () => {
  it('a returning client keeps its birth and a new one gets its own, in either order', async () => {
    const clock = new FakeClock();
    const router = gateway(clock, { type: 'lb-cookie' }, ONE);
    const old = await visit(router);
    const oldBorn = inside(old.setCookies[0]!).born;
    clock.advance(5 * 60_000);
    const returning = await visit(router, withHeader(cookiePair(old.setCookies)));
    const fresh = await visit(router);
    expect(inside(returning.setCookies[0]!).born).toBe(oldBorn);
    expect(inside(fresh.setCookies[0]!).born).toBe(oldBorn + 300);
    clock.advance(1_000);
    const freshFirst = await visit(router);
    const returningAfter = await visit(router, withHeader(cookiePair(old.setCookies)));
    expect(inside(freshFirst.setCookies[0]!).born).toBe(oldBorn + 301);
    expect(inside(returningAfter.setCookies[0]!).born).toBe(oldBorn);
  });

  it('an HTTPS client gets a Secure cookie and an HTTP one does not (cookie.secure auto)', async () => {
    const clock = new FakeClock();
    const router = gateway(clock, { type: 'lb-cookie' }, ONE);
    const overHttps = await visit(router, request({ secure: true }));
    const overHttp = await visit(router, request({ secure: false }));
    const againHttps = await visit(router, request({ secure: true }));
    expect(cookieAttributes(overHttps.setCookies[0]!).secure).toBe(true);
    expect(cookieAttributes(overHttp.setCookies[0]!).secure).toBeUndefined();
    expect(cookieAttributes(againHttps.setCookies[0]!).secure).toBe(true);
  });
});

describe('reading the Cookie header', () => {
  async function twoCookies() {
    const clock = new FakeClock();
    const router = gateway(clock, { type: 'lb-cookie' });
    const one = await visit(router);
    const two = await visit(router);
    expect(two.route.backend).not.toBe(one.route.backend);
    return { clock, router, one, two };
  }

  it('reads a header given as an array of lines (HTTP/2 may send cookies apart)', async () => {
    const { router, one } = await twoCookies();
    const again = await visit(router, withHeader(['theme=dark', cookiePair(one.setCookies)]));
    expect(again.route).toMatchObject({ reason: 'sticky', backend: one.route.backend });
  });

  it('a header with only other cookies is a new client, neither forged nor expired', async () => {
    const { router } = await twoCookies();
    const other = await visit(router, withHeader('theme=dark; lang=en'));
    expect(other.route.reason).toBe('new');
    expect(router.stats().requests).toMatchObject({ forgedCookies: 0, expiredCookies: 0 });
  });

  it('a valid cookie stays valid beside a forged one after it', async () => {
    const { router, one } = await twoCookies();
    const again = await visit(router, withHeader(`${cookiePair(one.setCookies)}; STICKY=forged.0.0.x`));
    expect(again.route).toMatchObject({ reason: 'sticky', backend: one.route.backend });
  });

  it('two valid cookies of the same second: the first listed counts (the browser lists the more specific first)', async () => {
    const { router, one, two } = await twoCookies();
    const a = await visit(router, withHeader(`${cookiePair(one.setCookies)}; ${cookiePair(two.setCookies)}`));
    const b = await visit(router, withHeader(`${cookiePair(two.setCookies)}; ${cookiePair(one.setCookies)}`));
    expect(a.route.backend).toBe(one.route.backend);
    expect(b.route.backend).toBe(two.route.backend);
  });
});
