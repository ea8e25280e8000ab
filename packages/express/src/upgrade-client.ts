// Who is asking for a WebSocket upgrade, in Express's terms. Upgrades bypass the Express app, so its
// `trust proxy` setting is applied by reading `ip` and `secure` through the app's own request prototype:
// the app the server serves (`app.listen()`, `http.createServer(app)`), else the last app that routed an
// HTTP request through the middleware. Without either, the TCP peer is the client.

import type { IncomingMessage, Server } from 'node:http';
import type { TLSSocket } from 'node:tls';
import type { Application, Request } from 'express';

/** Express sets `app.request` (the prototype of its requests) but its types do not declare it. */
type ExpressApp = Application & { request: Request };

export function clientOfUpgrade(
  req: IncomingMessage,
  fallback: Application | undefined,
): { ip: string; secure: boolean } {
  const socket = req.socket;
  const app = (appOfServer((socket as { server?: Server }).server) ?? fallback) as ExpressApp | undefined;
  if (app === undefined) {
    return { ip: socket.remoteAddress ?? '', secure: (socket as TLSSocket).encrypted === true };
  }
  // A view of the upgrade request with the app's request prototype (where `ip` and `secure` are getters).
  const view: Request = Object.create(app.request, {
    headers: { value: req.headers },
    socket: { value: socket },
    connection: { value: socket },
  });
  return { ip: view.ip ?? socket.remoteAddress ?? '', secure: view.secure };
}

function appOfServer(server: Server | undefined): ExpressApp | undefined {
  for (const listener of server?.listeners('request') ?? []) {
    const candidate = listener as Partial<ExpressApp>;
    if (typeof candidate.get === 'function' && typeof candidate.request === 'object')
      return listener as ExpressApp;
  }
  return undefined;
}
