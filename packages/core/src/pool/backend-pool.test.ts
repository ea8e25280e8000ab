// The backend pool as the router drives it: the exact payloads of its events (state changes from `absent`,
// `draining` and `down`, the `manual` default reasons), what its calls answer when nothing changed, the
// drain's option errors word for word, its idle and timeout rules at their boundaries (a request in flight
// when the rule falls due, the timeout between two looks), a listener that undrains or removes in the middle
// of a drain, stats, and the TLS name of https backends. Time is a fake clock; nothing sleeps.

import type { StickyOptions } from '../config/options';
import { createStickyRouter, type StickyRouter } from '../router';
import { FakeClock } from '../testing/fake-clock';
import { cookiePair, request, withCookie } from '../testing/requests';
import { steps } from '../testing/router-steps';
import { withTestHooks } from '../testing-hooks';
import type { StickyStore } from '../types';

const SECRET = 'backend-pool-test-secret-0123456789';
const BACKENDS = [
  { url: 'http://10.0.0.1:8080', id: 'a' },
  { url: 'http://10.0.0.2:8080', id: 'b' },
  { url: 'http://10.0.0.3:8080', id: 'c' },
];
const EVENTS = ['add', 'remove', 'drain', 'down', 'up', 'state'] as const;

/** A FakeClock that also records the delay of every timer set on it. */
class RecordingClock extends FakeClock {
  readonly delays: number[] = [];

  override setTimeout(fn: () => void, ms: number): unknown {
    this.delays.push(ms);
    return super.setTimeout(fn, ms);
  }
}

function setup(extra: Partial<StickyOptions> = {}) {
  const clock = new RecordingClock();
  const router = createStickyRouter(
    withTestHooks(
      { backends: BACKENDS, stickiness: { type: 'lb-cookie' }, secret: SECRET, ...extra },
      { clock },
    ),
  );
  const events: [string, unknown][] = [];
  for (const name of EVENTS) router.on(name as 'add', (payload) => events.push([name, payload]));
  return { clock, router, events };
}

/** A client stuck to backend `a` (the first one round robin places), by its cookie. */
async function clientOfA(router: StickyRouter): Promise<string> {
  const route = await router.route(request());
  expect(route.backend!.id).toBe('a');
  const cookie = cookiePair(steps(router).responseCookies(route));
  steps(router).release(route);
  return cookie;
}

const quietOf = (router: StickyRouter, id: string) =>
  router.stats().backends.find((b) => b.id === id)!.quietMs;

/** The StickyConfigError `fn` throws: its option and message. */
function configError(fn: () => unknown): { option: string; message: string } {
  try {
    fn();
  } catch (error) {
    expect((error as Error).name).toBe('StickyConfigError');
    return { option: (error as { option: string }).option, message: (error as Error).message };
  }
  throw new Error('no error thrown');
}

describe('events and answers', () => {
  it('announces add, down, up, drain, undrain and remove with exact payloads and `manual` reasons', () => {
    const { router, events } = setup();
    const url = 'http://10.0.0.4:8080';
    router.pool.add({ url, id: 'd', weight: 2 });
    expect(router.pool.markDown('d')).toBe(true);
    expect(router.pool.markUp('d')).toBe(true);
    expect(router.pool.drain('d', { timeout: 60 })).toBe(true);
    expect(router.pool.undrain('d')).toBe(true);
    expect(router.pool.remove('d')).toBe(true);
    expect(events).toEqual([
      ['add', { id: 'd', url }],
      ['state', { id: 'd', from: 'absent', to: 'healthy' }],
      ['down', { id: 'd', url, reason: 'manual' }],
      ['state', { id: 'd', from: 'healthy', to: 'down' }],
      ['up', { id: 'd', url, reason: 'manual' }],
      ['state', { id: 'd', from: 'down', to: 'healthy' }],
      ['drain', { id: 'd', url, idleMs: 1_200_000, timeoutMs: 60_000 }],
      ['state', { id: 'd', from: 'healthy', to: 'draining' }],
      ['state', { id: 'd', from: 'draining', to: 'healthy' }],
      ['remove', { id: 'd', url, reason: 'manual' }],
      ['state', { id: 'd', from: 'healthy', to: 'removed' }],
    ]);
  });

  it('undraining a backend that is down announces no state change (it was down and stays down)', () => {
    const { router, events } = setup();
    router.pool.markDown('a');
    router.pool.drain('a', { timeout: 60 });
    events.length = 0;
    expect(router.pool.undrain('a')).toBe(true);
    expect(events.filter(([name]) => name === 'state')).toEqual([]);
    expect(router.pool.get('a')!.state).toBe('down');
  });

  it('answers false and announces nothing when nothing changes', () => {
    const { router, events } = setup();
    expect(router.pool.markDown('b', 'probe')).toBe(true);
    events.length = 0;
    expect(router.pool.markDown('b')).toBe(false);
    expect(router.pool.markDown('b', 'passive')).toBe(false);
    expect(router.pool.markUp('a')).toBe(false);
    expect(router.pool.undrain('a')).toBe(false);
    for (const id of ['nope', 'constructor', '__proto__']) {
      expect(router.pool.markDown(id)).toBe(false);
      expect(router.pool.markUp(id)).toBe(false);
      expect(router.pool.undrain(id)).toBe(false);
      expect(router.pool.drain(id)).toBe(false);
      expect(router.pool.remove(id)).toBe(false);
    }
    expect(events).toEqual([]);
    expect(router.pool.get('b')!.state).toBe('down');
    expect(router.pool.markUp('b', 'probe')).toBe(true);
    expect(events).toEqual([
      ['up', { id: 'b', url: 'http://10.0.0.2:8080', reason: 'probe' }],
      ['state', { id: 'b', from: 'down', to: 'healthy' }],
    ]);
  });

  it('announces a state only when the state changed: draining again, or draining a down backend', () => {
    const { router, events } = setup();
    router.pool.drain('a', { timeout: '1h' });
    expect(router.pool.drain('a', { idle: '1m', timeout: '1h' })).toBe(true);
    expect(events.filter(([name]) => name === 'state')).toEqual([
      ['state', { id: 'a', from: 'healthy', to: 'draining' }],
    ]);
    events.length = 0;
    router.pool.markDown('b');
    expect(router.pool.drain('b', { timeout: '1h' })).toBe(true);
    expect(events).toEqual([
      ['down', { id: 'b', url: 'http://10.0.0.2:8080', reason: 'manual' }],
      ['state', { id: 'b', from: 'healthy', to: 'down' }],
      ['drain', { id: 'b', url: 'http://10.0.0.2:8080', idleMs: 1_200_000, timeoutMs: 3_600_000 }],
    ]);
    events.length = 0;
    router.pool.markUp('b');
    expect(events).toEqual([
      ['up', { id: 'b', url: 'http://10.0.0.2:8080', reason: 'manual' }],
      ['state', { id: 'b', from: 'down', to: 'draining' }],
    ]);
  });

  it('a removed backend is no member: it takes no client and serves no stuck one', () => {
    const { router } = setup();
    const a = router.pool.get('a')!;
    expect([a.member, a.acceptsNew, a.servesStuck]).toEqual([true, true, true]);
    router.pool.remove('a');
    expect([a.member, a.acceptsNew, a.servesStuck]).toEqual([false, false, false]);
    expect(router.pool.get('a')).toBeUndefined();
    expect(router.pool.members.map((b) => b.id)).toEqual(['b', 'c']);
  });
});

describe('add', () => {
  it('refuses an id already in the pool, saying which', () => {
    const { router, events } = setup();
    expect(configError(() => router.pool.add({ url: 'http://10.0.0.9:8080', id: 'b' }))).toEqual({
      option: 'backend.id',
      message: 'stickyroute: option `backend.id` duplicates another backend\'s id "b"',
    });
    expect(events).toEqual([]);
    expect(router.pool.members.map((b) => b.id)).toEqual(['a', 'b', 'c']);
  });

  it('an https backend carries its host[:port] as its TLS name; an http one none', () => {
    const { router } = setup();
    router.pool.add({ url: 'https://api.internal:8443', id: 'tls' });
    router.pool.add({ url: 'https://secure.internal', id: 'tls-default-port' });
    expect(router.pool.get('tls')!.tlsHost).toBe('api.internal:8443');
    expect(router.pool.get('tls-default-port')!.tlsHost).toBe('secure.internal');
    expect(router.pool.get('a')!.tlsHost).toBeUndefined();
  });
});

describe('drain options', () => {
  it.each([
    ['a string', '5m', '"5m"'],
    ['a number', 300, '300'],
    ['null', null, 'null'],
    ['true', true, 'true'],
  ])('refuses %s as options, changing nothing', (_, options, shown) => {
    const { router, events, clock } = setup();
    expect(configError(() => router.pool.drain('a', options as never))).toEqual({
      option: 'drain',
      message: `stickyroute: option \`drain\` must be an object { idle?, timeout? } (got ${shown})`,
    });
    expect(events).toEqual([]);
    expect(router.pool.get('a')!.state).toBe('healthy');
    expect(clock.pending).toBe(0);
  });

  it('refuses an unknown option, naming it', () => {
    const { router, events } = setup();
    expect(configError(() => router.pool.drain('a', { idle: '1m', idel: '1m' } as never))).toEqual({
      option: 'drain.idel',
      message: 'stickyroute: option `drain.idel` is not a known option (known: idle, timeout)',
    });
    expect(events).toEqual([]);
  });

  it('idle must be at least 1 s and shorter than the timeout, the default one or a given one', () => {
    const { router, events } = setup();
    expect(configError(() => router.pool.drain('a', { idle: '999ms', timeout: '1h' }))).toEqual({
      option: 'drain.idle',
      message: 'stickyroute: option `drain.idle` must be at least 1s (got "999ms")',
    });
    expect(configError(() => router.pool.drain('a', { idle: '5m' }))).toEqual({
      option: 'drain.idle',
      message:
        'stickyroute: option `drain.idle` must be shorter than drain.timeout (5m is not shorter than 5m, the default): give a longer timeout',
    });
    expect(configError(() => router.pool.drain('a', { idle: 90, timeout: '90s' }))).toEqual({
      option: 'drain.idle',
      message:
        'stickyroute: option `drain.idle` must be shorter than drain.timeout (90s is not shorter than 90s): give a longer timeout',
    });
    expect(events).toEqual([]);
    expect(router.pool.drain('a', { idle: '1s', timeout: '1001ms' })).toBe(true);
    expect(router.pool.drain('b', { idle: '4m' })).toBe(true);
    expect(events.filter(([name]) => name === 'drain').map(([, p]) => p)).toEqual([
      { id: 'a', url: 'http://10.0.0.1:8080', idleMs: 1000, timeoutMs: 1001 },
      { id: 'b', url: 'http://10.0.0.2:8080', idleMs: 240_000, timeoutMs: 300_000 },
    ]);
  });
});

describe('drain with a request in flight', () => {
  it('one in flight when the drain begins is not a visit: quiet counts from the start, looked at once due', async () => {
    const { clock, router, events } = setup();
    const open = await router.route(withCookie(await clientOfA(router)));
    router.pool.drain('a', { idle: '2m', timeout: '1h' });
    clock.advance(5_500);
    expect(quietOf(router, 'a')).toBe(5_500);
    clock.advance(120_000 - 5_500 - 1);
    expect(quietOf(router, 'a')).toBe(119_999);
    // Quiet exactly `idle`, yet the request is still in flight: kept, and looked at every second from now.
    clock.advance(1);
    expect(router.pool.get('a')).toBeDefined();
    expect(quietOf(router, 'a')).toBe(0);
    clock.advance(30_500);
    expect(quietOf(router, 'a')).toBe(500);
    steps(router).release(open);
    // The last look with it in flight was 500 ms ago: `idle` counts from then.
    clock.advance(120_000 - 500 - 1);
    expect(router.pool.get('a')).toBeDefined();
    clock.advance(1);
    expect(router.pool.get('a')).toBeUndefined();
    expect(events.filter(([name]) => name === 'remove')).toEqual([
      ['remove', { id: 'a', url: 'http://10.0.0.1:8080', reason: 'drain-idle' }],
    ]);
    expect(clock.pending).toBe(0);
  });

  it('one that came during the drain is looked at only once quiet for exactly `idle`, then every second', async () => {
    const { clock, router } = setup();
    const cookie = await clientOfA(router);
    router.pool.drain('a', { idle: '2m', timeout: '1h' });
    clock.advance(30_000);
    const open = await router.route(withCookie(cookie));
    expect(open.backend!.id).toBe('a');
    // The drain's first timer finds a visit 90 s ago: not quiet, so nothing is watched yet.
    clock.advance(90_000);
    expect(quietOf(router, 'a')).toBe(90_000);
    clock.advance(29_999);
    expect(quietOf(router, 'a')).toBe(119_999);
    clock.advance(1);
    expect(router.pool.get('a')).toBeDefined();
    expect(quietOf(router, 'a')).toBe(0);
    clock.advance(2_700);
    expect(quietOf(router, 'a')).toBe(700);
    steps(router).release(open);
    clock.advance(120_000 - 700 - 1);
    expect(router.pool.get('a')).toBeDefined();
    clock.advance(1);
    expect(router.pool.get('a')).toBeUndefined();
  });

  it('the timeout falling between two looks removes it at the timeout, not at the next look', async () => {
    const { clock, router, events } = setup();
    const open = await router.route(withCookie(await clientOfA(router)));
    router.pool.drain('a', { idle: '2m', timeout: '150500ms' });
    clock.advance(150_499);
    expect(quietOf(router, 'a')).toBe(499);
    expect(router.pool.get('a')).toBeDefined();
    clock.advance(1);
    expect(router.pool.get('a')).toBeUndefined();
    expect(events.filter(([name]) => name === 'remove')).toEqual([
      ['remove', { id: 'a', url: 'http://10.0.0.1:8080', reason: 'drain-timeout' }],
    ]);
    steps(router).release(open);
    expect(clock.pending).toBe(0);
  });

  it('without stickiness (no idle rule) one timer waits for the timeout, in flight or not', async () => {
    const { clock, router } = setup({ stickiness: false });
    const open = await router.route(request());
    expect(open.backend!.id).toBe('a');
    router.pool.drain('a', { timeout: '10m' });
    expect(clock.delays).toEqual([600_000]);
    steps(router).release(open);
    clock.advance(599_999);
    expect(router.pool.get('a')).toBeDefined();
    clock.advance(1);
    expect(router.pool.get('a')).toBeUndefined();
    expect(clock.delays).toEqual([600_000]);
  });
});

describe('a drain listener that changes the pool', () => {
  it('undraining in the `drain` listener leaves no drain and no timer behind', () => {
    const { clock, router } = setup();
    router.once('drain', ({ id }) => router.pool.undrain(id));
    expect(router.pool.drain('a', { idle: '1m', timeout: '1h' })).toBe(true);
    expect(router.pool.get('a')!.state).toBe('healthy');
    expect(router.stats().backends[0]!.drain).toBeUndefined();
    expect(clock.pending).toBe(0);
  });

  it('removing in the `drain` listener leaves no timer that could remove a later backend of that id', () => {
    const { clock, router, events } = setup();
    router.once('drain', ({ id }) => router.pool.remove(id));
    expect(router.pool.drain('a', { idle: '1m', timeout: '1h' })).toBe(true);
    expect(router.pool.get('a')).toBeUndefined();
    expect(clock.pending).toBe(0);
    router.pool.add({ url: 'http://10.0.0.9:8080', id: 'a' });
    clock.advance(2 * 3_600_000);
    expect(router.pool.get('a')!.origin).toBe('http://10.0.0.9:8080');
    expect(events.filter(([name]) => name === 'remove')).toEqual([
      ['remove', { id: 'a', url: 'http://10.0.0.1:8080', reason: 'manual' }],
    ]);
  });
});

describe('stats', () => {
  it('counts stuck clients when the store can (the memory store), and says nothing when it cannot', () => {
    const base = {
      weight: 1,
      state: 'healthy',
      active: 0,
      total: 0,
      new: 0,
      sticky: 0,
      rerouted: 0,
      failed: 0,
    };
    const memory = setup({ stickiness: { type: 'source-ip' } });
    expect(memory.router.stats().backends[0]).toStrictEqual({
      id: 'a',
      url: 'http://10.0.0.1:8080',
      ...base,
      stuckClients: 0,
      rampFactor: 1,
    });
    const entries = new Map<string, string>();
    const store: StickyStore = {
      get: async (key) => entries.get(key),
      setIfAbsent: async (key, value) => {
        if (!entries.has(key)) entries.set(key, value);
        return entries.get(key)!;
      },
      set: async (key, value) => void entries.set(key, value),
      delete: async (key) => void entries.delete(key),
    };
    const own = setup({ stickiness: { type: 'source-ip' }, store });
    expect(own.router.stats().backends[0]).toStrictEqual({
      id: 'a',
      url: 'http://10.0.0.1:8080',
      ...base,
      rampFactor: 1,
    });
  });

  it('counts a keyed client placed on a backend as stuck there', async () => {
    const { router } = setup({ stickiness: { type: 'source-ip' } });
    const route = await router.route(request({ ip: '192.0.2.1' }));
    steps(router).release(route);
    const counts = router.stats().backends.map((b) => [b.id, b.stuckClients]);
    expect(counts).toEqual(BACKENDS.map(({ id }) => [id, id === route.backend!.id ? 1 : 0]));
  });
});
