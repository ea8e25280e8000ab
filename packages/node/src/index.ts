// @stickyroute/node: sticky sessions for a plain node:http gateway — the fastest way to run stickyroute.

// The core's error and option types, so that a user of this adapter needs no other import.
export {
  type AlgorithmName,
  type BackendInput,
  type CookieOptions,
  type Duration,
  type HealthCheckOptions,
  type StickinessOptions,
  StickyConfigError,
  type StickyOptions,
  type StickyRouter,
} from '@stickyroute/core';
export type { TrustProxy } from './client-address';
export { createStickyHandler, type StickyHandler, type StickyHandlerOptions } from './sticky-handler';
