// One undici Pool (keep-alive connections) per backend, following the router's pool: a backend that joins
// gets a Pool, a backend that leaves has its Pool closed once the requests already on it are done.

import type { Backend, StickyRouter } from '@stickyroute/core';
import { type Dispatcher, Pool } from 'undici';

export interface UpstreamPoolOptions {
  /** Most connections per backend; undefined: no limit (undici's default). */
  connections: number | undefined;
  /** No response headers within it: the request fails with UND_ERR_HEADERS_TIMEOUT, a 504. */
  headersTimeoutMs: number;
}

export class UpstreamPools {
  private readonly pools = new Map<Backend, Pool>();
  private closed = false;

  constructor(
    private readonly router: StickyRouter,
    private readonly options: UpstreamPoolOptions,
  ) {
    for (const backend of router.pool.members) this.pools.set(backend, this.create(backend));
    router.on('add', this.added);
    router.on('remove', this.removed);
  }

  /** Sends one request to `backend` on its keep-alive connections. */
  dispatch(backend: Backend, options: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler): void {
    const pool = this.pools.get(backend);
    if (pool !== undefined) {
      pool.dispatch(options, handler);
      return;
    }
    // Routed a moment before its backend left (route() is async): serve it on a Pool of its own, closed after.
    const once = this.create(backend);
    once.dispatch(options, handler);
    once.close().catch(ignore);
  }

  /** Closes every Pool (in-flight requests finish first) and stops following the router. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.router.off('add', this.added);
    this.router.off('remove', this.removed);
    const pools = [...this.pools.values()];
    this.pools.clear();
    await Promise.all(pools.map((pool) => pool.close()));
  }

  private create(backend: Backend): Pool {
    return new Pool(backend.origin, {
      connections: this.options.connections ?? null,
      pipelining: 1,
      headersTimeout: this.options.headersTimeoutMs,
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
