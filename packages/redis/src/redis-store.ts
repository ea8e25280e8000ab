// A StickyStore on Redis (ioredis), so several gateway instances share keyed and learned assignments, and
// keep them when Redis blinks. Redis is on the request path, so it must never stall or crash a request: an
// operation fails fast when the connection is not ready, gives up after `commandTimeout`, and then:
//   - a read is answered from this gateway's near cache (the entries it wrote or read, kept no longer than
//     Redis keeps them), or rejects when the gateway never saw the entry (the core counts it and hashes);
//   - a write is kept (bounded, one per key) and sent, newest first, as soon as Redis answers again.
// Consistency: Redis wins whenever it holds an entry. The near cache answers only when Redis cannot, and
// fills in only what Redis lost: an entry this gateway still holds live that Redis no longer has (a restart
// without persistence, a failover that dropped the last writes) is written back with SET NX, on the read that
// finds it missing and for every live entry when the connection comes back.

import type { StickyStore } from '@stickyroute/core';
import { type Cluster, Redis, type RedisOptions } from 'ioredis';
import { NearCache } from './near-cache';
import { type PendingWrite, PendingWrites } from './pending-writes';
import { type RedisStoreOptions, validateStoreOptions } from './store-options';

export type { RedisStoreOptions };

const DEFAULT_URL = 'redis://127.0.0.1:6379';
const DEFAULT_PREFIX = 'sticky:';
const DEFAULT_COMMAND_TIMEOUT_MS = 100;
const DEFAULT_WARNING_INTERVAL_MS = 10_000;
const DEFAULT_NEAR_CACHE_SIZE = 100_000;
const DEFAULT_PENDING_WRITES = 10_000;
const QUIT_TIMEOUT_MS = 1_000;
/** Catching up (pending writes, write-back) is off the request path: it may wait longer, a batch at a time. */
const CATCH_UP_TIMEOUT_MS = 2_000;
const CATCH_UP_BATCH = 500;

// Lua keeps each operation to one round trip and atomic, and runs on any Redis >= 2.6 (GETEX and
// SET … NX GET would need 6.2 and 7.0). Each script touches one key, so it is Cluster-safe. Every write sets
// a TTL (PX); a refresh only moves the TTL of a key that exists.
const GET_REFRESH_LUA = `
local value = redis.call('GET', KEYS[1])
if value then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return value`;
// The entry and what is left of its TTL, so the near cache never keeps it longer than Redis does.
const GET_WITH_TTL_LUA = `
local value = redis.call('GET', KEYS[1])
if not value then return false end
return {value, redis.call('PTTL', KEYS[1])}`;
// {stored value, its TTL left, 1 if this call wrote it}.
const SET_IF_ABSENT_LUA = `
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return {ARGV[1], tonumber(ARGV[2]), 1} end
local value = redis.call('GET', KEYS[1])
if not value then return false end
return {value, redis.call('PTTL', KEYS[1]), 0}`;

type Stored = [value: string, ttlMs: number, written?: 0 | 1];

/** The scripted commands this store defines on its client (names chosen not to collide with the user's). */
interface ScriptedCommands {
  stickyrouteGetRefresh(key: string, ttlMs: number): Promise<string | null>;
  stickyrouteGetWithTtl(key: string): Promise<Stored | null>;
  stickyrouteSetIfAbsent(key: string, value: string, ttlMs: number): Promise<Stored | null>;
}

type Client = Redis | Cluster;

/** What the store did beside Redis's own answers (`store.stats()`). */
export interface RedisStoreStats {
  /** Entries in this gateway's near cache. */
  nearCacheEntries: number;
  /** Writes waiting for Redis. */
  pendingWrites: number;
  /** Reads Redis could not answer (down, slow, failing over) that the near cache did. */
  nearCacheAnswers: number;
  /** Writes Redis could not take when they were made, kept to be sent later. */
  writesDeferred: number;
  /** Kept writes Redis has taken since. */
  writesCaughtUp: number;
  /** Kept writes dropped, oldest first, because `pendingWrites` were already waiting. */
  writesDropped: number;
  /** Entries Redis had lost that this gateway wrote back from its near cache. */
  entriesRestored: number;
}

export class RedisStore implements StickyStore {
  /** The ioredis client in use (the one passed in, or the one the store made). */
  readonly client: Client;
  readonly prefix: string;
  private readonly scripted: ScriptedCommands;
  private readonly ownsClient: boolean;
  private readonly commandTimeoutMs: number;
  private readonly warningIntervalMs: number;
  private readonly logger: { warn(message: string): void };
  private readonly now: () => number;
  private readonly near: NearCache;
  private readonly pending: PendingWrites;
  private readonly counts = {
    nearCacheAnswers: 0,
    writesDeferred: 0,
    writesCaughtUp: 0,
    entriesRestored: 0,
  };
  /** Until the client's first connection attempt ends (ready or failed); then null. */
  private firstConnection: Promise<void> | null = null;
  private everReady: boolean;
  /** The connection came back: every live near-cache entry is to be offered to Redis again. */
  private restoreWanted = false;
  private catchingUp = false;
  private lastWarning = Number.NEGATIVE_INFINITY;
  private closed = false;

  constructor(options: RedisStoreOptions = {}) {
    validateStoreOptions(options);
    const {
      url,
      prefix = DEFAULT_PREFIX,
      client,
      commandTimeout = DEFAULT_COMMAND_TIMEOUT_MS,
      logger,
      warningInterval = DEFAULT_WARNING_INTERVAL_MS,
      nearCacheSize = DEFAULT_NEAR_CACHE_SIZE,
      pendingWrites = DEFAULT_PENDING_WRITES,
      now = Date.now,
      ...redisOptions
    } = options;
    this.prefix = prefix;
    this.commandTimeoutMs = commandTimeout;
    this.warningIntervalMs = warningInterval;
    this.logger = logger ?? { warn: (message) => process.emitWarning(message, 'StickyrouteWarning') };
    this.now = now;
    this.near = new NearCache(nearCacheSize, now);
    this.pending = new PendingWrites(pendingWrites);
    this.ownsClient = client === undefined;
    this.client = client ?? createClient(url, redisOptions);
    this.client.on('error', this.onClientError);
    this.client.on('close', this.onClientClose);
    this.client.on('ready', this.onReady);
    this.client.defineCommand('stickyrouteGetRefresh', { numberOfKeys: 1, lua: GET_REFRESH_LUA });
    this.client.defineCommand('stickyrouteGetWithTtl', { numberOfKeys: 1, lua: GET_WITH_TTL_LUA });
    this.client.defineCommand('stickyrouteSetIfAbsent', { numberOfKeys: 1, lua: SET_IF_ABSENT_LUA });
    this.scripted = this.client as unknown as ScriptedCommands;
    this.everReady = this.client.status === 'ready';
    // Only a connection under way is worth waiting for (a lazyConnect client waits for a first command that
    // the store would never send while waiting).
    if (this.client.status === 'connecting' || this.client.status === 'connect')
      this.firstConnection = this.firstAttempt();
  }

  async get(key: string, refreshTtlMs?: number): Promise<string | undefined> {
    const k = this.prefix + key;
    let found: Stored | null;
    try {
      if (refreshTtlMs === undefined) {
        found = await this.run(() => this.scripted.stickyrouteGetWithTtl(k));
      } else {
        const ttl = toTtl(refreshTtlMs);
        const value = await this.run(() => this.scripted.stickyrouteGetRefresh(k, ttl));
        found = value === null ? null : [value, ttl];
      }
    } catch (error) {
      const known = this.near.get(key, refreshTtlMs);
      if (known === undefined) throw error;
      this.counts.nearCacheAnswers++;
      return known;
    }
    this.answered();
    // This gateway wrote the key since and Redis has not taken that write yet: its own write is newer.
    if (this.pending.has(key)) return this.near.get(key, refreshTtlMs);
    if (found !== null) {
      this.near.set(key, found[0], found[1]);
      return found[0];
    }
    const known = this.near.lookup(key, refreshTtlMs);
    if (known === undefined) return undefined;
    // Redis has nothing, yet this gateway saw the entry and its time is not up: Redis lost it. Write it back.
    void this.writeBack(key, known.value, known.ttlMs);
    return known.value;
  }

  async setIfAbsent(key: string, value: string, ttlMs: number): Promise<string> {
    const ttl = toTtl(ttlMs);
    if (!this.pending.has(key)) {
      try {
        const stored = await this.run(() =>
          this.scripted.stickyrouteSetIfAbsent(this.prefix + key, value, ttl),
        );
        this.answered();
        const [winner, left] = stored ?? [value, ttl];
        this.near.set(key, winner, left);
        return winner;
      } catch (error) {
        const known = this.near.get(key);
        if (known !== undefined) {
          this.counts.nearCacheAnswers++;
          return known;
        }
        if (!this.defer({ kind: 'setIfAbsent', key, value, expiresAt: this.now() + ttl })) throw error;
        this.near.set(key, value, ttl);
        return value;
      }
    }
    // A write of this gateway to the key is still waiting: answer as if it had reached Redis.
    const known = this.near.get(key);
    if (known !== undefined) return known;
    // (After a pending delete, set-if-absent is a plain set.)
    this.defer({ kind: 'set', key, value, expiresAt: this.now() + ttl });
    this.near.set(key, value, ttl);
    return value;
  }

  async set(key: string, value: string, ttlMs: number): Promise<void> {
    const ttl = toTtl(ttlMs);
    this.near.set(key, value, ttl);
    const write: PendingWrite = { kind: 'set', key, value, expiresAt: this.now() + ttl };
    // Sent now, it could be overtaken by the older write still waiting for the same key.
    if (this.pending.has(key)) return void this.defer(write);
    try {
      await this.run(() => this.client.set(this.prefix + key, value, 'PX', ttl));
      this.answered();
    } catch (error) {
      if (!this.defer(write)) throw error;
    }
  }

  async delete(key: string): Promise<void> {
    this.near.delete(key);
    if (this.pending.has(key)) return void this.defer({ kind: 'delete', key });
    try {
      await this.run(() => this.client.del(this.prefix + key));
      this.answered();
    } catch (error) {
      if (!this.defer({ kind: 'delete', key })) throw error;
    }
  }

  stats(): RedisStoreStats {
    return {
      nearCacheEntries: this.near.size,
      pendingWrites: this.pending.size,
      ...this.counts,
      writesDropped: this.pending.dropped,
    };
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

  /**
   * Sends what is still waiting (when Redis answers), then quits the client the store made (a passed-in
   * client is left connected). Safe to call twice.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    if (this.client.status === 'ready' && this.pending.size > 0) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        this.catchUp(),
        new Promise<void>((resolve) => {
          timer = setTimeout(resolve, QUIT_TIMEOUT_MS);
        }),
      ]);
      clearTimeout(timer);
    }
    this.closed = true;
    this.client.off('ready', this.onReady);
    this.client.off('close', this.onClientClose);
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

  /** Keeps a write Redis could not take; false when none may be kept (`pendingWrites: 0`). */
  private defer(write: PendingWrite): boolean {
    if (!this.pending.add(write)) return false;
    this.counts.writesDeferred++;
    return true;
  }

  /** Redis just answered: if anything is waiting for it, catch up now (in the background). */
  private answered(): void {
    if ((this.pending.size > 0 || this.restoreWanted) && !this.catchingUp) void this.catchUp();
  }

  /** Sends the kept writes, newest first, then (after a reconnection) offers Redis the near cache. */
  private async catchUp(): Promise<void> {
    if (this.catchingUp || this.closed) return;
    this.catchingUp = true;
    try {
      while (this.pending.size > 0 && this.client.status === 'ready') {
        const writes = this.pending.takeNewestFirst();
        const failed: PendingWrite[] = [];
        for (let i = 0; i < writes.length; i += CATCH_UP_BATCH) {
          const batch = writes.slice(i, i + CATCH_UP_BATCH);
          const sent = await Promise.all(batch.map((write) => this.send(write)));
          batch.forEach((write, j) => {
            if (sent[j]) this.counts.writesCaughtUp++;
            else failed.push(write);
          });
        }
        if (failed.length > 0) {
          // Redis failed again: keep them for the next time it answers.
          this.pending.putBackOlder(failed);
          return;
        }
      }
      if (this.restoreWanted && this.pending.size === 0 && this.client.status === 'ready') {
        this.restoreWanted = false;
        const live = [...this.near.live()];
        for (let i = 0; i < live.length; i += CATCH_UP_BATCH) {
          const batch = live.slice(i, i + CATCH_UP_BATCH);
          const sent = await Promise.all(batch.map((e) => this.writeBack(e.key, e.value, e.ttlMs)));
          if (sent.includes(false)) return;
        }
      }
    } finally {
      this.catchingUp = false;
    }
  }

  /** One kept write, with what is left of its TTL; true once Redis took it (or it expired meanwhile). */
  private async send(write: PendingWrite): Promise<boolean> {
    const k = this.prefix + write.key;
    try {
      if (write.kind === 'delete') {
        await this.run(() => this.client.del(k), CATCH_UP_TIMEOUT_MS);
        return true;
      }
      const left = write.expiresAt - this.now();
      if (left <= 0) return true;
      const ttl = toTtl(left);
      if (write.kind === 'set') {
        await this.run(() => this.client.set(k, write.value, 'PX', ttl), CATCH_UP_TIMEOUT_MS);
      } else {
        const stored = await this.run(
          () => this.scripted.stickyrouteSetIfAbsent(k, write.value, ttl),
          CATCH_UP_TIMEOUT_MS,
        );
        // Another gateway placed the key meanwhile: Redis wins.
        if (stored !== null && !this.pending.has(write.key)) this.near.set(write.key, stored[0], stored[1]);
      }
      return true;
    } catch {
      return false;
    }
  }

  /** Offers Redis an entry it lost (SET NX: whatever Redis holds wins); false if Redis did not answer. */
  private async writeBack(key: string, value: string, ttlMs: number): Promise<boolean> {
    try {
      const stored = await this.run(
        () => this.scripted.stickyrouteSetIfAbsent(this.prefix + key, value, toTtl(ttlMs)),
        CATCH_UP_TIMEOUT_MS,
      );
      if (stored === null || this.pending.has(key)) return true;
      if (stored[2] === 1) this.counts.entriesRestored++;
      else this.near.set(key, stored[0], stored[1]);
      return true;
    } catch {
      return false;
    }
  }

  /**
   * Runs one command with a deadline. Not connected: rejects at once (also for a passed-in client whose
   * offline queue is on, so an outage costs requests nothing) — except during the client's very first
   * connection attempt, which a command waits for within the same deadline, so that a gateway that has just
   * started does not miss entries it could have read a few milliseconds later. No reply in time: rejects.
   */
  private run<T>(command: () => Promise<T>, deadlineMs = this.commandTimeoutMs): Promise<T> {
    if (this.client.status !== 'ready' && this.firstConnection === null)
      return Promise.reject(this.notConnected());
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
            reject(new Error(`stickyroute: Redis did not answer within ${deadlineMs} ms`));
          }),
        deadlineMs,
      );
      const started =
        this.client.status === 'ready' || this.firstConnection === null
          ? command()
          : this.firstConnection.then(() => {
              if (settled) return undefined as T;
              if (this.client.status !== 'ready') throw this.notConnected();
              return command();
            });
      started.then(
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

  private notConnected(): Error {
    return new Error(`stickyroute: Redis is not connected (${this.client.status})`);
  }

  /** Settles when the client's first connection attempt ends, either way. */
  private firstAttempt(): Promise<void> {
    return new Promise((resolve) => {
      const client = this.client;
      const done = () => {
        for (const event of ['ready', 'error', 'close', 'end']) client.off(event, done);
        this.firstConnection = null;
        resolve();
      };
      for (const event of ['ready', 'error', 'close', 'end']) client.once(event, done);
    });
  }

  private readonly onReady = (): void => {
    // A reconnection (not the first connection): Redis may have come back without our entries.
    if (this.everReady) this.restoreWanted = true;
    this.everReady = true;
    void this.catchUp();
  };

  /** An unreachable Redis must never become an unhandled 'error' event: warn now and then, and go on. */
  private readonly onClientError = (error: Error): void => {
    this.warn(`connection problem (${error.message})`);
  };

  /** A connection that closes cleanly (Redis shut down, a failover) raises no error: say so too. */
  private readonly onClientClose = (): void => {
    if (!this.closed && this.everReady) this.warn('connection lost');
  };

  /** At most one warning every `warningInterval` ms. */
  private warn(problem: string): void {
    const now = Date.now();
    if (now - this.lastWarning < this.warningIntervalMs) return;
    this.lastWarning = now;
    this.logger.warn(
      `stickyroute: Redis store ${problem}; the gateway answers from what it knows and catches up when Redis is back.`,
    );
  }
}

/** The store's own client: the URL (or the address in the ioredis options), with request-path-safe defaults. */
function createClient(url: string | undefined, redisOptions: RedisOptions): Redis {
  const options: RedisOptions = {
    // A request must not wait for a connection that is down: fail at once and let the store fall back.
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

/** Redis PX wants a positive integer. A TTL that is not a finite number is a bug upstream, never "forever". */
function toTtl(ms: number): number {
  if (!Number.isFinite(ms)) throw new RangeError(`stickyroute: a store TTL must be finite, got ${ms}`);
  return Math.max(1, Math.ceil(ms));
}

/** A StickyStore on Redis for several gateway instances: `store: createRedisStore({ url, prefix })`. */
export function createRedisStore(options: RedisStoreOptions = {}): RedisStore {
  return new RedisStore(options);
}
