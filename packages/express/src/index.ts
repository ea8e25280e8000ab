// @stickyroute/express: sticky sessions as Express middleware. It only translates: the Express request goes
// to the core's router, http-proxy-middleware carries it to the chosen backend, the upstream's Set-Cookie
// goes back to the core, and the balancer cookies it returns are appended. Every decision is the core's.

import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { TLSSocket } from 'node:tls';
import {
  type Route,
  type RouteRequest,
  rawReply,
  StickyConfigError,
  type StickyOptions,
  StickyRouter,
  writeReply,
} from '@stickyroute/core';
import type { Application, NextFunction, Request, Response } from 'express';
import { createProxyEngine, type Exchange } from './proxy-engine';
import { clientOfUpgrade } from './upgrade-client';

export interface ExpressStickyOptions extends StickyOptions {
  /** Proxy only paths under this prefix (`/api` takes `/api` and `/api/…`); others go to `next()`. */
  prefix?: string;
}

export interface StickyMiddleware {
  (req: Request, res: Response, next: NextFunction): void;
  /** The core router: pool operations, stats, events, setStickiness. */
  readonly router: StickyRouter;
  /** `server.on('upgrade', middleware.upgrade)`: WebSocket upgrades, routed by the same rules. */
  readonly upgrade: (req: IncomingMessage, socket: Duplex, head: Buffer) => void;
  /** Stops the router's timers and closes idle upstream connections. */
  close(): Promise<void>;
}

/** Express middleware that balances requests over `options.backends` with sticky sessions. */
export function sticky(options: ExpressStickyOptions): StickyMiddleware {
  const prefix = normalizePrefix(options?.prefix);
  const router = new StickyRouter(options, { extraOptionKeys: ['prefix'] });
  const engine = createProxyEngine(router);
  let lastApp: Application | undefined;

  // Express requests and responses are slow objects to V8 (see proxy-engine.ts): each property is read once.
  const middleware = (req: Request, res: Response, next: NextFunction) => {
    if (prefix !== undefined && !isUnder(req.path, prefix)) return next();
    const app = req.app;
    lastApp = app;
    const headers = req.headers;
    const connection = headers.connection;
    const exchange = {
      headers,
      clientAskedClose: connection !== undefined && /\bclose\b/i.test(connection),
    } as Exchange;
    engine.track(res, exchange);
    const url = req.originalUrl ?? req.url;
    // Without `trust proxy` (Express's default) req.ip and req.secure are the socket's, read directly: the
    // getters would parse X-Forwarded-For and X-Forwarded-Proto on every request only to ignore them.
    const trusting = app.settings['trust proxy'];
    const socket = req.socket as TLSSocket;
    const remoteAddress = socket.remoteAddress;
    const ip = (trusting ? req.ip : undefined) ?? remoteAddress ?? '';
    const secure = trusting ? req.secure : socket.encrypted === true;
    const request: RouteRequest = { method: req.method, url, headers, ip, remoteAddress, secure };
    // In the cookie modes the core answers synchronously: no promise, no microtask turn.
    const route = router.routeNow(request);
    if (route instanceof Promise) route.then((route) => proceed(req, res, url, exchange, route), next);
    else proceed(req, res, url, exchange, route);
  };
  const proceed = (req: Request, res: Response, url: string, exchange: Exchange, route: Route): void => {
    exchange.route = route;
    if (exchange.closed) router.release(route);
    else if (route.backend === null) writeReply(res, router.reply(503));
    else {
      // The full original URL goes upstream, also under `app.use('/api', …)` (set only now: were route() to
      // fail, Express's error handlers would see the URL it restores a mount path onto).
      req.url = url;
      engine.web(req, res, exchange);
    }
  };

  const upgrade = (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    if (prefix !== undefined && !isUnder((req.url ?? '/').split('?')[0]!, prefix)) return;
    const exchange = { headers: req.headers } as Exchange;
    socket.on('error', () => socket.destroy());
    engine.track(socket as Socket, exchange);
    const client = clientOfUpgrade(req, lastApp);
    void router.route(routeRequest(req, client.ip, client.secure)).then((route) => {
      exchange.route = route;
      if (exchange.closed) return router.release(route);
      if (route.backend === null) return void socket.end(rawReply(router.reply(503)));
      engine.ws(req, socket as Socket, head, exchange);
    });
  };

  return Object.assign(middleware, {
    router,
    upgrade,
    close: async () => {
      await router.close();
      engine.close();
    },
  });
}

function routeRequest(req: IncomingMessage, ip: string, secure: boolean): RouteRequest {
  return {
    method: req.method ?? 'GET',
    url: (req as Partial<Request>).originalUrl ?? req.url ?? '/',
    headers: req.headers,
    ip,
    remoteAddress: req.socket.remoteAddress,
    secure,
  };
}

function isUnder(path: string, prefix: string): boolean {
  return prefix === '/' || path === prefix || path.startsWith(`${prefix}/`);
}

function normalizePrefix(prefix: unknown): string | undefined {
  if (prefix === undefined) return undefined;
  if (typeof prefix !== 'string' || !prefix.startsWith('/') || /[?#\s]/.test(prefix))
    throw new StickyConfigError('prefix', `must be a path starting with / (got ${JSON.stringify(prefix)})`);
  return prefix.length > 1 ? prefix.replace(/\/+$/, '') : prefix;
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
