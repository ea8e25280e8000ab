// @stickyroute/koa: sticky sessions for Koa. `app.use(sticky(options))` asks the core StickyRouter where each
// request goes and proxies it there with http-proxy-middleware under `ctx.respond = false`. This file only
// translates Koa's notion of a request (its `ctx.ip` under `app.proxy`, `ctx.secure`) into the core's
// RouteRequest; every stickiness decision is the core's.

import { type IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { TLSSocket } from 'node:tls';
import { type RouteRequest, StickyConfigError, type StickyOptions, StickyRouter } from '@stickyroute/core';
import type Koa from 'koa';
import { StickyProxy } from './sticky-proxy';

export interface KoaStickyOptions extends StickyOptions {
  /** Proxy only this path and the paths under it (e.g. `/app`); other requests go on to the next middleware. */
  prefix?: string;
}

export interface KoaStickyMiddleware extends Koa.Middleware {
  /** The core router: pool operations, stats, events, `setStickiness`. */
  readonly router: StickyRouter;
  /** For `server.on('upgrade', middleware.upgrade)`: WebSocket upgrades routed by the same rules. */
  readonly upgrade: (req: IncomingMessage, socket: Duplex, head: Buffer) => void;
  /** Stops the router's timers and closes idle upstream connections. */
  close(): Promise<void>;
}

export function sticky(options: KoaStickyOptions): KoaStickyMiddleware {
  const router = new StickyRouter(options, { extraOptionKeys: ['prefix'] });
  const prefix = normalizePrefix(options.prefix);
  const proxy = new StickyProxy(router);
  // Upgrades bypass Koa; the app met on the first request tells how it resolves client IPs (`app.proxy`).
  let koa: Koa | undefined;

  const middleware = async (ctx: Koa.Context, next: Koa.Next): Promise<void> => {
    if (prefix !== '' && !underPrefix(ctx.path, prefix)) return next(); // ctx.path parses the URL
    koa ??= ctx.app;
    ctx.respond = false;
    ctx.req.url = ctx.originalUrl; // the full URL goes upstream, whatever a mount stripped
    await proxy.web(ctx.req, ctx.res, routeRequest(ctx), parsedBody(ctx));
  };

  const upgrade = (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
    if (!underPrefix((req.url ?? '/').split('?')[0]!, prefix)) return;
    const request: RouteRequest = koa
      ? routeRequest(koa.createContext(req, new ServerResponse(req)))
      : {
          method: req.method ?? 'GET',
          url: req.url ?? '/',
          headers: req.headers,
          ip: req.socket.remoteAddress ?? '',
          remoteAddress: req.socket.remoteAddress,
          secure: 'encrypted' in req.socket,
        };
    proxy.upgrade(req, socket as Socket, head, request);
  };

  const close = async (): Promise<void> => {
    await router.close();
    proxy.close();
  };

  return Object.assign(middleware, { router, upgrade, close });
}

function routeRequest(ctx: Koa.Context): RouteRequest {
  const req = ctx.req;
  const socket = req.socket;
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
    secure: proxied ? ctx.secure : (socket as TLSSocket).encrypted === true,
  };
}

/**
 * A body parser mounted before us (koa-bodyparser, @koa/bodyparser, koa-body) has read the request stream:
 * its `rawBody` is sent as it came, else its parsed `ctx.request.body` is re-encoded by HPM's fixRequestBody.
 */
function parsedBody(ctx: Koa.Context): string | Buffer | undefined {
  if (!ctx.req.readableEnded) return undefined;
  const { body, rawBody } = ctx.request as { body?: unknown; rawBody?: unknown };
  if (typeof rawBody === 'string' || Buffer.isBuffer(rawBody)) return rawBody;
  if (body !== undefined) (ctx.req as { body?: unknown }).body = body;
  return undefined;
}

function normalizePrefix(prefix: unknown): string {
  if (prefix === undefined) return '';
  if (typeof prefix !== 'string' || !prefix.startsWith('/'))
    throw new StickyConfigError('prefix', `must be a path starting with "/" (got ${JSON.stringify(prefix)})`);
  return prefix.replace(/\/+$/, '');
}

function underPrefix(path: string, prefix: string): boolean {
  return prefix === '' || path === prefix || path.startsWith(`${prefix}/`);
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
