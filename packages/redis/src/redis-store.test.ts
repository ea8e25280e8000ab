// The Redis store's own logic, with no Redis behind it: answering at once while not connected (a read it
// cannot answer rejects, a write is kept), the per-command deadline (against a TCP server that accepts and
// never answers), rate-limited warnings, ready() and what close() does to each kind of client. Its options
// are in store-options.test.ts, its near cache and kept writes beside their own files; what it sends to Redis
// and what Redis answers (TTLs, the Lua scripts, races between stores, outages, Cluster, Sentinel) is tested
// against a real redis-server in test/distributed/redis-store.test.ts.

import net from 'node:net';
import { Redis } from 'ioredis';
import { settledBeforeNextTurn } from '../../../test/support/settled';
import { createRedisStore, type RedisStore } from './redis-store';

/** Fakes the timers and Date only: sockets, nextTick and setImmediate stay real. */
function fakeTimers(now?: number): void {
  jest.useFakeTimers({ doNotFake: ['nextTick', 'queueMicrotask', 'setImmediate', 'clearImmediate'], now });
}

/** A client that never connects by itself (status 'wait'). */
const idleClient = () => new Redis({ lazyConnect: true });

const stores: RedisStore[] = [];
afterEach(async () => {
  jest.useRealTimers();
  await Promise.all(stores.splice(0).map((s) => s.close()));
});

test('while the client is not connected a read it cannot answer rejects at once; writes are kept', async () => {
  const client = idleClient();
  const store = createRedisStore({ client });
  stores.push(store);
  for (const read of [store.get('h:x'), store.get('h:x', 1_000)])
    expect(await settledBeforeNextTurn(read)).toBe('rejected: stickyroute: Redis is not connected (wait)');
  expect(await settledBeforeNextTurn(store.set('h:a', 'a', 1_000))).toBe('resolved');
  expect(await settledBeforeNextTurn(store.setIfAbsent('h:b', 'b', 1_000))).toBe('resolved');
  expect(await settledBeforeNextTurn(store.delete('h:c'))).toBe('resolved');
  expect(store.stats()).toMatchObject({ pendingWrites: 3, writesDeferred: 3 });
  // What it wrote, it answers; and nothing connected the client.
  expect(await store.get('h:a')).toBe('a');
  expect(client.status).toBe('wait');
});

describe('a Redis that accepts connections and never answers', () => {
  let silent: net.Server;
  let url: string;
  const held = new Set<net.Socket>();

  beforeAll(async () => {
    silent = net.createServer((socket) => {
      held.add(socket);
      socket.on('close', () => held.delete(socket));
      socket.resume();
    });
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    url = `redis://127.0.0.1:${(silent.address() as net.AddressInfo).port}`;
  });
  afterAll(async () => {
    for (const socket of held) socket.destroy();
    await new Promise<void>((resolve) => silent.close(() => resolve()));
  });

  /** A store on the silent server, ready: no ready check nor client info, commands that would go unanswered. */
  async function silentStore(commandTimeout?: number): Promise<RedisStore> {
    const store = createRedisStore({ url, enableReadyCheck: false, disableClientInfo: true, commandTimeout });
    stores.push(store);
    await store.ready();
    return store;
  }

  test('a read rejects when commandTimeout has passed, not before (100 ms by default)', async () => {
    const custom = await silentStore(50);
    const standard = await silentStore();
    fakeTimers();
    const soon = custom.get('h:x', 60_000);
    const later = standard.get('h:x');
    jest.advanceTimersByTime(49);
    expect(await settledBeforeNextTurn(soon)).toBe('pending');
    jest.advanceTimersByTime(1);
    await expect(soon).rejects.toThrow('stickyroute: Redis did not answer within 50 ms');
    jest.advanceTimersByTime(49);
    expect(await settledBeforeNextTurn(later)).toBe('pending');
    jest.advanceTimersByTime(1);
    await expect(later).rejects.toThrow('stickyroute: Redis did not answer within 100 ms');
  });
});

test('ready() rejects after its own wait when the client never connects, and leaves no listener', async () => {
  const store = createRedisStore({ client: idleClient() });
  stores.push(store);
  const listening = store.client.listenerCount('ready');
  fakeTimers();
  const waiting = store.ready(300);
  jest.advanceTimersByTime(299);
  expect(await settledBeforeNextTurn(waiting)).toBe('pending');
  jest.advanceTimersByTime(1);
  await expect(waiting).rejects.toThrow('stickyroute: Redis not ready within 300 ms');
  expect(store.client.listenerCount('ready')).toBe(listening);
});

test('connection errors warn through the logger at most once per warningInterval', () => {
  fakeTimers(1_000_000);
  const warnings: string[] = [];
  const client = idleClient();
  const store = createRedisStore({
    client,
    logger: { warn: (m) => warnings.push(m) },
    warningInterval: 1_000,
  });
  stores.push(store);
  const refused = () => client.emit('error', new Error('connect ECONNREFUSED 127.0.0.1:6379'));
  refused();
  refused();
  jest.advanceTimersByTime(999);
  refused();
  expect(warnings).toHaveLength(1);
  expect(warnings[0]).toMatch(
    /^stickyroute: Redis store connection problem \(connect ECONNREFUSED 127\.0\.0\.1:6379\)/,
  );
  jest.advanceTimersByTime(1);
  refused();
  expect(warnings).toHaveLength(2);
});

test('without a logger, warnings are process warnings, ten seconds apart by default', () => {
  fakeTimers(1_000_000);
  const emitted = jest.spyOn(process, 'emitWarning').mockImplementation(() => undefined);
  try {
    const client = idleClient();
    stores.push(createRedisStore({ client }));
    client.emit('error', new Error('boom'));
    jest.advanceTimersByTime(9_999);
    client.emit('error', new Error('boom'));
    expect(emitted).toHaveBeenCalledTimes(1);
    expect(emitted).toHaveBeenCalledWith(expect.stringContaining('(boom)'), 'StickyrouteWarning');
    jest.advanceTimersByTime(1);
    client.emit('error', new Error('boom'));
    expect(emitted).toHaveBeenCalledTimes(2);
  } finally {
    emitted.mockRestore();
  }
});

test('close() leaves a passed-in client as it was, and ends the client the store made; twice is harmless', async () => {
  const passed = idleClient();
  const events = ['error', 'close', 'ready'] as const;
  const borrowing = createRedisStore({ client: passed });
  expect(events.map((e) => passed.listenerCount(e))).toEqual([1, 1, 1]);
  await borrowing.close();
  await borrowing.close();
  expect(events.map((e) => passed.listenerCount(e))).toEqual([0, 0, 0]);
  expect(passed.status).toBe('wait');

  const owning = createRedisStore({ url: 'redis://127.0.0.1:1', lazyConnect: true });
  expect(owning.client.status).toBe('wait');
  await owning.close();
  await owning.close();
  expect(owning.client.status).toBe('end');
});

test('keys go under the prefix, sticky: by default', () => {
  stores.push(
    createRedisStore({ client: idleClient() }),
    createRedisStore({ client: idleClient(), prefix: 'blue:' }),
  );
  expect(stores.map((s) => s.prefix)).toEqual(['sticky:', 'blue:']);
});
