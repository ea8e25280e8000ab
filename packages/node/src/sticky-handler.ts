// createStickyHandler(): sticky load balancing for a plain node:http / node:https gateway, as one
// connect-style `(req, res, next?)` handler (mountable in connect and Express too), with `.router` for pool
// operations, stats and events, and `.upgrade` for `server.on('upgrade', …)`. It proxies over an undici Pool
// per backend with keep-alive; every stickiness decision is the core's.

import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { StickyConfigError, type StickyOptions, StickyRouter } from '@stickyroute/core';
import { compileTrustProxy, type TrustProxy } from './client-address';
import { type Gateway, ProxyExchange } from './proxy-exchange';
import { UpgradeExchange } from './upgrade-exchange';
import { UpstreamPools } from './upstream-pools';

export interface StickyHandlerOptions extends StickyOptions {
  /**
   * Which proxies in front of this gateway to trust for X-Forwarded-For and X-Forwarded-Proto, with Express's
   * `trust proxy` semantics: `true`, a hop count, `'loopback'`/`'linklocal'`/`'uniquelocal'`, addresses and
   * subnets (a comma-separated string or a list), or `(address, hop) => boolean`. Default false: the TCP
   * peer and the socket's TLS, so a spoofed header changes nothing.
   */
  trustProxy?: TrustProxy;
  /** Most keep-alive connections per backend. Default: no limit (undici's default). */
  connections?: number;
  /**
   * Proxy only paths under this prefix (`/api` takes `/api` and `/api/…`, and the full URL is forwarded);
   * other requests go to `next()`, or get a 404 when there is none. Other upgrades are left to other listeners.
   */
  prefix?: string;
}

export interface StickyHandler {
  /** Proxies the request to the backend the core chooses; outside `prefix` it calls `next` (or answers 404). */
  (req: IncomingMessage, res: ServerResponse, next?: (error?: unknown) => void): void;
  /** The core router: pool operations, stats, events, setStickiness. */
  readonly router: StickyRouter;
  /** For `server.on('upgrade', handler.upgrade)`: WebSocket upgrades routed by the same stickiness. */
  readonly upgrade: (req: IncomingMessage, socket: Duplex, head: Buffer) => void;
  /** Closes the upstream connection pools (in-flight requests finish first) and stops the router's timers. */
  close(): Promise<void>;
}

const OWN_OPTIONS = ['trustProxy', 'connections', 'prefix'] as const;

/** Creates the handler. Throws StickyConfigError for a bad option, at start-up. */
export function createStickyHandler(options: StickyHandlerOptions): StickyHandler {
  const trustProxy = compileTrustProxy(options?.trustProxy);
  const connections = options?.connections;
  if (connections !== undefined && !(Number.isInteger(connections) && connections >= 1))
    throw new StickyConfigError('connections', `must be an integer ≥ 1 (got ${JSON.stringify(connections)})`);

  const prefix = normalizePrefix(options?.prefix);

  const router = new StickyRouter(options, { extraOptionKeys: OWN_OPTIONS });
  const pools = new UpstreamPools(router, { connections, headersTimeoutMs: router.timeoutMs });
  const gateway: Gateway = { router, pools, trustProxy };

  const handler = (req: IncomingMessage, res: ServerResponse, next?: (error?: unknown) => void): void => {
    if (prefix !== undefined && !isUnder(req, prefix)) {
      if (next !== undefined) next();
      else res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end('Not Found\n');
      return;
    }
    new ProxyExchange(gateway, req, res).start();
  };
  const upgrade = (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
    if (prefix !== undefined && !isUnder(req, prefix)) return;
    void new UpgradeExchange(gateway, req, socket, head).start();
  };
  const close = async (): Promise<void> => {
    await pools.close();
    await router.close();
  };
  return Object.assign(handler, { router, upgrade, close });
}

/** The request's path (full, as mounted in connect/Express) is the prefix or below it. */
function isUnder(req: IncomingMessage, prefix: string): boolean {
  if (prefix === '/') return true;
  const url = (req as { originalUrl?: string }).originalUrl ?? req.url ?? '/';
  const query = url.indexOf('?');
  const path = query === -1 ? url : url.slice(0, query);
  return path === prefix || path.startsWith(`${prefix}/`);
}

function normalizePrefix(prefix: unknown): string | undefined {
  if (prefix === undefined) return undefined;
  if (typeof prefix !== 'string' || !prefix.startsWith('/') || /[?#\s]/.test(prefix))
    throw new StickyConfigError('prefix', `must be a path starting with / (got ${JSON.stringify(prefix)})`);
  return prefix.length > 1 ? prefix.replace(/\/+$/, '') : prefix;
}
