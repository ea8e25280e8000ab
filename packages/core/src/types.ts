// The plain data of a routing decision: what the router reads of a request (RouteRequest) and what it
// answers (Route), and the interfaces users may implement (StickyStore) or inject (Clock).

import type { Backend } from './pool/backend';

/** The units `parseDuration` reads after a number: `'500ms'`, `'90s'`, `'15m'`, `'1h'`, `'1d'`. */
export type DurationUnit = 'ms' | 's' | 'm' | 'h' | 'd';

/**
 * A number of seconds, or a string such as `'90s'`, `'15m'`, `'1h'` (a bare `'90'` is seconds too). A template
 * literal type rather than `string`, so that `'15 minutes'` or `'1 hour'` fails to compile instead of failing
 * at start-up; JavaScript callers still get a StickyConfigError naming the option.
 */
export type Duration = number | `${number}` | `${number}${DurationUnit}`;

/** What an adapter knows about an incoming request, in the framework's own terms. */
export interface RouteRequest {
  method: string;
  /** Path and query, as on the request line. */
  url: string;
  headers: Record<string, string | string[] | undefined>;
  /** The client IP as the framework resolves it (Express `trust proxy`, Fastify `trustProxy`, Koa `app.proxy`). */
  ip: string;
  /** The TCP peer's address; when it differs from `ip` the framework trusted X-Forwarded-For. */
  remoteAddress?: string;
  /** The request reached the gateway over HTTPS (as the framework resolves it). */
  secure: boolean;
}

/**
 * Why a backend was chosen:
 * - `new`: balanced by the algorithm (no, or no valid, stickiness key);
 * - `sticky`: the client's cookie or remembered key named an available backend;
 * - `rerouted`: the client was stuck to a backend that is gone, down, or refused the connection;
 * - `hashed`: a keyed client (source-ip, header, query) placed by consistent hashing;
 * - `learned`: app-cookie learn mode found the app cookie's value in the store.
 */
export type RouteReason = 'new' | 'sticky' | 'rerouted' | 'hashed' | 'learned';

/** The core's answer for one request. Exchanges read it; only the router changes it. */
export interface Route {
  /** Where to send the request; `null` means 503 (no backend, or strict mode). */
  backend: Backend | null;
  reason: RouteReason;
  /** Headers to set on the upstream request: X-Forwarded-*, and `x-sticky-rerouted` after a reroute. */
  upstreamHeaders: Record<string, string>;
  /** How many times this request has already been retried on another backend. */
  attempts: number;
  /** @internal policy state carried from request to response (cookie dates, learn key). */
  readonly state: RouteState;
}

/** @internal */
export interface RouteState {
  secure: boolean;
  /**
   * The request's Host (HTTP/2: `:authority`) as it came, port included: follow and learn mode read it, only
   * when a response sets the app cookie, to decide what a browser stores (a cookie's Domain must match it).
   */
  host: string | undefined;
  method: string;
  /** The client IP, for hashing when a retry needs another backend. */
  ip: string;
  /** lb-cookie/app-cookie: dates of the cookie the client sent (epoch seconds), when it was valid. */
  cookieExpires?: number;
  cookieBorn?: number;
  /** The client sent a balancer cookie that was verified. */
  hadCookie: boolean;
  /** Keyed modes and learn mode: the store key. */
  key?: string;
  /** The request was already retried once after a stale keep-alive connection. */
  staleRetried?: boolean;
  /** Backends that already failed for this request. */
  failed?: Set<string>;
  released: boolean;
}

/**
 * How an attempt failed: `refused` (the connection never opened: nothing reached the backend), `reset`
 * (broken before any response byte), `timeout`, or anything else.
 */
export type FailureKind = 'refused' | 'reset' | 'timeout' | 'other';

/** A ready-made error answer: adapters write it as it is. */
export interface Reply {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** Time and randomness, injected so the core is deterministic under test. */
export interface Clock {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

/**
 * Shared state for keyed stickiness (source-ip, header, query) and app-cookie learn mode.
 * The in-memory store is the default; `@stickyroute/redis` shares it between gateways.
 * Values are backend ids; TTLs are in milliseconds.
 */
export interface StickyStore {
  /** The value for `key`, or undefined. When `refreshTtlMs` is given the entry's TTL is reset to it (sliding). */
  get(key: string, refreshTtlMs?: number): Promise<string | undefined>;
  /** Stores `value` unless the key exists; resolves to the value that is stored now (the race's winner). */
  setIfAbsent(key: string, value: string, ttlMs: number): Promise<string>;
  /** Stores `value`, replacing any existing one. */
  set(key: string, value: string, ttlMs: number): Promise<void>;
  delete(key: string): Promise<void>;
  /** Entries currently held, when the store can tell cheaply. */
  size?(): number | undefined;
  close?(): Promise<void>;
}
