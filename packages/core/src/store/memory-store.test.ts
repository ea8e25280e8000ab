// The in-memory StickyStore: per-entry TTLs on the injected clock, sliding refresh, least-recently-used
// eviction at its bound (a flood of a million new keys keeps it there), and per-backend counts.

import { createStickyRouter } from '../router';
import { FakeClock } from '../testing/fake-clock';
import { cookiePair, request, withCookie } from '../testing/requests';
import { steps } from '../testing/router-steps';
import { withTestHooks } from '../testing-hooks';
import { MemoryStore } from './memory-store';

describe('MemoryStore', () => {
  it('gets, sets, replaces and deletes', async () => {
    const store = new MemoryStore({ clock: new FakeClock() });
    expect(await store.get('k')).toBeUndefined();
    await store.set('k', 'a', 60_000);
    expect(await store.get('k')).toBe('a');
    await store.set('k', 'b', 60_000);
    expect(await store.get('k')).toBe('b');
    expect(store.size()).toBe(1);
    await store.delete('k');
    await store.delete('never-there');
    expect(await store.get('k')).toBeUndefined();
    expect(store.size()).toBe(0);
  });

  it('setIfAbsent keeps the first value and answers the one stored (the race winner)', async () => {
    const store = new MemoryStore({ clock: new FakeClock() });
    expect(await store.setIfAbsent('k', 'a', 60_000)).toBe('a');
    expect(await store.setIfAbsent('k', 'b', 60_000)).toBe('a');
    expect(await store.get('k')).toBe('a');
  });

  it('expires entries after their TTL on the injected clock', async () => {
    const clock = new FakeClock();
    const store = new MemoryStore({ clock });
    await store.set('short', 'a', 1_000);
    await store.set('long', 'b', 60_000);
    clock.advance(999);
    expect(await store.get('short')).toBe('a');
    clock.advance(1);
    expect(await store.get('short')).toBeUndefined();
    expect(await store.get('long')).toBe('b');
    expect(store.size()).toBe(1);
    // An expired entry is absent for setIfAbsent too.
    await store.set('again', 'old', 1_000);
    clock.advance(1_000);
    expect(await store.setIfAbsent('again', 'new', 1_000)).toBe('new');
  });

  it('slides an entry when read with a refresh TTL', async () => {
    const clock = new FakeClock();
    const store = new MemoryStore({ clock });
    await store.set('k', 'a', 10_000);
    for (let i = 0; i < 5; i++) {
      clock.advance(8_000);
      expect(await store.get('k', 10_000)).toBe('a');
    }
    clock.advance(8_000);
    expect(await store.get('k')).toBe('a');
    clock.advance(2_000);
    expect(await store.get('k')).toBeUndefined();
  });

  it('evicts the least recently used entry at its bound (a refreshed read counts as use)', async () => {
    const store = new MemoryStore({ maxEntries: 3, clock: new FakeClock() });
    await store.set('a', '1', 60_000);
    await store.set('b', '1', 60_000);
    await store.set('c', '1', 60_000);
    await store.get('a', 60_000); // a is now the most recently used
    await store.set('d', '1', 60_000);
    expect(store.size()).toBe(3);
    expect(await store.get('b')).toBeUndefined();
    for (const key of ['a', 'c', 'd']) expect(await store.get(key)).toBe('1');
    await store.set('e', '1', 60_000);
    expect(await store.get('c')).toBeUndefined();
    // Replacing an entry does not evict another.
    await store.set('e', '2', 60_000);
    expect(store.size()).toBe(3);
  });

  it('counts entries per value (clients per backend) through replacements, deletions and evictions', async () => {
    const clock = new FakeClock();
    const store = new MemoryStore({ maxEntries: 4, clock });
    await store.set('k1', 'a', 60_000);
    await store.set('k2', 'a', 60_000);
    await store.set('k3', 'b', 1_000);
    expect([store.countOf('a'), store.countOf('b'), store.countOf('c')]).toEqual([2, 1, 0]);
    await store.set('k2', 'b', 60_000);
    expect([store.countOf('a'), store.countOf('b')]).toEqual([1, 2]);
    await store.delete('k1');
    expect(store.countOf('a')).toBe(0);
    clock.advance(1_000);
    await store.get('k3');
    expect(store.countOf('b')).toBe(1);
    for (let i = 0; i < 10; i++) await store.set(`n${i}`, 'c', 60_000);
    expect(store.countOf('b') + store.countOf('c')).toBe(4);
    expect(store.countOf('c')).toBe(4);
  });

  it('a flood of 1,000,000 new keys keeps it at its bound, oldest evicted, newest kept', async () => {
    const store = new MemoryStore({ maxEntries: 10_000, clock: new FakeClock() });
    // CPU time, not wall time: the bound is about quadratic eviction, not about a busy machine.
    const started = process.cpuUsage();
    let maxSize = 0;
    for (let i = 0; i < 1_000_000; i++) {
      void store.set(`ip:${i}`, `b${i & 7}`, 1_200_000);
      if ((i & 0xffff) === 0 && store.size() > maxSize) maxSize = store.size();
    }
    const cpu = process.cpuUsage(started);
    expect((cpu.user + cpu.system) / 1000).toBeLessThan(15_000);
    expect(Math.max(maxSize, store.size())).toBe(10_000);
    expect(await store.get('ip:0')).toBeUndefined();
    expect(await store.get('ip:989999')).toBeUndefined();
    expect(await store.get('ip:990000')).toBe('b0');
    expect(await store.get('ip:999999')).toBe('b7');
    let counted = 0;
    for (let b = 0; b < 8; b++) counted += store.countOf(`b${b}`);
    expect(counted).toBe(10_000);
  });

  it('defaults to 100,000 entries on the system clock', async () => {
    const store = new MemoryStore();
    await store.set('k', 'v', 60_000);
    expect(await store.get('k')).toBe('v');
  });
});

describe('memory per client', () => {
  it('cookie modes keep nothing per client; keyed modes one entry each, counted per backend', async () => {
    const backends = ['http://10.0.0.1:8080', 'http://10.0.0.2:8080'];
    const secret = 'store-test-secret-0123456789';
    const clock = new FakeClock();
    for (const stickiness of [{ type: 'lb-cookie' }, { type: 'app-cookie', appCookie: 'SID' }] as const) {
      const router = createStickyRouter(withTestHooks({ backends, stickiness, secret }, { clock }));
      for (let i = 0; i < 1_000; i++) {
        const route = await router.route(request({ ip: `10.9.${i >> 8}.${i & 255}` }));
        const set = steps(router).responseCookies(route, `SID=s${i}; Max-Age=600`);
        steps(router).release(route);
        steps(router).release(await router.route(withCookie(`SID=s${i}; ${cookiePair(set)}`)));
      }
      expect(router.stats().storeEntries).toBe(0);
    }
    const keyed = createStickyRouter(
      withTestHooks({ backends, stickiness: { type: 'source-ip' }, storeSize: 500 }, { clock }),
    );
    for (let i = 0; i < 1_000; i++)
      steps(keyed).release(await keyed.route(request({ ip: `10.9.${i >> 8}.${i & 255}` })));
    const stats = keyed.stats();
    expect(stats.storeEntries).toBe(500);
    expect(stats.backends.reduce((sum, b) => sum + (b.stuckClients ?? 0), 0)).toBe(500);
  });
});
