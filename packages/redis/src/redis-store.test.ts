// The Redis store's own logic, with no Redis behind it: the options it refuses, failing at once while not
// connected, the per-command deadline (against a TCP server that accepts and never answers), rate-limited
// warnings, ready() and what close() does to each kind of client. What it sends to Redis and what Redis
// answers (TTLs, the Lua scripts, races between stores, reconnection, Cluster, Sentinel) is tested against
// a real redis-server in test/distributed/redis-store.test.ts.

import net from 'node:net';
import { StickyConfigError } from '@stickyroute/core';
import { Redis } from 'ioredis';
import { createRedisStore, type RedisStore } from './redis-store';

/** Fakes the timers and Date only: sockets, nextTick and setImmediate stay real. */
function fakeTimers(now?: number): void {
  jest.useFakeTimers({ doNotFake: ['nextTick', 'queueMicrotask', 'setImmediate', 'clearImmediate'], now });
}

/** How `operation` settled before the event loop's next turn, or 'pending'. */
function settledBeforeNextTurn(operation: Promise<unknown>): Promise<string> {
  return Promise.race([
    operation.then(
      () => 'resolved',
      (error: Error) => `rejected: ${error.message}`,
    ),
    new Promise<string>((resolve) => setImmediate(() => resolve('pending'))),
  ]);
}

/** A client that never connects by itself (status 'wait'). */
const idleClient = () => new Redis({ lazyConnect: true });

const stores: RedisStore[] = [];
afterEach(async () => {
  jest.useRealTimers();
  await Promise.all(stores.splice(0).map((s) => s.close()));
});

function configError(make: () => unknown): string | undefined {
  try {
    make();
  } catch (error) {
    if (error instanceof StickyConfigError) return error.option;
    throw error;
  }
  return undefined;
}

test('options that cannot work are refused at creation, naming the option', () => {
  const client = idleClient();
  expect(configError(() => createRedisStore({ prefix: 42 as unknown as string, lazyConnect: true }))).toBe(
    'store.prefix',
  );
  for (const commandTimeout of [0, -5, Number.NaN, Number.POSITIVE_INFINITY])
    expect(configError(() => createRedisStore({ commandTimeout, lazyConnect: true }))).toBe(
      'store.commandTimeout',
    );
  expect(configError(() => createRedisStore({ client, url: 'redis://127.0.0.1:1' }))).toBe('store.client');
  expect(configError(() => createRedisStore({ client, port: 6380 }))).toBe('store.client');
  // The refused stores added nothing to the client they were given.
  expect(client.listenerCount('error')).toBe(0);
});

test('while the client is not connected every operation rejects at once, and none connects it', async () => {
  const client = idleClient();
  const store = createRedisStore({ client });
  stores.push(store);
  const operations = [
    store.get('h:x'),
    store.get('h:x', 1_000),
    store.setIfAbsent('h:x', 'a', 1_000),
    store.set('h:x', 'a', 1_000),
    store.delete('h:x'),
  ];
  for (const operation of operations)
    expect(await settledBeforeNextTurn(operation)).toBe(
      'rejected: stickyroute: Redis is not connected (wait)',
    );
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

  test('a command rejects when commandTimeout has passed, not before (100 ms by default)', async () => {
    const custom = await silentStore(50);
    const standard = await silentStore();
    fakeTimers();
    const soon = custom.get('h:x', 60_000);
    const later = standard.setIfAbsent('h:x', 'a', 60_000);
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
  fakeTimers();
  const waiting = store.ready(300);
  jest.advanceTimersByTime(299);
  expect(await settledBeforeNextTurn(waiting)).toBe('pending');
  jest.advanceTimersByTime(1);
  await expect(waiting).rejects.toThrow('stickyroute: Redis not ready within 300 ms');
  expect(store.client.listenerCount('ready')).toBe(0);
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
  expect(warnings).toEqual([
    'stickyroute: Redis store connection problem (connect ECONNREFUSED 127.0.0.1:6379); requests fall back until it reconnects.',
  ]);
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
  const borrowing = createRedisStore({ client: passed });
  expect(passed.listenerCount('error')).toBe(1);
  await borrowing.close();
  await borrowing.close();
  expect(passed.listenerCount('error')).toBe(0);
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
