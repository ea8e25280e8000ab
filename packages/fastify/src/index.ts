// @stickyroute/fastify: sticky sessions as a Fastify plugin. `await app.register(sticky, options)` proxies
// every route under `prefix` (by default everything the app does not answer itself) to the backend the core
// chooses, with @fastify/http-proxy over @fastify/reply-from (undici), WebSocket upgrades included, and
// decorates the instance with the core router as `fastify.sticky`. Every decision is the core's; this file
// only translates.

import type { ClientRequest, IncomingHttpHeaders } from 'node:http';
import type { Readable } from 'node:stream';
import type { ConnectionOptions } from 'node:tls';
import httpProxy from '@fastify/http-proxy';
import type { FastifyReplyFromHooks } from '@fastify/reply-from';
import {
  appendCookies,
  type ClientHeaders,
  closedAfterEarlierResponses,
  copyDownstreamHeaders,
  copyUpstreamHeaders,
  type Reply,
  type Route,
  StickyConfigError,
  type StickyOptions,
  StickyRouter,
} from '@stickyroute/core';
import type {
  FastifyInstance,
  FastifyReply,
  FastifyRequest,
  RawServerBase,
  RouteGenericInterface,
} from 'fastify';
import fp from 'fastify-plugin';
import { BodyRelay } from './body-relay';

export interface FastifyStickyOptions extends StickyOptions {
  /**
   * Proxy only this path and the paths under it (`/app`); the backend sees the full URL. Fastify's own
   * `register(sticky, { prefix })` is this same option, and a prefix of an enclosing plugin applies too.
   */
  prefix?: string;
  /** TLS options for `https://` backends, such as `ca`. Certificates are verified unless this says otherwise. */
  tls?: ConnectionOptions;
}

declare module 'fastify' {
  interface FastifyInstance {
    /** The core router: pool operations, stats, events, `setStickiness`. */
    sticky: StickyRouter;
  }
}

// reply-from hands over requests and replies typed for any server (http, https, http2).
type AnyRequest = FastifyRequest<RouteGenericInterface, RawServerBase>;
type AnyReply = FastifyReply<RouteGenericInterface, RawServerBase>;

/** One proxied exchange: the route in use (it changes on failover), the client's body, whether the client left. */
interface Exchange {
  route: Route | null;
  over: boolean;
  body?: Readable;
  relay?: BodyRelay;
  /** What reply-from was last called with, for a failover to call it again. */
  dest?: string;
  hooks?: FastifyReplyFromHooks;
}

// The exchange hangs on Fastify's request under a symbol (no WeakMap lookup), declared with decorateRequest
// so that every request is born with the slot (added later, it would give requests a second V8 map that
// Fastify's own code then meets). Not on node's raw response: a property added to node's http objects gives
// them another map, and node's own code that reads them turns megamorphic; its 'close' listener is a closure.
const kExchange = Symbol('stickyroute.exchange');
type Tracked = { [kExchange]?: Exchange | null };
const exchangeOf = (request: AnyRequest | FastifyRequest): Exchange | undefined =>
  (request as Tracked)[kExchange] ?? undefined;

async function stickyPlugin(fastify: FastifyInstance, options: FastifyStickyOptions): Promise<void> {
  const { prefix } = options;
  if (prefix !== undefined && (typeof prefix !== 'string' || !prefix.startsWith('/')))
    throw new StickyConfigError('prefix', `must be a path starting with "/" (got ${JSON.stringify(prefix)})`);
  const router = new StickyRouter(options, { extraOptionKeys: ['prefix', 'tls'] });
  fastify.decorate('sticky', router);
  fastify.addHook('onClose', () => router.close());
  const routeOf = (request: AnyRequest): Route | null => exchangeOf(request)?.route ?? null;
  // reply-from and the WebSocket proxy ask for the upstream synchronously: the route was chosen on onRequest.
  const upstreamOf = (request: AnyRequest): string => routeOf(request)?.backend?.origin ?? '';
  // Only the core says which X-Forwarded-* are true and whether the request was rerouted. Like a cloud
  // balancer, the app sees the Host the client asked for; an https backend gets its own, which TLS verifies.
  const upstreamHeadersOf = (request: AnyRequest): Record<string, string> => {
    const route = routeOf(request);
    const host = route?.backend?.url.protocol === 'http:' ? request.headers.host : undefined;
    return { ...(host === undefined ? {} : { host }), ...route?.upstreamHeaders };
  };
  // 'close' fires once, whether the response finished, the client went away or a WebSocket ended.
  function clientClosed(exchange: Exchange): void {
    exchange.over = true;
    if (exchange.route !== null) router.release(exchange.route);
  }
  const upstreamFailed = (failed: AnyReply, { error }: { error: Error }): void =>
    void failover(failed, error);
  // reply-from verifies nothing by default (`rejectUnauthorized: false`); a balancer must.
  const tls: ConnectionOptions = {
    ...options.tls,
    rejectUnauthorized: options.tls?.rejectUnauthorized ?? true,
  };

  // A callback-style hook: an async one costs a promise per request, and Fastify another to await it. In the
  // cookie modes the core answers synchronously and done() is called before the hook returns.
  function choose(request: FastifyRequest, reply: FastifyReply, done: (error?: Error) => void): void {
    const exchange: Exchange = { route: null, over: false };
    (request as Tracked)[kExchange] = exchange;
    reply.raw.on('close', () => clientClosed(exchange));
    const route = router.routeNow({
      method: request.method,
      url: request.url,
      headers: request.headers,
      ip: request.ip,
      remoteAddress: request.socket.remoteAddress,
      secure: request.protocol === 'https',
    });
    if (!(route instanceof Promise)) chosen(exchange, route, reply, done);
    else
      route
        .then((route) => chosen(exchange, route, reply, done))
        .catch((error: unknown) => {
          // Thrown by a later hook or the handler, run from done(): logged, and answered if nothing was.
          request.log.error(error);
          answer(reply, router.reply(502));
        });
  }
  function chosen(exchange: Exchange, route: Route, reply: FastifyReply, done: () => void): void {
    exchange.route = route;
    if (exchange.over) router.release(route);
    // Answered here, the request goes no further: Fastify's callback hooks stop when done() is not called.
    else if (route.backend === null) answer(reply, router.reply(503));
    else done();
  }

  // `hooks` is @fastify/http-proxy's own copy of replyOptions for this request, its upstream already chosen
  // by upstreamOf: passed on untouched (adding a property to that spread copy is slow in V8).
  function forward(reply: AnyReply, dest: string, hooks: FastifyReplyFromHooks): AnyReply {
    const exchange = exchangeOf(reply.request);
    if (exchange) {
      exchange.dest = dest;
      exchange.hooks = hooks;
      if (exchange.body) reply.request.body = exchange.relay = new BodyRelay(exchange.body);
    }
    return reply.from(dest, hooks);
  }

  // reply-from retries on the same URL only and turns a refused connection into a 500; moving the request to
  // another backend (or answering 502/504) is the core's call.
  async function failover(reply: AnyReply, error: Error) {
    const exchange = exchangeOf(reply.request);
    if (exchange?.route == null) return answer(reply, router.reply(502));
    try {
      const next = await router.failover(exchange.route, {
        error,
        bodySent: exchange.relay?.started,
        responseStarted: reply.sent,
        reusedConnection: closedAfterEarlierResponses(error),
      });
      if (next.retry === undefined) return void answer(reply, next.reply);
      exchange.route = next.retry;
      if (exchange.over) router.release(next.retry);
      // http-proxy's copy asks for the first upstream only: the retry asks the route again.
      else forward(reply, exchange.dest!, { ...exchange.hooks, getUpstream: upstreamOf });
    } catch {
      answer(reply, router.reply(502));
    }
  }

  const replyOptions: FastifyReplyFromHooks = {
    getUpstream: upstreamOf,
    onError: upstreamFailed,
    timeout: router.timeoutMs,
    // No retries of reply-from's own: they reuse the same backend, and it re-sends a GET up to ten times
    // when the app itself answers 503.
    retryDelay: () => null,
    // reply-from hands over its own copy of the client's headers, made by spreading, and adding the X-Forwarded-*
    // to such a copy is slow in V8: a copy built in one pass replaces it.
    rewriteRequestHeaders: (request, headers) => {
      const route = routeOf(request);
      const out = copyUpstreamHeaders(headers, route?.upstreamHeaders ?? NO_HEADERS, DROP_FRAMING);
      // Like a cloud balancer, the app sees the Host the client asked for; an https backend gets its own.
      if (route?.backend?.url.protocol === 'http:' && request.headers.host !== undefined)
        out.host = request.headers.host;
      return out;
    },
    // The response's headers are undici's parse, which reply-from and @fastify/http-proxy then walk twice: a
    // copy built in one pass stays a fast object, where deleting `connection` from the parse would not.
    rewriteHeaders: (headers, request) => {
      const out: ClientHeaders = copyDownstreamHeaders(headers, DROP_FRAMING);
      const route = request === undefined ? null : routeOf(request);
      if (route !== null) {
        router.succeeded(route);
        const appCookies = out['set-cookie'];
        const cookies = router.responseCookies(route, appCookies);
        if (cookies.length > 0) out['set-cookie'] = appendCookies(appCookies, cookies);
      }
      // reply-from copies them with reply.header, which takes a lone Set-Cookie string too.
      return out as IncomingHttpHeaders;
    },
  };

  await fastify.register(
    async function stickyProxy(scope) {
      if (!scope.hasRequestDecorator(kExchange)) scope.decorateRequest(kExchange, null);
      // Bodies stream through untouched and unbounded by bodyLimit, whatever their content type.
      scope.removeAllContentTypeParsers();
      scope.addContentTypeParser('*', (request, payload, done) => {
        const exchange = exchangeOf(request);
        if (exchange) exchange.body = payload;
        done(null, payload);
      });
      scope.addHook('onRequest', choose);
      await scope.register(httpProxy, {
        upstream: '', // a non-empty upstream silently wins over getUpstream
        rewritePrefix: scope.prefix, // the backend sees the full URL, prefixes included
        proxyPayloads: false,
        replyOptions,
        handler: (_request, reply, dest, hooks) => forward(reply, dest, hooks),
        // `connect` is spread after the `tls` defaults reply-from forces to `rejectUnauthorized: false`.
        undici: { connect: tls, connectTimeout: router.timeoutMs },
        destroyAgent: true,
        disableRequestLogging: true,
        websocket: true,
        wsClientOptions: {
          ...tls,
          // Upgrades go to the same backend by the same rules; reply-from's header hooks do not run for them.
          rewriteRequestHeaders: (headers: Record<string, string>, request: AnyRequest) => ({
            ...headers,
            ...(request.headers.cookie === undefined ? {} : { cookie: request.headers.cookie }),
            ...upstreamHeadersOf(request),
          }),
          // http-proxy closes the client's WebSocket with the upstream error's message as the reason, which
          // names the backend's address; ws's own listener would pass it on before any later one could act.
          finishRequest: (upstream: ClientRequest) => {
            upstream.prependListener('error', (error) => {
              error.message = 'Bad Gateway';
            });
            upstream.end();
          },
        } as object, // http-proxy's types leave out the rewriteRequestHeaders it calls
      });
    },
    { prefix: prefix?.replace(/\/+$/, '') },
  );
}

/** Writes one of the core's ready-made answers, dropping any upstream header already copied to the reply. */
function answer(reply: AnyReply, { status, headers, body }: Reply): AnyReply {
  if (reply.sent) return reply;
  for (const name of Object.keys(reply.getHeaders())) reply.removeHeader(name);
  return reply.code(status).headers(headers).send(body);
}

const NO_HEADERS: Record<string, string> = {};
/** undici frames bodies itself: `transfer-encoding` goes too. */
const DROP_FRAMING = { dropFraming: true } as const;

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
