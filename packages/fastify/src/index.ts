// @stickyroute/fastify: sticky sessions as a Fastify plugin. `await app.register(sticky, options)` proxies
// every route under `prefix` (by default everything the app does not answer itself) with
// @fastify/reply-from, WebSocket upgrades included, and decorates the instance with the core router as
// `fastify.sticky`. It only translates: Fastify's notion of the client (`trustProxy`) goes to the core's
// exchange, which decides everything else.

import { ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { ConnectionOptions } from 'node:tls';
import replyFrom, { type FastifyReplyFromHooks } from '@fastify/reply-from';
import { StickyConfigError, type StickyOptions, type StickyRouter } from '@stickyroute/core';
import {
  applyServerLimits,
  closedAfterEarlierResponses,
  type Exchange,
  type ExchangeEngine,
  Gateway,
  isWebSocketUpgrade,
  normalizeServerLimits,
  type Reply,
  type RequestFacts,
  type ServerLimits,
  serveAsPlainRequest,
} from '@stickyroute/core/adapter';
import { UpstreamPools } from '@stickyroute/undici-pools';
import type { FastifyInstance, FastifyReply, FastifyRequest, RawServerBase } from 'fastify';
import fp from 'fastify-plugin';

export interface FastifyStickyOptions extends StickyOptions {
  /**
   * Proxy only this path and the paths under it (`/app`); the backend sees the full URL. Fastify's own
   * `register(sticky, { prefix })` is this same option, and a prefix of an enclosing plugin applies too.
   */
  prefix?: string;
  /** TLS options for `https://` backends, such as `ca`. Certificates are verified unless this says otherwise. */
  tls?: ConnectionOptions;
  /**
   * Limits set on Fastify's server (Fastify's own defaults leave a request's body unbounded in time): headers
   * within 20 s, the whole request within 120 s, idle keep-alive 5 s, idle connections 120 s, at most 10,000
   * connections. `false` leaves the server as Fastify made it.
   */
  serverLimits?: ServerLimits | false;
}

declare module 'fastify' {
  interface FastifyInstance {
    /** The core router: pool operations, stats, events, `setStickiness`. */
    sticky: StickyRouter;
  }
}

type AnyReply = FastifyReply<never, RawServerBase>;
type AnyRequest = FastifyRequest<never, RawServerBase>;
type HttpExchange = Exchange<AnyReply>;

/** The exchange rides on Fastify's request in a slot every request is born with (decorateRequest). */
const kExchange = Symbol('stickyroute.exchange');
/** An upgrade routed through Fastify (so its hooks and `trustProxy` apply) carries its socket here. */
const kUpgrade = Symbol('stickyroute.upgrade');
/** One 'upgrade' listener per server, however many plugins share it. */
const kListening = Symbol('stickyroute.upgradeListener');
type Tracked = { [kExchange]?: HttpExchange | null };
type UpgradeRequest = { [kUpgrade]?: { socket: Duplex; head: Buffer } };
const exchangeOf = (request: object) => (request as Tracked)[kExchange]!;

const METHODS = ['DELETE', 'GET', 'HEAD', 'PATCH', 'POST', 'PUT', 'OPTIONS'];
/** undici frames bodies itself: `transfer-encoding` goes too. */
const DROP_FRAMING = { dropFraming: true } as const;

async function stickyPlugin(fastify: FastifyInstance, options: FastifyStickyOptions): Promise<void> {
  const { prefix } = options;
  if (prefix !== undefined && (typeof prefix !== 'string' || !prefix.startsWith('/')))
    throw new StickyConfigError('prefix', `must be a path starting with "/" (got ${JSON.stringify(prefix)})`);
  // reply-from verifies nothing by default (`rejectUnauthorized: false`); a balancer must.
  const limits = normalizeServerLimits(options.serverLimits, 'serverLimits');
  const gateway = new Gateway(options, { ownOptions: ['prefix', 'tls', 'serverLimits'], tls: options.tls });
  const pools = new UpstreamPools(gateway.router, { tls: gateway.tls });
  fastify.decorate('sticky', gateway.router);
  // Before the server waits for requests in flight: they end now (the upstream connections go), so closing
  // never waits on a slow backend or an open WebSocket.
  fastify.addHook('preClose', async () => {
    await gateway.close();
    await pools.close();
  });

  // reply-from sends through this: the exchange's backend and its exact path (reply-from's own URL would be
  // normalized: dot segments, backslashes), on the backend's keep-alive Pool. Its Set of options comes with
  // reply-from's `timeout` as undici's headersTimeout, for body-less requests the exchange cannot abort.
  const upstream = {
    request(
      request: { method: string; headers: Record<string | symbol, unknown>; body?: unknown },
      done: never,
    ) {
      const exchange = request.headers[kExchange] as HttpExchange;
      pools.request(
        exchange.route!.backend!,
        {
          path: exchange.url,
          method: request.method as 'GET',
          headers: request.headers as Record<string, string>,
          body: request.body as never,
          headersTimeout: gateway.router.options.timeoutMs,
          bodyTimeout: 0,
        },
        done,
      );
    },
    close: () => pools.close(),
    destroy: () => pools.close(),
  };

  const hooks: FastifyReplyFromHooks = {
    getUpstream: (request) => exchangeOf(request).route!.backend!.origin,
    onError: (reply, { error }) => exchangeOf(reply.request).failed(error, reusedOf(error)),
    timeout: gateway.router.options.timeoutMs,
    // No retries of reply-from's own: they reuse the same backend, and it re-sends a GET up to ten times
    // when the app itself answers 503. Moving a request elsewhere is the exchange's call.
    retryDelay: () => null,
    rewriteRequestHeaders: (request, headers) => {
      const exchange = exchangeOf(request);
      const out = exchange.upstreamHeaders(DROP_FRAMING, headers) as Record<string | symbol, unknown>;
      // Like a cloud balancer, the app sees the Host the client asked for; an https backend gets its own.
      const host = request.headers.host ?? request.headers[':authority'];
      if (exchange.route!.backend!.url.protocol === 'http:' && host !== undefined) out.host = host;
      out[kExchange] = exchange;
      return out as never;
    },
    // reply-from copies them with reply.header, which takes a lone Set-Cookie string too.
    rewriteHeaders: (headers, request) =>
      request === undefined ? headers : (exchangeOf(request).responseHeaders(headers, true) as never),
  };
  const engine: ExchangeEngine<AnyReply> = {
    send(exchange) {
      const reply = exchange.client;
      (reply.request as { body?: unknown }).body = exchange.attemptBody() ?? undefined;
      reply.from('/', hooks);
    },
    reply: (exchange, reply) => answer(exchange.client, reply),
    abort(exchange, reason) {
      const body = (exchange.client.request as { body?: unknown }).body as Duplex | undefined;
      if (typeof body?.destroy === 'function') body.destroy(reason);
    },
  };

  function handler(request: AnyRequest, reply: AnyReply): void {
    const raw = request.raw as typeof request.raw & UpgradeRequest;
    const facts: RequestFacts = {
      method: request.method,
      url: raw.url ?? '/',
      headers: request.headers,
      ip: request.ip,
      remoteAddress: request.socket.remoteAddress,
      secure: request.protocol === 'https',
    };
    const upgrade = raw[kUpgrade];
    if (upgrade !== undefined) {
      reply.hijack();
      gateway.upgrade(raw as never, upgrade.socket, upgrade.head, () => facts);
      return;
    }
    // Fastify reads no body it sees no length for (an HTTP/2 request may have one): the raw stream then.
    facts.body = (request.body ?? raw) as RequestFacts['body'];
    const exchange = gateway.exchange(engine, facts, reply);
    (request as Tracked)[kExchange] = exchange;
    reply.raw.on('close', () => exchange.closed(reply.raw.writableEnded));
    exchange.start();
  }

  await fastify.register(
    async function stickyProxy(scope) {
      if (!scope.hasRequestDecorator(kExchange)) scope.decorateRequest(kExchange, null);
      await scope.register(replyFrom, { undici: upstream as never, disableRequestLogging: true });
      // Bodies stream through untouched and unbounded by bodyLimit, whatever their content type.
      scope.removeAllContentTypeParsers();
      scope.addContentTypeParser('*', (_request, payload, done) => done(null, payload));
      for (const url of ['/', '/*']) scope.route({ method: METHODS, url, handler: handler as never });
    },
    { prefix: prefix?.replace(/\/+$/, '') },
  );
  listenForUpgrades(fastify);
  applyServerLimits(fastify.server as never, limits);
}

/**
 * WebSocket upgrades go through Fastify's router like requests (@fastify/websocket does the same), so the
 * app's hooks run and `request.ip` honours `trustProxy`; the route's handler hands them to the core.
 */
function listenForUpgrades(fastify: FastifyInstance): void {
  const server = fastify.server as typeof fastify.server & { [kListening]?: true };
  if (server[kListening]) return;
  server[kListening] = true;
  server.on('upgrade', (req, socket: Duplex, head: Buffer) => {
    if (!isWebSocketUpgrade(req)) return serveAsPlainRequest(req, socket, head);
    (req as UpgradeRequest)[kUpgrade] = { socket, head };
    const res = new ServerResponse(req);
    res.assignSocket(socket as never);
    fastify.routing(req, res);
  });
}

/** Writes one of the core's ready-made answers, dropping any upstream header already copied to the reply. */
function answer(reply: AnyReply, { status, headers, body }: Reply): void {
  if (reply.sent) return void reply.raw.destroy();
  for (const name of Object.keys(reply.getHeaders())) reply.removeHeader(name);
  reply.code(status).headers(headers).send(body);
}

function reusedOf(error: unknown): boolean {
  return closedAfterEarlierResponses(error);
}

/** `await app.register(sticky, options)`; the router is then `app.sticky`. */
export const sticky = fp(stickyPlugin, { fastify: '5.x', name: '@stickyroute/fastify' });
export default sticky;
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
