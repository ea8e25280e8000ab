// source-ip, header and query stickiness: the same key goes to the same backend; the placement is
// remembered in the store (sliding), so adding backends moves nobody; a key whose backend is down moves.

import { createHash } from 'node:crypto';
import type { StickinessOptions } from '../config/options';
import { createStickyRouter, type StickyRouter } from '../router';
import { MemoryStore } from '../store/memory-store';
import { FakeClock } from '../testing/fake-clock';
import { request } from '../testing/requests';
import { steps } from '../testing/router-steps';
import { withTestHooks } from '../testing-hooks';
import type { RouteRequest } from '../types';
import { stickinessKey } from './keyed';

const BACKENDS = Array.from({ length: 4 }, (_, i) => ({ url: `http://10.0.0.${i + 1}:8080`, id: `b${i}` }));
const MINUTE = 60_000;

function setup(stickiness: StickinessOptions) {
  const clock = new FakeClock();
  const router = createStickyRouter(withTestHooks({ backends: BACKENDS, stickiness }, { clock }));
  return { clock, router };
}

async function visit(router: StickyRouter, req: RouteRequest) {
  const route = await router.route(req);
  expect(steps(router).responseCookies(route)).toEqual([]);
  steps(router).release(route);
  return route;
}

const MODES: [string, StickinessOptions, (key: string) => RouteRequest][] = [
  ['source-ip', { type: 'source-ip' }, (key) => request({ ip: key })],
  ['header', { type: 'header', header: 'X-API-Key' }, (key) => request({ headers: { 'x-api-key': key } })],
  [
    'query',
    { type: 'query', param: 'apikey' },
    (key) => request({ url: `/v1/items?page=2&apikey=${encodeURIComponent(key)}` }),
  ],
];

describe.each(MODES)('%s stickiness', (_, stickiness, keyed) => {
  it('sends the same key to the same backend: hashed first, then sticky', async () => {
    const { router } = setup(stickiness);
    const homes = new Map<string, string>();
    for (let round = 0; round < 3; round++) {
      for (let i = 0; i < 50; i++) {
        const key = `198.51.100.${i}`;
        const route = await visit(router, keyed(key));
        expect(route.reason).toBe(round === 0 ? 'hashed' : 'sticky');
        if (round === 0) homes.set(key, route.backend!.id);
        else expect(route.backend!.id).toBe(homes.get(key));
      }
    }
    expect(new Set(homes.values()).size).toBe(4);
    expect(router.stats().storeEntries).toBe(50);
    expect(router.stats().requests).toMatchObject({ hashed: 50, sticky: 100 });
  });

  it('remembers placements, so scaling up moves no active client', async () => {
    const { router } = setup(stickiness);
    const homes = new Map<string, string>();
    for (let i = 0; i < 200; i++) homes.set(`k${i}`, (await visit(router, keyed(`k${i}`))).backend!.id);
    router.pool.add({ url: 'http://10.0.1.1:8080', id: 'n1' });
    router.pool.add({ url: 'http://10.0.1.2:8080', id: 'n2', weight: 3 });
    for (const [key, home] of homes) {
      const route = await visit(router, keyed(key));
      expect(route).toMatchObject({ reason: 'sticky', backend: { id: home } });
    }
    // New keys do reach the new backends.
    const fresh = new Set<string>();
    for (let i = 0; i < 200; i++) fresh.add((await visit(router, keyed(`new${i}`))).backend!.id);
    expect(fresh.has('n1') || fresh.has('n2')).toBe(true);
  });

  it('reroutes a key whose backend is down and keeps it at its new home', async () => {
    const { router } = setup(stickiness);
    const first = await visit(router, keyed('client-1'));
    const home = first.backend!.id;
    router.pool.markDown(home);
    const moved = await visit(router, keyed('client-1'));
    expect(moved.reason).toBe('rerouted');
    expect(moved.backend!.id).not.toBe(home);
    expect(moved.upstreamHeaders['x-sticky-rerouted']).toBe('1');
    router.pool.markUp(home);
    // The app restored the session on the new backend: the client stays there.
    expect(await visit(router, keyed('client-1'))).toMatchObject({
      reason: 'sticky',
      backend: moved.backend,
    });
  });

  it('reroutes a key whose backend was removed from the pool', async () => {
    const { router } = setup(stickiness);
    const home = (await visit(router, keyed('client-2'))).backend!.id;
    router.pool.remove(home);
    const moved = await visit(router, keyed('client-2'));
    expect(moved.reason).toBe('rerouted');
    expect(moved.backend!.id).not.toBe(home);
    expect(await visit(router, keyed('client-2'))).toMatchObject({
      reason: 'sticky',
      backend: moved.backend,
    });
  });

  it('forgets a key after `duration` idle (20 minutes by default), and slides while it is used', async () => {
    const { clock, router } = setup(stickiness);
    await visit(router, keyed('slider'));
    await visit(router, keyed('idler'));
    for (let i = 0; i < 4; i++) {
      clock.advance(15 * MINUTE);
      expect((await visit(router, keyed('slider'))).reason).toBe('sticky');
    }
    expect((await visit(router, keyed('idler'))).reason).toBe('hashed');
  });
});

describe('keys', () => {
  const header = { type: 'header', header: 'x-api-key', durationMs: 60_000 } as const;
  const query = { type: 'query', param: 'apikey', durationMs: 60_000 } as const;

  it('requests without the header or parameter are balanced as new and leave nothing in the store', async () => {
    for (const stickiness of [
      { type: 'header', header: 'x-api-key' },
      { type: 'query', param: 'apikey' },
    ] as const) {
      const { router } = setup(stickiness);
      for (const req of [
        request(),
        request({ url: '/?other=1' }),
        request({ url: '/?apikey=' }),
        request({ headers: { 'x-api-key': '' } }),
      ]) {
        expect((await visit(router, req)).reason).toBe('new');
      }
      expect(router.stats().storeEntries).toBe(0);
    }
  });

  it('reads the first of repeated headers, query parameters in any position, encoded values', () => {
    expect(stickinessKey(request({ headers: { 'x-api-key': ['k1', 'k2'] } }), header)).toBe('h:k1');
    expect(stickinessKey(request({ url: '/a?apikey=k%201&b=2' }), query)).toBe('q:k 1');
    expect(stickinessKey(request({ url: '/a?b=2&apikey=k2&apikey=k3' }), query)).toBe('q:k2');
    expect(stickinessKey(request({ url: '/apikey=k' }), query)).toBeUndefined();
    expect(stickinessKey(request({ ip: '2001:db8::1' }), { type: 'source-ip', durationMs: 60_000 })).toBe(
      'ip:2001:db8::1',
    );
  });

  it('stores long keys by digest, so a hostile header cannot bloat the store', () => {
    const long = 'k'.repeat(100_000);
    const key = stickinessKey(request({ headers: { 'x-api-key': long } }), header)!;
    expect(key.length).toBeLessThan(64);
    expect(stickinessKey(request({ headers: { 'x-api-key': long } }), header)).toBe(key);
    expect(stickinessKey(request({ headers: { 'x-api-key': `${long}x` } }), header)).not.toBe(key);
  });
});

describe('keys at their edges', () => {
  const header = { type: 'header', header: 'x-api-key', durationMs: 60_000 } as const;
  const query = { type: 'query', param: 'apikey', durationMs: 60_000 } as const;

  it('reads a query right after the path, and never a path that merely looks like one', () => {
    expect(stickinessKey(request({ url: '/?apikey=k1' }), query)).toBe('q:k1');
    expect(stickinessKey(request({ url: '/x&apikey=k1' }), query)).toBeUndefined();
  });

  it('keeps keys of up to 256 characters as they are, and digests longer ones (SHA-256, base64url)', () => {
    const at = 'k'.repeat(256);
    expect(stickinessKey(request({ headers: { 'x-api-key': at } }), header)).toBe(`h:${at}`);
    const over = `${at}k`;
    expect(stickinessKey(request({ headers: { 'x-api-key': over } }), header)).toBe(
      `h:${createHash('sha256').update(over).digest('base64url')}`,
    );
  });
});

describe('two gateways racing for a new key', () => {
  const stickiness = { type: 'header', header: 'x-api-key' } as const;
  const req = () => request({ headers: { 'x-api-key': 'race-key' } });

  function gateways(second: typeof BACKENDS) {
    const clock = new FakeClock();
    const store = new MemoryStore({ clock });
    const one = createStickyRouter(withTestHooks({ backends: BACKENDS, stickiness, store }, { clock }));
    const two = createStickyRouter(withTestHooks({ backends: second, stickiness, store }, { clock }));
    return { one, two, store };
  }

  /** Where the first gateway hashes the key when nobody holds it (then forgotten again). */
  async function homeOf(router: StickyRouter, store: MemoryStore) {
    const route = await router.route(req());
    steps(router).release(route);
    await store.delete('h:race-key');
    return route.backend!.id;
  }

  it('the second joins the first placement when it can serve it (here: a draining backend keeps its clients)', async () => {
    const { one, two, store } = gateways(BACKENDS);
    const home = await homeOf(one, store);
    two.pool.drain(home, { timeout: '1h' });
    // Both look the key up before either has placed it; the first placement reaches the store first.
    const [a, b] = await Promise.all([one.route(req()), two.route(req())]);
    expect(a.backend!.id).toBe(home);
    expect(b.backend!.id).toBe(home);
    expect(await store.get('h:race-key')).toBe(home);
  });

  it('the second keeps its own placement when it does not know the winner, and the store follows it', async () => {
    const clock = new FakeClock();
    const store = new MemoryStore({ clock });
    const one = createStickyRouter(withTestHooks({ backends: BACKENDS, stickiness, store }, { clock }));
    const home = await homeOf(one, store);
    const two = createStickyRouter(
      withTestHooks({ backends: BACKENDS.filter((b) => b.id !== home), stickiness, store }, { clock }),
    );
    const [a, b] = await Promise.all([one.route(req()), two.route(req())]);
    expect(a.backend!.id).toBe(home);
    expect(b.backend!.id).not.toBe(home);
    expect(await store.get('h:race-key')).toBe(b.backend!.id);
  });
});
