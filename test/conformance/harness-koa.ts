// The conformance harness for @stickyroute/koa: a real Koa app on 127.0.0.1:0 (HTTP or HTTPS) with the sticky
// middleware (mounted with the `prefix` option), `app.proxy` as the trust-proxy setting, its own route beside
// it, and WebSocket upgrades wired with `server.on('upgrade', middleware.upgrade)`.

import type { StickyOptions } from '@stickyroute/core';
import { sticky } from '@stickyroute/koa';
import Koa from 'koa';
import type { GatewayExtras, GatewayHarness, StartedGateway } from './harness';
import { serveGateway } from './serve-gateway';

export const koaHarness: GatewayHarness = {
  name: 'koa',
  http2: true,
  limitsServer: false,
  async start(options: StickyOptions, extras: GatewayExtras = {}): Promise<StartedGateway> {
    const app = new Koa();
    app.proxy = extras.trustProxy ?? false;
    app.silent = true;
    const middleware = sticky({ ...options, ...(extras.prefix ? { prefix: extras.prefix } : {}) });
    app.use(async (ctx, next) => {
      if (ctx.method === 'GET' && ctx.path === '/own-route') ctx.body = 'own-route';
      else await next();
    });
    app.use(middleware);
    return serveGateway(app.callback(), middleware, extras);
  },
};
