// What the router says and keeps at start-up and when its store fails: the warnings a misconfiguration gets
// (and only where it matters), where they go without a logger, the store's size in stats, the store-error
// event. Time is a fake clock.

import type { StickyOptions } from './config/options';
import { createStickyRouter } from './router';
import { FakeClock } from './testing/fake-clock';
import { request } from './testing/requests';
import { steps } from './testing/router-steps';
import { withTestHooks } from './testing-hooks';
import type { StickyStore } from './types';

const BACKENDS = [
  { url: 'http://10.0.0.1:8080', id: 'a' },
  { url: 'http://10.0.0.2:8080', id: 'b' },
];

function routerWith(options: Partial<StickyOptions>) {
  const warnings: string[] = [];
  const router = createStickyRouter(
    withTestHooks(
      { backends: BACKENDS, logger: { warn: (m: string) => warnings.push(m) }, ...options } as StickyOptions,
      { clock: new FakeClock() },
    ),
  );
  return { router, warnings };
}

describe('start-up warnings', () => {
  test.each([
    [{ type: 'lb-cookie' }, true],
    [{ type: 'app-cookie', appCookie: 'JSESSIONID', mode: 'follow' }, true],
    [{ type: 'app-cookie', appCookie: 'JSESSIONID', mode: 'learn' }, false],
    [{ type: 'source-ip' }, false],
  ] as const)(
    'no secret with stickiness %j: warned %s (only the modes that sign a cookie need one)',
    async (stickiness, warned) => {
      const { router, warnings } = routerWith({ stickiness: stickiness as StickyOptions['stickiness'] });
      expect(warnings.some((w) => w.includes('no `secret` given'))).toBe(warned);
      await router.close();
    },
  );

  test('route mode names the backends whose ids a session id can never end with', async () => {
    const { router, warnings } = routerWith({
      backends: [
        { url: 'http://10.0.0.1:8080', id: 'node.1' },
        { url: 'http://10.0.0.2:8080', id: 'node2' },
      ],
      stickiness: { type: 'app-cookie', appCookie: 'JSESSIONID', mode: 'route' },
    });
    expect(warnings).toEqual([expect.stringContaining("backends 'node.1' can never be named")]);
    await router.close();
  });

  test('without a logger the warning is a process warning named StickyrouteWarning', async () => {
    // Observed, not replaced: the warning still goes out as it would.
    const emitWarning = jest.spyOn(process, 'emitWarning');
    const router = createStickyRouter(
      withTestHooks({ backends: BACKENDS, stickiness: { type: 'lb-cookie' } }, { clock: new FakeClock() }),
    );
    expect(emitWarning).toHaveBeenCalledWith(
      expect.stringContaining('no `secret` given'),
      'StickyrouteWarning',
    );
    emitWarning.mockRestore();
    await router.close();
  });
});

describe('the store', () => {
  test('the memory store reports its size in stats; a store that cannot tell reports none', async () => {
    const memory = routerWith({ stickiness: { type: 'source-ip' }, secret: 's'.repeat(32) });
    await steps(memory.router).routeNow(request({ headers: {}, ip: '192.0.2.1' }));
    expect(memory.router.stats()).toHaveProperty('storeEntries');
    const opaque: StickyStore = {
      get: async () => undefined,
      setIfAbsent: async (_k, v) => v,
      set: async () => {},
      delete: async () => {},
    };
    const custom = routerWith({ stickiness: { type: 'source-ip' }, secret: 's'.repeat(32), store: opaque });
    expect('storeEntries' in custom.router.stats()).toBe(false);
    await Promise.all([memory.router.close(), custom.router.close()]);
  });

  test("a failing store's error is announced with the error itself, and the request is still placed", async () => {
    const failure = new Error('store down');
    const failing: StickyStore = {
      get: async () => {
        throw failure;
      },
      setIfAbsent: async () => {
        throw failure;
      },
      set: async () => {
        throw failure;
      },
      delete: async () => {},
    };
    const { router } = routerWith({
      stickiness: { type: 'header', header: 'x-session' },
      secret: 's'.repeat(32),
      store: failing,
    });
    const errors: unknown[] = [];
    router.on('store-error', (payload) => errors.push(payload));
    const route = await steps(router).routeNow(request({ headers: { 'x-session': 'k' } }));
    expect(route.backend).not.toBeNull();
    expect(errors[0]).toEqual({ error: failure });
    expect(router.stats().requests.storeErrors).toBeGreaterThan(0);
    await router.close();
  });
});
