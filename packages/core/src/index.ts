// @stickyroute/core: framework-free sticky-session routing. Adapters (express, koa, fastify) drive a StickyRouter.

export { HashRing } from './balancers/consistent-hash';
export { hash32 } from './balancers/hash32';
export { parseDuration } from './config/duration';
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
export { BalancerCookieCodec } from './cookie/balancer-cookie-codec';
export { readCookie } from './cookie/read-cookie';
export { type CookieLifetime, parseSetCookieLifetime } from './cookie/set-cookie-lifetime';
export { type HealthProbe, httpProbe } from './health/active-health-checker';
export {
  classifyUpstreamError,
  closedAfterEarlierResponses,
  isIdempotent,
  upstreamTimeoutError,
} from './health/upstream-failure';
export type { Backend, BackendState, BackendStats } from './pool/backend';
export type { BackendPool, PoolEvents } from './pool/backend-pool';
export {
  copyDownstreamHeaders,
  copyUpstreamHeaders,
  type HopByHopOptions,
  isHopByHop,
  nominatedByConnection,
  prepareUpstreamHeaders,
  stripHopByHop,
} from './proxy/hop-by-hop';
export { rawReply, writeReply } from './proxy/reply-writer';
export {
  acceptUpstreamHeaders,
  appendCookies,
  type ClientHeaders,
  carriedBy,
  type HttpProxyTarget,
  httpProxyTarget,
  refuseUpgrade,
} from './proxy/upstream-answer';
export { UpstreamDeadlines } from './proxy/upstream-deadlines';
export { createStickyRouter, type RerouteEvent, type RouterStats, StickyRouter } from './router';
export { MemoryStore, type MemoryStoreOptions } from './store/memory-store';
export type {
  Clock,
  Duration,
  DurationUnit,
  FailureKind,
  Reply,
  Route,
  RouteReason,
  RouteRequest,
  StickyStore,
  UpstreamFailure,
} from './types';
