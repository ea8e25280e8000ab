// A StickyStore on Redis (ioredis), so several gateway instances share keyed and learned assignments.
// Redis is on the request path, so it must never stall or crash a request: an operation fails fast when the
// connection is not ready, gives up after `commandTimeout`, and rejects; the core counts the rejection
// (`storeErrors`) and falls back (consistent hashing for keyed modes, a fresh assignment for learn mode).

import { StickyConfigError, type StickyStore } from '@stickyroute/core';
import { type Cluster, Redis, type RedisOptions } from 'ioredis';

export interface RedisStoreOptions extends RedisOptions {
  /** `redis://[:password@]host:port/db` or `rediss://…`; default redis://127.0.0.1:6379. */
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
}

const DEFAULT_URL = 'redis://127.0.0.1:6379';
const DEFAULT_PREFIX = 'sticky:';
const DEFAULT_COMMAND_TIMEOUT_MS = 100;
const DEFAULT_WARNING_INTERVAL_MS = 10_000;
const QUIT_TIMEOUT_MS = 1_000;

// Lua keeps each operation to one round trip and atomic, and runs on any Redis >= 2.6 (GETEX and
// SET … NX GET would need 6.2 and 7.0). Each script touches one key, so it is Cluster-safe.
const GET_REFRESH_LUA = `
local value = redis.call('GET', KEYS[1])
if value then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return value`;
const SET_IF_ABSENT_LUA = `
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return ARGV[1] end
return redis.call('GET', KEYS[1])`;

/** The scripted commands this store defines on its client (names chosen not to collide with the user's). */
interface ScriptedCommands {
  stickyrouteGetRefresh(key: string, ttlMs: number): Promise<string | null>;
  stickyrouteSetIfAbsent(key: string, value: string, ttlMs: number): Promise<string | null>;
}

type Client = Redis | Cluster;

export class RedisStore implements StickyStore {
  /** The ioredis client in use (the one passed in, or the one the store made). */
  readonly client: Client;
  readonly prefix: string;
  private readonly scripted: ScriptedCommands;
  private readonly ownsClient: boolean;
  private readonly commandTimeoutMs: number;
  private readonly warningIntervalMs: number;
  private readonly logger: { warn(message: string): void };
  private lastWarning = Number.NEGATIVE_INFINITY;
  private closed = false;

  constructor(options: RedisStoreOptions = {}) {
    const {
      url,
      prefix = DEFAULT_PREFIX,
      client,
      commandTimeout = DEFAULT_COMMAND_TIMEOUT_MS,
      logger,
      warningInterval = DEFAULT_WARNING_INTERVAL_MS,
      ...redisOptions
    } = options;
    if (typeof prefix !== 'string') throw new StickyConfigError('store.prefix', 'must be a string');
    if (!(Number.isFinite(commandTimeout) && commandTimeout > 0))
      throw new StickyConfigError('store.commandTimeout', 'must be a positive number of milliseconds');
    if (client !== undefined && (url !== undefined || Object.keys(redisOptions).length > 0))
      throw new StickyConfigError(
        'store.client',
        'comes with its own connection options: pass either `client` or `url`/ioredis options, not both',
      );
    this.prefix = prefix;
    this.commandTimeoutMs = commandTimeout;
    this.warningIntervalMs = warningInterval;
    this.logger = logger ?? { warn: (message) => process.emitWarning(message, 'StickyrouteWarning') };
    this.ownsClient = client === undefined;
    this.client = client ?? createClient(url, redisOptions);
    this.client.on('error', this.onClientError);
    this.client.defineCommand('stickyrouteGetRefresh', { numberOfKeys: 1, lua: GET_REFRESH_LUA });
    this.client.defineCommand('stickyrouteSetIfAbsent', { numberOfKeys: 1, lua: SET_IF_ABSENT_LUA });
    this.scripted = this.client as unknown as ScriptedCommands;
  }

  async get(key: string, refreshTtlMs?: number): Promise<string | undefined> {
    const k = this.prefix + key;
    const value = await this.run(() =>
      refreshTtlMs === undefined
        ? this.client.get(k)
        : this.scripted.stickyrouteGetRefresh(k, toTtl(refreshTtlMs)),
    );
    return value ?? undefined;
  }

  async setIfAbsent(key: string, value: string, ttlMs: number): Promise<string> {
    const winner = await this.run(() =>
      this.scripted.stickyrouteSetIfAbsent(this.prefix + key, value, toTtl(ttlMs)),
    );
    return winner ?? value;
  }

  async set(key: string, value: string, ttlMs: number): Promise<void> {
    await this.run(() => this.client.set(this.prefix + key, value, 'PX', toTtl(ttlMs)));
  }

  async delete(key: string): Promise<void> {
    await this.run(() => this.client.del(this.prefix + key));
  }

  /** Resolves once the client is connected and ready; rejects after `timeoutMs` (default 5 s). */
  ready(timeoutMs = 5_000): Promise<void> {
    if (this.client.status === 'ready') return Promise.resolve();
    return new Promise((resolve, reject) => {
      const done = (error?: Error) => {
        clearTimeout(timer);
        this.client.off('ready', onReady);
        if (error) reject(error);
        else resolve();
      };
      const onReady = () => done();
      const timer = setTimeout(
        () => done(new Error(`stickyroute: Redis not ready within ${timeoutMs} ms`)),
        timeoutMs,
      );
      this.client.on('ready', onReady);
    });
  }

  /** Quits the client the store made (a passed-in client is left connected). Safe to call twice. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (!this.ownsClient) {
      this.client.off('error', this.onClientError);
      return;
    }
    const client = this.client;
    if (client.status === 'ready') {
      // QUIT lets in-flight commands finish; the connection then ends by itself.
      const ended = new Promise<void>((resolve) => client.once('end', resolve));
      const timer = setTimeout(() => client.disconnect(), QUIT_TIMEOUT_MS);
      await client.quit().catch(() => client.disconnect());
      await ended;
      clearTimeout(timer);
    } else if (client.status !== 'end') {
      // Stops a reconnection in progress.
      client.disconnect();
    }
  }

  /**
   * Runs one command with a deadline. Not connected: rejects at once (also for a passed-in client whose
   * offline queue is on, so an outage costs requests nothing). No reply in time: rejects after the timeout.
   */
  private run<T>(command: () => Promise<T>): Promise<T> {
    if (this.client.status !== 'ready')
      return Promise.reject(new Error(`stickyroute: Redis is not connected (${this.client.status})`));
    return new Promise<T>((resolve, reject) => {
      let settled = false;
      // Timers run before pending I/O in each turn of the event loop: when the gateway itself is saturated
      // (a burst of requests), the reply may already be waiting in the socket. Give it that one turn
      // (setImmediate runs after I/O) before calling Redis slow.
      const timer = setTimeout(
        () =>
          setImmediate(() => {
            if (settled) return;
            settled = true;
            reject(new Error(`stickyroute: Redis did not answer within ${this.commandTimeoutMs} ms`));
          }),
        this.commandTimeoutMs,
      );
      command().then(
        (value) => {
          clearTimeout(timer);
          if (settled) return;
          settled = true;
          resolve(value);
        },
        (error: unknown) => {
          clearTimeout(timer);
          if (settled) return;
          settled = true;
          reject(error);
        },
      );
    });
  }

  /** An unreachable Redis must never become an unhandled 'error' event: warn now and then, and go on. */
  private readonly onClientError = (error: Error): void => {
    const now = Date.now();
    if (now - this.lastWarning < this.warningIntervalMs) return;
    this.lastWarning = now;
    this.logger.warn(
      `stickyroute: Redis store connection problem (${error.message}); requests fall back until it reconnects.`,
    );
  };
}

/** The store's own client: the URL (or the address in the ioredis options), with request-path-safe defaults. */
function createClient(url: string | undefined, redisOptions: RedisOptions): Redis {
  const options: RedisOptions = {
    // A request must not wait for a connection that is down: fail at once and let the core fall back.
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    autoResendUnfulfilledCommands: false,
    connectTimeout: 2_000,
    // ioredis arms this timer even when the socket is already gone (closing while reconnecting): keep it short
    // so close() never holds the process for seconds.
    disconnectTimeout: 100,
    // Reconnect by itself, backing off up to 2 s between attempts, for as long as the store lives.
    retryStrategy: (times) => Math.min(times * 100, 2_000),
    ...redisOptions,
  };
  const addressed = ['host', 'port', 'path', 'sentinels'].some((k) => k in redisOptions);
  if (url === undefined && addressed) return new Redis(options);
  return new Redis(url ?? DEFAULT_URL, options);
}

/** Redis PX wants a positive integer. */
function toTtl(ms: number): number {
  return Math.max(1, Math.ceil(ms));
}

/** A StickyStore on Redis for several gateway instances: `store: createRedisStore({ url, prefix })`. */
export function createRedisStore(options: RedisStoreOptions = {}): RedisStore {
  return new RedisStore(options);
}
