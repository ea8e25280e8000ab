// What the conformance suite needs from each framework: start a real gateway with given sticky options.
// A fourth framework adds a harness here, not tests (bull-board's runServerAdapterContract).

import type { StickyOptions, StickyRouter } from '@stickyroute/core';

export interface GatewayExtras {
  /** Serve HTTPS with this key/cert (PEM). */
  https?: { key: string; cert: string };
  /** Serve HTTP/2 over TLS with this key/cert (ALPN; HTTP/1.1 and WebSockets still accepted). */
  http2?: { key: string; cert: string };
  /** Trust X-Forwarded-For from the peer (Express `trust proxy`, Fastify `trustProxy`, Koa `app.proxy`). */
  trustProxy?: boolean;
  /**
   * Mount the sticky proxy under this path prefix. With or without one, the gateway answers
   * `GET /own-route` itself (200, any body) beside the proxy, and leaves other paths outside the prefix alone.
   */
  prefix?: string;
}

export interface StartedGateway {
  /** e.g. http://127.0.0.1:54321 */
  url: string;
  router: StickyRouter;
  close(): Promise<void>;
}

export interface GatewayHarness {
  name: 'express' | 'koa' | 'fastify' | 'node';
  /** The adapter sets limits on its server (`serverLimits`): the node handler and the Fastify plugin. */
  limitsServer: boolean;
  /** The adapter serves HTTP/2 clients (Express does not: docs/decisions.md). */
  http2: boolean;
  start(options: StickyOptions, extras?: GatewayExtras): Promise<StartedGateway>;
}
