// The proxying half of the Express adapter: http-proxy-middleware (v3) instances with keep-alive agents,
// wired to the core at the three points the adapter protocol names — upstream response (append the balancer
// cookies), upstream failure (the core's failover: retry elsewhere, 502, 504) and the upstream timeout.
//
// It runs HPM with `ejectPlugins` and registers its own handlers as HPM's one plugin. HPM's default plugins
// cost every request work we do not want: the logger plugin builds a URL and a log line per response for a
// logger that prints nothing, the debug plugin adds two listeners per request. What they guard against is
// covered here: every error has our handler, and a client that goes away destroys the upstream request
// (HPM's fix for server-sent events, which outlive a response that was never ended).
//
// Express requests and responses get a map of their own in V8 (Express swaps their prototype and then adds
// properties), so every property added to them copies that map, and every property read misses V8's caches
// and takes the slow path. The engine therefore adds nothing to them and reads them as little as it can: the
// exchange travels with the upstream target instead. HPM asks its `router` for the target synchronously,
// inside the call that proxies the request, and the target is the `options.target` http-proxy hands to its
// `proxyReq` and `error` events; the upstream request (a plain ClientRequest) carries it from there to the
// response. The client's 'close' listener is a small closure per request, cheaper than a property on `res`.
// A WebSocket upgrade never passes through Express, and http-proxy reports its errors without the target:
// its request (a plain IncomingMessage) carries the exchange.

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
  type Route,
  refuseUpgrade,
  type StickyRouter,
  UpstreamDeadlines,
  upstreamTimeoutError,
  writeReply,
} from '@stickyroute/core';
import { createProxyMiddleware, fixRequestBody, type Plugin } from 'http-proxy-middleware';

/** One proxied request or upgrade: its current route (a retry replaces it) and its upstream request. */
export interface Exchange {
  route: Route;
  /** The client's request headers, read once (shaped in place for the upstream). */
  headers: IncomingMessage['headers'];
  /** The request to the upstream, once made: whether it reused a keep-alive connection matters on failure. */
  upstream?: ClientRequest;
  /** The client went away (or the upgrade socket closed): nothing more is written. */
  closed?: boolean;
  /** The upstream answered the upgrade (101 or not): the client socket carries its answer from then on. */
  answered?: boolean;
  clientAskedClose?: boolean;
}

export interface ProxyEngine {
  /** Watches the client's side of the exchange: when it closes, the route is released (once). */
  track(client: ServerResponse | Socket, exchange: Exchange): void;
  web(req: IncomingMessage, res: ServerResponse, exchange: Exchange): void;
  ws(req: IncomingMessage, socket: Socket, head: Buffer, exchange: Exchange): void;
  close(): void;
}

const kExchange = Symbol('stickyroute.exchange');
/** On an upstream response: the client's response it is piped to. */
const kClient = Symbol('stickyroute.client');
type UpstreamRequest = ClientRequest & { [kExchange]?: Exchange };
/** An upgrade request: it bypasses Express (a plain IncomingMessage), so it can carry the exchange cheaply. */
type UpgradeRequest = IncomingMessage & { [kExchange]?: Exchange };
type UpstreamResponse = IncomingMessage & { req?: UpstreamRequest; [kClient]?: ServerResponse };

/** An upstream that dies mid-body must not leave the client waiting for the rest. */
function upstreamClosed(this: UpstreamResponse): void {
  if (!this.complete) this[kClient]?.destroy();
}

export function createProxyEngine(router: StickyRouter): ProxyEngine {
  const agents = { http: new http.Agent({ keepAlive: true }), https: new https.Agent({ keepAlive: true }) };
  // No response headers within the timeout: the upstream request is destroyed with a timeout error, which
  // the error handler turns into a 504 (http-proxy's own proxyTimeout aborts, which reads as a reset: a retry).
  const deadlines = new UpstreamDeadlines<Exchange>(router.timeoutMs, (exchange) =>
    exchange.upstream?.destroy(upstreamTimeoutError()),
  );
  const sent = (exchange: Exchange, proxyReq: ClientRequest) => {
    exchange.upstream = proxyReq;
    deadlines.watch(exchange);
  };

  // The response is over, finished or cut. A response cut before its end also cuts the upstream request (a
  // stream, server-sent events).
  const clientClosed = (client: ServerResponse | Socket, exchange: Exchange): void => {
    exchange.closed = true;
    deadlines.unwatch(exchange);
    if (!(client as ServerResponse).writableFinished) exchange.upstream?.destroy();
    if (exchange.route) router.release(exchange.route);
  };
  /** The upstream answered an upgrade (101 or not): an error after this is a dropped connection. */
  function upgradeAnswered(this: UpstreamRequest): void {
    const exchange = this[kExchange]!;
    exchange.answered = true;
    deadlines.unwatch(exchange);
  }

  const failed = async (exchange: Exchange, error: Error, req: IncomingMessage, res: ServerResponse) => {
    deadlines.unwatch(exchange);
    const responseStarted = res.headersSent;
    const next = await router.failover(exchange.route, {
      error,
      bodySent: hasBody(exchange.headers),
      responseStarted,
      reusedConnection: exchange.upstream?.reusedSocket === true,
    });
    if (responseStarted || exchange.closed) {
      if (next.retry) router.release(next.retry);
      return void res.destroy();
    }
    if (next.retry) {
      exchange.route = next.retry;
      web(req, res, exchange);
    } else writeReply(res, next.reply);
  };

  const handlers: Plugin<IncomingMessage, ServerResponse> = (proxyServer) => {
    proxyServer.on('proxyReq', (proxyReq, req, _res, options) => {
      const exchange = carriedBy<Exchange>(options.target);
      if (!exchange) return;
      (proxyReq as UpstreamRequest)[kExchange] = exchange;
      sent(exchange, proxyReq);
      // A body parser ran before us: send what it parsed.
      if (hasBody(exchange.headers)) fixRequestBody(proxyReq, req);
    });
    proxyServer.on('proxyReqWs', (proxyReq, _req, _socket, options) => {
      const exchange = carriedBy<Exchange>(options.target);
      if (!exchange) return;
      sent(exchange, proxyReq);
      (proxyReq as UpstreamRequest)[kExchange] = exchange;
      proxyReq.once('response', upgradeAnswered).once('upgrade', upgradeAnswered);
    });
    proxyServer.on('proxyRes', (proxyRes, _req, res) => {
      const exchange = (proxyRes as UpstreamResponse).req?.[kExchange];
      if (!exchange) return;
      deadlines.unwatch(exchange);
      // http-proxy copies them with res.setHeader, which takes a lone Set-Cookie string too.
      proxyRes.headers = acceptUpstreamHeaders(
        router,
        exchange.route,
        proxyRes.headers,
        exchange.clientAskedClose,
      ) as IncomingHttpHeaders;
      (proxyRes as UpstreamResponse)[kClient] = res;
      proxyRes.on('close', upstreamClosed);
    });
    proxyServer.on('error', (error, req, target, url) => {
      // http-proxy passes the target with HTTP errors; a WebSocket's error comes without it.
      const exchange = carriedBy<Exchange>(url) ?? (req as UpgradeRequest | undefined)?.[kExchange];
      if (!exchange) return void target?.destroy();
      // The client went away and its upstream request was cut: not the upstream's fault, nothing to answer.
      if (exchange.closed) return;
      if (target instanceof http.ServerResponse) return void failed(exchange, error, req, target);
      // A WebSocket: http-proxy ends the socket right after this handler returns, so the answer is
      // written now and the upgrade is not retried elsewhere (the client reconnects).
      deadlines.unwatch(exchange);
      if (exchange.answered) target.destroy();
      else refuseUpgrade(router, exchange.route, error, target);
    });
  };

  const makeProxy = (tls: boolean) =>
    createProxyMiddleware<IncomingMessage, ServerResponse>({
      // Called synchronously by the proxy call in web() and ws(), for the exchange they set as `pending`.
      router: () =>
        pending === undefined
          ? undefined
          : (httpProxyTarget(pending.route.backend!.url, pending) as unknown as string),
      // To https upstreams Host is the backend's, so TLS verifies the backend's own name.
      changeOrigin: tls,
      secure: true,
      xfwd: false,
      agent: tls ? agents.https : agents.http,
      ejectPlugins: true,
      plugins: [handlers],
    });
  const proxies: Record<string, ReturnType<typeof makeProxy>> = {
    'http:': makeProxy(false),
    'https:': makeProxy(true),
  };

  /** The exchange the proxy call under way is for: its `router` callback runs inside that call. */
  let pending: Exchange | undefined;

  const web = (req: IncomingMessage, res: ServerResponse, exchange: Exchange) => {
    prepareUpstreamHeaders(exchange.headers, exchange.route.upstreamHeaders);
    pending = exchange;
    try {
      void proxies[exchange.route.backend!.url.protocol]!(req, res, () => writeReply(res, router.reply(502)));
    } finally {
      pending = undefined;
    }
  };

  return {
    track(client, exchange) {
      client.on('close', () => clientClosed(client, exchange));
    },
    web,
    ws(req, socket, head, exchange) {
      (req as UpgradeRequest)[kExchange] = exchange;
      prepareUpstreamHeaders(exchange.headers, exchange.route.upstreamHeaders, { upgrade: true });
      pending = exchange;
      try {
        void proxies[exchange.route.backend!.url.protocol]!.upgrade(req, socket, head);
      } finally {
        pending = undefined;
      }
    },
    close() {
      deadlines.close();
      agents.http.destroy();
      agents.https.destroy();
    },
  };
}

/** A body was (or is being) streamed upstream, so the request cannot be replayed elsewhere. */
function hasBody(headers: IncomingMessage['headers']): boolean {
  const length = headers['content-length'];
  return headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0');
}
