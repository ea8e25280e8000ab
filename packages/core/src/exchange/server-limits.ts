// What a gateway on the open internet wants from the HTTP server it runs on, whoever made the server: a
// request's headers within a bound (slowloris), the whole request within another, idle keep-alive and idle
// connections closed, a cap on connections. The node handler (`handler.attach(server)`) and the Fastify
// plugin apply these defaults; Express and Koa users own their server (docs/security.md says what to set).

import type { Server } from 'node:http';
import { parseDurationInRange } from '../config/duration';
import { StickyConfigError } from '../config/errors';
import type { Duration } from '../types';

export interface ServerLimits {
  /** The request's headers must arrive within this (node's `headersTimeout`). Default 20 s. */
  headersTimeout?: Duration;
  /** The whole request (headers and body) within this (node's `requestTimeout`). Default 120 s. */
  requestTimeout?: Duration;
  /** An idle keep-alive connection closes after this (node's `keepAliveTimeout`). Default 5 s. */
  keepAliveTimeout?: Duration;
  /** A connection with no traffic either way closes after this (node's `server.timeout`). Default 120 s. */
  idleTimeout?: Duration;
  /** At most this many connections at once (node's `maxConnections`). Default 10,000. */
  maxConnections?: number;
}

export interface NormalizedServerLimits {
  headersTimeoutMs: number;
  requestTimeoutMs: number;
  keepAliveTimeoutMs: number;
  idleTimeoutMs: number;
  maxConnections: number;
}

const KEYS = ['headersTimeout', 'requestTimeout', 'keepAliveTimeout', 'idleTimeout', 'maxConnections'];
const HOUR = 3_600_000;

/** Validates `limits` (the option `path` names it in errors); `false` turns them off. */
export function normalizeServerLimits(limits: unknown, path: string): NormalizedServerLimits | null {
  if (limits === false) return null;
  if (limits !== undefined && (typeof limits !== 'object' || limits === null || Array.isArray(limits)))
    throw new StickyConfigError(path, 'must be false or an object of server limits');
  const given = (limits ?? {}) as Record<string, unknown>;
  for (const key of Object.keys(given))
    if (!KEYS.includes(key))
      throw new StickyConfigError(`${path}.${key}`, `is not a known option (known: ${KEYS.join(', ')})`);
  const ms = (key: string, fallback: number) =>
    parseDurationInRange(given[key] ?? fallback / 1000, `${path}.${key}`, 100, HOUR);
  const headersTimeoutMs = ms('headersTimeout', 20_000);
  const requestTimeoutMs = ms('requestTimeout', 120_000);
  if (requestTimeoutMs < headersTimeoutMs)
    throw new StickyConfigError(`${path}.requestTimeout`, `must not be shorter than ${path}.headersTimeout`);
  const maxConnections = given.maxConnections ?? 10_000;
  if (typeof maxConnections !== 'number' || !Number.isInteger(maxConnections) || maxConnections < 1)
    throw new StickyConfigError(`${path}.maxConnections`, 'must be an integer ≥ 1');
  return {
    headersTimeoutMs,
    requestTimeoutMs,
    keepAliveTimeoutMs: ms('keepAliveTimeout', 5_000),
    idleTimeoutMs: ms('idleTimeout', 120_000),
    maxConnections,
  };
}

/** Sets the limits on `server` (an http, https or http2 server). */
export function applyServerLimits(server: Server, limits: NormalizedServerLimits | null): void {
  if (limits === null) return;
  server.headersTimeout = limits.headersTimeoutMs;
  server.requestTimeout = limits.requestTimeoutMs;
  server.keepAliveTimeout = limits.keepAliveTimeoutMs;
  server.maxConnections = limits.maxConnections;
  server.setTimeout(limits.idleTimeoutMs);
}
