// Who may read the status page and who may change the pool through it. The page can drain and remove every
// backend, so besides its token it refuses what a hostile web page could send through a victim's browser:
// a Host that is not this gateway (DNS rebinding: evil.example re-resolved to 127.0.0.1 reads and drives a
// page on the operator's machine) and a change whose Origin is another site (cross-site request forgery).
// It also says, once, when it runs without a token where other machines can reach it.

import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { isIP } from 'node:net';
import { StickyConfigError } from '@stickyroute/core';

/** An answer with a status code and a message that is safe to show. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

export interface GuardOptions {
  token?: string;
  /**
   * Host names (besides loopback names and the address the request arrived on, always allowed) under which
   * the page may be reached: `'status.example.com'`, or `'.example.com'` for every name under it; `'any'` turns
   * the Host check off (behind a proxy that already checks it).
   */
  allowedHosts?: readonly string[] | 'any';
  logger: { warn(message: string): void };
}

const LOOPBACK_NAMES = new Set(['localhost', 'localhost.', '127.0.0.1', '::1']);

/** An IPv4-mapped IPv6 address (`::ffff:10.0.0.1`) as its IPv4 form, so both spellings compare equal. */
function unmapped(address: string): string {
  return address.toLowerCase().startsWith('::ffff:') && isIP(address.slice(7)) === 4
    ? address.slice(7)
    : address.toLowerCase();
}

export function isLoopback(address: string | undefined): boolean {
  if (address === undefined) return false;
  const bare = unmapped(address);
  return bare === '::1' || (isIP(bare) === 4 && bare.startsWith('127.'));
}

/** A Host header as URL.host spells it (lower case, default port dropped), to compare with an Origin's host. */
function normalizedHost(host: string): string | null {
  try {
    return new URL(`http://${host}`).host;
  } catch {
    return null;
  }
}

function digest(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}

// A Host header as RFC 9110 allows it: a name or an IPv4 literal, or an IPv6 literal in brackets; a port.
const HOST = /^(?:\[([0-9a-f:.]+)\]|([a-z0-9_.-]+))(?::\d{1,5})?$/i;

/** The host name of a Host header value (`example.com:3000`, `[::1]:3000`): lower case, no brackets or port. */
function hostnameOf(host: string): string | null {
  const match = HOST.exec(host);
  return match === null ? null : (match[1] ?? match[2]!).toLowerCase();
}

export class RequestGuard {
  private readonly expectedToken: Buffer | null;
  private readonly hosts: readonly string[] | 'any';
  private readonly logger: { warn(message: string): void };
  private warned = false;

  constructor(options: GuardOptions) {
    if (options.token !== undefined && (typeof options.token !== 'string' || options.token.length < 16))
      throw new StickyConfigError('token', 'must be a string of at least 16 characters');
    this.expectedToken = options.token === undefined ? null : digest(options.token);
    const hosts = options.allowedHosts ?? [];
    if (
      hosts !== 'any' &&
      !(Array.isArray(hosts) && hosts.every((h) => typeof h === 'string' && /^[.]?[a-z0-9.:[\]-]+$/i.test(h)))
    )
      throw new StickyConfigError(
        'allowedHosts',
        `must be 'any' or a list of host names such as 'status.example.com' or '.example.com' (got ${JSON.stringify(hosts)})`,
      );
    this.hosts = hosts === 'any' ? 'any' : hosts.map((h) => h.toLowerCase().replace(/^\[(.*)\]$/, '$1'));
    this.logger = options.logger;
  }

  /** Throws an HttpError unless the request may be answered; `change` for requests that change something. */
  check(req: IncomingMessage, url: URL, change: boolean): void {
    this.warnOnceIfExposed(req);
    const host = req.headers.host ?? (req.headers[':authority'] as string | undefined);
    if (host !== undefined && !this.hostAllowed(host, req))
      throw new HttpError(
        403,
        `the status page does not answer to Host ${JSON.stringify(host)} (allowedHosts lists the names it may be reached under)`,
      );
    if (this.expectedToken !== null && !this.tokenGiven(req, url))
      throw new HttpError(401, 'a token is required (Authorization: Bearer …, or ?token=…)', {
        'www-authenticate': 'Bearer realm="stickyroute status"',
      });
    if (change) this.checkSameOrigin(req, host);
  }

  private hostAllowed(host: string, req: IncomingMessage): boolean {
    if (this.hosts === 'any') return true;
    const name = hostnameOf(host);
    if (name === null) return false;
    if (LOOPBACK_NAMES.has(name) || name.endsWith('.localhost') || isLoopback(name)) return true;
    // The address the request arrived on: an operator who browses to http://10.0.0.5:3000 names the server
    // itself. An IP literal cannot be a rebinding attack, which needs a name the attacker controls.
    const local = req.socket.localAddress;
    if (local !== undefined && isIP(name) !== 0 && unmapped(name) === unmapped(local)) return true;
    return this.hosts.some((allowed) =>
      allowed.startsWith('.') ? name.endsWith(allowed) : name === allowed,
    );
  }

  /** A browser's change must come from this page: same Origin as Host; Fetch Metadata, when sent, agrees. */
  private checkSameOrigin(req: IncomingMessage, host: string | undefined): void {
    const site = req.headers['sec-fetch-site'];
    if (site !== undefined && site !== 'same-origin' && site !== 'none')
      throw new HttpError(403, `changes are accepted from this page only (Sec-Fetch-Site: ${site})`);
    const origin = req.headers.origin;
    if (origin === undefined) return; // not a browser (curl, scripts): the token is what guards them
    let originHost: string | null = null;
    try {
      originHost = origin === 'null' ? null : new URL(origin).host;
    } catch {
      originHost = null;
    }
    if (originHost === null || host === undefined || originHost !== normalizedHost(host))
      throw new HttpError(403, `changes are accepted from this page only (Origin ${JSON.stringify(origin)})`);
  }

  private tokenGiven(req: IncomingMessage, url: URL): boolean {
    const header = String(req.headers.authorization ?? '');
    const given = header.startsWith('Bearer ') ? header.slice(7) : url.searchParams.get('token');
    return given !== null && given !== '' && timingSafeEqual(digest(given), this.expectedToken!);
  }

  /**
   * No token, and other machines can reach the page (the server listens beyond loopback, or this request
   * came in on another address): anyone there can drain the pool. Known only once a request arrives.
   */
  private warnOnceIfExposed(req: IncomingMessage): void {
    if (this.warned || this.expectedToken !== null) return;
    this.warned = true;
    const server = (req.socket as { server?: { address(): AddressInfo | string | null } }).server;
    const listening = server?.address();
    const listeningOn = typeof listening === 'object' && listening !== null ? listening.address : undefined;
    const exposed =
      (listeningOn !== undefined && !isLoopback(listeningOn)) || !isLoopback(req.socket.localAddress);
    if (exposed)
      this.logger.warn(
        `stickyroute status: no \`token\` is set and the status page is reachable on ${listeningOn ?? req.socket.localAddress}, beyond loopback: anyone who can reach it can drain, remove and add backends. Set \`token\`, or serve the page on a loopback listener of its own.`,
      );
  }
}
