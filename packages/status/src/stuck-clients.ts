// Counts, per backend, the clients the status page shows as "stuck" to it.
//
// In the cookie modes the core keeps no memory per client (the signed cookie is the state), so it cannot
// count them; this observer does, from the router's events alone (`stuck`, `placed`, `cookie`): a client
// counts once it comes back with a valid balancer cookie (a client that drops cookies never sticks), until
// the cookie's server-side expiry, its deletion, or its move to another backend. A client is its IP, its
// User-Agent and the `born` date inside its cookie, so two browsers behind one address count twice. In the
// keyed modes (source-ip, header, query, learn) the core's memory store counts clients and that count is used.
// Bounded: at most `maxClients` entries, the least recently seen go first.

import type { RouteRequest, StickyRouter } from '@stickyroute/core';

/** A session cookie (expires 0) is counted for this long after the client was last seen. */
const SESSION_COOKIE_IDLE_MS = 20 * 60_000;

// The router's per-request events, as the core announces them (RouterEvents in @stickyroute/core).
interface StuckEvent {
  backend: string;
  reason: 'sticky' | 'learned';
  request: RouteRequest;
  born?: number;
  expires?: number;
}
interface PlacedEvent {
  backend: string;
  request: RouteRequest;
}
interface CookieEvent {
  backend: string;
  action: 'issued' | 'deleted';
  request: RouteRequest;
  born?: number;
  expires?: number;
}

interface Client {
  backend: string;
  identity: string;
  /** Epoch ms after which the client no longer counts. */
  expiresAt: number;
}

export class StuckClients {
  private readonly clients = new Map<string, Client>();
  /** The keys of each IP + User-Agent, to forget a client's old cookie when it moves. */
  private readonly byIdentity = new Map<string, Set<string>>();
  /** What each request in flight was: its client's key when stuck, null when newly placed. */
  private readonly requests = new WeakMap<RouteRequest, string | null>();
  private readonly unsubscribe: () => void;

  constructor(
    private readonly router: StickyRouter,
    private readonly options: { maxClients?: number; now?: () => number } = {},
  ) {
    const onStuck = (event: StuckEvent) => this.stuck(event);
    const onPlaced = (event: PlacedEvent) => this.requests.set(event.request, null);
    const onCookie = (event: CookieEvent) => this.cookie(event);
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
        if (client.expiresAt <= now) this.forget(key);
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
  private stuck(event: StuckEvent): void {
    if (event.born === undefined) return;
    const identity = this.identity(event.request);
    const key = `${identity} ${event.born}`;
    this.remember(key, identity, event.backend, event.expires ?? 0);
    this.requests.set(event.request, key);
  }

  /** The response carries a balancer cookie: a stuck client's expiry slides, it moved, or its cookie is deleted. */
  private cookie(event: CookieEvent): void {
    const previous = this.requests.get(event.request);
    if (previous === null) return; // a new client: counted when it comes back with the cookie
    const identity = this.identity(event.request);
    if (previous === undefined) {
      // Neither stuck nor placed: the client was moved (its backend is gone or down, or failed), so its old
      // cookie is dead; it was known by that cookie's date, which is no longer at hand.
      for (const key of [...(this.byIdentity.get(identity) ?? [])]) this.forget(key);
    } else this.forget(previous);
    if (event.action === 'deleted' || event.born === undefined) return;
    this.remember(`${identity} ${event.born}`, identity, event.backend, event.expires ?? 0);
  }

  /** `expires`: the cookie's server-side expiry in epoch seconds, 0 for a browser-session cookie. */
  private remember(key: string, identity: string, backend: string, expires: number): void {
    const expiresAt = expires > 0 ? expires * 1000 : this.now() + SESSION_COOKIE_IDLE_MS;
    this.forget(key); // re-inserted last: the least recently seen are evicted first
    this.clients.set(key, { backend, identity, expiresAt });
    const keys = this.byIdentity.get(identity);
    if (keys === undefined) this.byIdentity.set(identity, new Set([key]));
    else keys.add(key);
    if (this.clients.size > (this.options.maxClients ?? 10_000))
      this.forget(this.clients.keys().next().value!);
  }

  private forget(key: string): void {
    const client = this.clients.get(key);
    if (client === undefined) return;
    this.clients.delete(key);
    const keys = this.byIdentity.get(client.identity);
    keys?.delete(key);
    if (keys?.size === 0) this.byIdentity.delete(client.identity);
  }

  private clear(): void {
    this.clients.clear();
    this.byIdentity.clear();
  }
}
