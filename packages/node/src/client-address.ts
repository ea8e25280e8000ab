// Who the client is and whether it came over HTTPS, as a plain node:http gateway can tell: the TCP peer and
// the socket's TLS, or, behind proxies the user trusts (`trustProxy`), what they say in X-Forwarded-For and
// X-Forwarded-Proto. `trustProxy` means exactly what Express's `trust proxy` setting means (true, a hop
// count, 'loopback'/'linklocal'/'uniquelocal', addresses and subnets, a list, or a function), compiled by the
// same library Express uses, proxy-addr, so a gateway moved from Express keeps its client IPs.

import type { IncomingMessage } from 'node:http';
import type { TLSSocket } from 'node:tls';
import { StickyConfigError } from '@stickyroute/core';
import proxyAddr from 'proxy-addr';

/**
 * Which proxies in front of the gateway are trusted to say who the client is, as Express's `trust proxy`:
 * - `false` (the default): none; the client is the TCP peer, and X-Forwarded-* from clients are ignored;
 * - `true`: every hop; the client is the left-most X-Forwarded-For entry;
 * - a number `n`: the `n` hops nearest the gateway (`1`: the load balancer in front);
 * - `'loopback'`, `'linklocal'`, `'uniquelocal'`, an address or a subnet (`'10.0.0.0/8'`, `'fd00::/8'`), a
 *   comma-separated string or a list of these;
 * - a function `(address, hop) => boolean`, hop 0 being the TCP peer.
 */
export type TrustProxy =
  | boolean
  | number
  | string
  | readonly string[]
  | ((address: string, hop: number) => boolean);

/** A compiled `trustProxy`: is the proxy at `address`, `hop` hops from the gateway, trusted? */
export type ProxyTrust = (address: string, hop: number) => boolean;

// The two common cases are recognized by identity, so that neither parses X-Forwarded-For into a list.
const TRUST_NONE: ProxyTrust = () => false;
const TRUST_ALL: ProxyTrust = () => true;

/** Compiles `trustProxy` as Express compiles `trust proxy`; a bad value is a StickyConfigError naming `option`. */
export function compileTrustProxy(value: unknown, option = 'trustProxy'): ProxyTrust {
  if (value === undefined || value === false) return TRUST_NONE;
  if (value === true) return TRUST_ALL;
  if (typeof value === 'function') return value as ProxyTrust;
  if (typeof value === 'number') {
    if (!Number.isInteger(value) || value < 0)
      throw new StickyConfigError(option, `must be a whole number of hops ≥ 0 (got ${value})`);
    return value === 0 ? TRUST_NONE : (_address, hop) => hop < value;
  }
  const list =
    typeof value === 'string'
      ? value.split(',').map((part) => part.trim())
      : Array.isArray(value) && value.every((part) => typeof part === 'string')
        ? value.map((part: string) => part.trim())
        : undefined;
  if (list === undefined || list.some((part) => part === ''))
    throw new StickyConfigError(
      option,
      `must be true, false, a hop count, 'loopback', 'linklocal', 'uniquelocal', addresses or subnets (a comma-separated string or a list), or a function (got ${describe(value)})`,
    );
  try {
    return proxyAddr.compile(list);
  } catch (error) {
    // proxy-addr names the bad part: "invalid IP address: yes".
    throw new StickyConfigError(option, `${(error as Error).message} (got ${describe(value)})`);
  }
}

function describe(value: unknown): string {
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}

/** The first comma-separated element of a header, trimmed; undefined when absent or empty. */
function firstHop(value: string | string[] | undefined): string | undefined {
  if (value === undefined) return undefined;
  const text = typeof value === 'string' ? value : value[0];
  if (text === undefined) return undefined;
  const comma = text.indexOf(',');
  const hop = (comma === -1 ? text : text.slice(0, comma)).trim();
  return hop === '' ? undefined : hop;
}

/**
 * The client IP, as Express's `req.ip`: walking X-Forwarded-For from the gateway outwards, the first address
 * whose sender is not trusted (the TCP peer when the peer itself is not).
 */
export function clientIp(req: IncomingMessage, trust: ProxyTrust): string {
  const peer = req.socket.remoteAddress ?? '';
  if (trust === TRUST_NONE) return peer;
  if (trust === TRUST_ALL) return firstHop(req.headers['x-forwarded-for']) ?? peer;
  return proxyAddr(req, trust) ?? peer;
}

/**
 * The request reached the gateway over HTTPS, as Express's `req.protocol`: a TLS socket, or, when the TCP
 * peer is trusted, the first value of its X-Forwarded-Proto.
 */
export function isSecure(req: IncomingMessage, trust: ProxyTrust): boolean {
  if (trust !== TRUST_NONE && trust(req.socket.remoteAddress ?? '', 0)) {
    const proto = firstHop(req.headers['x-forwarded-proto']);
    if (proto !== undefined) return proto.toLowerCase() === 'https';
  }
  return (req.socket as Partial<TLSSocket>).encrypted === true;
}
