// The per-request half of the router, for the exchange (and the core's own tests): route, the balancer
// cookies a response carries, release, failover, and the gateway's error answers. The StickyRouter facade
// holds one; adapters reach it only through an Exchange (`@stickyroute/core/adapter`).

import type { BalancerCookieCodec } from '../cookie/balancer-cookie-codec';
import type { PassiveHealth } from '../health/passive-health';
import type { Backend } from '../pool/backend';
import { NO_COOKIES } from '../stickiness/policy';
import type { Clock, Reply, Route, RouteRequest } from '../types';
import { type ErrorStatus, errorReply } from './error-replies';
import type { AttemptFailure, FailoverDecision, FailoverPolicy } from './failover-policy';
import type { DecisionEvents, Placement } from './placement';

export class Routing {
  private readonly replies: Record<ErrorStatus, Reply>;

  constructor(
    readonly placement: Placement,
    private readonly failoverPolicy: FailoverPolicy,
    private readonly health: PassiveHealth,
    private readonly events: DecisionEvents,
    private readonly codec: BalancerCookieCodec,
    private readonly cookieName: string,
    /** Upstream timeout: no response headers within it is a 504. */
    readonly timeoutMs: number,
    readonly clock: Clock,
    retryAfter: number,
  ) {
    this.replies = {
      502: errorReply(502, retryAfter),
      503: errorReply(503, retryAfter),
      504: errorReply(504, retryAfter),
    };
  }

  /** Which backend serves this request, and why (a promise only where a store is asked). Never rejects. */
  routeNow(req: RouteRequest): Route | Promise<Route> {
    return this.placement.routeNow(req);
  }

  /** Balancer Set-Cookie strings to append to the upstream's response (the app's own cookies stay as they are). */
  responseCookies(route: Route, upstreamSetCookie?: string | readonly string[], req?: RouteRequest) {
    const policy = this.placement.policy;
    const backend = route.backend;
    if (policy === null || backend === null) return NO_COOKIES;
    let cookies: readonly string[];
    try {
      cookies = policy.responseCookies(route, upstreamSetCookie);
    } catch {
      return NO_COOKIES;
    }
    if (cookies.length > 0 && req !== undefined && this.events.observed) this.announce(backend, cookies, req);
    return cookies;
  }

  /** The upstream answered: its run of failures is over. */
  succeeded(route: Route): void {
    if (route.backend !== null) this.health.succeeded(route.backend);
  }

  /** The request is over (response finished, or client gone). Idempotent. */
  release(route: Route): void {
    this.placement.release(route);
  }

  /** The attempt on `route` failed: another attempt, or the answer to give. Releases `route`. */
  failover(route: Route, failure: AttemptFailure): FailoverDecision | Promise<FailoverDecision> {
    return this.failoverPolicy.decide(route, failure);
  }

  /** A ready-made error answer (502, 503 with Retry-After, 504). Shared: never modify it. */
  reply(status: ErrorStatus): Reply {
    return this.replies[status];
  }

  /** The `cookie` event: the dates inside the cookie issued (read back only when someone listens). */
  private announce(backend: Backend, cookies: readonly string[], request: RouteRequest): void {
    const line = cookies[0]!;
    const start = this.cookieName.length + 1;
    const end = line.indexOf(';');
    const value = line.slice(start, end === -1 ? undefined : end);
    const decoded = value === '' ? null : this.codec.decode(value);
    if (decoded === null) this.events.emit('cookie', { backend: backend.id, action: 'deleted', request });
    else
      this.events.emit('cookie', {
        backend: backend.id,
        action: 'issued',
        request,
        born: decoded.born,
        expires: decoded.expires,
      });
  }
}
