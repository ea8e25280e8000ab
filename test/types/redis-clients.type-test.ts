// Type test (compiled by `tsc --noEmit`, never run): the Redis store takes the ioredis clients a user
// already has, a plain one, a Sentinel-backed one and a Cluster. ioredis is a peer dependency of
// @stickyroute/redis, so these are the user's own ioredis types, not a second copy's (two copies made
// `Type 'Cluster' is missing the following properties…`). The packaging test checks the same against an
// older ioredis 5 installed from the registry.

import { createRedisStore, type RedisStoreOptions } from '@stickyroute/redis';
import { Cluster, Redis } from 'ioredis';

declare const plain: Redis;
declare const sentinel: Redis;
declare const cluster: Cluster;

export const fromPlain = createRedisStore({ client: plain, prefix: 'sticky:' });
export const fromSentinel = createRedisStore({ client: sentinel });
export const fromCluster = createRedisStore({ client: cluster });
export const fromUrl = createRedisStore({ url: 'redis://127.0.0.1:6379' });
export const built: RedisStoreOptions = {
  client: new Cluster([{ host: '127.0.0.1', port: 7000 }], { lazyConnect: true }),
};
export const sentinelBuilt: RedisStoreOptions = {
  client: new Redis({ sentinels: [{ host: '127.0.0.1', port: 26379 }], name: 'mymaster', lazyConnect: true }),
};

// @ts-expect-error a client is an ioredis client, not a URL
export const wrongClient = createRedisStore({ client: 'redis://127.0.0.1:6379' });
