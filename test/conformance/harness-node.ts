// The conformance harness for @stickyroute/node: a plain node:http (or node:https) server whose request
// listener answers `GET /own-route` itself and hands everything else to the sticky handler (mounted with the
// `prefix` option; outside it, the handler calls `next`, here a 404), with `trustProxy` as the trust-proxy
// setting and WebSocket upgrades wired with `server.on('upgrade', handler.upgrade)`.

import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import https from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import type { StickyOptions } from '@stickyroute/core';
import { createStickyHandler } from '@stickyroute/node';
import type { GatewayExtras, GatewayHarness, StartedGateway } from './harness';

export const nodeHarness: GatewayHarness = {
  name: 'node',
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
    const server = extras.https ? https.createServer(extras.https, listener) : http.createServer(listener);
    server.on('upgrade', handler.upgrade);
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
      router: handler.router,
      async close() {
        await new Promise<void>((resolve) => {
          server.close(() => resolve());
          for (const socket of sockets) socket.destroy();
        });
        await handler.close();
      },
    };
  },
};
