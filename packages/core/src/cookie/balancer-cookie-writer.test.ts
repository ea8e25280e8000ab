// The balancer cookie's attributes as a browser receives them: Path, HttpOnly, Secure (auto: when the
// request came over HTTPS), SameSite, Domain, the <name>CORS twin, and persistent: false (a browser-session
// cookie whose idle timeout is still enforced on the server).

import type { CookieOptions } from '../config/options';
import { createStickyRouter } from '../router';
import { FakeClock } from '../testing/fake-clock';
import { cookieAttributes, cookiePair, request, withCookie } from '../testing/requests';
import { steps } from '../testing/router-steps';
import { withTestHooks } from '../testing-hooks';
import { BalancerCookieWriter } from './balancer-cookie-writer';

const SECRET = 'writer-test-secret-0123456789';
const BACKENDS = ['http://10.0.0.1:8080', 'http://10.0.0.2:8080'];

function setup(cookie: CookieOptions) {
  const clock = new FakeClock();
  const router = createStickyRouter(
    withTestHooks(
      {
        backends: BACKENDS,
        stickiness: { type: 'lb-cookie' },
        secret: SECRET,
        cookie,
      },
      { clock },
    ),
  );
  return { clock, router };
}

async function cookiesFor(cookie: CookieOptions, secure = false) {
  const { router } = setup(cookie);
  return steps(router).responseCookies(await router.route(request({ secure })));
}

describe('balancer cookie attributes', () => {
  it('defaults: STICKY, Path=/, HttpOnly, SameSite=Lax, no Domain, Secure only over HTTPS', async () => {
    const plain = await cookiesFor({});
    expect(plain).toHaveLength(1);
    expect(cookieAttributes(plain[0]!)).toEqual({
      name: 'STICKY',
      value: expect.any(String),
      'max-age': '1200',
      path: '/',
      httponly: true,
      samesite: 'Lax',
    });
    const tls = cookieAttributes((await cookiesFor({}, true))[0]!);
    expect(tls.secure).toBe(true);
  });

  it('honours name, path, domain, httpOnly, sameSite and a fixed secure', async () => {
    const [set] = await cookiesFor({
      name: 'LB',
      path: '/shop',
      domain: '.example.com',
      httpOnly: false,
      sameSite: 'Strict',
      secure: true,
    });
    expect(cookieAttributes(set!)).toEqual({
      name: 'LB',
      value: expect.any(String),
      'max-age': '1200',
      path: '/shop',
      domain: '.example.com',
      samesite: 'Strict',
      secure: true,
    });
    const [never] = await cookiesFor({ secure: false }, true);
    expect(cookieAttributes(never!).secure).toBeUndefined();
  });

  it('SameSite=None always carries Secure (browsers drop it otherwise)', async () => {
    const [set] = await cookiesFor({ sameSite: 'None' });
    expect(cookieAttributes(set!)).toMatchObject({ samesite: 'None', secure: true });
  });

  it('cors: also sends a <name>CORS twin with SameSite=None; Secure, and requests are matched by either', async () => {
    const { router } = setup({ cors: true });
    const first = await router.route(request());
    const set = steps(router).responseCookies(first);
    expect(set).toHaveLength(2);
    const main = cookieAttributes(set[0]!);
    const twin = cookieAttributes(set[1]!);
    expect(main).toMatchObject({ name: 'STICKY', samesite: 'Lax' });
    expect(main.secure).toBeUndefined();
    expect(twin).toMatchObject({
      name: 'STICKYCORS',
      value: main.value,
      samesite: 'None',
      secure: true,
      path: '/',
      httponly: true,
      'max-age': '1200',
    });
    steps(router).release(first);
    await router.route(request()); // the round robin moves on
    // A cross-site request carries only the twin.
    const crossSite = await router.route(withCookie(cookiePair(set, 'STICKYCORS')));
    expect(crossSite).toMatchObject({ reason: 'sticky', backend: first.backend });
    // The deletion of an app-cookie follower deletes both.
    const follow = createStickyRouter({
      backends: BACKENDS,
      stickiness: { type: 'app-cookie', appCookie: 'SID' },
      secret: SECRET,
      cookie: { cors: true },
    });
    const gone = steps(follow).responseCookies(await follow.route(request()), 'SID=; Max-Age=0');
    expect(gone.map((c) => cookieAttributes(c))).toEqual([
      expect.objectContaining({ name: 'STICKY', value: '', 'max-age': '0' }),
      expect.objectContaining({ name: 'STICKYCORS', value: '', 'max-age': '0', secure: true }),
    ]);
  });

  it('persistent: false sends a browser-session cookie, and the idle timeout is still enforced', async () => {
    const { clock, router } = setup({ persistent: false });
    const first = await router.route(request());
    const [set] = steps(router).responseCookies(first);
    const attributes = cookieAttributes(set!);
    expect(attributes['max-age']).toBeUndefined();
    expect(attributes.expires).toBeUndefined();
    steps(router).release(first);
    clock.advance(19 * 60_000);
    const again = await router.route(withCookie(cookiePair([set!])));
    expect(again).toMatchObject({ reason: 'sticky', backend: first.backend });
    // A browser kept open for a day still sends the old value: 20 minutes idle is the end of it.
    clock.advance(20 * 60_000);
    expect((await router.route(withCookie(cookiePair([set!])))).reason).toBe('new');
    expect(router.stats().requests.expiredCookies).toBe(1);
  });

  it('the writer caches built strings but never mixes up secure and plain requests', () => {
    const writer = new BalancerCookieWriter({
      name: 'S',
      path: '/',
      domain: undefined,
      httpOnly: true,
      secure: 'auto',
      sameSite: 'Lax',
      cors: false,
      persistent: true,
    });
    const plain = writer.issue('v', { maxAge: 60 }, false);
    const tls = writer.issue('v', { maxAge: 60 }, true);
    expect(plain[0]).toBe('S=v; Max-Age=60; Path=/; HttpOnly; SameSite=Lax');
    expect(tls[0]).toBe('S=v; Max-Age=60; Path=/; HttpOnly; Secure; SameSite=Lax');
    expect(writer.issue('v', { maxAge: 60 }, false)).toBe(plain);
    const expires = new Date(Date.UTC(2030, 0, 1));
    expect(writer.issue('v', { expires }, false)[0]).toBe(
      'S=v; Path=/; Expires=Tue, 01 Jan 2030 00:00:00 GMT; HttpOnly; SameSite=Lax',
    );
    // Many distinct values keep the cache bounded and the answers right.
    let wrong = 0;
    for (let i = 0; i < 3_000; i++)
      if (writer.issue(`v${i}`, {}, false)[0] !== `S=v${i}; Path=/; HttpOnly; SameSite=Lax`) wrong++;
    expect(wrong).toBe(0);
    expect(writer.issue('v', { maxAge: 60 }, true)).toEqual(tls);
  });
});
