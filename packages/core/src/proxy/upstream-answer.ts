// What every adapter on http-proxy (http-proxy-middleware, for Express and Koa) does alike: name the
// upstream as http-proxy reads it, and handle two moments of the adapter protocol — the upstream's response
// headers arrive, and a WebSocket upgrade fails before the upstream answered it.

import type { IncomingHttpHeaders } from 'node:http';
import type { Duplex } from 'node:stream';
import { classifyUpstreamError } from '../health/upstream-failure';
import type { StickyRouter } from '../router';
import type { Route } from '../types';
import { copyDownstreamHeaders } from './hop-by-hop';
import { rawReply } from './reply-writer';

/** Response headers for the client: as node parsed them, but Set-Cookie may be one string. */
export type ClientHeaders = Omit<IncomingHttpHeaders, 'set-cookie'> & { 'set-cookie'?: string | string[] };

/**
 * The upstream answered: the success is recorded, and the headers for the client are returned as a new
 * object — hop-by-hop headers out, the balancer cookies after the upstream's own Set-Cookie (never replacing
 * the app's) — for an engine that then copies them to the client with `res.setHeader` (which replaces, so
 * appending must be done here). Engines on http-proxy assign it back: `proxyRes.headers = …`. A copy, because
 * deleting `connection` from the parsed headers would turn them into a dictionary, slower for every walk the
 * engine then makes over them. Its Set-Cookie is a lone string when the balancer's cookie is the only one
 * (see appendCookies), which `res.setHeader` takes as well as an array.
 */
export function acceptUpstreamHeaders(
  router: StickyRouter,
  route: Route,
  headers: IncomingHttpHeaders,
  clientAskedClose = false,
): ClientHeaders {
  router.succeeded(route);
  const out: ClientHeaders = copyDownstreamHeaders(headers);
  const appCookies = out['set-cookie'];
  const cookies = router.responseCookies(route, appCookies);
  if (cookies.length > 0) out['set-cookie'] = appendCookies(appCookies, cookies);
  if (clientAskedClose) out.connection = 'close';
  return out;
}

/**
 * The app's Set-Cookie, then the balancer's, in a new array (no `concat`: a slow runtime call in V8); a lone
 * balancer cookie is answered as a string. Node validates a header value given as an array by joining it
 * and testing the joined string on V8's slow RegExp path (about 5,000 instructions a response here).
 */
export function appendCookies(
  app: string | readonly string[] | number | undefined,
  balancer: readonly string[],
): string | string[] {
  if (app === undefined && balancer.length === 1) return balancer[0]!;
  const all = app === undefined ? [] : typeof app === 'object' ? app.slice() : [String(app)];
  for (const cookie of balancer) all.push(cookie);
  return all;
}

const kCarried = Symbol('stickyroute.carried');

/** What http-proxy reads of its `target` option, as `url.parse` gives it for a backend's origin. */
export interface HttpProxyTarget {
  protocol: string;
  host: string;
  hostname: string;
  port: string;
  path: string;
}

/**
 * A backend as http-proxy reads its `target` option: handed an object, http-proxy does not parse a URL
 * string per request (node:http wants an IPv6 host without brackets). `carried` rides along: http-proxy
 * hands the target back to its `proxyReq`, `proxyReqWs` and `error` events, where `carriedBy` finds it.
 */
export function httpProxyTarget(url: URL, carried?: unknown): HttpProxyTarget {
  return {
    protocol: url.protocol,
    host: url.host,
    hostname: url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname,
    port: url.port,
    path: '/',
    [kCarried]: carried,
  } as HttpProxyTarget;
}

/** What `httpProxyTarget` was given to carry, if `target` is one of its targets. */
export function carriedBy<T>(target: unknown): T | undefined {
  return typeof target === 'object' && target !== null
    ? ((target as { [kCarried]?: T })[kCarried] ?? undefined)
    : undefined;
}

/**
 * A WebSocket upgrade failed before the upstream answered: the client's raw socket gets 502 (504 after a
 * timeout) and is closed, and the failure counts against the backend. An upgrade is not retried elsewhere:
 * the engine ends the socket at once, and the client reconnects.
 */
export function refuseUpgrade(router: StickyRouter, route: Route, error: Error, socket: Duplex): void {
  const reply = router.reply(classifyUpstreamError(error) === 'timeout' ? 504 : 502);
  if (socket.writable) socket.write(rawReply(reply));
  void router.failover(route, { error, responseStarted: true });
  socket.destroy();
}
