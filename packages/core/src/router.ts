// The sticky router: the one object adapters drive. For each request it answers which backend and why,
// which balancer cookies the response carries, and where to go when the upstream fails. It owns the pool,
// the balancers, the stickiness policy, the stats and the events; I/O (proxying, health probes) is outside.

import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type { Balancer, BalancerContext } from './balancers/balancer';
import { ConsistentHashBalancer, HashRing } from './balancers/consistent-hash';
import { LeastConnections } from './balancers/least-connections';
import { PowerOfTwoChoices, WeightedRandom } from './balancers/random';
import { SmoothWeightedRoundRobin } from './balancers/smooth-weighted-round-robin';
import {
  type NormalizedOptions,
  type NormalizedStickiness,
  normalizeOptions,
  normalizeStickiness,
  type StickinessOptions,
  type StickyOptions,
} from './config/options';
import { BalancerCookieCodec } from './cookie/balancer-cookie-codec';
import { BalancerCookieWriter } from './cookie/balancer-cookie-writer';
import { ActiveHealthChecker, type HealthProbe } from './health/active-health-checker';
import { classifyUpstreamError, isIdempotent } from './health/upstream-failure';
import type { Backend, BackendStats } from './pool/backend';
import { BackendPool } from './pool/backend-pool';
import { AppCookieFollowPolicy } from './stickiness/app-cookie-follow';
import { AppCookieLearnPolicy } from './stickiness/app-cookie-learn';
import { KeyedPolicy } from './stickiness/keyed';
import { LbCookiePolicy } from './stickiness/lb-cookie';
import {
  type Lookup,
  NO_COOKIES,
  NONE,
  type PolicyContext,
  type StickinessPolicy,
} from './stickiness/policy';
import { MemoryStore } from './store/memory-store';
import type {
  Clock,
  Reply,
  Route,
  RouteReason,
  RouteRequest,
  RouteState,
  StickyStore,
  UpstreamFailure,
} from './types';

export interface RouterStats {
  algorithm: string;
  stickiness: NormalizedStickiness;
  backends: BackendStats[];
  requests: {
    total: number;
    new: number;
    sticky: number;
    rerouted: number;
    hashed: number;
    learned: number;
    retried: number;
    failed: number;
    noBackend: number;
    forgedCookies: number;
    expiredCookies: number;
    storeErrors: number;
  };
  storeEntries?: number;
}

export interface RerouteEvent {
  from: string | null;
  to: string;
  /** Why the client moved: its backend was removed, is down, or failed this request. */
  why: 'gone' | 'down' | 'failed';
}

const SYSTEM_CLOCK: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => {
    const t = setTimeout(fn, ms);
    t.unref?.();
    return t;
  },
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

const STATUS_TEXT: Record<number, string> = {
  502: 'Bad Gateway',
  503: 'Service Unavailable',
  504: 'Gateway Timeout',
};
const STORE_WARNING_INTERVAL_MS = 10_000;

export class StickyRouter extends EventEmitter {
  readonly pool: BackendPool;
  readonly options: NormalizedOptions;
  readonly store: StickyStore;
  /** Upstream timeout in ms for the adapters' proxy engines. */
  readonly timeoutMs: number;
  private readonly clock: Clock;
  private readonly random: () => number;
  private readonly codec: BalancerCookieCodec;
  private readonly ring: HashRing;
  private readonly balancer: Balancer;
  private readonly tokens: Map<string, Backend>[];
  private readonly tokenOf = new Map<Backend, string>();
  private readonly tokenCache = new Map<string, string[]>();
  private readonly policyContext: PolicyContext;
  private readonly health: ActiveHealthChecker | null;
  private readonly cooldowns = new Map<string, unknown>();
  private readonly logger: { warn(message: string): void };
  private policy: StickinessPolicy | null;
  private stickiness: NormalizedStickiness;
  private lastStoreWarning = Number.NEGATIVE_INFINITY;
  private closed = false;
  private starting = false;
  private readonly counters = {
    total: 0,
    new: 0,
    sticky: 0,
    rerouted: 0,
    hashed: 0,
    learned: 0,
    retried: 0,
    failed: 0,
    noBackend: 0,
    forgedCookies: 0,
    expiredCookies: 0,
    storeErrors: 0,
  };

  constructor(
    input: StickyOptions,
    internals: { extraOptionKeys?: readonly string[]; probe?: HealthProbe } = {},
  ) {
    super();
    const options = normalizeOptions(input, internals.extraOptionKeys);
    this.options = options;
    this.timeoutMs = options.timeoutMs;
    this.clock = input.clock ?? SYSTEM_CLOCK;
    this.random = input.random ?? Math.random;
    this.logger = input.logger ?? { warn: (message) => process.emitWarning(message, 'StickyrouteWarning') };
    let secrets = options.secrets;
    if (secrets === null) {
      secrets = [randomBytes(32).toString('base64url')];
      if (options.stickiness.type === 'lb-cookie' || options.stickiness.type === 'app-cookie') {
        this.logger.warn(
          'stickyroute: no `secret` given, so a random one was made. Cookies will not survive a restart, and several gateway instances need one shared `secret`.',
        );
      }
    }
    if (options.backends.length === 0) {
      // Not an error: an empty pool is valid (an ALB target group may be empty), for gateways that add their
      // backends at run time from service discovery. Said once, since until then every request is a 503.
      this.logger.warn(
        'stickyroute: `backends` is empty, so every request is answered 503 until a backend is added with router.pool.add().',
      );
    }
    this.codec = new BalancerCookieCodec(secrets);
    this.tokens = secrets.map(() => new Map());
    const memoryStore =
      input.store === undefined
        ? new MemoryStore({ maxEntries: options.storeSize, clock: this.clock })
        : null;
    this.store = input.store ?? memoryStore!;

    this.pool = new BackendPool({
      emit: (event, payload) => this.emit(event, payload),
      changed: (membership) => this.poolChanged(membership),
      clock: this.clock,
      stuckClients: memoryStore ? (id) => memoryStore.countOf(id) : undefined,
      ramp: (b) => this.ramp(b),
    });
    this.ring = new HashRing(this.pool.load);
    const ctx: BalancerContext = { random: this.random, ramp: (b) => this.ramp(b) };
    this.balancer = createBalancer(options.algorithm, ctx, this.ring);
    this.policyContext = this.makePolicyContext(options);
    // The start-up backends join as one change: ring and tokens are built once, not once per backend
    // (which is quadratic: 10,000 backends took minutes).
    this.starting = true;
    for (const spec of options.backends)
      this.pool.add({ url: spec.url.href, id: spec.id, weight: spec.weight });
    this.starting = false;
    this.poolChanged(true);
    this.stickiness = options.stickiness;
    this.policy = this.makePolicy(options.stickiness);
    this.health = options.healthCheck.active
      ? new ActiveHealthChecker(this.pool, options.healthCheck, this.clock, internals.probe)
      : null;
    this.health?.start();
  }

  /** Which backend serves this request, and why. Never rejects: store trouble falls back to hashing. */
  async route(req: RouteRequest): Promise<Route> {
    return this.routeNow(req);
  }

  /**
   * `route()` for adapters on a hot path: the Route itself when the answer needs no store (the cookie modes,
   * stickiness off), a promise of it otherwise (source-ip, header, query, learn); it never throws and the
   * promise never rejects. Awaiting `route()` costs a promise and a microtask turn per request that this saves.
   */
  routeNow(req: RouteRequest): Route | Promise<Route> {
    const state: RouteState = {
      secure: req.secure,
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

  /** The backend for a looked-up request: the one it is stuck to, else a new placement. */
  private place(
    req: RouteRequest,
    state: RouteState,
    policy: StickinessPolicy | null,
    lookup: Lookup,
  ): Route | Promise<Route> {
    if (lookup.kind === 'stuck' && lookup.backend.servesStuck)
      return this.admitted(
        req,
        state,
        lookup.backend,
        policy instanceof AppCookieLearnPolicy ? 'learned' : 'sticky',
      );
    // Stuck to a backend that is gone, down, or (learn/keyed) no longer known.
    const rerouted = lookup.kind !== 'none';
    if (rerouted && this.options.strict) return this.admitted(req, state, null, 'rerouted');
    const hashKey = policy?.placement === 'hash' ? state.key : undefined;
    let backend: Backend | null;
    let reason: RouteReason;
    if (hashKey !== undefined) {
      backend = this.ring.lookup(hashKey);
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

  /** Counts the decision, takes a connection slot on the backend and answers the Route. */
  private admitted(
    req: RouteRequest,
    state: RouteState,
    backend: Backend | null,
    reason: RouteReason,
    rerouted = false,
    from: Backend | null = null,
  ): Route {
    if (rerouted && backend !== null) {
      try {
        this.emit('reroute', {
          from: from?.id ?? null,
          to: backend.id,
          why: from ? 'down' : 'gone',
        } satisfies RerouteEvent);
      } catch (error) {
        // A listener's bug must not stop the request (nor, routed synchronously, throw into the adapter).
        this.logger.warn(`stickyroute: a 'reroute' listener threw: ${String(error)}`);
      }
    }
    this.counters.total++;
    if (backend === null) {
      this.counters.noBackend++;
    } else {
      this.counters[reason]++;
      this.admit(backend, reason);
    }
    return {
      backend,
      reason,
      attempts: 0,
      state,
      upstreamHeaders: forwardedHeaders(req, reason === 'rerouted'),
    };
  }

  /** Balancer Set-Cookie strings to append to the upstream's response (the app's own cookies stay as they are). */
  responseCookies(route: Route, upstreamSetCookie?: string | readonly string[]): readonly string[] {
    const policy = this.policy;
    if (policy === null || route.backend === null) return NO_COOKIES;
    try {
      return policy.responseCookies(route, upstreamSetCookie);
    } catch {
      return NO_COOKIES;
    }
  }

  /** The request is over (response finished, or client gone). Idempotent. */
  release(route: Route): void {
    if (route.state.released || route.backend === null) return;
    route.state.released = true;
    route.backend.active--;
    this.pool.load.active--;
  }

  /**
   * The upstream failed. Records it (passive health checks) and answers either another backend to retry on
   * (connection refused or reset before any response byte, idempotent method, body not yet sent, first retry)
   * or the reply to send: 504 for a timeout, 502 otherwise (503 for a stuck client in strict mode).
   */
  async failover(
    route: Route,
    failure: UpstreamFailure,
  ): Promise<{ retry: Route; reply?: undefined } | { reply: Reply; retry?: undefined }> {
    const kind = classifyUpstreamError(failure.error);
    const backend = route.backend;
    this.release(route);
    // A keep-alive connection the upstream closed while idle (a race with its keep-alive timeout): the app
    // never saw the request and the backend is fine. Retry once on the same backend, moving no one.
    if (
      backend?.servesStuck &&
      failure.reusedConnection === true &&
      kind === 'connect' &&
      !failure.bodySent &&
      !failure.responseStarted &&
      route.state.staleRetried !== true
    ) {
      const state: RouteState = { ...route.state, staleRetried: true, released: false };
      this.counters.retried++;
      // The same request again: in flight once more, but not counted as another one.
      backend.active++;
      this.pool.load.active++;
      return { retry: { ...route, state } };
    }
    this.counters.failed++;
    if (backend !== null) {
      backend.counts.failed++;
      if (kind !== 'other') this.passiveFailure(backend);
    }
    const reply = this.reply(kind === 'timeout' ? 504 : 502);
    const retryable =
      kind === 'connect' &&
      !failure.bodySent &&
      !failure.responseStarted &&
      route.attempts < 1 &&
      isIdempotent(route.state.method);
    if (!retryable || backend === null) return { reply };
    // Strict mode never moves a stuck client, also when its backend refuses the connection.
    if (this.options.strict && (route.reason === 'sticky' || route.reason === 'learned'))
      return { reply: this.reply(503) };
    const failed = new Set(route.state.failed ?? []);
    failed.add(backend.id);
    const state: RouteState = { ...route.state, failed, released: false };
    const next =
      state.key !== undefined && this.policy?.placement === 'hash'
        ? this.ring.lookup(state.key, failed)
        : this.balancer.pick(state.ip, failed);
    if (next === null) return { reply };
    if (this.policy?.placed) await this.policy.placed(state, next);
    // A client placed by this very request (new, or hashed for the first time) had no session to lose.
    const wasStuck = route.reason !== 'new' && route.reason !== 'hashed';
    const reason: RouteReason = wasStuck ? 'rerouted' : route.reason;
    this.counters.retried++;
    this.counters[reason]++;
    this.admit(next, reason);
    this.emit('retry', { from: backend.id, to: next.id, method: state.method });
    if (wasStuck)
      this.emit('reroute', { from: backend.id, to: next.id, why: 'failed' } satisfies RerouteEvent);
    const upstreamHeaders = wasStuck
      ? { ...route.upstreamHeaders, 'x-sticky-rerouted': '1' }
      : route.upstreamHeaders;
    return { retry: { backend: next, reason, attempts: route.attempts + 1, state, upstreamHeaders } };
  }

  /** The upstream answered: resets its passive failure count. */
  succeeded(route: Route): void {
    if (route.backend !== null) route.backend.consecutiveFailures = 0;
  }

  /** A ready-made error answer (502, 503 with Retry-After, 504). Bodies never carry details. */
  reply(status: 502 | 503 | 504): Reply {
    const headers: Record<string, string> = {
      'content-type': 'text/plain; charset=utf-8',
      'cache-control': 'no-store',
    };
    if (status === 503) headers['retry-after'] = String(this.options.retryAfter);
    return { status, headers, body: `${STATUS_TEXT[status]}\n` };
  }

  /** Switches stickiness at run time (validated like start-up); applies to the next request. */
  setStickiness(stickiness: StickinessOptions): void {
    const normalized = normalizeStickiness(stickiness);
    this.stickiness = normalized;
    this.policy = this.makePolicy(normalized);
    this.emit('stickiness', normalized);
  }

  getStickiness(): NormalizedStickiness {
    return this.stickiness;
  }

  stats(): RouterStats {
    const size = this.store.size?.();
    return {
      algorithm: this.options.algorithm,
      stickiness: this.stickiness,
      backends: this.pool.list(),
      requests: { ...this.counters },
      ...(size === undefined ? {} : { storeEntries: size }),
    };
  }

  /** Stops health checks and timers. The store is closed only if the router made it. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.health?.stop();
    this.pool.close();
    for (const timer of this.cooldowns.values()) this.clock.clearTimeout(timer);
    this.cooldowns.clear();
  }

  /** Slow start: a backend's share ramps linearly from 10% to 100% over `slowStart` after it joins or recovers. */
  private ramp(backend: Backend): number {
    const period = this.options.slowStartMs;
    if (period === 0) return 1;
    const age = this.clock.now() - backend.upSince;
    return age >= period ? 1 : Math.max(0.1, age / period);
  }

  private admit(backend: Backend, reason: RouteReason): void {
    backend.active++;
    backend.total++;
    this.pool.load.active++;
    // Per backend, a hashed client is a new placement and a learned one a sticky hit.
    backend.counts[reason === 'hashed' ? 'new' : reason === 'learned' ? 'sticky' : reason]++;
  }

  private passiveFailure(backend: Backend): void {
    const max = this.options.healthCheck.maxFailures;
    backend.consecutiveFailures++;
    if (max === 0 || backend.consecutiveFailures < max) return;
    if (!this.pool.markDown(backend.id, 'passive') || this.health !== null) return;
    // Without active checks, a passively failed backend is tried again after the cool-down.
    const id = backend.id;
    // A manual markUp may have left an earlier cool-down pending: it must not bring this failure back early.
    const pending = this.cooldowns.get(id);
    if (pending !== undefined) this.clock.clearTimeout(pending);
    this.cooldowns.set(
      id,
      this.clock.setTimeout(() => {
        this.cooldowns.delete(id);
        this.pool.markUp(id, 'cooldown');
      }, this.options.healthCheck.cooldownMs),
    );
  }

  private poolChanged(membership: boolean): void {
    if (this.starting) return;
    const members = this.pool.members;
    if (membership) {
      this.ring.rebuild(members);
      for (const map of this.tokens) map.clear();
      this.tokenOf.clear();
      for (const b of members) {
        const tokens = this.tokensOf(b.id);
        for (let keyIndex = 0; keyIndex < tokens.length; keyIndex++)
          this.tokens[keyIndex]!.set(tokens[keyIndex]!, b);
        this.tokenOf.set(b, tokens[0]!);
      }
      // Forget the tokens of backends that left, so churn with fresh ids (autoscaling) cannot grow it.
      if (this.tokenCache.size > members.length)
        for (const id of this.tokenCache.keys())
          if (this.pool.get(id) === undefined) this.tokenCache.delete(id);
    }
    this.balancer.update(members);
    this.health?.sync();
  }

  /** A backend id's token under every key, computed once per id (an HMAC each). */
  private tokensOf(id: string): string[] {
    let tokens = this.tokenCache.get(id);
    if (tokens === undefined) {
      tokens = this.tokens.map((_, keyIndex) => this.codec.backendToken(id, keyIndex));
      this.tokenCache.set(id, tokens);
    }
    return tokens;
  }

  private makePolicyContext(options: NormalizedOptions): PolicyContext {
    const guard = async <T>(op: () => Promise<T>): Promise<T | undefined> => {
      try {
        return await op();
      } catch (error) {
        this.storeFailed(error);
        return undefined;
      }
    };
    return {
      clock: this.clock,
      codec: this.codec,
      writer: new BalancerCookieWriter(options.cookie),
      cookieName: options.cookie.name,
      persistentCookie: options.cookie.persistent,
      backendForToken: (token, keyIndex) => this.tokens[keyIndex]?.get(token),
      tokenFor: (backend) => this.tokenOf.get(backend) ?? this.codec.backendToken(backend.id, 0),
      backendById: (id) => this.pool.get(id),
      store: {
        get: (key, ttl) => guard(() => this.store.get(key, ttl)),
        setIfAbsent: (key, value, ttl) => guard(() => this.store.setIfAbsent(key, value, ttl)),
        set: (key, value, ttl) => void guard(() => this.store.set(key, value, ttl)),
        delete: (key) => void guard(() => this.store.delete(key)),
      },
      forged: (reason) => {
        if (reason === 'forged') this.counters.forgedCookies++;
        else this.counters.expiredCookies++;
        if (this.listenerCount('forged') > 0) this.emit('forged', { reason });
      },
    };
  }

  private makePolicy(s: NormalizedStickiness): StickinessPolicy | null {
    const ctx = this.policyContext;
    switch (s.type) {
      case 'off':
        return null;
      case 'lb-cookie':
        return new LbCookiePolicy(ctx, s.durationMs, s.maxLifetimeMs);
      case 'app-cookie':
        return s.mode === 'learn'
          ? new AppCookieLearnPolicy(ctx, s.appCookie)
          : new AppCookieFollowPolicy(ctx, s.appCookie);
      default:
        return new KeyedPolicy(ctx, s);
    }
  }

  private storeFailed(error: unknown): void {
    this.counters.storeErrors++;
    this.emit('store-error', { error });
    const now = this.clock.now();
    if (now - this.lastStoreWarning >= STORE_WARNING_INTERVAL_MS) {
      this.lastStoreWarning = now;
      const message = error instanceof Error ? error.message : String(error);
      this.logger.warn(
        `stickyroute: the sticky store failed (${message}); falling back to hashing until it recovers.`,
      );
    }
  }
}

function createBalancer(
  name: NormalizedOptions['algorithm'],
  ctx: BalancerContext,
  ring: HashRing,
): Balancer {
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

/**
 * X-Forwarded-* for the upstream. The client IP is the framework's: when it trusted X-Forwarded-For
 * (ip differs from the TCP peer) the chain is kept and the peer appended; otherwise a client's own
 * X-Forwarded-For is dropped, so a spoofed header never reaches the app as truth.
 */
function forwardedHeaders(req: RouteRequest, rerouted: boolean): Record<string, string> {
  const incoming = req.headers['x-forwarded-for'];
  const trusted = req.remoteAddress !== undefined && req.remoteAddress !== req.ip && incoming !== undefined;
  const headers: Record<string, string> = {
    'x-forwarded-for': trusted
      ? `${Array.isArray(incoming) ? incoming.join(', ') : incoming}, ${req.remoteAddress}`
      : req.ip,
    'x-forwarded-proto': req.secure ? 'https' : 'http',
  };
  const host = req.headers.host;
  if (typeof host === 'string') headers['x-forwarded-host'] = host;
  if (rerouted) headers['x-sticky-rerouted'] = '1';
  return headers;
}

/** Creates the router every adapter drives. Throws StickyConfigError for a bad option. */
export function createStickyRouter(options: StickyOptions): StickyRouter {
  return new StickyRouter(options);
}
