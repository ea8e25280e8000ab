// The headers a proxy must rewrite on the way through. Hop-by-hop headers (RFC 9110 §7.6.1) belong to one
// connection, and http-proxy passes them on untouched when it has a keep-alive agent, so they are removed
// here in both directions. X-Forwarded-* and x-sticky-rerouted are the core's to set: whatever a client sent
// under those names is dropped first, so the app never mistakes a client's claim for the gateway's.

import type { IncomingHttpHeaders } from 'node:http';

const HOP_BY_HOP = ['connection', 'keep-alive', 'proxy-connection', 'te', 'trailer', 'upgrade'];
/** Framing and routing headers a Connection header may not make us drop. */
const PROTECTED = new Set(['host', 'content-length', 'transfer-encoding']);
const GATEWAY_OWNED = ['x-forwarded-for', 'x-forwarded-proto', 'x-forwarded-host', 'x-sticky-rerouted'];

/** Removes hop-by-hop headers, and those the Connection header names. A WebSocket upgrade keeps its own two. */
export function stripHopByHop(headers: IncomingHttpHeaders, upgrade = false): void {
  const { connection, upgrade: protocol } = headers;
  const named = typeof connection === 'string' ? connection.split(',') : [];
  for (const token of named) {
    const name = token.trim().toLowerCase();
    if (name !== '' && !PROTECTED.has(name)) delete headers[name];
  }
  for (const name of HOP_BY_HOP) delete headers[name];
  if (upgrade && protocol !== undefined) {
    headers.connection = 'Upgrade';
    headers.upgrade = protocol;
  }
}

/** Shapes an incoming request's headers for the upstream: hop-by-hop out, the core's headers in. */
export function prepareUpstreamHeaders(
  headers: IncomingHttpHeaders,
  upstreamHeaders: Record<string, string>,
  upgrade: boolean,
): void {
  stripHopByHop(headers, upgrade);
  // The gateway already answered `Expect: 100-continue`; forwarding it would also stop http-proxy
  // from emitting `proxyReq`, where the upstream timeout starts.
  delete headers.expect;
  for (const name of GATEWAY_OWNED) delete headers[name];
  Object.assign(headers, upstreamHeaders);
}
