// The Redis store against Redis as users run it, with the primary killed (kill -9) under load: a primary with
// a replica and three Sentinels (the store's `sentinels` option), and a Redis Cluster of three primaries with
// a replica each (the store's `client` option with an ioredis Cluster). Two gateway processes in app-cookie
// learn mode (the mode whose state lives only in the store) serve 20 logged-in users who alternate between
// them, while two more users log in every round. Measured: requests failed (target 0), logged-in users moved
// (target 0), and the time from the kill until both gateways are connected again with nothing left to send
// and every session (including those learned during the failover) is in the new primary.
// Figures go to test/reliability/results/distributed-failover-<topology>.json (see docs/reliability.md).

import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import { recordFigures } from '../reliability/figures';
import { CookieJar, send } from '../support/http-client';
import { type LegacyApp, startLegacyApps } from '../support/legacy-app';
import { waitFor } from '../support/wait-for';
import type { GatewayProcessConfig } from './gateway-process';
import { type GatewayProcess, startGatewayProcess } from './gateway-processes';
import { startCluster, startSentinelSetup } from './redis-topologies';

jest.setTimeout(60_000);

const USERS = 20;
const LOGINS_PER_ROUND = 2;
/** Rounds are bounded in count; recovery normally takes a few seconds. */
const MAX_ROUNDS_AFTER_KILL = 400;

let apps: LegacyApp[];

beforeAll(async () => {
  apps = await startLegacyApps(3);
});

afterAll(async () => {
  await Promise.all((apps ?? []).map((app) => app.close()));
});

interface User {
  name: string;
  jar: CookieJar;
  home: string;
  through: number;
  key: string;
}

interface Tally {
  requests: number;
  failed: number;
  /** Requests that reached another instance than the user's (or found the user logged out). */
  missed: number;
  missedThroughLearner: number;
  moved: Set<string>;
}

const tally = (): Tally => ({ requests: 0, failed: 0, missed: 0, missedThroughLearner: 0, moved: new Set() });

async function logIn(
  gateways: GatewayProcess[],
  prefix: string,
  name: string,
  through: number,
): Promise<User> {
  const jar = new CookieJar();
  const result = await send(`${gateways[through]!.url}/login?user=${name}`, {
    method: 'POST',
    body: '',
    timeoutMs: 10_000,
  });
  if (result.status !== 200) throw new Error(`login ${name}: ${result.status}`);
  jar.absorb(result.setCookies);
  const sid = jar.get('PHPSESSID');
  return {
    name,
    jar,
    home: String(result.headers['x-instance']),
    through,
    key: `${prefix}app:PHPSESSID=${sid}`,
  };
}

async function visit(gateways: GatewayProcess[], user: User, through: number, into: Tally): Promise<void> {
  const cookie = user.jar.header();
  const result = await send(`${gateways[through]!.url}/`, {
    headers: cookie === undefined ? {} : { cookie },
    timeoutMs: 10_000,
  }).catch(() => null);
  into.requests++;
  if (result === null || result.status !== 200) return void into.failed++;
  const body = result.json();
  if (result.headers['x-instance'] === user.home && body.loggedIn === true && body.user === user.name) return;
  into.missed++;
  into.moved.add(user.name);
  if (through === user.through) into.missedThroughLearner++;
}

interface Topology {
  name: 'sentinel' | 'cluster';
  gateway: Partial<GatewayProcessConfig>;
  /** Kills the primary that holds `key` (kill -9); answers its port. */
  killPrimary(key: string): Promise<number>;
  /** Whether every key is in the (new) primary now. */
  holds(keys: readonly string[]): Promise<boolean>;
  /** Where the keys live after the failover (port). */
  primaryPort(key: string): Promise<number>;
  close(): Promise<void>;
}

async function failoverUnderLoad(topology: Topology): Promise<void> {
  const prefix = `sticky:${topology.name}:`;
  const common = {
    backends: apps.map((app) => ({ url: app.url, id: app.instance })),
    stickiness: { type: 'app-cookie', appCookie: 'PHPSESSID', mode: 'learn' } as const,
    secret: randomBytes(24).toString('base64url'),
    redisUrl: '',
    prefix,
    ...topology.gateway,
  };
  const gateways = await Promise.all(['g1', 'g2'].map((name) => startGatewayProcess({ ...common, name })));
  try {
    const storeStats = () => Promise.all(gateways.map(async (g) => (await g.stats()).store));
    const caughtUp = async () =>
      (await storeStats()).every((s) => s.status === 'ready' && s.pendingWrites === 0);
    await waitFor(caughtUp, 10_000, 'both stores connected');
    const users = await Promise.all(
      Array.from({ length: USERS }, (_, i) => logIn(gateways, prefix, `user${i}`, i % 2)),
    );
    const before = tally();
    const during = tally();
    const lateUsers: User[] = [];
    let turn = 0;
    const round = async (withLogins: boolean) => {
      turn++;
      const logins = withLogins
        ? Array.from({ length: LOGINS_PER_ROUND }, (_, i) =>
            logIn(gateways, prefix, `late${lateUsers.length + i}`, i % 2).then(
              (user) => void lateUsers.push(user),
              () => void during.failed++,
            ),
          )
        : [];
      await Promise.all([
        ...users.map((user, i) => visit(gateways, user, (i + turn) % 2, before)),
        ...lateUsers.map((user, i) => visit(gateways, user, (i + turn) % 2, during)),
        ...logins,
      ]);
    };
    for (let r = 0; r < 2; r++) await round(false);
    await waitFor(() => topology.holds(users.map((u) => u.key)), 10_000, 'every login in Redis');
    const stats0 = await Promise.all(gateways.map((g) => g.stats()));

    const killedPort = await topology.killPrimary(users[0]!.key);
    const killedAt = Date.now();
    let recoveredAfterMs: number | null = null;
    let roundsToRecover = 0;
    for (let r = 0; r < MAX_ROUNDS_AFTER_KILL && recoveredAfterMs === null; r++) {
      // Logins keep coming for the first rounds, so writes are made during the failover too.
      await round(lateUsers.length < 10);
      roundsToRecover++;
      const keys = [...users, ...lateUsers].map((u) => u.key);
      if ((await caughtUp()) && (await topology.holds(keys))) recoveredAfterMs = Date.now() - killedAt;
    }
    for (let r = 0; r < 3; r++) await round(false);
    const newPrimary = await topology.primaryPort(users[0]!.key);
    const stats1 = await Promise.all(gateways.map((g) => g.stats()));
    const delta = (pick: (s: (typeof stats1)[number]) => number) =>
      stats1.reduce((n, s, k) => n + pick(s) - pick(stats0[k]!), 0);

    recordFigures(`distributed-failover-${topology.name}`, {
      topology: topology.name,
      loggedInUsers: USERS,
      requests: before.requests + during.requests,
      requestsFailed: before.failed + during.failed,
      loggedInUsersMoved: before.moved.size,
      loggedInRequestsMissed: `${before.missed}/${before.requests}`,
      loginsDuringFailover: lateUsers.length,
      loginsDuringFailoverMissed: `${during.missed}/${during.requests}`,
      loginsDuringFailoverMissedThroughLearner: during.missedThroughLearner,
      recoveredAfterMs,
      roundsToRecover,
      killedPrimaryPort: killedPort,
      newPrimaryPort: newPrimary,
      storeErrors: delta((s) => s.stats.requests.storeErrors),
      nearCacheAnswers: delta((s) => s.store.nearCacheAnswers),
      writesDeferred: delta((s) => s.store.writesDeferred),
      entriesRestored: delta((s) => s.store.entriesRestored),
    });

    expect(recoveredAfterMs).not.toBeNull();
    expect(newPrimary).not.toBe(killedPort);
    expect(before.failed + during.failed).toBe(0);
    expect([...before.moved]).toEqual([]);
    expect(during.missedThroughLearner).toBe(0);
  } finally {
    await Promise.all(gateways.map((g) => g.close()));
    await topology.close();
  }
}

test('Sentinel: primary + replica + 3 Sentinels, the primary killed under load', async () => {
  const setup = await startSentinelSetup();
  let admin: Redis | undefined;
  const { Redis: RedisClient } = await import('ioredis');
  const adminOf = () => {
    admin ??= new RedisClient({
      sentinels: setup.sentinelAddresses,
      name: setup.name,
      retryStrategy: () => 100,
    });
    admin.on('error', () => undefined);
    return admin;
  };
  await failoverUnderLoad({
    name: 'sentinel',
    gateway: { sentinels: setup.sentinelAddresses, sentinelName: setup.name },
    killPrimary: async () => {
      const port = setup.primary.port;
      await setup.primary.kill();
      return port;
    },
    holds: async (keys) => {
      const client = adminOf();
      if (client.status !== 'ready') return false;
      if (!(await client.info('replication')).includes('role:master')) return false;
      return (await client.exists(...keys)) === keys.length;
    },
    primaryPort: () => setup.currentPrimaryPort(),
    close: async () => {
      admin?.disconnect();
      await setup.close();
    },
  });
});

test('Cluster: 3 primaries with a replica each, the primary of a logged-in user killed under load', async () => {
  const setup = await startCluster();
  const admin = setup.admin();
  await failoverUnderLoad({
    name: 'cluster',
    gateway: { clusterNodes: setup.seeds },
    killPrimary: async (key) => {
      const primary = await setup.primaryFor(key);
      await primary.kill();
      return primary.port;
    },
    holds: async (keys) => {
      if (admin.status !== 'ready') return false;
      for (const key of keys) if ((await admin.exists(key).catch(() => 0)) !== 1) return false;
      return true;
    },
    primaryPort: async (key) => (await setup.primaryFor(key)).port,
    close: () => setup.close(),
  });
});
