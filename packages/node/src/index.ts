// @stickyroute/node: sticky sessions for a plain node:http gateway — the fastest way to run stickyroute.

export type { StickyOptions, StickyRouter } from '@stickyroute/core';
export type { TrustProxy } from './client-address';
export { createStickyHandler, type StickyHandler, type StickyHandlerOptions } from './sticky-handler';
