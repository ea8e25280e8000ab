// X-Forwarded-* for the upstream. The client IP is the framework's: when it trusted X-Forwarded-For (its
// IP differs from the TCP peer) the chain is kept and the peer appended; otherwise a client's own
// X-Forwarded-For is dropped, so a spoofed header never reaches the app as truth.

import type { RouteRequest } from '../types';

export function forwardedHeaders(req: RouteRequest, rerouted: boolean): Record<string, string> {
  const incoming = req.headers['x-forwarded-for'];
  const trusted = req.remoteAddress !== undefined && req.remoteAddress !== req.ip && incoming !== undefined;
  const headers: Record<string, string> = {
    'x-forwarded-for': trusted
      ? `${Array.isArray(incoming) ? incoming.join(', ') : incoming}, ${req.remoteAddress}`
      : req.ip,
    'x-forwarded-proto': req.secure ? 'https' : 'http',
  };
  // HTTP/2 clients name the host in `:authority`.
  const host = req.headers.host ?? req.headers[':authority'];
  if (typeof host === 'string') headers['x-forwarded-host'] = host;
  if (rerouted) headers['x-sticky-rerouted'] = '1';
  return headers;
}
