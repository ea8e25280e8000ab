// The conformance harness for @stickyroute/express: a real Express app on 127.0.0.1:0 (HTTP or HTTPS) with
// `trust proxy` as the trust-proxy setting, its own route beside the sticky middleware (mounted with the
// `prefix` option), and WebSocket upgrades wired with `server.on('upgrade', middleware.upgrade)`.

import type { StickyOptions } from '@stickyroute/core';
import { sticky } from '@stickyroute/express';
import express from 'express';
import type { GatewayExtras, GatewayHarness, StartedGateway } from './harness';
import { serveGateway } from './serve-gateway';

export const expressHarness: GatewayHarness = {
  name: 'express',
  http2: false,
  limitsServer: false,
  async start(options: StickyOptions, extras: GatewayExtras = {}): Promise<StartedGateway> {
    const middleware = sticky({ ...options, ...(extras.prefix ? { prefix: extras.prefix } : {}) });
    const app = express();
    app.set('trust proxy', extras.trustProxy ?? false);
    app.get('/own-route', (_req, res) => {
      res.type('text').send('own-route');
    });
    app.use(middleware);
    return serveGateway(app, middleware, extras);
  },
};
