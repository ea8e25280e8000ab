// One gateway instance of the distributed suite, run as its own OS process (started by gateway-processes.ts
// with register-typescript.js): an Express app with `@stickyroute/express` and the Redis store (on one
// redis-server, through Sentinel, or on a Redis Cluster), configured from the STICKY_GATEWAY environment
// variable. It reports its port over IPC and answers a few control routes under /__gateway/ beside the
// proxy, so the test can read the router's and the store's stats and switch stickiness at run time.

import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { BackendInput, StickinessOptions } from '@stickyroute/core';
import { sticky } from '@stickyroute/express';
import { createRedisStore } from '@stickyroute/redis';
import express from 'express';
import { Cluster } from 'ioredis';
import { HashRing } from '../../packages/core/src/balancers/consistent-hash';

export interface GatewayProcessConfig {
  name: string;
  backends: BackendInput[];
  stickiness: StickinessOptions;
  secret: string;
  redisUrl: string;
  prefix: string;
  /** The store's per-command deadline in ms. */
  commandTimeout?: number;
  /** Find the primary through these Sentinels (master `sentinelName`) instead of `redisUrl`. */
  sentinels?: { host: string; port: number }[];
  sentinelName?: string;
  /** Use a Redis Cluster through these seed nodes instead of `redisUrl`. */
  clusterNodes?: { host: string; port: number }[];
  /**
   * Listen only once Redis is connected (default). False listens at once, as examples/cluster does: requests
   * made while the store is still connecting are part of the test.
   */
  awaitStore?: boolean;
}

export type GatewayMessage = { type: 'listening'; port: number };

const config = JSON.parse(process.env.STICKY_GATEWAY ?? '{}') as GatewayProcessConfig;
const warnings: string[] = [];
const logger = { warn: (message: string) => void warnings.push(message) };

const cluster = config.clusterNodes
  ? new Cluster(config.clusterNodes, {
      // As the store's own client: never queue a command for a node that is not there, fail fast.
      enableOfflineQueue: false,
      redisOptions: { connectTimeout: 1_000, maxRetriesPerRequest: 1 },
      clusterRetryStrategy: (times: number) => Math.min(times * 100, 2_000),
    })
  : undefined;
cluster?.on('error', () => undefined);
const connection = cluster
  ? { client: cluster }
  : config.sentinels
    ? { sentinels: config.sentinels, name: config.sentinelName ?? 'mymaster' }
    : { url: config.redisUrl };
const store = createRedisStore({
  ...connection,
  prefix: config.prefix,
  logger,
  ...(config.commandTimeout === undefined ? {} : { commandTimeout: config.commandTimeout }),
});
const startedAt = Date.now();
let storeReadyAfterMs: number | null = null;
store.client.once('ready', () => {
  storeReadyAfterMs = Date.now() - startedAt;
});
const middleware = sticky({
  backends: config.backends,
  stickiness: config.stickiness,
  secret: config.secret,
  store,
  logger,
});
const router = middleware.router;

const app = express();
// Source-ip clients are told apart by X-Forwarded-For from the loopback test client.
app.set('trust proxy', 'loopback');
const control = express.Router();
control.use(express.json());
control.get('/stats', (_req, res) => {
  res.json({
    name: config.name,
    pid: process.pid,
    stats: router.stats(),
    store: { ...store.stats(), status: store.client.status, readyAfterMs: storeReadyAfterMs },
    warnings,
  });
});
control.put('/stickiness', (req, res) => {
  router.setStickiness(req.body as StickinessOptions);
  res.json({ stickiness: router.getStickiness() });
});
// Where this gateway's own hash ring (load ignored) would put each key: tells the test which keys two
// differently weighted gateways disagree on when they have no shared store.
control.post('/ring-owners', (req, res) => {
  const ring = new HashRing({ active: 0, acceptingWeight: 1 });
  ring.rebuild(router.pool.members);
  const keys = req.body as string[];
  res.json(keys.map((key) => ring.lookup(key, undefined, false)?.id ?? null));
});
app.use('/__gateway', control);
app.use(middleware);

const server = http.createServer(app);
server.on('upgrade', middleware.upgrade);

let closing = false;
async function shutdown(): Promise<void> {
  if (closing) return;
  closing = true;
  server.close();
  server.closeAllConnections();
  await middleware.close();
  await store.close();
  cluster?.disconnect();
  process.exit(0);
}

process.on('message', (message: { type?: string }) => {
  if (message?.type === 'close') void shutdown();
});
// The test process went away without closing us: do not linger.
process.on('disconnect', () => void shutdown());

// Serve only once Redis is connected, so the suite starts from a known state (requests before that would
// fall back and count as store errors, which is what a real gateway does too).
(config.awaitStore === false ? Promise.resolve() : store.ready(10_000))
  .catch(() => undefined)
  .then(() => {
    // A deep accept queue: the race test opens a thousand connections at the same moment.
    server.listen({ port: 0, host: '127.0.0.1', backlog: 4096 }, () => {
      const { port } = server.address() as AddressInfo;
      process.send?.({ type: 'listening', port } satisfies GatewayMessage);
    });
  });
