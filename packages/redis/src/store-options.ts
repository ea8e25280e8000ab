// The Redis store's options: ours, plus every ioredis `RedisOptions` key (the list is checked against the
// installed ioredis types by the compiler). Anything else is a misspelling (`prefx`) and a StickyConfigError
// naming it, as every other stickyroute option; a URL that is not redis:// or rediss:// is one too.

import { StickyConfigError } from '@stickyroute/core';
import type { Cluster, Redis, RedisOptions } from 'ioredis';

export interface RedisStoreOptions extends RedisOptions {
  /** `redis://[[user]:password@]host:port/db` or `rediss://…`; default redis://127.0.0.1:6379. */
  url?: string;
  /** Namespace of every key; default `sticky:`. */
  prefix?: string;
  /**
   * An existing ioredis client (a `Redis`, Sentinel-backed or not, or a `Cluster`). The store does not quit it
   * on close(); its own connection options are left as they are.
   */
  client?: Redis | Cluster;
  /** An operation that has no reply within this many ms rejects (the request falls back). Default 100. */
  commandTimeout?: number;
  /** Where connection warnings go (at most one every `warningInterval` ms); default process.emitWarning. */
  logger?: { warn(message: string): void };
  /** Minimum ms between two connection warnings; default 10 000. */
  warningInterval?: number;
  /**
   * Entries this gateway wrote or read that it keeps itself (least recently used go first), to answer while
   * Redis cannot and to write back what Redis lost. Default 100 000; 0 turns the near cache off.
   */
  nearCacheSize?: number;
  /** Writes kept while Redis cannot take them, sent when it answers again. Default 10 000; 0: none kept. */
  pendingWrites?: number;
  /** The near cache's and pending writes' clock (epoch ms); for tests. Default Date.now. */
  now?: () => number;
}

/** Every ioredis RedisOptions key: the compiler rejects this object if ioredis adds or drops one. */
const IOREDIS_OPTIONS: Record<keyof RedisOptions, true> = {
  Connector: true,
  autoPipeliningIgnoredCommands: true,
  autoResendUnfulfilledCommands: true,
  autoResubscribe: true,
  blockingTimeout: true,
  blockingTimeoutGrace: true,
  clientInfoTag: true,
  commandQueue: true,
  commandTimeout: true,
  connectTimeout: true,
  connectionName: true,
  db: true,
  disableClientInfo: true,
  disconnectTimeout: true,
  enableAutoPipelining: true,
  enableOfflineQueue: true,
  enableReadyCheck: true,
  enableTLSForSentinelMode: true,
  failoverDetector: true,
  family: true,
  host: true,
  keepAlive: true,
  keyPrefix: true,
  lazyConnect: true,
  maxLoadingRetryTime: true,
  maxRetriesPerRequest: true,
  monitor: true,
  name: true,
  natMap: true,
  noDelay: true,
  offlineQueue: true,
  password: true,
  path: true,
  port: true,
  preferredSlaves: true,
  readOnly: true,
  reconnectOnError: true,
  retryStrategy: true,
  role: true,
  scripts: true,
  sentinelCommandTimeout: true,
  sentinelMaxConnections: true,
  sentinelPassword: true,
  sentinelReconnectStrategy: true,
  sentinelRetryStrategy: true,
  sentinelTLS: true,
  sentinelUsername: true,
  sentinels: true,
  showFriendlyErrorStack: true,
  socketTimeout: true,
  stringNumbers: true,
  tls: true,
  updateSentinels: true,
  username: true,
};

/** Our own options (not passed to ioredis). */
const STORE_OPTIONS: Record<Exclude<keyof RedisStoreOptions, keyof RedisOptions>, true> = {
  url: true,
  prefix: true,
  client: true,
  logger: true,
  warningInterval: true,
  nearCacheSize: true,
  pendingWrites: true,
  now: true,
};

/** Throws a StickyConfigError naming the first option that is not one (`store.prefx`), or a bad URL. */
export function validateStoreOptions(options: RedisStoreOptions): void {
  if (options === null || typeof options !== 'object')
    throw new StickyConfigError('store', 'must be an object of Redis store options');
  for (const key of Object.keys(options)) {
    if (key in STORE_OPTIONS || key in IOREDIS_OPTIONS) continue;
    throw new StickyConfigError(
      `store.${key}`,
      `is not an option of the Redis store (its own: ${Object.keys(STORE_OPTIONS).join(', ')}, commandTimeout; or an ioredis RedisOptions key)`,
    );
  }
  const { url } = options;
  if (url !== undefined) {
    let protocol: string | undefined;
    try {
      protocol = typeof url === 'string' ? new URL(url).protocol : undefined;
    } catch {
      protocol = undefined;
    }
    if (protocol !== 'redis:' && protocol !== 'rediss:')
      throw new StickyConfigError(
        'store.url',
        `must be a redis:// or rediss:// URL (redis://[[user]:password@]host[:port][/db]), got ${JSON.stringify(url)}`,
      );
  }
  if (options.prefix !== undefined && typeof options.prefix !== 'string')
    throw new StickyConfigError('store.prefix', 'must be a string');
  const { commandTimeout } = options;
  if (commandTimeout !== undefined && !(Number.isFinite(commandTimeout) && commandTimeout > 0))
    throw new StickyConfigError('store.commandTimeout', 'must be a positive number of milliseconds');
  for (const name of ['nearCacheSize', 'pendingWrites', 'warningInterval'] as const) {
    const value = options[name];
    if (value !== undefined && !(Number.isSafeInteger(value) && value >= 0))
      throw new StickyConfigError(`store.${name}`, 'must be a whole number, 0 or more');
  }
  if (options.logger !== undefined && typeof options.logger?.warn !== 'function')
    throw new StickyConfigError('store.logger', 'must have a warn(message) method');
  if (options.now !== undefined && typeof options.now !== 'function')
    throw new StickyConfigError('store.now', 'must be a function returning epoch milliseconds');
  // commandTimeout is ioredis's name too, but the store reads it as its own deadline.
  const connection = Object.entries(options)
    .filter(([k, v]) => v !== undefined && k !== 'commandTimeout' && (k in IOREDIS_OPTIONS || k === 'url'))
    .map(([k]) => k);
  if (options.client !== undefined && connection.length > 0)
    throw new StickyConfigError(
      'store.client',
      `comes with its own connection options: pass either \`client\` or \`url\`/ioredis options (here: ${connection.join(', ')}), not both`,
    );
}
