// Counts, per backend, the clients the status page shows as "stuck" to it.
//
// In cookie modes the core keeps no memory per client (the signed cookie is the state), so it cannot count
// them; this observer does, from the router's decision events: a client counts once it comes back with a
// valid balancer cookie (`stuck`; a client that drops cookies never sticks), until the cookie's server-side
// expiry, its deletion (`cookie` with action 'deleted') or a move (`reroute`). It is identified by its IP,
// its User-Agent and the `born` date inside its cookie. In keyed modes (source-ip, header, query, app-cookie
// learn) the core's memory store counts clients itself and that count is used.
// Bounded: at most `maxClients` entries, the least recently seen go first.

const SESSION_COOKIE_IDLE_MS = 20 * 60_000;

class StuckClients {
  /**
   * @param {import('@stickyroute/core').StickyRouter} router
   * @param {{ maxClients?: number, now?: () => number }} [options]
   */
  constructor(router, { maxClients = 10_000, now = Date.now } = {}) {
    this.router = router;
    this.maxClients = maxClients;
    this.now = now;
    /** @type {Map<string, { backend: string, expiresAt: number }>} client key → its backend */
    this.clients = new Map();
    router.on('stuck', ({ backend, request, born, expires }) => {
      if (born !== undefined) this.remember(this.keyOf(request, born), backend, expires ?? 0);
    });
    router.on('cookie', ({ backend, action, request, born, expires }) => {
      const sent = this.sentCookie(request);
      if (sent !== undefined) this.clients.delete(this.keyOf(request, sent));
      // A cookie for a client already counted slides (or moves) its entry; a new client counts when it returns.
      if (action === 'issued' && sent !== undefined && born !== undefined)
        this.remember(this.keyOf(request, born), backend, expires ?? 0);
    });
    router.on('stickiness', () => this.clients.clear());
  }

  /** Clients stuck to each backend id now. */
  counts() {
    const counts = new Map();
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

  keyOf(request, born) {
    return `${request.ip} ${request.headers['user-agent'] ?? ''} ${born}`;
  }

  /** The `born` date of the balancer cookie the request came with, if it had one. */
  sentCookie(request) {
    const name = this.router.options.cookie.name;
    const match = new RegExp(`(?:^|;\\s*)${name}=[^.;]*\\.[0-9a-z]+\\.([0-9a-z]+)\\.`).exec(
      String(request.headers.cookie ?? ''),
    );
    return match ? Number.parseInt(match[1], 36) : undefined;
  }

  /** `expires`: the cookie's server-side expiry in epoch seconds, 0 for a browser-session cookie. */
  remember(key, backend, expires) {
    const expiresAt = expires > 0 ? expires * 1000 : this.now() + SESSION_COOKIE_IDLE_MS;
    this.clients.delete(key); // re-inserted last: the least recently seen are evicted first
    this.clients.set(key, { backend, expiresAt });
    if (this.clients.size > this.maxClients) this.clients.delete(this.clients.keys().next().value);
  }
}

module.exports = { StuckClients };
