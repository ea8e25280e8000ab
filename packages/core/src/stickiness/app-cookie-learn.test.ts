// app-cookie in learn mode: no balancer cookie; the store maps the app cookie's value to its backend for
// as long as the app cookie lives, requests carrying it are routed there ('learned'), deletion forgets it.
// Only values the app issued are stored; a value found nowhere is placed by the pure hash ring ('hashed'),
// the same on every gateway.

import { createStickyRouter, type StickyRouter } from '../router';
import { FakeClock } from '../testing/fake-clock';
import { request, withCookie } from '../testing/requests';
import { steps } from '../testing/router-steps';
import { withTestHooks } from '../testing-hooks';

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
        stickiness: { type: 'app-cookie', appCookie: 'PHPSESSID', mode: 'learn' },
      },
      { clock },
    ),
  );
  return { clock, router };
}

async function visit(router: StickyRouter, cookie: string | undefined, upstream?: string | string[]) {
  const route = await router.route(cookie === undefined ? request() : withCookie(cookie));
  const setCookies = steps(router).responseCookies(route, upstream);
  steps(router).release(route);
  return { route, setCookies };
}

describe('app-cookie learn', () => {
  it('learns the app cookie from the response and routes requests carrying it back (reason learned)', async () => {
    const { router } = setup();
    const login = await visit(router, undefined, 'PHPSESSID=abc123; Max-Age=600; Path=/');
    expect(login.setCookies).toEqual([]);
    expect(await router.store.get('app:PHPSESSID=abc123')).toBe(login.route.backend!.id);
    expect(router.stats().storeEntries).toBe(1);
    for (let i = 0; i < 5; i++) {
      await visit(router, undefined); // others move the round robin on
      const again = await visit(router, 'lang=en; PHPSESSID=abc123');
      expect(again.route).toMatchObject({ reason: 'learned', backend: login.route.backend });
      expect(again.setCookies).toEqual([]);
    }
    expect(router.stats().requests.learned).toBe(5);
  });

  it('keeps the entry for the app cookie lifetime (Max-Age or Expires)', async () => {
    const { clock, router } = setup();
    const a = await visit(router, undefined, 'PHPSESSID=max; Max-Age=600');
    const expires = new Date(clock.now() + 1_800_000).toUTCString();
    await visit(router, undefined, `PHPSESSID=exp; Expires=${expires}`);
    clock.advance(599_000);
    expect((await visit(router, 'PHPSESSID=max')).route).toMatchObject({
      reason: 'learned',
      backend: a.route.backend,
    });
    clock.advance(1_000);
    expect((await visit(router, 'PHPSESSID=max')).route.reason).toBe('hashed');
    expect((await visit(router, 'PHPSESSID=exp')).route.reason).toBe('learned');
    clock.advance(1_200_000);
    expect((await visit(router, 'PHPSESSID=exp')).route.reason).toBe('hashed');
  });

  it('remembers a session app cookie for 20 minutes after its last request (sliding)', async () => {
    const { clock, router } = setup();
    const login = await visit(router, undefined, 'PHPSESSID=sess; Path=/');
    // Apps set a session cookie once, at login: an active client must stay stuck long after that.
    for (let i = 0; i < 6; i++) {
      clock.advance(15 * 60_000);
      expect((await visit(router, 'PHPSESSID=sess')).route).toMatchObject({
        reason: 'learned',
        backend: login.route.backend,
      });
    }
    clock.advance(20 * 60_000);
    // Idle for 20 minutes: unknown again, placed by the ring, and not remembered (the request chose the value).
    expect((await visit(router, 'PHPSESSID=sess')).route.reason).toBe('hashed');
    expect(router.store.size?.()).toBe(0);
  });

  it('keeps a cookie with a lifetime for exactly that lifetime, however the client comes and goes', async () => {
    const { clock, router } = setup();
    const login = await visit(router, undefined, 'PHPSESSID=long; Max-Age=7200');
    clock.advance(5 * 60_000);
    expect((await visit(router, 'PHPSESSID=long')).route.reason).toBe('learned');
    clock.advance(90 * 60_000); // idle for 90 minutes, well within the cookie's two hours
    expect((await visit(router, 'PHPSESSID=long')).route).toMatchObject({
      reason: 'learned',
      backend: login.route.backend,
    });
    clock.advance(25 * 60_000);
    expect((await visit(router, 'PHPSESSID=long')).route.reason).toBe('hashed');
  });

  it('follows the app turning a session cookie into one with a lifetime', async () => {
    const { clock, router } = setup();
    const login = await visit(router, undefined, 'PHPSESSID=v');
    await visit(router, 'PHPSESSID=v', 'PHPSESSID=v; Max-Age=3600');
    clock.advance(50 * 60_000);
    expect((await visit(router, 'PHPSESSID=v')).route).toMatchObject({
      reason: 'learned',
      backend: login.route.backend,
    });
    clock.advance(11 * 60_000);
    expect((await visit(router, 'PHPSESSID=v')).route.reason).toBe('hashed');
  });

  it('forgets the entry when the app deletes its cookie', async () => {
    const { router } = setup();
    await visit(router, undefined, 'PHPSESSID=gone; Max-Age=600');
    expect(router.store.size?.()).toBe(1);
    const logout = await visit(router, 'PHPSESSID=gone', 'PHPSESSID=; Max-Age=0; Path=/');
    expect(logout.route.reason).toBe('learned');
    expect(await router.store.get('app:PHPSESSID=gone')).toBeUndefined();
    expect(router.store.size?.()).toBe(0);
    // The same for a session cookie.
    await visit(router, undefined, 'PHPSESSID=sess');
    expect(router.store.size?.()).toBe(1);
    await visit(router, 'PHPSESSID=sess', 'PHPSESSID=deleted; Expires=Thu, 01 Jan 1970 00:00:00 GMT');
    expect(router.store.size?.()).toBe(0);
    expect((await visit(router, 'PHPSESSID=sess')).route.reason).toBe('hashed');
  });

  it('a client whose learned backend is down or removed is hashed, not learned, until the app issues a new session', async () => {
    const { router } = setup();
    const reroutes: unknown[] = [];
    router.on('reroute', (e) => reroutes.push(e));
    const login = await visit(router, undefined, 'PHPSESSID=s; Max-Age=600');
    const home = login.route.backend!.id;
    router.pool.markDown(home);
    const moved = await visit(router, 'PHPSESSID=s');
    expect(moved.route.reason).toBe('rerouted');
    expect(moved.route.backend!.id).not.toBe(home);
    expect(moved.route.upstreamHeaders['x-sticky-rerouted']).toBe('1');
    expect(reroutes).toEqual([{ from: home, to: moved.route.backend!.id, why: 'down' }]);
    // The request's value is not learned at its new home: the ring sends it there again, and the entry
    // still names the old home.
    const after = await visit(router, 'PHPSESSID=s');
    expect(after.route).toMatchObject({ reason: 'rerouted', backend: moved.route.backend });
    expect(await router.store.get('app:PHPSESSID=s')).toBe(home);
    // Back up: the client returns to the instance that holds its session.
    router.pool.markUp(home);
    expect((await visit(router, 'PHPSESSID=s')).route).toMatchObject({
      reason: 'learned',
      backend: login.route.backend,
    });

    router.pool.remove(home);
    const gone = await visit(router, 'PHPSESSID=s', 'PHPSESSID=s2; Max-Age=600');
    expect(gone.route.reason).toBe('rerouted');
    expect(reroutes.at(-1)).toMatchObject({ from: null, why: 'gone' });
    // The app at the new home issued a new session: that value is learned there.
    expect((await visit(router, 'PHPSESSID=s2')).route).toMatchObject({
      reason: 'learned',
      backend: gone.route.backend,
    });
  });

  it('stores only values the app issued: made-up request values take no entry and evict nobody', async () => {
    const clock = new FakeClock();
    const router = createStickyRouter(
      withTestHooks(
        {
          backends: BACKENDS,
          stickiness: { type: 'app-cookie', appCookie: 'JSESSIONID', mode: 'learn' },
          storeSize: 10,
        },
        { clock },
      ),
    );
    const real = [];
    for (let i = 0; i < 10; i++)
      real.push(await visit(router, undefined, `JSESSIONID=real-${i}; Max-Age=600`));
    for (let i = 0; i < 1_500; i++) {
      const forged = await visit(router, `JSESSIONID=made-up-${i}`);
      expect(forged.route.reason).toBe('hashed');
    }
    expect(router.store.size?.()).toBe(10);
    for (let i = 0; i < 10; i++)
      expect((await visit(router, `JSESSIONID=real-${i}`)).route).toMatchObject({
        reason: 'learned',
        backend: real[i]!.route.backend,
      });
  });

  it('places a value found nowhere by the pure hash ring: gateways with their own stores and loads agree', async () => {
    const one = setup().router;
    const two = setup().router;
    // Load one gateway's backends unevenly: the ring's load bound would move keys, the pure ring does not.
    const held = [];
    for (let i = 0; i < 5; i++) held.push(await one.route(withCookie('PHPSESSID=busy')));
    const values = Array.from({ length: 60 }, (_, i) => `lost-${i}`);
    const homes = new Set<string>();
    for (const value of values) {
      const a = await visit(one, `PHPSESSID=${value}`);
      const b = await visit(two, `PHPSESSID=${value}`);
      expect(a.route.reason).toBe('hashed');
      expect(b.route.backend!.id).toBe(a.route.backend!.id);
      homes.add(a.route.backend!.id);
    }
    expect(homes.size).toBe(3);
    for (const route of held) steps(one).release(route);
    // Down backends are skipped, alike on both.
    one.pool.markDown('a');
    two.pool.markDown('a');
    for (const value of values) {
      const a = await visit(one, `PHPSESSID=${value}`);
      expect(a.route.backend!.id).not.toBe('a');
      expect((await visit(two, `PHPSESSID=${value}`)).route.backend).toBe(two.pool.get(a.route.backend!.id));
    }
  });

  it('ignores empty and oversized app cookie values', async () => {
    const { router } = setup();
    await visit(router, undefined, `PHPSESSID=${'x'.repeat(600)}; Max-Age=600`);
    await visit(router, undefined, 'PHPSESSID=; Max-Age=600');
    expect(router.store.size?.()).toBe(0);
    // Oversized values are not even hashed: balanced as new, like a request without the cookie.
    expect((await visit(router, `PHPSESSID=${'x'.repeat(600)}`)).route.reason).toBe('new');
    expect((await visit(router, 'PHPSESSID=')).route.reason).toBe('new');
  });
});

describe('app-cookie learn at its edges', () => {
  it('learns and routes a value of exactly the longest length kept (512), not one longer', async () => {
    const { router } = setup();
    const longest = 'v'.repeat(512);
    const first = await visit(router, undefined, `PHPSESSID=${longest}; Max-Age=600`);
    expect(router.store.size?.()).toBe(1);
    expect((await visit(router, `PHPSESSID=${longest}`)).route).toMatchObject({
      reason: 'learned',
      backend: first.route.backend,
    });
    await visit(router, undefined, `PHPSESSID=${longest}w; Max-Age=600`);
    expect(router.store.size?.()).toBe(1);
    expect((await visit(router, `PHPSESSID=${longest}w`)).route.reason).toBe('new');
  });

  it('a response naming the app cookie without setting it (another cookie, one the browser refuses) forgets nothing', async () => {
    const { router } = setup();
    const first = await visit(router, undefined, 'PHPSESSID=s1; Max-Age=600');
    for (const upstream of [
      'PHPSESSID_OLD=x; Max-Age=600',
      'PHPSESSID=; Max-Age=600',
      'PHPSESSID=s2; Domain=other.example',
    ]) {
      const again = await visit(router, 'PHPSESSID=s1', upstream);
      expect(again.route).toMatchObject({ reason: 'learned', backend: first.route.backend });
    }
    expect((await visit(router, 'PHPSESSID=s1')).route.reason).toBe('learned');
  });
});
