// @stickyroute/express: sticky sessions as Express middleware. It only translates: the Express request goes
// to the core's router, http-proxy-middleware carries it to the chosen backend, the upstream's Set-Cookie
// goes back to the core, and the balancer cookies it returns are appended. Every decision is the core's.

import http, { type ClientRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import https from 'node:https';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import {
  classifyUpstreamError,
  type Reply,
  type Route,
  type RouteRequest,
  StickyConfigError,
  type StickyOptions,
  StickyRouter,
} from '@stickyroute/core';
import type { Application, NextFunction, Request, Response } from 'express';
import { createProxyMiddleware } from 'http-proxy-middleware';
import { clientOfUpgrade } from './upgrade-client';
import { prepareUpstreamHeaders, stripHopByHop } from './upstream-headers';

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

/** One proxied request or upgrade: its current route (a retry replaces it) and the upstream timer. */
interface Exchange {
  route: Route;
  timer?: NodeJS.Timeout;
  upgraded?: boolean;
  clientAskedClose: boolean;
}

export function sticky(options: ExpressStickyOptions): StickyMiddleware {
  const prefix = normalizePrefix(options?.prefix);
  const router = new StickyRouter(options, { extraOptionKeys: ['prefix'] });
  const exchanges = new WeakMap<IncomingMessage, Exchange>();
  const agents = { http: new http.Agent({ keepAlive: true }), https: new https.Agent({ keepAlive: true }) };
  let lastApp: Application | undefined;

  // No response headers within the timeout: the request is destroyed with a timeout error, which the
  // error handler turns into a 504 (http-proxy's own proxyTimeout would look like a reset: a retry).
  const startTimer = (exchange: Exchange, proxyReq: ClientRequest) => {
    clearTimeout(exchange.timer);
    const timeout = Object.assign(new Error('upstream timed out'), { code: 'ETIMEDOUT' });
    exchange.timer = setTimeout(() => proxyReq.destroy(timeout), router.timeoutMs);
  };

  const makeProxy = (tls: boolean) =>
    createProxyMiddleware<IncomingMessage, ServerResponse>({
      router: (req) => exchanges.get(req)?.route.backend?.origin,
      // The full original URL goes upstream, also under `app.use('/api', …)`.
      pathRewrite: (path, req) => (req as Partial<Request>).originalUrl ?? path,
      // To https upstreams Host is the backend's, so TLS verifies the backend's own name.
      changeOrigin: tls,
      secure: true,
      xfwd: false,
      agent: tls ? agents.https : agents.http,
      on: {
        proxyReq: (proxyReq, req) => {
          const exchange = exchanges.get(req);
          if (exchange) startTimer(exchange, proxyReq);
        },
        proxyReqWs: (proxyReq, req) => {
          const exchange = exchanges.get(req);
          if (!exchange) return;
          startTimer(exchange, proxyReq);
          const answered = () => clearTimeout(exchange.timer);
          proxyReq.once('response', answered).once('upgrade', () => {
            answered();
            exchange.upgraded = true;
          });
        },
        proxyRes: (proxyRes, req, res) => {
          const exchange = exchanges.get(req);
          if (!exchange) return;
          clearTimeout(exchange.timer);
          router.succeeded(exchange.route);
          const appCookies = proxyRes.headers['set-cookie'];
          const cookies = router.responseCookies(exchange.route, appCookies);
          // http-proxy copies headers with res.setHeader, which replaces: append to the upstream's list.
          if (cookies.length > 0) proxyRes.headers['set-cookie'] = [...(appCookies ?? []), ...cookies];
          stripHopByHop(proxyRes.headers);
          if (exchange.clientAskedClose) proxyRes.headers.connection = 'close';
          // An upstream that dies mid-body must not leave the client waiting for the rest.
          proxyRes.once('close', () => proxyRes.complete || res.destroy());
        },
        error: (error, req, target) => {
          const exchange = exchanges.get(req);
          if (target instanceof http.ServerResponse) return void failed(exchange, error, req, target);
          // A WebSocket: http-proxy ends the socket right after this handler, so the answer is written
          // now and there is no retry on another backend (the client reconnects).
          if (exchange && !exchange.upgraded) {
            clearTimeout(exchange.timer);
            const reply = router.reply(classifyUpstreamError(error) === 'timeout' ? 504 : 502);
            if (target.writable) target.write(rawReply(reply));
            void router.failover(exchange.route, { error, responseStarted: true });
          }
          target.destroy();
        },
      },
    });
  const proxies: Record<string, ReturnType<typeof makeProxy>> = {
    'http:': makeProxy(false),
    'https:': makeProxy(true),
  };

  const forward = (req: IncomingMessage, res: ServerResponse, exchange: Exchange, next: NextFunction) => {
    prepareUpstreamHeaders(req.headers, exchange.route.upstreamHeaders, false);
    void proxies[exchange.route.backend!.url.protocol]!(req, res, next);
  };

  const failed = async (
    exchange: Exchange | undefined,
    error: Error,
    req: IncomingMessage,
    res: ServerResponse,
  ) => {
    if (!exchange) return void res.destroy();
    clearTimeout(exchange.timer);
    const responseStarted = res.headersSent;
    const next = await router.failover(exchange.route, { error, bodySent: hasBody(req), responseStarted });
    if (responseStarted || res.destroyed) {
      if (next.retry) router.release(next.retry);
      return void res.destroy();
    }
    if (next.retry) {
      exchange.route = next.retry;
      forward(req, res, exchange, () => send(res, router.reply(502)));
    } else send(res, next.reply);
  };

  const middleware = (req: Request, res: Response, next: NextFunction) => {
    if (prefix !== undefined && !isUnder(req.path, prefix)) return next();
    lastApp = req.app;
    const secure = req.secure;
    router.route(routeRequest(req, req.ip ?? req.socket.remoteAddress ?? '', secure)).then((route) => {
      const exchange: Exchange = { route, clientAskedClose: /\bclose\b/i.test(req.headers.connection ?? '') };
      res.once('close', () => {
        clearTimeout(exchange.timer);
        router.release(exchange.route);
      });
      if (route.backend === null) return send(res, router.reply(503));
      exchanges.set(req, exchange);
      forward(req, res, exchange, next);
    }, next);
  };

  const upgrade = (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    if (prefix !== undefined && !isUnder((req.url ?? '/').split('?')[0]!, prefix)) return;
    socket.on('error', () => socket.destroy());
    const client = clientOfUpgrade(req, lastApp);
    void router.route(routeRequest(req, client.ip, client.secure)).then((route) => {
      const exchange: Exchange = { route, clientAskedClose: false };
      const done = () => {
        clearTimeout(exchange.timer);
        router.release(exchange.route);
      };
      if (socket.destroyed) return done();
      socket.once('close', done);
      if (route.backend === null) return void socket.end(rawReply(router.reply(503)));
      exchanges.set(req, exchange);
      prepareUpstreamHeaders(req.headers, route.upstreamHeaders, true);
      proxies[route.backend.url.protocol]!.upgrade(req, socket as Socket, head);
    });
  };

  return Object.assign(middleware, {
    router,
    upgrade,
    close: async () => {
      await router.close();
      agents.http.destroy();
      agents.https.destroy();
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

/** A body was (or is being) streamed upstream, so the request cannot be replayed elsewhere. */
function hasBody(req: IncomingMessage): boolean {
  const length = req.headers['content-length'];
  return req.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0');
}

function send(res: ServerResponse, reply: Reply): void {
  if (res.headersSent) return void res.destroy();
  res.writeHead(reply.status, reply.headers).end(reply.body);
}

/** An HTTP answer written on a raw socket (a refused or failed WebSocket upgrade). */
function rawReply(reply: Reply): string {
  const headers = {
    ...reply.headers,
    'content-length': String(Buffer.byteLength(reply.body)),
    connection: 'close',
  };
  const lines = Object.entries(headers).map(([name, value]) => `${name}: ${value}\r\n`);
  return `HTTP/1.1 ${reply.status} ${http.STATUS_CODES[reply.status]}\r\n${lines.join('')}\r\n${reply.body}`;
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
