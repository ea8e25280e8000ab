// What an adapter makes once: the router (the user's `middleware.router`) and the exchanges that carry its
// requests and WebSocket upgrades. `serve` runs one request through the adapter's engine; `upgrade` runs a
// WebSocket upgrade through the core's own engine; `close` ends what is in flight.

import type { IncomingMessage } from 'node:http';
import type { Duplex, Readable } from 'node:stream';
import type { ConnectionOptions } from 'node:tls';
import { StickyConfigError } from '../config/errors';
import type { StickyOptions } from '../config/options';
import { httpProbe } from '../health/active-health-checker';
import { routingOf, StickyRouter } from '../router';
import type { RouteRequest } from '../types';
import { Exchange, type ExchangeContext, type ExchangeEngine, type RequestFacts } from './exchange';
import { isWebSocketUpgrade, serveAsPlainRequest } from './plain-upgrade';
import { DEFAULT_RETRY_BUFFER_BYTES, RequestBody } from './request-body';
import { type UpgradeClient, UpgradeEngine } from './upgrade-engine';
import { UpstreamDeadlines } from './upstream-deadlines';

export interface GatewaySetup {
  /** The adapter's own option names (`prefix`, `tls`…), accepted beside the core's. */
  ownOptions?: readonly string[];
  /**
   * The user's `tls` option, for https backends (a private CA, say): certificates are verified unless it says
   * otherwise. Validated here and used by upgrades and active health checks; engines take `gateway.tls`.
   */
  tls?: unknown;
  /** Bytes of a request body kept for a retry (default 1 MiB). */
  retryBufferBytes?: number;
}

export class Gateway {
  readonly router: StickyRouter;
  private readonly context: ExchangeContext;
  private readonly upgrades: UpgradeEngine;
  /** Upgrades in flight or tunnelled: closing the gateway ends them (they outlive any HTTP server's close). */
  private readonly open = new Set<Exchange<UpgradeClient>>();

  /** TLS for https backends, as every engine must use it (verification on unless the user turned it off). */
  readonly tls: ConnectionOptions;

  constructor(options: StickyOptions, setup: GatewaySetup = {}) {
    const tls = normalizeTls(setup.tls);
    this.tls = tls;
    this.router = new StickyRouter(options, {
      extraOptionKeys: setup.ownOptions,
      probe: httpProbe(tls),
    });
    this.upgrades = new UpgradeEngine(tls);
    const routing = routingOf(this.router);
    const limit = setup.retryBufferBytes ?? DEFAULT_RETRY_BUFFER_BYTES;
    this.context = {
      routing,
      deadlines: new UpstreamDeadlines<Exchange>(routing.timeoutMs, (exchange) => exchange.expired()),
      body: (source: Readable) => new RequestBody(source, limit),
    };
  }

  /** An exchange for one request, not yet started (an adapter may need to find it from its engine first). */
  exchange<C>(engine: ExchangeEngine<C>, facts: RequestFacts, client: C): Exchange<C> {
    return new Exchange(this.context, engine, facts, client);
  }

  /** Runs one request through `engine`: route, send, answer, release. */
  serve<C>(engine: ExchangeEngine<C>, facts: RequestFacts, client: C): Exchange<C> {
    const exchange = new Exchange(this.context, engine, facts, client);
    exchange.start();
    return exchange;
  }

  /**
   * An upgrade request (`server.on('upgrade', …)`). A WebSocket is routed by the same rules as the request
   * would be: `clientOf` says who the client is as the framework sees it (its IP, HTTPS), or undefined when
   * the request is not this gateway's (outside its prefix). Any other upgrade (h2c) is served as the plain
   * request it also is, wherever it goes.
   */
  upgrade(
    req: IncomingMessage,
    socket: Duplex,
    head: Buffer,
    clientOf: (req: IncomingMessage) => RouteRequest | undefined,
  ): void {
    if (!isWebSocketUpgrade(req)) {
      serveAsPlainRequest(req, socket, head);
      return;
    }
    const facts = clientOf(req);
    if (facts === undefined) return;
    // A client that resets mid-handshake must not crash the gateway; 'close' ends the exchange.
    socket.on('error', () => socket.destroy());
    const exchange = new Exchange<UpgradeClient>(this.context, this.upgrades, facts, {
      socket,
      head,
      tunnel: null,
    });
    this.open.add(exchange);
    socket.once('close', () => {
      this.open.delete(exchange);
      exchange.closed(false);
    });
    exchange.start();
  }

  /** Stops the router's timers and ends the upgrades in flight; the engine closes its own connections. */
  async close(): Promise<void> {
    this.context.deadlines.close();
    for (const exchange of this.open) exchange.client.socket.destroy();
    await this.router.close();
  }
}

/** `tls` is an object of node TLS options; `rejectUnauthorized` defaults to true (some engines default it off). */
function normalizeTls(tls: unknown): ConnectionOptions {
  if (tls === undefined) return { rejectUnauthorized: true };
  if (typeof tls !== 'object' || tls === null || Array.isArray(tls))
    throw new StickyConfigError('tls', 'must be an object of TLS options for https backends, such as { ca }');
  const options = tls as ConnectionOptions;
  return { ...options, rejectUnauthorized: options.rejectUnauthorized ?? true };
}
