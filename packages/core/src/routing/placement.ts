// Where a request goes: the stickiness policy looks the client up (cookie, remembered key), a stuck client
// goes back to its backend while that backend serves, anyone else is placed by the algorithm (or, for a
// keyed client, by consistent hashing of its key), and the chosen backend takes a connection slot until
// the request is released. Everything here is synchronous but the store lookups of the keyed and learn
// policies, so the cookie modes answer without a promise.

import type { Balancer, BalancerContext } from '../balancers/balancer';
import { ConsistentHashBalancer, HashRing } from '../balancers/consistent-hash';
import { LeastConnections } from '../balancers/least-connections';
import { PowerOfTwoChoices, WeightedRandom } from '../balancers/random';
import { SmoothWeightedRoundRobin } from '../balancers/smooth-weighted-round-robin';
import type { AlgorithmName } from '../config/options';
import type { RerouteEvent, RouterEvents } from '../events';
import type { Backend } from '../pool/backend';
import type { BackendPool } from '../pool/backend-pool';
import type { RequestCounts } from '../stats/request-counts';
import { AppCookieLearnPolicy } from '../stickiness/app-cookie-learn';
import { type Lookup, NONE, type StickinessPolicy } from '../stickiness/policy';
import type { Clock, Route, RouteReason, RouteRequest, RouteState } from '../types';
import { forwardedHeaders } from './forwarded-headers';

export interface PlacementOptions {
  algorithm: AlgorithmName;
  strict: boolean;
  slowStartMs: number;
}

/** How placement reports its decisions (the router's events). */
export interface DecisionEvents {
  /** Someone listens to the per-request events (placed, stuck, cookie). */
  readonly observed: boolean;
  emit<K extends keyof RouterEvents>(event: K, payload: RouterEvents[K]): void;
}

export class Placement {
  readonly ring: HashRing;
  private readonly balancer: Balancer;
  /** The stickiness policy in force (null: stickiness off); switched at run time by setStickiness. */
  policy: StickinessPolicy | null = null;

  constructor(
    private readonly pool: BackendPool,
    private readonly counters: RequestCounts,
    private readonly options: PlacementOptions,
    private readonly clock: Clock,
    random: () => number,
    private readonly events: DecisionEvents,
  ) {
    this.ring = new HashRing(pool.load);
    const ctx: BalancerContext = { random, ramp: (b) => this.ramp(b) };
    this.balancer = createBalancer(options.algorithm, ctx, this.ring);
  }

  /**
   * Which backend serves this request, and why: the Route itself when no store is asked (the cookie modes,
   * stickiness off), a promise of it otherwise (source-ip, header, query, learn). Never throws, never rejects.
   */
  routeNow(req: RouteRequest): Route | Promise<Route> {
    const authority = req.headers.host ?? req.headers[':authority'];
    const state: RouteState = {
      secure: req.secure,
      host: typeof authority === 'string' ? authority : undefined,
      method: req.method,
      ip: req.ip,
      hadCookie: false,
      released: false,
    };
    const policy = this.policy;
    if (policy === null) return this.place(req, state, null, NONE);
    let lookup: Lookup | Promise<Lookup>;
    try {
      lookup = policy.lookup(req, state);
    } catch {
      lookup = NONE;
    }
    if (lookup instanceof Promise)
      return lookup.then(
        (found) => this.place(req, state, policy, found),
        () => this.place(req, state, policy, NONE),
      );
    return this.place(req, state, policy, lookup);
  }

  /** The request is over (response finished, or client gone): its connection slot is free. Idempotent. */
  release(route: Route): void {
    if (route.state.released || route.backend === null) return;
    route.state.released = true;
    route.backend.active--;
    this.pool.load.active--;
  }

  /** Another backend for a request that failed on those in `failed`, by the same rule that placed it. */
  next(state: RouteState, failed: ReadonlySet<string>): Backend | null {
    const policy = this.policy;
    return state.key !== undefined && policy?.placement === 'hash'
      ? this.ring.lookup(state.key, failed, policy.hashLoadBound)
      : this.balancer.pick(state.ip, failed);
  }

  /** Counts a placement on `backend` and takes a connection slot there. */
  admit(backend: Backend, reason: RouteReason): void {
    backend.active++;
    backend.total++;
    this.pool.load.active++;
    // Per backend, a hashed client is a new placement and a learned one a sticky hit.
    backend.counts[reason === 'hashed' ? 'new' : reason === 'learned' ? 'sticky' : reason]++;
  }

  /** The same request in flight again on `backend` (a retry on a fresh connection): not another request. */
  retake(backend: Backend): void {
    backend.active++;
    this.pool.load.active++;
  }

  /** Slow start: a backend's share ramps linearly from 10% to 100% over `slowStart` after it joins or recovers. */
  ramp(backend: Backend): number {
    const period = this.options.slowStartMs;
    if (period === 0) return 1;
    const age = this.clock.now() - backend.upSince;
    return age >= period ? 1 : Math.max(0.1, age / period);
  }

  /** The pool changed: membership (the ring is rebuilt) or a backend's state. */
  update(members: readonly Backend[], membership: boolean): void {
    if (membership) this.ring.rebuild(members);
    this.balancer.update(members);
  }

  /** The backend for a looked-up request: the one it is stuck to, else a new placement. */
  private place(
    req: RouteRequest,
    state: RouteState,
    policy: StickinessPolicy | null,
    lookup: Lookup,
  ): Route | Promise<Route> {
    if (lookup.kind === 'stuck' && lookup.backend.servesStuck) {
      const stuck = lookup.backend;
      // A draining backend goes once its stuck clients are quiet (BackendPool.checkDrain): note this one.
      // Other backends cost the request one field read and no clock read.
      if (stuck.draining) stuck.lastStuckAt = this.clock.now();
      return this.admitted(req, state, stuck, policy instanceof AppCookieLearnPolicy ? 'learned' : 'sticky');
    }
    // Stuck to a backend that is gone, down, or (learn/keyed) no longer known.
    const rerouted = lookup.kind !== 'none';
    if (rerouted && this.options.strict) return this.admitted(req, state, null, 'rerouted');
    const hashKey = policy?.placement === 'hash' ? state.key : undefined;
    let backend: Backend | null;
    let reason: RouteReason;
    if (hashKey !== undefined) {
      backend = this.ring.lookup(hashKey, undefined, policy?.hashLoadBound);
      reason = rerouted ? 'rerouted' : 'hashed';
    } else {
      backend = this.balancer.pick(req.ip);
      reason = rerouted ? 'rerouted' : 'new';
    }
    const from = lookup.kind === 'stuck' ? lookup.backend : null;
    if (backend === null || !policy?.placed)
      return this.admitted(req, state, backend, reason, rerouted, from);
    const chosen = backend;
    return policy
      .placed(state, chosen)
      .then((winner) => this.admitted(req, state, winner ?? chosen, reason, rerouted, from));
  }

  /** Counts the decision, announces it, takes a connection slot on the backend and answers the Route. */
  private admitted(
    req: RouteRequest,
    state: RouteState,
    backend: Backend | null,
    reason: RouteReason,
    rerouted = false,
    from: Backend | null = null,
  ): Route {
    this.counters.total++;
    if (backend === null) this.counters.noBackend++;
    else {
      this.counters[reason]++;
      this.admit(backend, reason);
      if (rerouted)
        this.events.emit('reroute', {
          from: from?.id ?? null,
          to: backend.id,
          why: from ? 'down' : 'gone',
        } satisfies RerouteEvent);
      else if (this.events.observed) this.announce(req, state, backend, reason);
    }
    return {
      backend,
      reason,
      attempts: 0,
      state,
      upstreamHeaders: forwardedHeaders(req, reason === 'rerouted'),
    };
  }

  private announce(req: RouteRequest, state: RouteState, backend: Backend, reason: RouteReason): void {
    if (reason === 'new' || reason === 'hashed')
      this.events.emit('placed', { backend: backend.id, reason, request: req });
    else if (reason === 'sticky' || reason === 'learned')
      this.events.emit('stuck', {
        backend: backend.id,
        reason,
        request: req,
        ...(state.cookieBorn === undefined ? {} : { born: state.cookieBorn, expires: state.cookieExpires }),
      });
  }
}

function createBalancer(name: AlgorithmName, ctx: BalancerContext, ring: HashRing): Balancer {
  switch (name) {
    case 'least-connections':
      return new LeastConnections(ctx);
    case 'random':
      return new WeightedRandom(ctx);
    case 'power-of-two':
      return new PowerOfTwoChoices(ctx);
    case 'source-ip-hash':
      return new ConsistentHashBalancer(ring);
    default:
      return new SmoothWeightedRoundRobin(ctx);
  }
}
