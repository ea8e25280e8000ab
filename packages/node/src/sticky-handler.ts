// createStickyHandler(): sticky load balancing for a plain node:http / node:https gateway, as one
// connect-style `(req, res, next?)` handler (mountable in connect and Express too), with `.router` for pool
// operations, stats and events, and `.upgrade` for `server.on('upgrade', …)`. It proxies over an undici Pool
// per backend with keep-alive; every decision is the core's exchange.

import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Http2Server } from 'node:http2';
import type { Duplex } from 'node:stream';
import type { ConnectionOptions } from 'node:tls';
import { StickyConfigError, type StickyOptions, type StickyRouter } from '@stickyroute/core';
import {
  applyServerLimits,
  Gateway,
  isUnderPrefix,
  normalizePrefix,
  normalizeServerLimits,
  type RequestFacts,
  type ServerLimits,
} from '@stickyroute/core/adapter';
import { UpstreamPools } from '@stickyroute/undici-pools';
import { clientIp, compileTrustProxy, isSecure, type TrustProxy } from './client-address';
import { UndiciEngine } from './undici-engine';

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
  /** TLS options for `https://` backends, such as `ca`. Certificates are verified unless this says otherwise. */
  tls?: ConnectionOptions;
  /**
   * Limits `handler.attach(server)` sets on the server: headers within 20 s, the whole request within 120 s,
   * idle keep-alive 5 s, idle connections 120 s, at most 10,000 connections. `false` leaves the server alone.
   */
  serverLimits?: ServerLimits | false;
}

export interface StickyHandler {
  /** Proxies the request to the backend the core chooses; outside `prefix` it calls `next` (or answers 404). */
  (req: IncomingMessage, res: ServerResponse, next?: (error?: unknown) => void): void;
  /** The core router: pool operations, stats, events, setStickiness. */
  readonly router: StickyRouter;
  /** For `server.on('upgrade', handler.upgrade)`: WebSocket upgrades routed by the same stickiness. */
  readonly upgrade: (req: IncomingMessage, socket: Duplex, head: Buffer) => void;
  /** Wires `server` for this handler: its WebSocket upgrades, and the `serverLimits`. Returns the server. */
  attach<S extends Server | Http2Server>(server: S): S;
  /** Ends what is in flight, closes the upstream connections and stops the router's timers. */
  close(): Promise<void>;
}

const OWN_OPTIONS = ['trustProxy', 'connections', 'prefix', 'serverLimits', 'tls'] as const;

/** Creates the handler. Throws StickyConfigError for a bad option, at start-up. */
export function createStickyHandler(options: StickyHandlerOptions): StickyHandler {
  const trustProxy = compileTrustProxy(options?.trustProxy);
  const connections = options?.connections;
  if (connections !== undefined && !(Number.isInteger(connections) && connections >= 1))
    throw new StickyConfigError('connections', `must be an integer ≥ 1 (got ${JSON.stringify(connections)})`);
  const prefix = normalizePrefix(options?.prefix);
  const limits = normalizeServerLimits(options?.serverLimits, 'serverLimits');

  const gateway = new Gateway(options, { ownOptions: OWN_OPTIONS, tls: options?.tls });
  const router = gateway.router;
  const pools = new UpstreamPools(router, { connections, tls: gateway.tls });
  const engine = new UndiciEngine(pools);

  /** The request in the core's terms; mounted under a path in connect/Express, the full original URL. */
  const factsOf = (req: IncomingMessage, url: string): RequestFacts => ({
    method: req.method ?? 'GET',
    url,
    headers: req.headers,
    ip: clientIp(req, trustProxy),
    remoteAddress: req.socket.remoteAddress,
    secure: isSecure(req, trustProxy),
    body: req,
  });
  const handler = (req: IncomingMessage, res: ServerResponse, next?: (error?: unknown) => void): void => {
    const url = (req as { originalUrl?: string }).originalUrl ?? req.url ?? '/';
    if (!isUnderPrefix(url, prefix)) {
      if (next !== undefined) next();
      else res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end('Not Found\n');
      return;
    }
    const exchange = gateway.serve(engine, factsOf(req, url), res);
    res.on('close', () => exchange.closed(res.writableEnded));
  };
  const clientOf = (req: IncomingMessage): RequestFacts | undefined => {
    const url = req.url ?? '/';
    return isUnderPrefix(url, prefix) ? factsOf(req, url) : undefined;
  };
  const upgrade = (req: IncomingMessage, socket: Duplex, head: Buffer): void =>
    gateway.upgrade(req, socket, head, clientOf);
  const close = async (): Promise<void> => {
    await gateway.close();
    await pools.close();
  };
  const attach = <S extends Server | Http2Server>(server: S): S => {
    server.on('upgrade', upgrade);
    applyServerLimits(server as Server, limits);
    return server;
  };
  return Object.assign(handler, { router, upgrade, attach, close });
}
