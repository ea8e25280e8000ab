// One undici Pool (keep-alive connections) per backend, following the router's pool: a backend that joins
// gets a Pool, a backend that leaves has its Pool closed once the requests already on it are done.

import type { ConnectionOptions } from 'node:tls';
import type { Backend, StickyRouter } from '@stickyroute/core';
import { type Dispatcher, Pool } from 'undici';

export interface UpstreamPoolOptions {
  /** Most connections per backend; undefined: no limit (undici's default). */
  connections?: number | undefined;
  /** TLS for https backends (a private CA, say); certificates are verified unless it says otherwise. */
  tls?: ConnectionOptions;
}

export class UpstreamPools {
  private readonly pools = new Map<Backend, Pool>();
  private closed = false;

  constructor(
    private readonly router: StickyRouter,
    private readonly options: UpstreamPoolOptions = {},
  ) {
    for (const backend of router.pool.members) this.pools.set(backend, this.create(backend));
    router.on('add', this.added);
    router.on('remove', this.removed);
  }

  /** Sends one request to `backend` on its keep-alive connections. */
  dispatch(backend: Backend, options: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler): void {
    this.poolOf(backend).dispatch(options, handler);
  }

  /** undici's `request` on `backend`'s Pool (the response's body as a stream). */
  request(
    backend: Backend,
    options: Dispatcher.RequestOptions,
    callback: (error: Error | null, data: Dispatcher.ResponseData) => void,
  ): void {
    this.poolOf(backend).request(options, callback);
  }

  private poolOf(backend: Backend): Pool {
    if (this.closed) throw new Error('stickyroute: the gateway is closed');
    const pool = this.pools.get(backend);
    if (pool !== undefined) return pool;
    // Routed a moment before its backend left (routing may wait for a store): a Pool of its own, closed after.
    const once = this.create(backend);
    queueMicrotask(() => void once.close().catch(ignore));
    return once;
  }

  /** Ends every Pool and what is in flight on it (the clients get a 502), and stops following the router. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.router.off('add', this.added);
    this.router.off('remove', this.removed);
    const pools = [...this.pools.values()];
    this.pools.clear();
    await Promise.all(pools.map((pool) => pool.destroy()));
  }

  private create(backend: Backend): Pool {
    return new Pool(backend.origin, {
      ...(this.options.tls === undefined ? {} : { connect: this.options.tls }),
      connections: this.options.connections ?? null,
      pipelining: 1,
      // The exchange keeps the deadline for response headers (undici's stops while a body is sent).
      headersTimeout: 0,
      // A streaming response (SSE, long downloads) may pause as long as it likes, as with the other adapters.
      bodyTimeout: 0,
    });
  }

  private readonly added = ({ id }: { id: string }): void => {
    const backend = this.router.pool.get(id);
    if (backend !== undefined && !this.pools.has(backend)) this.pools.set(backend, this.create(backend));
  };

  private readonly removed = ({ id }: { id: string }): void => {
    for (const [backend, pool] of this.pools) {
      if (backend.id === id && !backend.member) {
        this.pools.delete(backend);
        pool.close().catch(ignore);
      }
    }
  };
}

function ignore(): void {
  // Closing a Pool only fails when it is already closed or destroyed: nothing left to do.
}
