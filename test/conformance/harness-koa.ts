// The conformance harness for @stickyroute/koa: a real Koa app on 127.0.0.1:0 (HTTP or HTTPS) with the sticky
// middleware (mounted with the `prefix` option), `app.proxy` as the trust-proxy setting, its own route beside
// it, and WebSocket upgrades wired with `server.on('upgrade', middleware.upgrade)`.

import http from 'node:http';
import https from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import type { StickyOptions } from '@stickyroute/core';
import { sticky } from '@stickyroute/koa';
import Koa from 'koa';
import type { GatewayExtras, GatewayHarness, StartedGateway } from './harness';

export const koaHarness: GatewayHarness = {
  name: 'koa',
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
    const server = extras.https
      ? https.createServer(extras.https, app.callback())
      : http.createServer(app.callback());
    server.on('upgrade', middleware.upgrade);
    // Upgraded WebSockets are no longer the HTTP server's to close: track every socket.
    const sockets = new Set<Socket>();
    server.on('connection', (socket: Socket) => {
      sockets.add(socket);
      socket.once('close', () => sockets.delete(socket));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    return {
      url: `${extras.https ? 'https' : 'http'}://127.0.0.1:${port}`,
      router: middleware.router,
      async close() {
        await middleware.close();
        await new Promise<void>((resolve) => {
          server.close(() => resolve());
          for (const socket of sockets) socket.destroy();
        });
      },
    };
  },
};
