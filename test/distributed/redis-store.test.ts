// The Redis store on its own, against a real redis-server: TTLs as Redis reports them (PTTL), sliding refresh,
// the set-if-absent race between two clients, prefixes, passed-in clients, and what happens when Redis is
// unreachable, frozen, or restarted (fast rejection, rate-limited warnings, reconnection by itself); what the
// store keeps while Redis cannot answer (the near cache, deferred writes) and how it catches up (writes sent
// newest first, lost entries written back, Redis winning where it holds an entry).

import { StickyConfigError } from '@stickyroute/core';
import { createRedisStore, type RedisStore } from '@stickyroute/redis';
import { Cluster, Redis } from 'ioredis';
import { settledBeforeNextTurn } from '../support/settled';
import { waitFor } from '../support/wait-for';
import { freePort, type RedisServer, startRedisSentinel, startRedisServer } from './redis-server';

let server: RedisServer;
let admin: Redis;
const stores: RedisStore[] = [];

/**
 * How `operation` settled before the event loop's next turn, or 'pending': settling by then means it
 * waited for no timer and no I/O, which is what "at once" means here (no wall-clock limit needed).
 */

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
  // After a restart the admin client may still be reconnecting: the next test must start from an empty Redis.
  await waitFor(() => admin.status === 'ready', 5_000, 'the admin client to reconnect');
  await admin.flushall();
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

test('a passed-in lazyConnect client that nobody connected is refused at once, not waited for', async () => {
  const client = new Redis(server.url, { lazyConnect: true });
  try {
    const s = createRedisStore({ client, prefix: 'lazy:' });
    await expect(s.get('h:x')).rejects.toThrow(/not connected \(wait\)/);
    await client.connect();
    await s.set('h:x', 'a', 60_000);
    expect(await s.get('h:x')).toBe('a');
    await s.close();
  } finally {
    client.disconnect();
  }
});

test('a client together with connection options, a misspelt option or a non-redis URL is a configuration mistake', () => {
  const client = new Redis(server.url, { lazyConnect: true });
  try {
    expect(() => createRedisStore({ client, url: server.url })).toThrow(StickyConfigError);
    expect(() => createRedisStore({ client, host: '127.0.0.1' })).toThrow(/store\.client/);
    expect(() => createRedisStore({ url: server.url, commandTimeout: 0 })).toThrow(/store\.commandTimeout/);
    expect(() => createRedisStore({ url: server.url, prefx: 'a:' } as never)).toThrow(/`store\.prefx`/);
    expect(() => createRedisStore({ url: `http://127.0.0.1:${server.port}` })).toThrow(/`store\.url`/);
  } finally {
    client.disconnect();
  }
});

test('unreachable Redis: a read of an unknown entry rejects at once, writes are kept, warnings are rate-limited', async () => {
  const nobody = await freePort();
  const s = store({ url: `redis://127.0.0.1:${nobody}` });
  await waitFor(() => s.warnings.length > 0, 5_000, 'a connection warning');
  for (let i = 0; i < 50; i++) {
    // A read the store cannot answer rejects at once: before the event loop's next turn, so it waited for
    // no timer and no I/O (what "at once" means, without a wall-clock limit).
    expect(await settledBeforeNextTurn(s.get(`h:unknown-${i}`, 1_000))).toMatch(/^rejected: .*not connected/);
    await s.set(`h:set-${i}`, 'a', 60_000);
    expect(await s.setIfAbsent(`h:nx-${i}`, 'b', 60_000)).toBe('b');
    await s.delete(`h:gone-${i}`);
  }
  // What this gateway wrote, it still knows.
  expect(await s.get('h:set-3')).toBe('a');
  expect(await s.setIfAbsent('h:nx-3', 'c', 60_000)).toBe('b');
  expect(s.stats()).toMatchObject({ pendingWrites: 150, writesDeferred: 150, writesCaughtUp: 0 });
  // It keeps trying to reconnect (several connection errors) but warned once in the interval.
  expect(s.warnings).toHaveLength(1);
  expect(s.warnings[0]).toMatch(/ECONNREFUSED/);
});

test('a frozen Redis (up, not answering): a read rejects after commandTimeout, or is answered from the near cache', async () => {
  const s = store({ commandTimeout: 80 });
  await s.ready();
  await s.set('h:x', 'a', 60_000);
  server.pause();
  // Only the timers are faked (the socket stays real): the deadline is read off jest's clock, not the wall's.
  jest.useFakeTimers({ doNotFake: ['nextTick', 'queueMicrotask', 'setImmediate', 'clearImmediate'] });
  try {
    const unknown = s.get('h:unknown', 60_000);
    jest.advanceTimersByTime(79);
    expect(await settledBeforeNextTurn(unknown)).toBe('pending');
    jest.advanceTimersByTime(1);
    await expect(unknown).rejects.toThrow(/did not answer within 80 ms/);
    jest.useRealTimers();
    expect(await s.get('h:x', 60_000)).toBe('a');
    expect(s.stats().nearCacheAnswers).toBe(1);
  } finally {
    jest.useRealTimers();
    server.resume();
  }
  expect(await s.get('h:x')).toBe('a');
});

test('Redis stopped and started again: the store reconnects by itself', async () => {
  const s = store();
  await s.ready();
  await s.set('h:x', 'a', 60_000);
  await server.stop();
  try {
    await waitFor(() => s.client.status !== 'ready', 5_000, 'the store to notice the outage');
    await expect(s.get('h:never-seen')).rejects.toThrow();
  } finally {
    await server.start();
  }
  await s.ready(5_000);
  expect(await s.setIfAbsent('h:y', 'b', 60_000)).toBe('b');
  expect(await adminGet('test:h:y')).toBe('b');
});

/** admin.get once the admin client is back after a restart. */
async function adminGet(key: string): Promise<string | null> {
  await waitFor(() => admin.status === 'ready', 5_000, 'the admin client to reconnect');
  return admin.get(key);
}

/** Every key under `prefix` and its PTTL: the store must never leave a key without a TTL. */
async function ttlsUnder(prefix: string): Promise<Map<string, number>> {
  const keys = await admin.keys(`${prefix}*`);
  const ttls = new Map<string, number>();
  for (const key of keys) ttls.set(key, await admin.pttl(key));
  return ttls;
}

describe('a store that does not lose what the gateway knows', () => {
  test('writes made while the first connection is being made are not lost (they wait for it, within commandTimeout)', async () => {
    // A generous deadline: this is about the connection being awaited, not about speed on a shared machine.
    const s = store({ commandTimeout: 2_000 });
    expect(s.client.status).not.toBe('ready');
    await s.set('app:SID=first', 'a', 60_000);
    expect(await s.get('app:SID=first')).toBe('a');
    expect(await admin.get('test:app:SID=first')).toBe('a');
    expect(s.stats().writesDeferred).toBe(0);
  });

  test('writes made while Redis is down are kept and written, newest first and bounded, when it returns', async () => {
    // Without a near cache, which would write the dropped entry back on reconnection anyway.
    const s = store({ pendingWrites: 3, nearCacheSize: 0 });
    await s.ready();
    await server.stop();
    try {
      await waitFor(() => s.client.status !== 'ready', 5_000, 'the store to notice the outage');
      await s.set('h:1', 'a', 60_000);
      await s.set('h:2', 'a', 60_000);
      await s.set('h:3', 'a', 60_000);
      await s.set('h:2', 'b', 90_000); // the later write to a key replaces the earlier one
      await s.delete('h:3');
      await s.set('h:4', 'a', 60_000);
      expect(s.stats()).toMatchObject({ pendingWrites: 3, writesDropped: 1 });
    } finally {
      await server.start();
    }
    await waitFor(() => s.stats().pendingWrites === 0 && s.stats().writesCaughtUp === 3, 10_000, 'catch-up');
    await waitFor(() => admin.status === 'ready', 5_000, 'the admin client to reconnect');
    // h:1 was the oldest write: dropped. h:3 was deleted after it was set.
    expect(await admin.mget('test:h:1', 'test:h:2', 'test:h:3', 'test:h:4')).toEqual([null, 'b', null, 'a']);
    const ttls = await ttlsUnder('test:');
    expect(ttls.get('test:h:2')).toBeGreaterThan(85_000);
    expect(ttls.get('test:h:2')).toBeLessThanOrEqual(90_000);
    expect(ttls.get('test:h:4')).toBeLessThanOrEqual(60_000);
  });

  test('Redis restarted empty: each gateway writes back the live entries it learned or read, with their TTLs', async () => {
    const learner = store();
    const reader = store();
    await Promise.all([learner.ready(), reader.ready()]);
    await learner.set('app:SID=a1', 'backend-a', 600_000);
    await learner.set('session:app:SID=s1', 'backend-b', 1_200_000);
    expect(await reader.get('app:SID=a1')).toBe('backend-a');
    expect(await reader.get('session:app:SID=s1', 1_200_000)).toBe('backend-b');
    await reader.set('h:only-reader', 'backend-c', 300_000);
    await server.stop();
    try {
      await waitFor(() => reader.client.status !== 'ready', 5_000, 'the outage');
      // Meanwhile both answer from what they know.
      expect(await reader.get('app:SID=a1')).toBe('backend-a');
      expect(await learner.get('session:app:SID=s1', 1_200_000)).toBe('backend-b');
    } finally {
      await server.start();
    }
    await waitFor(
      async () => (await ttlsUnder('test:')).size === 3,
      10_000,
      'the entries to be written back',
    );
    expect(await admin.mget('test:app:SID=a1', 'test:session:app:SID=s1', 'test:h:only-reader')).toEqual([
      'backend-a',
      'backend-b',
      'backend-c',
    ]);
    const ttls = await ttlsUnder('test:');
    expect(ttls.get('test:app:SID=a1')).toBeLessThanOrEqual(600_000);
    expect(ttls.get('test:app:SID=a1')).toBeGreaterThan(0);
    expect(ttls.get('test:session:app:SID=s1')).toBeLessThanOrEqual(1_200_000);
    expect(learner.stats().entriesRestored + reader.stats().entriesRestored).toBeGreaterThanOrEqual(3);
  });

  test('an entry Redis lost while connected (FLUSHALL, a failover that dropped a write) is written back on the read that misses it', async () => {
    const s = store();
    await s.ready();
    await s.set('h:k', 'a', 60_000);
    await admin.flushall();
    expect(await s.get('h:k', 60_000)).toBe('a');
    await waitFor(async () => (await admin.get('test:h:k')) === 'a', 5_000, 'the write-back');
    expect(await admin.pttl('test:h:k')).toBeLessThanOrEqual(60_000);
    expect(s.stats().entriesRestored).toBe(1);
  });

  test('Redis wins when it holds an entry: another value there replaces what the near cache knew', async () => {
    const s = store();
    await s.ready();
    await s.set('h:k', 'a', 60_000);
    await admin.set('test:h:k', 'b', 'PX', 60_000);
    expect(await s.get('h:k')).toBe('b');
    // And the near cache now says b too, when Redis is gone.
    server.pause();
    try {
      expect(await s.get('h:k')).toBe('b');
    } finally {
      server.resume();
    }
    // Set-if-absent answers what Redis holds.
    expect(await s.setIfAbsent('h:k', 'c', 60_000)).toBe('b');
  });

  test('the near cache keeps an entry no longer than Redis does (its PTTL, on the injected clock)', async () => {
    let now = 1_000_000;
    const s = store({ now: () => now });
    await s.ready();
    await admin.set('test:app:SID=short', 'a', 'PX', 5_000);
    expect(await s.get('app:SID=short')).toBe('a');
    await s.set('h:k', 'b', 60_000);
    server.pause();
    try {
      now += 4_000;
      expect(await s.get('app:SID=short')).toBe('a');
      now += 1_000;
      await expect(s.get('app:SID=short')).rejects.toThrow(/did not answer/);
      now += 55_000;
      await expect(s.get('h:k')).rejects.toThrow(/did not answer/);
    } finally {
      server.resume();
    }
  });

  test('with nearCacheSize 0 and pendingWrites 0 the store is the plain fail-fast store', async () => {
    const s = store({ nearCacheSize: 0, pendingWrites: 0, commandTimeout: 80 });
    await s.ready();
    await s.set('h:x', 'a', 60_000);
    server.pause();
    try {
      await expect(s.get('h:x')).rejects.toThrow(/did not answer/);
      await expect(s.set('h:y', 'a', 60_000)).rejects.toThrow(/did not answer/);
    } finally {
      server.resume();
    }
  });
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
