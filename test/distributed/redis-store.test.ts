// The Redis store on its own, against a real redis-server: TTLs as Redis reports them (PTTL), sliding refresh,
// the set-if-absent race between two clients, prefixes, passed-in clients, and what happens when Redis is
// unreachable, frozen, or restarted (fast rejection, rate-limited warnings, reconnection by itself).

import { StickyConfigError } from '@stickyroute/core';
import { createRedisStore, type RedisStore } from '@stickyroute/redis';
import { Cluster, Redis } from 'ioredis';
import { waitFor } from '../support/wait-for';
import { freePort, type RedisServer, startRedisSentinel, startRedisServer } from './redis-server';

let server: RedisServer;
let admin: Redis;
const stores: RedisStore[] = [];

/**
 * How `operation` settled before the event loop's next turn, or 'pending': settling by then means it
 * waited for no timer and no I/O, which is what "at once" means here (no wall-clock limit needed).
 */
function settledBeforeNextTurn(operation: Promise<unknown>): Promise<string> {
  return Promise.race([
    operation.then(
      () => 'resolved',
      (error: Error) => `rejected: ${error.message}`,
    ),
    new Promise<string>((resolve) => setImmediate(() => resolve('pending'))),
  ]);
}

/** A store on the suite's server whose warnings are collected instead of printed. */
function store(options: Parameters<typeof createRedisStore>[0] = {}) {
  const warnings: string[] = [];
  const s = createRedisStore({
    url: server.url,
    prefix: 'test:',
    logger: { warn: (m) => warnings.push(m) },
    ...options,
  });
  stores.push(s);
  return Object.assign(s, { warnings });
}

beforeAll(async () => {
  server = await startRedisServer();
  admin = new Redis(server.url, { lazyConnect: true, enableOfflineQueue: true });
  admin.on('error', () => undefined);
  await admin.connect();
});

afterEach(async () => {
  await Promise.all(stores.splice(0).map((s) => s.close()));
  if (admin.status === 'ready') await admin.flushall();
});

afterAll(async () => {
  admin.disconnect();
  await server.close();
});

test('set, get and delete use prefixed keys with the TTL in milliseconds', async () => {
  const s = store();
  await s.ready();
  await s.set('h:alice', 'backend-a', 90_000);
  expect(await s.get('h:alice')).toBe('backend-a');
  expect(await admin.get('test:h:alice')).toBe('backend-a');
  const pttl = await admin.pttl('test:h:alice');
  expect(pttl).toBeGreaterThan(85_000);
  expect(pttl).toBeLessThanOrEqual(90_000);
  await s.delete('h:alice');
  expect(await s.get('h:alice')).toBeUndefined();
  expect(await admin.exists('test:h:alice')).toBe(0);
});

test('get with a refresh TTL slides the expiry; a plain get leaves it alone', async () => {
  const s = store();
  await s.ready();
  await s.set('ip:10.0.0.1', 'b', 5_000);
  expect(await s.get('ip:10.0.0.1')).toBe('b');
  expect(await admin.pttl('test:ip:10.0.0.1')).toBeLessThanOrEqual(5_000);
  expect(await s.get('ip:10.0.0.1', 600_000)).toBe('b');
  expect(await admin.pttl('test:ip:10.0.0.1')).toBeGreaterThan(590_000);
  // A refresh of a missing key creates nothing.
  expect(await s.get('ip:10.0.0.2', 600_000)).toBeUndefined();
  expect(await admin.exists('test:ip:10.0.0.2')).toBe(0);
});

test('an entry is gone once its TTL has passed (Redis expires it, not the store)', async () => {
  const s = store();
  await s.ready();
  await s.set('h:short', 'a', 50);
  await waitFor(async () => (await admin.exists('test:h:short')) === 0, 2_000, 'Redis to expire the key');
  expect(await s.get('h:short')).toBeUndefined();
});

test('setIfAbsent: two clients racing for 200 keys agree on one winner per key', async () => {
  // The deadline is generous here: this test is about agreement, not latency, on a shared machine.
  const one = store({ commandTimeout: 2_000 });
  const two = store({ commandTimeout: 2_000 });
  await Promise.all([one.ready(), two.ready()]);
  const keys = Array.from({ length: 200 }, (_, i) => `h:client-${i}`);
  const answers = await Promise.all(
    keys.flatMap((key) => [one.setIfAbsent(key, 'a', 60_000), two.setIfAbsent(key, 'b', 60_000)]),
  );
  for (let i = 0; i < keys.length; i++) {
    const [fromOne, fromTwo] = [answers[2 * i], answers[2 * i + 1]];
    expect(fromOne).toBe(fromTwo);
    expect(await admin.get(`test:${keys[i]}`)).toBe(fromOne);
  }
  // (Which client wins each key is Redis's scheduling: often one client's whole batch goes first.)
  const pttl = await admin.pttl('test:h:client-0');
  expect(pttl).toBeGreaterThan(55_000);
  expect(pttl).toBeLessThanOrEqual(60_000);
});

test('setIfAbsent answers the existing value and keeps it', async () => {
  const s = store();
  await s.ready();
  await s.set('h:k', 'a', 60_000);
  expect(await s.setIfAbsent('h:k', 'b', 60_000)).toBe('a');
  expect(await s.get('h:k')).toBe('a');
  expect(await s.setIfAbsent('h:new', 'c', 1.5)).toBe('c');
});

test('prefixes keep two stores apart on one Redis', async () => {
  const blue = store({ prefix: 'blue:' });
  const green = store({ prefix: 'green:' });
  await Promise.all([blue.ready(), green.ready()]);
  await blue.set('h:x', 'a', 60_000);
  expect(await green.get('h:x')).toBeUndefined();
  expect(await green.setIfAbsent('h:x', 'b', 60_000)).toBe('b');
  expect(await blue.get('h:x')).toBe('a');
  expect((await admin.keys('*')).sort()).toEqual(['blue:h:x', 'green:h:x']);
});

test('the default prefix is sticky:', async () => {
  const s = store({ prefix: undefined });
  await s.ready();
  await s.set('h:x', 'a', 60_000);
  expect(await admin.get('sticky:h:x')).toBe('a');
});

test('a passed-in client is used as it is and left connected on close()', async () => {
  const client = new Redis(server.url);
  try {
    const s = createRedisStore({ client, prefix: 'own:' });
    await s.ready();
    await s.set('h:x', 'a', 60_000);
    expect(await client.get('own:h:x')).toBe('a');
    const listeners = client.listenerCount('error');
    await s.close();
    expect(client.status).toBe('ready');
    expect(client.listenerCount('error')).toBe(listeners - 1);
    expect(await client.get('own:h:x')).toBe('a');
  } finally {
    client.disconnect();
  }
});

test('a client together with connection options is a configuration mistake', () => {
  const client = new Redis(server.url, { lazyConnect: true });
  try {
    expect(() => createRedisStore({ client, url: server.url })).toThrow(StickyConfigError);
    expect(() => createRedisStore({ client, host: '127.0.0.1' })).toThrow(/store\.client/);
    expect(() => createRedisStore({ url: server.url, commandTimeout: 0 })).toThrow(/store\.commandTimeout/);
  } finally {
    client.disconnect();
  }
});

test('unreachable Redis: every operation rejects at once, warnings are rate-limited, nothing is unhandled', async () => {
  const nobody = await freePort();
  const s = store({ url: `redis://127.0.0.1:${nobody}` });
  await waitFor(() => s.warnings.length > 0, 5_000, 'a connection warning');
  for (let i = 0; i < 50; i++) {
    const operations = [s.get('h:x', 1_000), s.setIfAbsent('h:x', 'a', 1_000), s.set('h:x', 'a', 1_000)];
    for (const operation of [...operations, s.delete('h:x')])
      expect(await settledBeforeNextTurn(operation)).toMatch(/^rejected: .*not connected/);
  }
  // It keeps trying to reconnect (several connection errors) but warned once in the interval.
  expect(s.warnings).toHaveLength(1);
  expect(s.warnings[0]).toMatch(/ECONNREFUSED/);
});

test('a frozen Redis (up, not answering) costs a request commandTimeout, on the clock', async () => {
  const s = store({ commandTimeout: 80 });
  await s.ready();
  await s.set('h:x', 'a', 60_000);
  server.pause();
  // Only the timers are faked (the socket stays real): the deadline is read off jest's clock, not the wall's.
  jest.useFakeTimers({ doNotFake: ['nextTick', 'queueMicrotask', 'setImmediate', 'clearImmediate'] });
  try {
    const outcome = s.get('h:x', 60_000);
    jest.advanceTimersByTime(79);
    expect(await settledBeforeNextTurn(outcome)).toBe('pending');
    jest.advanceTimersByTime(1);
    await expect(outcome).rejects.toThrow(/did not answer within 80 ms/);
  } finally {
    jest.useRealTimers();
    server.resume();
  }
  expect(await s.get('h:x')).toBe('a');
});

test('Redis stopped and started again: operations fail fast meanwhile, then the store reconnects by itself', async () => {
  const s = store();
  await s.ready();
  await s.set('h:x', 'a', 60_000);
  await server.stop();
  try {
    await waitFor(() => s.client.status !== 'ready', 5_000, 'the store to notice the outage');
    await expect(s.get('h:x')).rejects.toThrow();
  } finally {
    await server.start();
  }
  await s.ready(5_000);
  // A fresh, empty server (no persistence): the store works again.
  expect(await s.get('h:x')).toBeUndefined();
  expect(await s.setIfAbsent('h:x', 'b', 60_000)).toBe('b');
  await waitFor(() => admin.status === 'ready', 5_000, 'the admin client to reconnect');
});

test('a Redis Cluster client works as well (one node owning every slot)', async () => {
  // The node announces its loopback address, or CLUSTER SLOTS names it '' and the client cannot follow.
  const node = await startRedisServer([
    ...['--cluster-enabled', 'yes', '--cluster-config-file', 'nodes.conf'],
    ...['--cluster-announce-ip', '127.0.0.1'],
  ]);
  const setup = new Redis(node.url);
  let cluster: Cluster | undefined;
  try {
    await setup.cluster('ADDSLOTSRANGE', 0, 16383);
    await waitFor(
      async () => (await setup.cluster('INFO')).includes('cluster_state:ok'),
      10_000,
      'cluster ok',
    );
    cluster = new Cluster([{ host: '127.0.0.1', port: node.port }], { enableOfflineQueue: false });
    cluster.on('error', () => undefined);
    const s = createRedisStore({ client: cluster, prefix: 'c:' });
    await s.ready(5_000);
    await s.set('h:x', 'a', 60_000);
    expect(await s.get('h:x', 90_000)).toBe('a');
    expect(await setup.pttl('c:h:x')).toBeGreaterThan(85_000);
    expect(await s.setIfAbsent('h:x', 'b', 60_000)).toBe('a');
    expect(await s.setIfAbsent('h:y', 'b', 60_000)).toBe('b');
    await s.delete('h:x');
    expect(await s.get('h:x')).toBeUndefined();
    await s.close();
    expect(cluster.status).toBe('ready');
  } finally {
    cluster?.disconnect();
    setup.disconnect();
    await node.close();
  }
}, 20_000);

test('a Sentinel-backed connection, as ioredis takes it (`sentinels` and `name`, no url)', async () => {
  const sentinel = await startRedisSentinel(server, 'mymaster');
  try {
    const s = store({
      url: undefined,
      sentinels: [{ host: '127.0.0.1', port: sentinel.port }],
      name: 'mymaster',
    });
    await s.ready(10_000);
    await s.set('h:x', 'a', 60_000);
    // The store found the master through the Sentinel: the key is on the suite's server.
    expect(await admin.get('test:h:x')).toBe('a');
    expect(await s.setIfAbsent('h:x', 'b', 60_000)).toBe('a');
  } finally {
    await Promise.all(stores.splice(0).map((st) => st.close()));
    await sentinel.close();
  }
}, 20_000);
