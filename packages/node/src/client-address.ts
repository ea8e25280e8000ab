// Who the client is and whether it came over HTTPS, as a plain node:http gateway can tell: the TCP peer and
// the socket's TLS, or (only with `trustProxy: true`, behind a proxy the user trusts) the first hop of
// X-Forwarded-For and X-Forwarded-Proto, as Express's `trust proxy = true` reads them.

import type { IncomingMessage } from 'node:http';
import type { TLSSocket } from 'node:tls';

/** The first comma-separated element of a header, trimmed; undefined when absent or empty. */
function firstHop(value: string | string[] | undefined): string | undefined {
  if (value === undefined) return undefined;
  const text = typeof value === 'string' ? value : value[0];
  if (text === undefined) return undefined;
  const comma = text.indexOf(',');
  const hop = (comma === -1 ? text : text.slice(0, comma)).trim();
  return hop === '' ? undefined : hop;
}

/** The client IP: the peer's address, or the first X-Forwarded-For hop when the proxy in front is trusted. */
export function clientIp(req: IncomingMessage, trustProxy: boolean): string {
  const peer = req.socket.remoteAddress ?? '';
  if (!trustProxy) return peer;
  return firstHop(req.headers['x-forwarded-for']) ?? peer;
}

/** The request reached the gateway over HTTPS: a TLS socket, or a trusted `X-Forwarded-Proto: https`. */
export function isSecure(req: IncomingMessage, trustProxy: boolean): boolean {
  if (trustProxy) {
    const proto = firstHop(req.headers['x-forwarded-proto']);
    if (proto !== undefined) return proto.toLowerCase() === 'https';
  }
  return (req.socket as Partial<TLSSocket>).encrypted === true;
}
