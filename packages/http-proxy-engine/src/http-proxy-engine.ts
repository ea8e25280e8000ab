// Sends an exchange's attempts with http-proxy-middleware (v3), hooked where DESIGN.md's "Traps in the proxy
// engines" say: keep-alive agents (HPM sends `Connection: close` without one), TLS verified, our own error
// handler (its default turns ECONNREFUSED into a 504), and the response's headers rewritten in 'proxyRes',
// before http-proxy copies them with `res.setHeader` (which replaces, so the balancer's cookies must be
// appended there).
//
// HPM runs with `ejectPlugins` and these handlers as its one plugin: its logger plugin builds a URL and a log
// line per response for a logger that prints nothing, its debug plugin adds two listeners per request. What
// they guard against is covered: every error has our handler, and a client that goes away cuts the upstream
// request (the exchange aborts it).
//
// HPM asks its `router` for the target, and copies its options (where http-proxy finds the body to send, as
// `buffer`), synchronously inside the proxy call: both come from the exchange being sent. The target object
// carries the exchange to http-proxy's events, and the upstream request (a plain ClientRequest) carries it
// on to the response. Nothing is added to the client's request or response: a property added to node's (or
// Express's) http objects gives them another V8 map, and node's own code that reads them turns megamorphic.

import http, { type ClientRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import https from 'node:https';
import { Readable } from 'node:stream';
import type { ConnectionOptions } from 'node:tls';
import { type Exchange, type ExchangeEngine, type Reply, writeReply } from '@stickyroute/core/adapter';
import { createProxyMiddleware, type Options, type Plugin, type RequestHandler } from 'http-proxy-middleware';

type HttpExchange = Exchange<ServerResponse>;

const kExchange = Symbol('stickyroute.exchange');
const kClient = Symbol('stickyroute.client');
const kCarried = Symbol('stickyroute.carried');
type UpstreamRequest = ClientRequest & { [kExchange]?: HttpExchange };
type UpstreamResponse = IncomingMessage & { req?: UpstreamRequest; [kClient]?: ServerResponse };

/** What http-proxy reads of its `target` option, as `url.parse` gives it for a backend's origin. */
interface HttpProxyTarget {
  protocol: string;
  host: string;
  hostname: string;
  port: string;
  path: string;
  [kCarried]: HttpExchange;
}

/** http-proxy copies the client's own headers (`req.headers`) for the upstream: they are shaped there. */
const IN_PLACE = { inPlace: true } as const;

/** An upstream that dies mid-body must not leave the client waiting for the rest. */
function upstreamClosed(this: UpstreamResponse): void {
  if (!this.complete) this[kClient]?.destroy();
}

export class HttpProxyEngine implements ExchangeEngine<ServerResponse> {
  private readonly agents: { http: http.Agent; https: https.Agent };
  /**
   * One HPM instance per backend scheme, with its options: HPM copies them for every request (where
   * http-proxy finds the body to send, `buffer`), so the attempt's body is set on them just for the call. A
   * plain property: a getter there would turn that copy into V8's slow path (3.7 µs against 0.26 µs a copy).
   */
  private readonly proxies: { http: Proxy; https: Proxy };
  /** The exchange of the proxy call under way: HPM asks its `router` for the target inside that call. */
  private pending: HttpExchange | undefined;

  /** `tls`: the gateway's TLS options for https backends (verification on). */
  constructor(tls: ConnectionOptions) {
    this.agents = {
      http: new http.Agent({ keepAlive: true }),
      https: new https.Agent({ keepAlive: true, ...tls }),
    };
    this.proxies = { http: this.makeProxy(false), https: this.makeProxy(true) };
  }

  send(exchange: HttpExchange): void {
    const res = exchange.client;
    const body = exchange.attemptBody();
    exchange.upstreamHeaders(IN_PLACE);
    exchange.attempt = undefined;
    const proxy = exchange.route!.backend!.tlsHost === undefined ? this.proxies.http : this.proxies.https;
    this.pending = exchange;
    if (body !== null) proxy.options.buffer = Buffer.isBuffer(body) ? Readable.from([body]) : body;
    try {
      void proxy.handle(res.req, res, (error?: unknown) =>
        exchange.failed(error ?? new Error('http-proxy-middleware did not proxy')),
      );
    } finally {
      this.pending = undefined;
      proxy.options.buffer = undefined;
    }
  }

  reply(exchange: HttpExchange, reply: Reply): void {
    writeReply(exchange.client, reply);
  }

  abort(exchange: HttpExchange, reason?: Error): void {
    (exchange.attempt as ClientRequest | undefined)?.destroy(reason);
  }

  /** Closes the upstream connections, those in use included. */
  close(): void {
    this.agents.http.destroy();
    this.agents.https.destroy();
  }

  private makeProxy(tls: boolean): Proxy {
    const handlers: Plugin<IncomingMessage, ServerResponse> = (proxyServer) => {
      proxyServer.on('proxyReq', (proxyReq, req, _res, options) => {
        const exchange = carriedBy(options.target);
        if (exchange === undefined) return;
        (proxyReq as UpstreamRequest)[kExchange] = exchange;
        exchange.attempt = proxyReq;
        // The path as the client sent it (http-proxy's urlJoin folds `//admin` into `/admin`); its request
        // line is written only with the first byte, after this event.
        proxyReq.path = exchange.url;
        // The upstream request has its headers: the client's Connection goes back where http-proxy reads it
        // to answer an HTTP/1 client (it defaults a 1.0 client to close, and keeps a 1.1 one alive).
        if (!exchange.http2)
          req.headers.connection = keepsAlive(req, exchange.connection) ? 'keep-alive' : 'close';
      });
      proxyServer.on('proxyRes', (proxyRes, _req, res) => {
        const exchange = (proxyRes as UpstreamResponse).req?.[kExchange];
        if (exchange === undefined) return;
        // http-proxy copies them with res.setHeader, which takes a lone Set-Cookie string too.
        proxyRes.headers = exchange.responseHeaders(proxyRes.headers) as IncomingMessage['headers'];
        // HTTP/2 has no status message (node warns when one is set).
        if (exchange.http2) proxyRes.statusMessage = '';
        (proxyRes as UpstreamResponse)[kClient] = res;
        proxyRes.on('close', upstreamClosed);
      });
      proxyServer.on('error', (error, _req, target, url) => {
        const exchange = carriedBy(url);
        if (exchange === undefined) return void (target as { destroy?: () => void } | undefined)?.destroy?.();
        exchange.failed(error, (exchange.attempt as ClientRequest | undefined)?.reusedSocket === true);
      });
    };
    const options: ProxyOptions = {
      // An object, not the origin string, which http-proxy would parse as a URL on every request.
      router: () => (this.pending === undefined ? undefined : (targetOf(this.pending) as never)),
      // The attempt's body, set for the proxy call only (see `proxies`).
      buffer: undefined,
      secure: true,
      xfwd: false, // the route's upstream headers carry X-Forwarded-*, from the framework's notion of the client
      agent: tls ? this.agents.https : this.agents.http,
      ejectPlugins: true,
      plugins: [handlers],
    };
    return { options, handle: createProxyMiddleware<IncomingMessage, ServerResponse>(options) };
  }
}

type ProxyOptions = Options<IncomingMessage, ServerResponse> & { buffer: Readable | undefined };
interface Proxy {
  options: ProxyOptions;
  handle: RequestHandler;
}

/** The client's connection stays open after the response: HTTP/1.1 unless it said close, 1.0 if it asked. */
function keepsAlive(req: IncomingMessage, connection: string | undefined): boolean {
  if (req.httpVersionMajor === 1 && req.httpVersionMinor === 0)
    return connection !== undefined && /\bkeep-alive\b/i.test(connection);
  return connection === undefined || !/\bclose\b/i.test(connection);
}

/** The exchange's backend as http-proxy reads its target (node:http wants an IPv6 host without brackets). */
function targetOf(exchange: HttpExchange): HttpProxyTarget {
  const url = exchange.route!.backend!.url;
  return {
    protocol: url.protocol,
    host: url.host,
    hostname: url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname,
    port: url.port,
    path: '/',
    [kCarried]: exchange,
  };
}

/** The exchange a target carries, if `target` is one of ours. */
function carriedBy(target: unknown): HttpExchange | undefined {
  return typeof target === 'object' && target !== null
    ? (target as Partial<HttpProxyTarget>)[kCarried]
    : undefined;
}
