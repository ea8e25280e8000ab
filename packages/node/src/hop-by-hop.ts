// Which headers stop at the gateway (RFC 9110 §7.6.1): the connection-specific ones, and any header the
// Connection header names. They are dropped from the request to the upstream and from its response.
// X-Forwarded-* and x-sticky-rerouted are the core's to set: a client's claims under those names are dropped.

/**
 * Hop-by-hop headers, plus `expect` (node:http answers `100-continue` itself; undici refuses to forward it).
 * `upgrade` and `connection` are kept only on the WebSocket path, which forwards the upgrade on purpose.
 */
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'expect',
]);

/** Set by the core only (route.upstreamHeaders): whatever the client sent under these names is dropped. */
const GATEWAY_OWNED = new Set([
  'x-forwarded-for',
  'x-forwarded-proto',
  'x-forwarded-host',
  'x-sticky-rerouted',
]);
/** Framing and routing headers a Connection header may not make us drop. */
const PROTECTED = new Set(['host', 'content-length']);

/** Connection header values browsers and proxies send, which nominate nothing. */
const USUAL_CONNECTION = new Set(['keep-alive', 'Keep-Alive', 'close', 'Close', 'Upgrade', 'upgrade']);

export function isHopByHop(name: string): boolean {
  return HOP_BY_HOP.has(name);
}

/** A request header only the gateway may set (the upgrade path shapes its own headers with it). */
export function isGatewayOwned(name: string): boolean {
  return GATEWAY_OWNED.has(name);
}

/**
 * Header names a Connection header nominates as hop-by-hop (`Connection: keep-alive, X-Trace` → `x-trace`),
 * or null when it names none beyond the usual `keep-alive`, `close` and `upgrade` (the common case, no work).
 */
export function nominatedByConnection(connection: string | string[] | undefined): string[] | null {
  if (connection === undefined) return null;
  const text = typeof connection === 'string' ? connection : connection.join(',');
  if (USUAL_CONNECTION.has(text)) return null;
  const nominated: string[] = [];
  for (const token of text.split(',')) {
    const name = token.trim().toLowerCase();
    if (
      name !== '' &&
      name !== 'keep-alive' &&
      name !== 'close' &&
      name !== 'upgrade' &&
      !PROTECTED.has(name)
    )
      nominated.push(name);
  }
  return nominated.length === 0 ? null : nominated;
}

/**
 * The request headers for the upstream: the client's, less hop-by-hop and gateway-owned ones, plus the
 * router's X-Forwarded-* (and x-sticky-rerouted after a reroute).
 */
export function upstreamRequestHeaders(
  incoming: Record<string, string | string[] | undefined>,
  routerHeaders: Record<string, string>,
): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const name in incoming) {
    if (HOP_BY_HOP.has(name) || GATEWAY_OWNED.has(name)) continue;
    const value = incoming[name];
    if (value !== undefined) out[name] = value;
  }
  const nominated = nominatedByConnection(incoming.connection);
  if (nominated !== null) for (const name of nominated) delete out[name];
  for (const name in routerHeaders) out[name] = routerHeaders[name]!;
  return out;
}
