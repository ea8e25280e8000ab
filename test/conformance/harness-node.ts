// The conformance harness for @stickyroute/node: a plain node:http (or node:https) server whose request
// listener answers `GET /own-route` itself and hands everything else to the sticky handler (mounted with the
// `prefix` option; outside it, the handler calls `next`, here a 404), with `trustProxy` as the trust-proxy
// setting, and the server wired with `handler.attach(server)` (its WebSocket upgrades and server limits).

import type { IncomingMessage, ServerResponse } from 'node:http';
import type { StickyOptions } from '@stickyroute/core';
import { createStickyHandler } from '@stickyroute/node';
import type { GatewayExtras, GatewayHarness, StartedGateway } from './harness';
import { serveGateway } from './serve-gateway';

export const nodeHarness: GatewayHarness = {
  name: 'node',
  http2: true,
  limitsServer: true,
  async start(options: StickyOptions, extras: GatewayExtras = {}): Promise<StartedGateway> {
    const handler = createStickyHandler({
      ...options,
      trustProxy: extras.trustProxy ?? false,
      ...(extras.prefix ? { prefix: extras.prefix } : {}),
    });
    const notFound = (res: ServerResponse) => () => {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
    };
    const listener = (req: IncomingMessage, res: ServerResponse) => {
      if (req.method === 'GET' && req.url === '/own-route') {
        res.writeHead(200, { 'content-type': 'text/plain' }).end('own-route');
        return;
      }
      handler(req, res, notFound(res));
    };
    return serveGateway(listener, handler, extras);
  },
};
