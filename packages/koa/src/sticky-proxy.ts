// Proxies one request (or WebSocket upgrade) along the core's Route with http-proxy-middleware, hooked where
// DESIGN.md's "Traps in the proxy engines" say: keep-alive agents; balancer cookies appended to the
// upstream's Set-Cookie in `on.proxyRes`, before HPM copies headers with `res.setHeader`; our own `on.error`
// (its third argument is a Socket for WebSockets) mapping failures through `router.failover()`.
//
// As in @stickyroute/express, HPM runs with `ejectPlugins` and our handlers as its one plugin: its default
// plugins build a log line per response for a logger that prints nothing and add two listeners per request.
// What they guard against is covered here: every error has our handler, and a client that goes away cuts the
// upstream request (HPM's fix for server-sent events). Timeouts are watched by one interval for all requests
// (the core's UpstreamDeadlines). Nothing is added to the client's request or response or to the upstream's
// response: a property added to node's http objects gives them another V8 map, and node's own code that
// reads them (the `headers` getter, stream and listener bookkeeping) turns megamorphic. The exchange travels
// as in @stickyroute/express: HPM's `router` returns a target object carrying it, which http-proxy hands to
// its events as `options.target`, and the upstream request (a ClientRequest) carries it to the response.

import http, {
  type ClientRequest,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type ServerResponse,
} from 'node:http';
import https from 'node:https';
import type { Socket } from 'node:net';
import {
  acceptUpstreamHeaders,
  carriedBy,
  httpProxyTarget,
  prepareUpstreamHeaders,
  type Reply,
  type Route,
  type RouteRequest,
  rawReply,
  refuseUpgrade,
  type StickyRouter,
  UpstreamDeadlines,
  upstreamTimeoutError,
  writeReply,
} from '@stickyroute/core';
import {
  createProxyMiddleware,
  fixRequestBody,
  type Plugin,
  type RequestHandler,
} from 'http-proxy-middleware';

/** One proxied request or upgrade: its current route (a retry replaces it) and its upstream request. */
interface Exchange {
  route?: Route;
  /** The request to the upstream, once made: whether it reused a keep-alive connection matters on failure. */
  upstream?: ClientRequest;
  /** The upstream answered the WebSocket upgrade (101 or not): the client socket is no longer ours to answer on. */
  upgraded?: boolean;
  clientAskedClose: boolean;
  /** The exact body a body parser already read from the request stream, sent in its place. */
  rawBody?: string | Buffer;
  /** The first bytes after a WebSocket upgrade's headers. */
  head?: Buffer;
  /** The response is over or the client went away. */
  closed: boolean;
  /** Resolves web()'s promise once the response is over. */
  over?: () => void;
}

const kExchange = Symbol('stickyroute.exchange');
type Tracked = (IncomingMessage | ServerResponse | Socket | ClientRequest) & { [kExchange]?: Exchange };
const exchangeOf = (req: IncomingMessage): Exchange | undefined => (req as Tracked)[kExchange];
type UpstreamResponse = IncomingMessage & { req?: ClientRequest };

export class StickyProxy {
  private readonly agents = {
    http: new http.Agent({ keepAlive: true }),
    https: new https.Agent({ keepAlive: true }),
  };
  private readonly proxies: Record<string, RequestHandler>;
  /** The exchange of the proxy call under way: HPM's `router` callback runs inside that call. */
  private pending: Exchange | undefined;
  // No response headers within the timeout: the upstream request is destroyed with a timeout error, which
  // the error handler turns into a 504 (http-proxy's own proxyTimeout would look like a reset: a retry).
  private readonly deadlines: UpstreamDeadlines<Exchange>;
  /** The upstream answered an upgrade (101 or not): an error after this is a dropped connection. */
  private readonly upgradeAnswered: (this: Tracked) => void;

  constructor(private readonly router: StickyRouter) {
    this.proxies = { 'http:': this.makeProxy(false), 'https:': this.makeProxy(true) };
    const deadlines = new UpstreamDeadlines<Exchange>(router.timeoutMs, (exchange) =>
      exchange.upstream?.destroy(upstreamTimeoutError()),
    );
    this.deadlines = deadlines;
    this.upgradeAnswered = function (this: Tracked) {
      const exchange = this[kExchange]!;
      exchange.upgraded = true;
      deadlines.unwatch(exchange);
    };
  }

  /**
   * Proxies an HTTP request; resolves once the response is over or the client has gone. `rawBody` is the
   * body when a body parser has already consumed the stream.
   */
  web(
    req: IncomingMessage,
    res: ServerResponse,
    request: RouteRequest,
    rawBody?: string | Buffer,
  ): Promise<void> {
    const connection = req.headers.connection;
    const exchange: Exchange = {
      clientAskedClose: connection !== undefined && /\bclose\b/i.test(connection),
      rawBody,
      closed: false,
      over: undefined,
    };
    return new Promise<void>((resolve) => {
      exchange.over = resolve; // one 'close' listener does both: release the route, resolve
      this.start(req, exchange, request, res, (reply) => writeReply(res, reply));
    });
  }

  /** Proxies a WebSocket upgrade (cookies are not issued on a 101). */
  upgrade(req: IncomingMessage, socket: Socket, head: Buffer, request: RouteRequest): void {
    socket.on('error', () => socket.destroy());
    this.start(req, { clientAskedClose: false, head, closed: false }, request, socket, (reply) =>
      socket.end(rawReply(reply)),
    );
  }

  /** Closes idle upstream connections (the router is closed by its owner). */
  close(): void {
    this.deadlines.close();
    this.agents.http.destroy();
    this.agents.https.destroy();
  }

  private start(
    req: IncomingMessage,
    exchange: Exchange,
    request: RouteRequest,
    client: ServerResponse | Socket,
    answer: (reply: Reply) => void,
  ): void {
    // A closure, not a shared listener finding the exchange on the client: every property added to node's
    // request, response or socket objects gives them another map, and node's own code reading them slows.
    client.on('close', () => this.clientClosed(client, exchange));
    // In the cookie modes the core answers synchronously: no promise, no microtask turn.
    const route = this.router.routeNow(request);
    if (!(route instanceof Promise)) {
      try {
        this.proceed(req, client, exchange, route, answer);
      } catch {
        answer(this.router.reply(502));
      }
      return;
    }
    route
      .then((route) => this.proceed(req, client, exchange, route, answer))
      .catch(() => answer(this.router.reply(502)));
  }

  private proceed(
    req: IncomingMessage,
    client: ServerResponse | Socket,
    exchange: Exchange,
    route: Route,
    answer: (reply: Reply) => void,
  ): void {
    exchange.route = route;
    if (exchange.closed) this.router.release(route);
    else if (route.backend === null) answer(this.router.reply(503));
    else this.forward(req, client, exchange);
  }

  private forward(req: IncomingMessage, client: ServerResponse | Socket, exchange: Exchange): void {
    const route = exchange.route!;
    const proxy = this.proxies[route.backend!.url.protocol]!;
    // HPM asks its `router` for the target synchronously, inside this call: the target carries the exchange.
    this.pending = exchange;
    try {
      if (client instanceof http.ServerResponse) {
        prepareUpstreamHeaders(req.headers, route.upstreamHeaders);
        void proxy(req, client, () => writeReply(client, this.router.reply(502)));
      } else {
        // http-proxy reports a WebSocket's errors without the target: the upgrade request carries it.
        (req as Tracked)[kExchange] = exchange;
        prepareUpstreamHeaders(req.headers, route.upstreamHeaders, { upgrade: true });
        proxy.upgrade(req, client, exchange.head!);
      }
    } finally {
      this.pending = undefined;
    }
  }

  private async failed(
    exchange: Exchange | undefined,
    req: IncomingMessage,
    res: ServerResponse,
    error: Error,
  ): Promise<void> {
    if (!exchange?.route) return void res.destroy();
    // The client went away and its upstream request was cut: not the upstream's fault, nothing to answer.
    if (exchange.closed) return;
    this.deadlines.unwatch(exchange);
    const responseStarted = res.headersSent;
    const next = await this.router.failover(exchange.route, {
      error,
      bodySent: hasBody(req),
      responseStarted,
      reusedConnection: exchange.upstream?.reusedSocket === true,
    });
    if (responseStarted || exchange.closed) {
      if (next.retry) this.router.release(next.retry);
      return void res.destroy();
    }
    if (next.retry) {
      exchange.route = next.retry;
      this.forward(req, res, exchange);
    } else writeReply(res, next.reply);
  }

  /** The client's response (or upgrade socket) closed: finished, or the client went away. */
  private clientClosed(client: ServerResponse | Socket, exchange: Exchange): void {
    exchange.closed = true;
    this.deadlines.unwatch(exchange);
    // Cut before its end (a stream, server-sent events): the upstream request goes too.
    if (!(client as ServerResponse).writableFinished) exchange.upstream?.destroy();
    if (exchange.route) this.router.release(exchange.route);
    exchange.over?.();
  }

  private sent(exchange: Exchange, proxyReq: ClientRequest): void {
    exchange.upstream = proxyReq;
    this.deadlines.watch(exchange);
  }

  private makeProxy(tls: boolean): RequestHandler {
    const handlers: Plugin<IncomingMessage, ServerResponse> = (proxyServer) => {
      proxyServer.on('proxyReq', (proxyReq, req, _res, options) => {
        const exchange = carriedBy<Exchange>(options.target);
        if (exchange) {
          (proxyReq as Tracked)[kExchange] = exchange;
          this.sent(exchange, proxyReq);
        }
        // A body parser ran before us: send the bytes it read, else re-encode what it parsed (`req.body`).
        if (exchange?.rawBody === undefined || !req.readableEnded) return fixRequestBody(proxyReq, req);
        proxyReq.setHeader('content-length', Buffer.byteLength(exchange.rawBody));
        proxyReq.write(exchange.rawBody);
      });
      proxyServer.on('proxyReqWs', (proxyReq, _req, _socket, options) => {
        const exchange = carriedBy<Exchange>(options.target);
        if (!exchange) return;
        this.sent(exchange, proxyReq);
        // Whether it upgrades or answers plainly (piped to the socket), an error after that is a dropped
        // connection, not a reply to write.
        (proxyReq as Tracked)[kExchange] = exchange;
        proxyReq.once('response', this.upgradeAnswered).once('upgrade', this.upgradeAnswered);
      });
      proxyServer.on('proxyRes', (proxyRes, _req, res) => {
        // The upstream request (a plain ClientRequest) carries the exchange from 'proxyReq'.
        const exchange = ((proxyRes as UpstreamResponse).req as Tracked | undefined)?.[kExchange];
        if (!exchange?.route) return;
        this.deadlines.unwatch(exchange);
        // http-proxy copies them with res.setHeader, which takes a lone Set-Cookie string too.
        proxyRes.headers = acceptUpstreamHeaders(
          this.router,
          exchange.route,
          proxyRes.headers,
          exchange.clientAskedClose,
        ) as IncomingHttpHeaders;
        // An upstream that dies mid-body must not leave the client waiting for the rest.
        proxyRes.on('close', () => {
          if (!proxyRes.complete) res.destroy();
        });
      });
      proxyServer.on('error', (error, req, target, url) => {
        // http-proxy passes the target with HTTP errors; a WebSocket's error comes without it.
        const exchange = carriedBy<Exchange>(url) ?? (req && exchangeOf(req));
        if (target instanceof http.ServerResponse)
          return void this.failed(exchange, req, target, error).catch(() => target.destroy());
        // A WebSocket: http-proxy ends the socket right after this handler, so the answer is written
        // now and there is no retry on another backend (the client reconnects).
        if (exchange?.route && !exchange.upgraded && !exchange.closed) {
          this.deadlines.unwatch(exchange);
          refuseUpgrade(this.router, exchange.route, error, target);
        } else target?.destroy();
      });
    };
    return createProxyMiddleware<IncomingMessage, ServerResponse>({
      // An object, not the origin string, which http-proxy would parse as a URL on every request; it
      // carries the exchange to http-proxy's events, which hand it back as `options.target`.
      router: () =>
        this.pending === undefined
          ? undefined
          : (httpProxyTarget(this.pending.route!.backend!.url, this.pending) as unknown as string),
      // To https upstreams Host is the backend's, so TLS verifies the backend's own name.
      changeOrigin: tls,
      secure: true,
      xfwd: false, // the core's upstreamHeaders carry X-Forwarded-*, from Koa's notion of the client
      agent: tls ? this.agents.https : this.agents.http,
      ejectPlugins: true,
      plugins: [handlers],
    });
  }
}

/** A body was (or is being) streamed upstream, so the request cannot be replayed elsewhere. */
function hasBody(req: IncomingMessage): boolean {
  const length = req.headers['content-length'];
  return req.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0');
}
