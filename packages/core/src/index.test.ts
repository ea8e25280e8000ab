// The package's public entry: what adapters and users import from '@stickyroute/core' is there and works.

import * as core from '@stickyroute/core';

describe('@stickyroute/core', () => {
  it('exports the router, its errors and the building blocks adapters and stores use', () => {
    expect(Object.keys(core)).toEqual(
      expect.arrayContaining([
        'BalancerCookieCodec',
        'HashRing',
        'MemoryStore',
        'StickyConfigError',
        'StickyRouter',
        'classifyUpstreamError',
        'createStickyRouter',
        'hash32',
        'httpProbe',
        'isIdempotent',
        'parseDuration',
        'parseSetCookieLifetime',
        'readCookie',
      ]),
    );
  });

  it('createStickyRouter gives a router an adapter can drive end to end', async () => {
    const router = core.createStickyRouter({
      backends: ['http://10.0.0.1:8080'],
      stickiness: { type: 'lb-cookie' },
      secret: 'index-test-secret-0123456789',
    });
    expect(router).toBeInstanceOf(core.StickyRouter);
    const route = await router.route({
      method: 'GET',
      url: '/',
      headers: {},
      ip: '203.0.113.1',
      secure: false,
    });
    expect(route.backend?.origin).toBe('http://10.0.0.1:8080');
    expect(router.responseCookies(route)).toHaveLength(1);
    router.release(route);
    // Without an injected clock, timers are real (and unref'd); close() clears them.
    router.pool.drain('http://10.0.0.1:8080', { timeout: '1h' });
    await router.close();
    expect(() =>
      core.createStickyRouter({ backends: [] as string[], algorithm: 'fastest' as never }),
    ).toThrow(core.StickyConfigError);
  });
});
