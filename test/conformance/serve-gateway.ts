// The part every harness shares: serve a request listener on 127.0.0.1:0 (HTTP or HTTPS), wire WebSocket
// upgrades, and close it all — including upgraded sockets, which are no longer the HTTP server's to close.

import http, { type RequestListener } from 'node:http';
import http2 from 'node:http2';
import https from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { StickyRouter } from '@stickyroute/core';
import type { GatewayExtras, StartedGateway } from './harness';

export interface ServedAdapter {
  router: StickyRouter;
  upgrade(req: http.IncomingMessage, socket: Duplex, head: Buffer): void;
  /** The adapter wires a server itself (its upgrades and server limits): the node handler. */
  attach?(server: http.Server): http.Server;
  close(): Promise<void> | void;
}

export async function serveGateway(
  listener: RequestListener,
  adapter: ServedAdapter,
  extras: GatewayExtras,
): Promise<StartedGateway> {
  const server = extras.http2
    ? http2.createSecureServer({ ...extras.http2, allowHTTP1: true }, listener as never)
    : extras.https
      ? https.createServer(extras.https, listener)
      : http.createServer(listener);
  if (adapter.attach !== undefined) adapter.attach(server as http.Server);
  else server.on('upgrade', adapter.upgrade);
  const sockets = new Set<Socket>();
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `${extras.https || extras.http2 ? 'https' : 'http'}://127.0.0.1:${port}`,
    router: adapter.router,
    async close() {
      await adapter.close();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const socket of sockets) socket.destroy();
      });
    },
  };
}
