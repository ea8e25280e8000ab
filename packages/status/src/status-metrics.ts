// Prometheus metrics for `${path}/metrics`, through prom-client, an optional peer dependency: loaded when the
// handler is made, and when it is not installed the endpoint says so (501) instead of the package failing
// to load. The router's counters only grow, so they are counters read at scrape time (reset, then set to the
// router's value: prom-client has no "set" for counters). The metrics go to the user's registry when one is
// given (so their own /metrics shows them), to a registry of this handler's own otherwise.

import { createRequire } from 'node:module';
import type { RouterStats } from '@stickyroute/core';
import { StickyConfigError } from '@stickyroute/core';
import type { Counter, Gauge, Registry } from 'prom-client';

type PromClient = typeof import('prom-client');

/** What the metrics read, at scrape time. */
export interface MetricsSource {
  stats(): RouterStats;
  stuckClients(): Map<string, number>;
  stickinessType(): string;
  /** Clients moved away from each backend, by why (from the router's `reroute` events). */
  reroutes(): ReadonlyMap<string, ReadonlyMap<string, number>>;
  /** Requests retried elsewhere after each backend failed them (from the router's `retry` events). */
  retries(): ReadonlyMap<string, number>;
}

export interface StatusMetrics {
  /** The answer for `${path}/metrics`. */
  scrape(): Promise<{ status: number; contentType: string; body: string }>;
}

const STATES = ['healthy', 'down', 'draining'] as const;
const ROUTE_REASONS = ['new', 'sticky', 'rerouted', 'hashed', 'learned'] as const;
const BACKEND_REASONS = ['new', 'sticky', 'rerouted'] as const;
const TOTALS: [name: string, help: string, field: keyof RouterStats['requests']][] = [
  ['stickyroute_retries_total', 'Requests retried on another backend after a connection failure', 'retried'],
  ['stickyroute_upstream_failures_total', 'Upstream failures answered 502/504 or retried', 'failed'],
  ['stickyroute_no_backend_total', 'Requests answered 503 because no backend could take them', 'noBackend'],
  ['stickyroute_forged_cookies_total', 'Balancer cookies rejected as forged or malformed', 'forgedCookies'],
  ['stickyroute_expired_cookies_total', 'Balancer cookies rejected as expired', 'expiredCookies'],
  ['stickyroute_store_errors_total', 'Sticky store operations that failed', 'storeErrors'],
];

/** prom-client as this package resolves it, or null when it is not installed. */
export function loadPromClient(
  requireFrom: (id: string) => unknown = createRequire(__filename),
): PromClient | null {
  try {
    return requireFrom('prom-client') as PromClient;
  } catch (error) {
    if ((error as { code?: string }).code === 'MODULE_NOT_FOUND') return null;
    throw error;
  }
}

export function createStatusMetrics(
  source: MetricsSource,
  options: { register?: Registry; promClient: PromClient | null },
): StatusMetrics {
  const client = options.promClient;
  if (client === null) {
    if (options.register !== undefined)
      throw new StickyConfigError(
        'register',
        'was given, but prom-client cannot be loaded from @stickyroute/status: install prom-client next to it',
      );
    const body =
      'Prometheus metrics need prom-client, an optional peer dependency of @stickyroute/status: npm install prom-client\n';
    return { scrape: async () => ({ status: 501, contentType: 'text/plain; charset=utf-8', body }) };
  }
  const registry = options.register ?? new client.Registry();
  try {
    registerMetrics(client, registry, source);
  } catch (error) {
    // prom-client: "A metric with the name stickyroute_… has already been registered."
    throw new StickyConfigError(
      'register',
      `already holds stickyroute's metrics (${(error as Error).message})`,
    );
  }
  return {
    scrape: async () => ({ status: 200, contentType: registry.contentType, body: await registry.metrics() }),
  };
}

function registerMetrics(client: PromClient, registry: Registry, source: MetricsSource): void {
  const registers = [registry];
  const backends = () => source.stats().backends;
  const gauge = (name: string, help: string, labelNames: string[], collect: (this: Gauge) => void) =>
    new client.Gauge({ name, help, labelNames, registers, collect });
  const counter = (name: string, help: string, labelNames: string[], collect: (this: Counter) => void) =>
    new client.Counter({ name, help, labelNames, registers, collect });

  gauge(
    'stickyroute_backend_state',
    'Backend state: 1 for the current one of healthy, down, draining',
    ['backend', 'state'],
    function () {
      this.reset();
      for (const b of backends())
        for (const state of STATES) this.set({ backend: b.id, state }, b.state === state ? 1 : 0);
    },
  );
  gauge('stickyroute_backend_weight', 'Backend weight', ['backend'], function () {
    this.reset();
    for (const b of backends()) this.set({ backend: b.id }, b.weight);
  });
  gauge('stickyroute_backend_active_requests', 'Requests in flight to the backend', ['backend'], function () {
    this.reset();
    for (const b of backends()) this.set({ backend: b.id }, b.active);
  });
  gauge(
    'stickyroute_backend_stuck_clients',
    'Clients whose stickiness names the backend',
    ['backend'],
    function () {
      this.reset();
      const counts = source.stuckClients();
      for (const b of backends()) this.set({ backend: b.id }, counts.get(b.id) ?? 0);
    },
  );
  counter(
    'stickyroute_backend_requests_total',
    'Requests sent to the backend, by why it was chosen (new, sticky, rerouted)',
    ['backend', 'reason'],
    function () {
      this.reset();
      for (const b of backends())
        for (const reason of BACKEND_REASONS) this.inc({ backend: b.id, reason }, b[reason]);
    },
  );
  counter(
    'stickyroute_backend_failures_total',
    'Upstream failures (refused, reset, timed out) of the backend',
    ['backend'],
    function () {
      this.reset();
      for (const b of backends()) this.inc({ backend: b.id }, b.failed);
    },
  );
  counter(
    'stickyroute_backend_reroutes_total',
    "Clients moved away from the backend, by why (gone, down, failed); backend '' when it was already removed",
    ['backend', 'why'],
    function () {
      this.reset();
      for (const [backend, byWhy] of source.reroutes())
        for (const [why, count] of byWhy) this.inc({ backend, why }, count);
    },
  );
  counter(
    'stickyroute_backend_retries_total',
    'Requests the backend failed that were retried on another one',
    ['backend'],
    function () {
      this.reset();
      for (const [backend, count] of source.retries()) this.inc({ backend }, count);
    },
  );
  counter(
    'stickyroute_requests_total',
    'Requests routed by the gateway, by why the backend was chosen',
    ['reason'],
    function () {
      this.reset();
      const requests = source.stats().requests;
      for (const reason of ROUTE_REASONS) this.inc({ reason }, requests[reason]);
    },
  );
  for (const [name, help, field] of TOTALS)
    counter(name, help, [], function () {
      this.reset();
      this.inc(source.stats().requests[field]);
    });
  gauge('stickyroute_stickiness_info', 'The stickiness in force: 1 for its type', ['type'], function () {
    this.reset();
    this.set({ type: source.stickinessType() }, 1);
  });
}
