// The caches that keep the decision path free of HMACs and string building (issue 7) never answer with a
// value or a Set-Cookie line made for other dates or attributes: whatever the order of calls, each answer
// is what an empty cache would have produced. That includes lb-cookie's per-backend memo.

import { createStickyRouter } from '../router';
import { FakeClock } from '../testing/fake-clock';
import { cookieAttributes, cookiePair, request, withCookie } from '../testing/requests';
import { steps } from '../testing/router-steps';
import { withTestHooks } from '../testing-hooks';
import { BalancerCookieCodec } from './balancer-cookie-codec';
import { BalancerCookieWriter, type CookieScope } from './balancer-cookie-writer';

const SECRET = 'issue-caches-secret-0123456789';

test('encode answers each (token, expires, born) with its own value, in any order; decode agrees', () => {
  const codec = new BalancerCookieCodec([SECRET]);
  const fresh = () => new BalancerCookieCodec([SECRET]);
  const token = codec.backendToken('a');
  const other = codec.backendToken('b');
  const calls: Array<[string, number, number]> = [
    [token, 2000, 1000],
    [token, 2000, 1000],
    [token, 2001, 1000],
    [token, 2000, 999],
    [other, 2000, 1000],
    [token, 2000, 1000],
  ];
  for (const [t, expires, born] of calls) {
    const value = codec.encode(t, expires, born);
    expect(value).toBe(fresh().encode(t, expires, born));
    expect(codec.decode(value)).toEqual({ keyIndex: 0, kind: 'lb', token: t, expires, born });
    expect(fresh().decode(value)).toEqual({ keyIndex: 0, kind: 'lb', token: t, expires, born });
  }
  // A value that was never issued (its signature altered) is still refused after all that caching.
  const issued = codec.encode(token, 2000, 1000);
  expect(codec.decode(`${issued.slice(0, -1)}${issued.endsWith('A') ? 'B' : 'A'}`)).toBeNull();
});

test('issue answers each (value, lifetime, secure) with its own Set-Cookie lines, in any order', () => {
  const options = {
    name: 'STICKY',
    path: '/',
    domain: undefined,
    httpOnly: true,
    secure: 'auto' as const,
    sameSite: 'Lax' as const,
    cors: false,
    persistent: true,
  };
  const writer = new BalancerCookieWriter(options);
  const y2030 = { expires: new Date(Date.UTC(2030, 0, 1)) };
  const y2031 = { expires: new Date(Date.UTC(2031, 0, 1)) };
  // Follow mode mirrors app cookies of several domains, and partitioned ones, with the same value.
  const calls: Array<[string, { maxAge?: number; expires?: Date }, boolean, CookieScope?]> = [
    ['v1', { maxAge: 60 }, false],
    ['v1', { maxAge: 60 }, false],
    ['v1', { maxAge: 59 }, false],
    ['v1', { maxAge: 59 }, true],
    ['v1', y2030, false],
    ['v1', y2031, false],
    ['v1', y2030, false],
    ['v2', { maxAge: 60 }, false],
    ['v1', { maxAge: 60 }, false],
    ['v1', { maxAge: 60 }, false, { domain: 'a.example.org', partitioned: false }],
    ['v1', { maxAge: 60 }, false, { domain: 'b.example.org', partitioned: false }],
    ['v1', { maxAge: 60 }, false, { domain: 'a.example.org', partitioned: false }],
    ['v1', { maxAge: 60 }, false, { domain: 'a.example.org', partitioned: true }],
    ['v1', { maxAge: 60 }, false, { domain: undefined, partitioned: true }],
    ['v1', { maxAge: 60 }, false],
    ['v1', { maxAge: 60 }, false, { domain: 'a.example.org', partitioned: false }],
    ['v1', { maxAge: 60 }, false, { domain: 'a.example.org', partitioned: false }],
  ];
  for (const [value, lifetime, secure, scope] of calls)
    expect(writer.issue(value, lifetime, secure, scope)).toEqual(
      new BalancerCookieWriter(options).issue(value, lifetime, secure, scope),
    );
});

/** A cache's entry count, read for its bound only: nothing else shows how much it holds. */
const sizeOf = (owner: object, field: string) =>
  (owner as Record<string, Map<unknown, unknown>>)[field]!.size;

test('the caches stay bounded however many clients, values and dates go through', () => {
  const codec = new BalancerCookieCodec([SECRET]);
  const writer = new BalancerCookieWriter({
    name: 'STICKY',
    path: '/',
    domain: undefined,
    httpOnly: true,
    secure: 'auto',
    sameSite: 'Lax',
    cors: false,
    persistent: true,
  });
  const token = codec.backendToken('a');
  let first = '';
  for (let born = 1; born <= 5_000; born++) {
    const value = codec.encode(token, born + 60, born);
    if (born === 1) first = value;
    expect(writer.issue(value, { maxAge: 60 }, false)).toHaveLength(1);
  }
  expect(sizeOf(codec, 'issued')).toBeLessThanOrEqual(4096);
  expect(sizeOf(codec, 'verified')).toBeLessThanOrEqual(4096);
  expect(sizeOf(writer, 'cache')).toBeLessThanOrEqual(1024);
  expect(sizeOf(writer, 'lastByValue')).toBeLessThanOrEqual(4096);
  // Emptied when full, not stuck: what was dropped is made again, the same.
  expect(codec.decode(first)).toEqual({ keyIndex: 0, kind: 'lb', token, expires: 61, born: 1 });
  expect(sizeOf(codec, 'lastIssued')).toBe(1);
});

test('lb-cookie re-issues per backend from its memo only for the same second, dates and scheme', async () => {
  const clock = new FakeClock();
  const router = createStickyRouter(
    withTestHooks(
      {
        backends: ['http://10.0.0.1:8080', 'http://10.0.0.2:8080'],
        stickiness: { type: 'lb-cookie', duration: '10m', maxLifetime: '15m' },
        secret: SECRET,
      },
      { clock },
    ),
  );
  const issue = async (req = request()) => {
    const route = await router.route(req);
    const cookies = steps(router).responseCookies(route);
    steps(router).release(route);
    return cookies;
  };
  const first = await issue();
  expect(await issue(request({ secure: true }))).not.toEqual(first); // the other backend, and Secure
  const again = await issue();
  expect(cookieAttributes(again[0]!).secure).toBeUndefined();
  // A returning client past the idle period's reach: maxLifetime caps `expires`, so only Max-Age moves.
  const pair = cookiePair(first);
  clock.advance(8 * 60_000);
  const capped = await issue(withCookie(pair));
  clock.advance(1000);
  const later = await issue(withCookie(pair));
  expect(cookieAttributes(capped[0]!)['max-age']).toBe(String(7 * 60));
  expect(cookieAttributes(later[0]!)['max-age']).toBe(String(7 * 60 - 1));
  await router.close();
});
