// What adapters on http-proxy hand back to it: the upstream's headers for the client, and the target.

import { createStickyRouter } from '../router';
import { acceptUpstreamHeaders, appendCookies, carriedBy, httpProxyTarget } from './upstream-answer';

describe('acceptUpstreamHeaders', () => {
  const router = createStickyRouter({
    backends: ['http://10.0.0.1:8080'],
    stickiness: { type: 'lb-cookie' },
    secret: 'upstream-answer-test-secret-0123',
  });
  afterAll(() => router.close());

  const routed = () =>
    router.route({ method: 'GET', url: '/', headers: {}, ip: '203.0.113.1', secure: false });

  it("returns a copy without hop-by-hop headers, the balancer's cookie after the app's", async () => {
    const route = await routed();
    const upstream = {
      connection: 'keep-alive, x-upstream-hop',
      'keep-alive': 'timeout=5',
      'x-upstream-hop': '1',
      'content-type': 'text/plain',
      'set-cookie': ['SID=abc; Path=/'],
    };
    const before = structuredClone(upstream);
    const out = acceptUpstreamHeaders(router, route, upstream);
    expect(upstream).toEqual(before);
    expect(Object.keys(out)).toEqual(['content-type', 'set-cookie']);
    expect(out['set-cookie']).toHaveLength(2);
    expect(out['set-cookie']?.[0]).toBe('SID=abc; Path=/');
    expect(out['set-cookie']?.[1]).toMatch(/^STICKY=/);
    router.release(route);
  });

  it('says close when the client asked for it', async () => {
    const route = await routed();
    expect(acceptUpstreamHeaders(router, route, { connection: 'keep-alive' }, true).connection).toBe('close');
    router.release(route);
  });
});

test('appendCookies leaves both lists alone', () => {
  const app = ['a=1'];
  const ours = ['STICKY=x'];
  expect(appendCookies(app, ours)).toEqual(['a=1', 'STICKY=x']);
  expect(app).toEqual(['a=1']);
  expect(appendCookies('b=2', ours)).toEqual(['b=2', 'STICKY=x']);
  // Alone, the balancer's cookie is a string: node validates an array by joining it first.
  expect(appendCookies(undefined, ours)).toBe('STICKY=x');
  const both = ['STICKY=x', 'STICKYCORS=x'];
  expect(appendCookies(undefined, both)).toEqual(both);
  expect(appendCookies(undefined, both)).not.toBe(both);
});

test('httpProxyTarget gives the fields url.parse gives, an IPv6 host without brackets', () => {
  expect(httpProxyTarget(new URL('https://app.internal:8443'))).toEqual({
    protocol: 'https:',
    host: 'app.internal:8443',
    hostname: 'app.internal',
    port: '8443',
    path: '/',
  });
  expect(httpProxyTarget(new URL('http://[::1]:9000')).hostname).toBe('::1');
});

test("a target carries what it was given to http-proxy's events, and nothing else does", () => {
  const exchange = { id: 1 };
  expect(carriedBy(httpProxyTarget(new URL('http://10.0.0.1:8080'), exchange))).toBe(exchange);
  expect(carriedBy(httpProxyTarget(new URL('http://10.0.0.1:8080')))).toBeUndefined();
  expect(carriedBy({ host: '10.0.0.1' })).toBeUndefined();
  expect(carriedBy('http://10.0.0.1:8080')).toBeUndefined();
  expect(carriedBy(undefined)).toBeUndefined();
});
