// The proxying half of the Express adapter: http-proxy-middleware (v3) instances with keep-alive agents,
// wired to the core at the three points the adapter protocol names — upstream response (append the balancer
// cookies), upstream failure (the core's failover: retry elsewhere, 502, 504) and the upstream timeout.

import http, { type ClientRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import https from 'node:https';
import type { Socket } from 'node:net';
import {
  classifyUpstreamError,
  prepareUpstreamHeaders,
  type Route,
  rawReply,
  type StickyRouter,
  stripHopByHop,
  upstreamTimeoutError,
  writeReply,
} from '@stickyroute/core';
import type { Request } from 'express';
import { createProxyMiddleware, fixRequestBody } from 'http-proxy-middleware';

/** One proxied request or upgrade: its current route (a retry replaces it) and the upstream timer. */
export interface Exchange {
  route: Route;
  timer?: NodeJS.Timeout;
  /** The request to the upstream, once made: whether it reused a keep-alive connection matters on failure. */
  upstream?: ClientRequest;
  /** The client went away (or the upgrade socket closed): nothing more is written. */
  closed?: boolean;
  /** The upstream answered the upgrade (101 or not): the client socket carries its answer from then on. */
  answered?: boolean;
  clientAskedClose?: boolean;
}

export interface ProxyEngine {
  web(req: IncomingMessage, res: ServerResponse, exchange: Exchange): void;
  ws(req: IncomingMessage, socket: Socket, head: Buffer, exchange: Exchange): void;
  close(): void;
}

export function createProxyEngine(router: StickyRouter): ProxyEngine {
  const exchanges = new WeakMap<IncomingMessage, Exchange>();
  const agents = { http: new http.Agent({ keepAlive: true }), https: new https.Agent({ keepAlive: true }) };

  // No response headers within the timeout: the request is destroyed with a timeout error, which the error
  // handler turns into a 504 (http-proxy's own proxyTimeout aborts, which reads as a reset: a retry).
  const startTimer = (exchange: Exchange, proxyReq: ClientRequest) => {
    clearTimeout(exchange.timer);
    exchange.upstream = proxyReq;
    exchange.timer = setTimeout(() => proxyReq.destroy(upstreamTimeoutError()), router.timeoutMs);
  };

  const failed = async (exchange: Exchange, error: Error, req: IncomingMessage, res: ServerResponse) => {
    clearTimeout(exchange.timer);
    const responseStarted = res.headersSent;
    const next = await router.failover(exchange.route, {
      error,
      bodySent: hasBody(req),
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
          fixRequestBody(proxyReq, req); // a body parser ran before us: send what it parsed
        },
        proxyReqWs: (proxyReq, req) => {
          const exchange = exchanges.get(req);
          if (!exchange) return;
          startTimer(exchange, proxyReq);
          const answered = () => {
            clearTimeout(exchange.timer);
            exchange.answered = true;
          };
          proxyReq.once('response', answered).once('upgrade', answered);
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
          const exchange = req && exchanges.get(req);
          if (!exchange) return void target?.destroy();
          if (target instanceof http.ServerResponse) return void failed(exchange, error, req, target);
          // A WebSocket: http-proxy ends the socket right after this handler returns, so the answer is
          // written now and the upgrade is not retried elsewhere (the client reconnects).
          if (!exchange.answered) {
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

  const web = (req: IncomingMessage, res: ServerResponse, exchange: Exchange) => {
    exchanges.set(req, exchange);
    prepareUpstreamHeaders(req.headers, exchange.route.upstreamHeaders);
    void proxies[exchange.route.backend!.url.protocol]!(req, res, () => writeReply(res, router.reply(502)));
  };

  return {
    web,
    ws(req, socket, head, exchange) {
      exchanges.set(req, exchange);
      prepareUpstreamHeaders(req.headers, exchange.route.upstreamHeaders, { upgrade: true });
      proxies[exchange.route.backend!.url.protocol]!.upgrade(req, socket, head);
    },
    close() {
      agents.http.destroy();
      agents.https.destroy();
    },
  };
}

/** A body was (or is being) streamed upstream, so the request cannot be replayed elsewhere. */
function hasBody(req: IncomingMessage): boolean {
  const length = req.headers['content-length'];
  return req.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0');
}
