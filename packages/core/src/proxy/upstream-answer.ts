// The two moments of the adapter protocol that every adapter on http-proxy (http-proxy-middleware, for
// Express and Koa) handles alike: the upstream's response headers arrive, and a WebSocket upgrade fails
// before the upstream answered it.

import type { IncomingHttpHeaders } from 'node:http';
import type { Duplex } from 'node:stream';
import { classifyUpstreamError } from '../health/upstream-failure';
import type { StickyRouter } from '../router';
import type { Route } from '../types';
import { stripHopByHop } from './hop-by-hop';
import { rawReply } from './reply-writer';

/**
 * The upstream answered: the success is recorded, the balancer cookies are appended to the upstream's own
 * Set-Cookie (never replacing the app's) and hop-by-hop headers go, in place, for an engine that copies
 * these headers to the client afterwards with `res.setHeader` (which replaces, so appending must be done here).
 */
export function acceptUpstreamHeaders(
  router: StickyRouter,
  route: Route,
  headers: IncomingHttpHeaders,
  clientAskedClose = false,
): void {
  router.succeeded(route);
  const appCookies = headers['set-cookie'];
  const cookies = router.responseCookies(route, appCookies);
  if (cookies.length > 0) headers['set-cookie'] = appCookies ? appCookies.concat(cookies) : cookies.slice();
  stripHopByHop(headers);
  if (clientAskedClose) headers.connection = 'close';
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
