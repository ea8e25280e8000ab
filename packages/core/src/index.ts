// @stickyroute/core: sticky-session routing for your own Node gateway — what a user needs: the router, its
// error, the memory store and the types. Adapters are built on `@stickyroute/core/adapter`; tests inject
// time through `@stickyroute/core/testing`.

export { StickyConfigError } from './config/errors';
export type {
  AlgorithmName,
  BackendInput,
  CookieOptions,
  HealthCheckOptions,
  NormalizedStickiness,
  StickinessOptions,
  StickyOptions,
} from './config/options';
export type { RerouteEvent, RouterEvents } from './events';
export type { Backend, BackendState, BackendStats, DrainStats } from './pool/backend';
export type { BackendPool, DrainOptions, PoolEvents, RemoveReason } from './pool/backend-pool';
export { createStickyRouter, type RouterStats, StickyRouter } from './router';
export type { RequestCounts } from './stats/request-counts';
export { MemoryStore, type MemoryStoreOptions } from './store/memory-store';
export type { Clock, Duration, DurationUnit, Route, RouteReason, RouteRequest, StickyStore } from './types';
