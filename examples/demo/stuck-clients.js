// Counts, per backend, the clients the status page shows as "stuck" to it.
//
// In cookie modes the core keeps no memory per client (the signed cookie is the state), so it cannot count
// them; this demo-only observer does, by watching the router's decisions: it wraps `router.routeNow`,
// `router.failover` and `router.responseCookies` of one router. A client counts once it comes back with a
// valid balancer cookie (a client that drops cookies never sticks), until the cookie's server-side expiry
// or its deletion. It is identified by its IP, its User-Agent and the backend token and `born` date inside
// its cookie (the format is documented in packages/core/README.md). In keyed modes (source-ip,
// header, query, app-cookie learn) the core's memory store counts clients itself and that count is used.
// Bounded: at most `maxClients` entries, the least recently seen go first.

const { readCookie } = require('@stickyroute/core');

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
    this.cookieName = router.options.cookie.name;
    /** @type {Map<string, { backend: string, expiresAt: number }>} client key → its backend */
    this.clients = new Map();
    /** What each in-flight route's client was, for when its response cookies are known. */
    this.routes = new WeakMap();
    this.wrap();
    router.on('stickiness', () => this.clients.clear());
  }

  /** Clients stuck to each backend id now. */
  counts() {
    const counts = new Map();
    const stickiness = this.router.getStickiness().type;
    if (stickiness === 'off') return counts;
    if (stickiness === 'lb-cookie' || (stickiness === 'app-cookie' && this.isFollowMode())) {
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

  isFollowMode() {
    const s = this.router.getStickiness();
    return s.type === 'app-cookie' && s.mode === 'follow';
  }

  wrap() {
    const router = this.router;
    // The adapters call routeNow (a Route, or a promise of one where a store decides); route() calls it too.
    const routeNow = router.routeNow.bind(router);
    const failover = router.failover.bind(router);
    const responseCookies = router.responseCookies.bind(router);
    const observe = (result, req) => {
      if (result.backend !== null) this.seen(result, req);
      return result;
    };
    router.routeNow = (req) => {
      const result = routeNow(req);
      return result instanceof Promise ? result.then((r) => observe(r, req)) : observe(result, req);
    };
    router.failover = async (failed, failure) => {
      const next = await failover(failed, failure);
      const client = this.routes.get(failed);
      if (next.retry && client) this.routes.set(next.retry, client);
      return next;
    };
    router.responseCookies = (result, upstreamSetCookie) => {
      const cookies = responseCookies(result, upstreamSetCookie);
      if (cookies.length > 0) this.issued(result, cookies);
      return cookies;
    };
  }

  /** A request was routed: a client that came back with a valid balancer cookie is stuck. */
  seen(result, req) {
    const identity = `${req.ip} ${req.headers['user-agent'] ?? ''}`;
    const parts = readCookie(req.headers.cookie, this.cookieName)?.split('.');
    const key = parts?.length === 4 ? `${identity} ${parts[0]} ${parts[2]}` : undefined;
    if (result.reason === 'sticky' && key !== undefined) {
      this.remember(key, result.backend.id, Number(parts[1]));
      this.routes.set(result, { identity, key });
    } else if (result.reason === 'rerouted' && key !== undefined) {
      this.clients.delete(key);
      this.routes.set(result, { identity, key: undefined, moved: true });
    } else {
      this.routes.set(result, { identity, key: undefined });
    }
  }

  /** The response carries a balancer cookie: a stuck client's expiry slides, moves, or its cookie is deleted. */
  issued(result, cookies) {
    const request = this.routes.get(result);
    if (request === undefined || (request.key === undefined && !request.moved)) return; // counted when it returns
    const prefix = `${this.cookieName}=`;
    const header = cookies.find((c) => c.startsWith(prefix));
    if (header === undefined) return;
    const end = header.indexOf(';');
    const parts = header.slice(prefix.length, end === -1 ? undefined : end).split('.');
    if (request.key !== undefined) this.clients.delete(request.key);
    if (parts.length !== 4) return; // deleted
    this.remember(`${request.identity} ${parts[0]} ${parts[2]}`, result.backend.id, Number(parts[1]));
  }

  /** `expires`: the cookie's server-side expiry in epoch seconds, 0 for a browser-session cookie. */
  remember(key, backend, expires) {
    const sessionCookie = !(expires > 0);
    const expiresAt = sessionCookie ? this.now() + SESSION_COOKIE_IDLE_MS : expires * 1000;
    this.clients.delete(key); // re-inserted last: the least recently seen are evicted first
    this.clients.set(key, { backend, expiresAt });
    if (this.clients.size > this.maxClients) this.clients.delete(this.clients.keys().next().value);
  }
}

module.exports = { StuckClients };
