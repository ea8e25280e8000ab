// @stickyroute/koa: sticky sessions for Koa. `app.use(sticky(options))` hands Koa's notion of the client
// (`ctx.ip` under `app.proxy`, `ctx.secure`) to the core's exchange, which proxies under `ctx.respond = false`
// with the http-proxy-middleware engine @stickyroute/express shares. Every decision is the core's.

import { type IncomingMessage, type Server, ServerResponse } from 'node:http';
import type { Http2Server } from 'node:http2';
import type { Duplex } from 'node:stream';
import type { ConnectionOptions, TLSSocket } from 'node:tls';
import type { RouteRequest, StickyOptions, StickyRouter } from '@stickyroute/core';
import { Gateway, isUnderPrefix, normalizePrefix, type RequestFacts } from '@stickyroute/core/adapter';
import { bodyOf, HttpProxyEngine } from '@stickyroute/http-proxy-engine';
import type Koa from 'koa';

export interface KoaStickyOptions extends StickyOptions {
  /** Proxy only this path and the paths under it (e.g. `/app`); other requests go on to the next middleware. */
  prefix?: string;
  /** TLS options for `https://` backends, such as `ca`. Certificates are verified unless this says otherwise. */
  tls?: ConnectionOptions;
}

export interface KoaStickyMiddleware extends Koa.Middleware {
  /** The core router: pool operations, stats, events, `setStickiness`. */
  readonly router: StickyRouter;
  /** For `server.on('upgrade', middleware.upgrade)`: WebSocket upgrades routed by the same rules. */
  readonly upgrade: (req: IncomingMessage, socket: Duplex, head: Buffer) => void;
  /** Wires `server` (HTTP/1 or HTTP/2) for the middleware: its WebSocket upgrades. Returns the server. */
  attach<S extends Server | Http2Server>(server: S): S;
  /** Ends what is in flight, closes the upstream connections and stops the router's timers. */
  close(): Promise<void>;
}

export function sticky(options: KoaStickyOptions): KoaStickyMiddleware {
  const prefix = normalizePrefix(options?.prefix);
  const gateway = new Gateway(options, { ownOptions: ['prefix', 'tls'], tls: options?.tls });
  const engine = new HttpProxyEngine(gateway.tls);
  // Upgrades bypass Koa; the app met on the first request tells how it resolves client IPs (`app.proxy`).
  let koa: Koa | undefined;

  const middleware = (ctx: Koa.Context, next: Koa.Next): Promise<void> => {
    const url = ctx.originalUrl;
    if (!isUnderPrefix(url, prefix)) return next();
    koa ??= ctx.app;
    ctx.respond = false;
    const { req, res } = ctx;
    req.url = url; // the full URL goes upstream, whatever a mount stripped
    const exchange = gateway.serve(engine, clientOf(ctx, bodyOf(req, parsed(ctx))), res);
    // The middleware settles once the response is over (or the client has gone).
    return new Promise<void>((resolve) => {
      res.on('close', () => {
        exchange.closed(res.writableEnded);
        resolve();
      });
    });
  };

  const upgradeClientOf = (req: IncomingMessage): RouteRequest | undefined => {
    if (!isUnderPrefix(req.url ?? '/', prefix)) return undefined;
    if (koa) return clientOf(koa.createContext(req, new ServerResponse(req)));
    return {
      method: req.method ?? 'GET',
      url: req.url ?? '/',
      headers: req.headers,
      ip: req.socket.remoteAddress ?? '',
      remoteAddress: req.socket.remoteAddress,
      secure: (req.socket as TLSSocket).encrypted === true,
    };
  };
  const upgrade = (req: IncomingMessage, socket: Duplex, head: Buffer): void =>
    gateway.upgrade(req, socket, head, upgradeClientOf);

  const close = async (): Promise<void> => {
    await gateway.close();
    engine.close();
  };

  const attach = <S extends Server | Http2Server>(server: S): S => {
    server.on('upgrade', upgrade);
    return server;
  };

  return Object.assign(middleware, { router: gateway.router, upgrade, attach, close });
}

/** The client as Koa sees it, with the request's body (one object: the exchange reads it once). */
function clientOf(ctx: Koa.Context, body?: RequestFacts['body']): RequestFacts {
  const req = ctx.req;
  const socket = req.socket as TLSSocket;
  const remoteAddress = socket.remoteAddress;
  // Without `app.proxy` (Koa's default) ctx.ip and ctx.secure are the socket's, read directly: the getters
  // would look up (and lowercase the name of) X-Forwarded-For and X-Forwarded-Proto only to ignore them.
  const proxied = ctx.app.proxy;
  return {
    method: req.method ?? 'GET',
    url: ctx.originalUrl,
    headers: req.headers,
    ip: proxied ? ctx.ip : (remoteAddress ?? ''),
    remoteAddress,
    secure: proxied ? ctx.secure : socket.encrypted === true,
    body,
  };
}

/**
 * A body parser mounted before us (koa-bodyparser, @koa/bodyparser, koa-body) read the stream: its `rawBody`
 * is sent as it came, else its parsed `ctx.request.body` is re-encoded as HPM's fixRequestBody does.
 */
function parsed(ctx: Koa.Context): unknown {
  if (!ctx.req.readableEnded) return undefined;
  const { body, rawBody } = ctx.request as { body?: unknown; rawBody?: unknown };
  if (body !== undefined) (ctx.req as { body?: unknown }).body = body;
  return rawBody;
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
