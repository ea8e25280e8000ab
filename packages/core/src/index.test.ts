// The package's entries: what users import from '@stickyroute/core', what adapters import from
// '@stickyroute/core/adapter', and the test hooks of '@stickyroute/core/testing'.

import * as core from '@stickyroute/core';
import * as adapter from '@stickyroute/core/adapter';
import * as testing from '@stickyroute/core/testing';
import { steps } from './testing/router-steps';

describe('@stickyroute/core', () => {
  it('holds what a user needs and nothing else: the router, its error, the memory store', () => {
    expect(Object.keys(core).sort()).toEqual([
      'MemoryStore',
      'StickyConfigError',
      'StickyRouter',
      'createStickyRouter',
    ]);
  });

  it('keeps adapter plumbing under ./adapter and test hooks under ./testing', () => {
    expect(Object.keys(adapter).sort()).toEqual(
      expect.arrayContaining(['Gateway', 'Exchange', 'copyUpstreamHeaders', 'writeReply']),
    );
    expect(Object.keys(testing).sort()).toEqual(
      expect.arrayContaining(['FakeClock', 'withTestHooks', 'routingOf']),
    );
    for (const entry of [adapter, testing])
      for (const name of Object.keys(core)) expect(Object.keys(entry)).not.toContain(name);
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
    expect(steps(router).responseCookies(route)).toHaveLength(1);
    steps(router).release(route);
    // Without an injected clock, timers are real (and unref'd); close() clears them.
    router.pool.drain('http://10.0.0.1:8080', { timeout: '1h' });
    await router.close();
    expect(() =>
      core.createStickyRouter({ backends: [] as string[], algorithm: 'fastest' as never }),
    ).toThrow(core.StickyConfigError);
  });
});
