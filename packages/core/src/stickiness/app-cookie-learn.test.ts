// app-cookie in learn mode: no balancer cookie; the store maps the app cookie's value to its backend for
// as long as the app cookie lives, requests carrying it are routed there ('learned'), deletion forgets it.

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
    expect((await visit(router, 'PHPSESSID=max')).route.reason).toBe('new');
    expect((await visit(router, 'PHPSESSID=exp')).route.reason).toBe('learned');
    clock.advance(1_200_000);
    expect((await visit(router, 'PHPSESSID=exp')).route.reason).toBe('new');
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
    // Idle for 20 minutes: unknown again, balanced as new (and remembered where it lands).
    expect((await visit(router, 'PHPSESSID=sess')).route.reason).toBe('new');
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
    expect((await visit(router, 'PHPSESSID=long')).route.reason).toBe('new');
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
    expect((await visit(router, 'PHPSESSID=v')).route.reason).toBe('new');
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
    expect((await visit(router, 'PHPSESSID=sess')).route.reason).toBe('new');
  });

  it('a client whose learned backend is down or removed is rerouted and remembered at its new home', async () => {
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
    const after = await visit(router, 'PHPSESSID=s');
    expect(after.route).toMatchObject({ reason: 'learned', backend: moved.route.backend });

    router.pool.remove(moved.route.backend!.id);
    const again = await visit(router, 'PHPSESSID=s');
    expect(again.route.reason).toBe('rerouted');
    expect(reroutes[1]).toMatchObject({ from: null, why: 'gone' });
  });

  it('ignores empty and oversized app cookie values', async () => {
    const { router } = setup();
    await visit(router, undefined, `PHPSESSID=${'x'.repeat(600)}; Max-Age=600`);
    await visit(router, undefined, 'PHPSESSID=; Max-Age=600');
    expect(router.store.size?.()).toBe(0);
    expect((await visit(router, `PHPSESSID=${'x'.repeat(600)}`)).route.reason).toBe('new');
    expect((await visit(router, 'PHPSESSID=')).route.reason).toBe('new');
  });
});
