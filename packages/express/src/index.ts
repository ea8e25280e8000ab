// @stickyroute/express: sticky sessions as Express middleware. It only translates: Express's notion of the
// client (`trust proxy`) goes to the core's exchange, which routes, sends through the http-proxy-middleware
// engine @stickyroute/koa shares, adds the balancer's cookies, fails over and releases.

import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import type { ConnectionOptions, TLSSocket } from 'node:tls';
import { StickyConfigError, type StickyOptions, type StickyRouter } from '@stickyroute/core';
import { Gateway, isUnderPrefix, normalizePrefix } from '@stickyroute/core/adapter';
import { bodyOf, HttpProxyEngine } from '@stickyroute/http-proxy-engine';
import type { Application, NextFunction, Request, Response } from 'express';
import { clientOfUpgrade } from './upgrade-client';

export interface ExpressStickyOptions extends StickyOptions {
  /** Proxy only paths under this prefix (`/api` takes `/api` and `/api/…`); others go to `next()`. */
  prefix?: string;
  /** TLS options for `https://` backends, such as `ca`. Certificates are verified unless this says otherwise. */
  tls?: ConnectionOptions;
}

export interface StickyMiddleware {
  (req: Request, res: Response, next: NextFunction): void;
  /** The core router: pool operations, stats, events, setStickiness. */
  readonly router: StickyRouter;
  /** `server.on('upgrade', middleware.upgrade)`: WebSocket upgrades, routed by the same rules. */
  readonly upgrade: (req: IncomingMessage, socket: Duplex, head: Buffer) => void;
  /**
   * Wires `server` for the middleware (its WebSocket upgrades) and returns it. An HTTP/2 server is refused:
   * Express cannot serve HTTP/2 requests (it swaps their prototype for HTTP/1's, and node then fails).
   */
  attach<S extends Server>(server: S): S;
  /** Ends what is in flight, closes the upstream connections and stops the router's timers. */
  close(): Promise<void>;
}

/** Express middleware that balances requests over `options.backends` with sticky sessions. */
export function sticky(options: ExpressStickyOptions): StickyMiddleware {
  const prefix = normalizePrefix(options?.prefix);
  const gateway = new Gateway(options, { ownOptions: ['prefix', 'tls'], tls: options?.tls });
  const engine = new HttpProxyEngine(gateway.tls);
  let lastApp: Application | undefined;

  // Express requests and responses are slow objects to V8 (Express swaps their prototype, then adds
  // properties): each property is read once, and nothing is added to them.
  const middleware = (req: Request, res: Response, next: NextFunction) => {
    const url = req.originalUrl ?? req.url;
    if (!isUnderPrefix(url, prefix)) return next();
    const app = req.app;
    lastApp = app;
    // Without `trust proxy` (Express's default) req.ip and req.secure are the socket's, read directly: the
    // getters would parse X-Forwarded-For and X-Forwarded-Proto on every request only to ignore them.
    const trusting = app.settings['trust proxy'];
    const socket = req.socket as TLSSocket;
    const remoteAddress = socket.remoteAddress;
    // The full original URL goes upstream, also under `app.use('/api', …)`.
    req.url = url;
    const exchange = gateway.serve(
      engine,
      {
        method: req.method,
        url,
        headers: req.headers,
        ip: (trusting ? req.ip : undefined) ?? remoteAddress ?? '',
        remoteAddress,
        secure: trusting ? req.secure : socket.encrypted === true,
        body: bodyOf(req),
      },
      res,
    );
    res.on('close', () => exchange.closed(res.writableEnded));
  };

  const clientOf = (req: IncomingMessage) => {
    const url = req.url ?? '/';
    if (!isUnderPrefix(url, prefix)) return undefined;
    const client = clientOfUpgrade(req, lastApp);
    return {
      method: req.method ?? 'GET',
      url,
      headers: req.headers,
      ip: client.ip,
      remoteAddress: req.socket.remoteAddress,
      secure: client.secure,
    };
  };
  const upgrade = (req: IncomingMessage, socket: Duplex, head: Buffer) =>
    gateway.upgrade(req, socket, head, clientOf);

  const attach = <S extends Server>(server: S): S => {
    if (typeof (server as { updateSettings?: unknown }).updateSettings === 'function')
      throw new StickyConfigError(
        'server',
        'is an HTTP/2 server, which Express cannot serve (its requests would crash the process): serve Express with node:http or node:https, or HTTP/2 clients with Koa, Fastify or @stickyroute/node',
      );
    server.on('upgrade', upgrade);
    return server;
  };

  return Object.assign(middleware, {
    router: gateway.router,
    upgrade,
    attach,
    close: async () => {
      await gateway.close();
      engine.close();
    },
  });
}

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
