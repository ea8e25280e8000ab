// A chaos run across gateways (issue 20): three gateway processes sharing one Redis in front of three
// in-memory-session apps, 40 stuck clients in each stickiness mode, each request through the next gateway in
// turn (as an L4 balancer would). Then, in order: one gateway is killed -9 (between rounds: requests in flight
// on a process that dies are lost with it, as with any proxy), Redis is killed -9, Redis comes back empty (no
// persistence), and a fresh gateway replaces the dead one (as examples/cluster's primary forks a new worker).
// Counted per mode: failed GETs (target 0) and clients moved — a client is moved when any answer came from
// another instance than its first one, or (cookie-session modes) found it logged out. Target 0 for every mode.
// Figures go to test/reliability/results/distributed-chaos.json (see docs/reliability.md).

import { randomBytes } from 'node:crypto';
import type { StickinessOptions } from '@stickyroute/core';
import { type FigureValue, recordFigures } from '../reliability/figures';
import { CookieJar, send } from '../support/http-client';
import { type LegacyApp, startLegacyApps } from '../support/legacy-app';
import { waitFor } from '../support/wait-for';
import type { GatewayProcessConfig } from './gateway-process';
import { type GatewayProcess, startGatewayProcess } from './gateway-processes';
import { type RedisServer, startRedisServer } from './redis-server';

jest.setTimeout(60_000);

const CLIENTS = 40;
const ROUNDS_PER_PHASE = 2;

let redis: RedisServer;
let apps: LegacyApp[];
let config: Omit<GatewayProcessConfig, 'name'>;
let live: GatewayProcess[] = [];
let started = 0;
const figures: Record<string, FigureValue> = {};

async function startGateway(): Promise<GatewayProcess> {
  started++;
  return startGatewayProcess({ ...config, name: `g${started}` });
}

beforeAll(async () => {
  [redis, apps] = await Promise.all([startRedisServer(), startLegacyApps(3)]);
  config = {
    backends: apps.map((app) => ({ url: app.url, id: app.instance })),
    stickiness: { type: 'lb-cookie' },
    secret: randomBytes(24).toString('base64url'),
    redisUrl: redis.url,
    prefix: 'sticky:chaos:',
  };
  live = await Promise.all([startGateway(), startGateway(), startGateway()]);
});

afterAll(async () => {
  await Promise.all(live.map((g) => g.close()));
  recordFigures('distributed-chaos', figures);
  await Promise.all([redis?.close(), ...(apps ?? []).map((app) => app.close())]);
});

interface Client {
  id: number;
  jar: CookieJar;
  headers: Record<string, string>;
  home?: string;
  user?: string;
}

interface Mode {
  name: string;
  stickiness: StickinessOptions;
  /** The app's session (login) is what must survive: a logged-out answer counts as moved. */
  login: boolean;
  identity(i: number): Record<string, string>;
}

const MODES: Mode[] = [
  {
    name: 'lb-cookie',
    stickiness: { type: 'lb-cookie', duration: '10m' },
    login: false,
    identity: () => ({}),
  },
  {
    name: 'app-cookie follow',
    stickiness: { type: 'app-cookie', appCookie: 'PHPSESSID', mode: 'follow' },
    login: true,
    identity: () => ({}),
  },
  {
    name: 'app-cookie learn',
    stickiness: { type: 'app-cookie', appCookie: 'PHPSESSID', mode: 'learn' },
    login: true,
    identity: () => ({}),
  },
  {
    name: 'source-ip',
    stickiness: { type: 'source-ip', duration: '10m' },
    login: false,
    identity: (i) => ({ 'x-forwarded-for': `10.20.${Math.floor(i / 200)}.${i % 200}` }),
  },
  {
    name: 'header',
    stickiness: { type: 'header', header: 'x-client', duration: '10m' },
    login: false,
    identity: (i) => ({ 'x-client': `chaos-${i}` }),
  },
];

interface Tally {
  gets: number;
  failedGets: number;
  moved: Set<number>;
}

test.each(MODES)(
  '$name: 40 stuck clients through a gateway kill -9, a Redis kill -9 and an empty Redis',
  async (mode) => {
    await Promise.all(live.map((g) => g.setStickiness(mode.stickiness)));
    // The gateway that replaces a dead one starts in this mode.
    config = { ...config, stickiness: mode.stickiness };
    let turn = 0;
    const clients: Client[] = Array.from({ length: CLIENTS }, (_, id) => ({
      id,
      jar: new CookieJar(),
      headers: mode.identity(id + 1_000 * MODES.indexOf(mode)),
    }));
    const phases: Record<string, Tally> = {};

    const request = async (client: Client, gateway: GatewayProcess, into: Tally, init: RequestInit = {}) => {
      const cookie = client.jar.header();
      const result = await send(`${gateway.url}${init.path ?? '/'}`, {
        method: init.method ?? 'GET',
        body: init.method === 'POST' ? '' : undefined,
        headers: { ...client.headers, ...(cookie === undefined ? {} : { cookie }) },
        timeoutMs: 10_000,
      }).catch(() => null);
      if (init.method !== 'POST') into.gets++;
      if (result === null || result.status !== 200) {
        if (init.method !== 'POST') into.failedGets++;
        return;
      }
      client.jar.absorb(result.setCookies);
      const instance = String(result.headers['x-instance']);
      const body = result.json();
      client.home ??= instance;
      if (instance !== client.home || (mode.login && body.loggedIn !== true)) into.moved.add(client.id);
    };

    const phase = async (name: string) => {
      const into: Tally = { gets: 0, failedGets: 0, moved: new Set() };
      for (let r = 0; r < ROUNDS_PER_PHASE; r++) {
        turn++;
        await Promise.all(clients.map((c, i) => request(c, live[(i + turn) % live.length]!, into)));
      }
      phases[name] = into;
    };

    // Every client becomes stuck: a login (cookie-session modes) or a first request.
    const start: Tally = { gets: 0, failedGets: 0, moved: new Set() };
    await Promise.all(
      clients.map((c, i) =>
        mode.login
          ? request(c, live[i % live.length]!, start, { method: 'POST', path: `/login?user=c${c.id}` })
          : request(c, live[i % live.length]!, start),
      ),
    );
    expect(clients.every((c) => c.home !== undefined)).toBe(true);
    expect(new Set(clients.map((c) => c.home)).size).toBe(3);
    await phase('steady');

    const victim = live[live.length - 1]!;
    await victim.kill();
    live = live.filter((g) => g !== victim);
    await phase('gateway killed');

    const storesReady = async (ready: boolean) =>
      (await Promise.all(live.map((g) => g.stats()))).every(
        (s) => (s.store.status === 'ready') === ready && (!ready || s.store.pendingWrites === 0),
      );
    await redis.kill();
    await waitFor(() => storesReady(false), 5_000, 'the gateways to notice that Redis is gone');
    await phase('Redis killed');

    await redis.start();
    await waitFor(() => storesReady(true), 15_000, 'the gateways to reconnect and catch up');
    await phase('Redis restarted empty');

    live.push(await startGateway());
    await phase('fresh gateway');

    const all = Object.values(phases);
    const moved = new Set(all.flatMap((p) => [...p.moved]));
    const failedGets = all.reduce((n, p) => n + p.failedGets, start.failedGets);
    const gets = all.reduce((n, p) => n + p.gets, start.gets);
    figures[mode.name] = {
      clients: CLIENTS,
      gets,
      failedGets,
      clientsMoved: moved.size,
      ...Object.fromEntries(
        Object.entries(phases).map(([name, p]) => [name, `${p.failedGets} failed / ${p.moved.size} moved`]),
      ),
    };
    expect(failedGets).toBe(0);
    expect([...moved]).toEqual([]);
  },
);

interface RequestInit {
  method?: string;
  path?: string;
}
