// Counts, per backend, the clients the status page shows as "stuck" to it.
//
// In the cookie modes the core keeps no memory per client (the signed cookie is the state), so it cannot
// count them; this observer does, from the router's events alone (`stuck`, `placed`, `cookie`): a client
// counts once it comes back with a valid balancer cookie (a client that drops cookies never sticks), until
// the cookie's server-side expiry or its deletion; a client moved to another backend moves with its entry.
// A client is its IP, its User-Agent and the `born` date inside its cookie, so two browsers behind one
// address count twice. In the keyed modes (source-ip, header, query, learn) the core's memory store counts
// clients and that count is used.
// Bounded: at most `maxClients` entries, the least recently seen go first.

import type { RouteRequest, RouterEvents, StickyRouter } from '@stickyroute/core';

/** A session cookie (expires 0) is counted for this long after the client was last seen. */
const SESSION_COOKIE_IDLE_MS = 20 * 60_000;

interface Client {
  backend: string;
  /** Epoch ms after which the client no longer counts. */
  expiresAt: number;
}

export class StuckClients {
  private readonly clients = new Map<string, Client>();
  /** What each request in flight was: its client's key when stuck, null when newly placed. */
  private readonly requests = new WeakMap<RouteRequest, string | null>();
  private readonly unsubscribe: () => void;

  constructor(
    private readonly router: StickyRouter,
    private readonly options: { maxClients?: number; now?: () => number } = {},
  ) {
    const onStuck = (event: RouterEvents['stuck']) => this.stuck(event);
    const onPlaced = (event: RouterEvents['placed']) => this.requests.set(event.request, null);
    const onCookie = (event: RouterEvents['cookie']) => this.cookie(event);
    const onStickiness = () => this.clear();
    router.on('stuck', onStuck);
    router.on('placed', onPlaced);
    router.on('cookie', onCookie);
    router.on('stickiness', onStickiness);
    this.unsubscribe = () => {
      router.off('stuck', onStuck);
      router.off('placed', onPlaced);
      router.off('cookie', onCookie);
      router.off('stickiness', onStickiness);
    };
  }

  /** Stops listening (the per-request events cost the router nothing once nobody listens). */
  close(): void {
    this.unsubscribe();
    this.clear();
  }

  /** Clients stuck to each backend id now. */
  counts(): Map<string, number> {
    const counts = new Map<string, number>();
    const stickiness = this.router.getStickiness();
    if (stickiness.type === 'off') return counts;
    if (
      stickiness.type === 'lb-cookie' ||
      (stickiness.type === 'app-cookie' && stickiness.mode === 'follow')
    ) {
      const now = this.now();
      for (const [key, client] of this.clients) {
        if (client.expiresAt <= now) this.clients.delete(key);
        else counts.set(client.backend, (counts.get(client.backend) ?? 0) + 1);
      }
      return counts;
    }
    for (const b of this.router.stats().backends) counts.set(b.id, b.stuckClients ?? 0);
    return counts;
  }

  private now(): number {
    return (this.options.now ?? Date.now)();
  }

  private identity(request: RouteRequest): string {
    const agent = request.headers['user-agent'];
    return `${request.ip} ${Array.isArray(agent) ? agent.join(' ') : (agent ?? '')}`;
  }

  /** A client came back with a valid cookie (cookie modes carry its dates; keyed modes are the store's). */
  private stuck(event: RouterEvents['stuck']): void {
    if (event.born === undefined) return;
    const key = `${this.identity(event.request)} ${event.born}`;
    this.remember(key, event.backend, event.expires ?? 0);
    this.requests.set(event.request, key);
  }

  /** The response carries a balancer cookie: a stuck client's expiry slides, it moved, or its cookie is deleted. */
  private cookie(event: RouterEvents['cookie']): void {
    const previous = this.requests.get(event.request);
    if (previous === null) return; // a new client: counted when it comes back with the cookie
    // Neither stuck nor placed (undefined): the client was moved off a backend that is gone, down or failed.
    // Its new cookie keeps the old one's dates, so under the same key its entry moves to the new backend.
    if (previous !== undefined) this.clients.delete(previous);
    if (event.action === 'deleted' || event.born === undefined) return;
    this.remember(`${this.identity(event.request)} ${event.born}`, event.backend, event.expires ?? 0);
  }

  /** `expires`: the cookie's server-side expiry in epoch seconds, 0 for a browser-session cookie. */
  private remember(key: string, backend: string, expires: number): void {
    const expiresAt = expires > 0 ? expires * 1000 : this.now() + SESSION_COOKIE_IDLE_MS;
    this.clients.delete(key); // re-inserted last: the least recently seen are evicted first
    this.clients.set(key, { backend, expiresAt });
    if (this.clients.size > (this.options.maxClients ?? 10_000))
      this.clients.delete(this.clients.keys().next().value!);
  }

  private clear(): void {
    this.clients.clear();
  }
}
