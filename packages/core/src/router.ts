// The sticky router: what a user holds (`middleware.router`, `fastify.sticky`). It owns the backend pool
// and the stickiness in force, announces every change and decision as an event, and reports stats. The
// per-request work (placement, failover, passive health, cookie tokens, counters) lives in routing/ and
// friends; the exchange in `@stickyroute/core/adapter` drives it for the adapters.

import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import {
  type NormalizedOptions,
  type NormalizedStickiness,
  normalizeOptions,
  normalizeStickiness,
  type StickinessOptions,
  type StickyOptions,
} from './config/options';
import { BackendTokens } from './cookie/backend-tokens';
import { BalancerCookieCodec } from './cookie/balancer-cookie-codec';
import { BalancerCookieWriter } from './cookie/balancer-cookie-writer';
import { PER_REQUEST_EVENTS, type RerouteEvent, type RouterEvents } from './events';
import { ActiveHealthChecker, type HealthProbe } from './health/active-health-checker';
import { PassiveHealth } from './health/passive-health';
import type { BackendStats } from './pool/backend';
import { BackendPool } from './pool/backend-pool';
import { FailoverPolicy } from './routing/failover-policy';
import { type DecisionEvents, Placement } from './routing/placement';
import { Routing } from './routing/routing';
import { newRequestCounts, type RequestCounts } from './stats/request-counts';
import { AppCookieFollowPolicy } from './stickiness/app-cookie-follow';
import { AppCookieLearnPolicy, LEARNED_SESSION_IDLE_MS } from './stickiness/app-cookie-learn';
import { AppCookieRoutePolicy, SERVLET_SESSION_IDLE_MS, unroutableIds } from './stickiness/app-cookie-route';
import { KeyedPolicy } from './stickiness/keyed';
import { LbCookiePolicy } from './stickiness/lb-cookie';
import type { PolicyContext, StickinessPolicy } from './stickiness/policy';
import { MemoryStore } from './store/memory-store';
import { type TestHooks, testHooksOf } from './testing-hooks';
import type { Clock, Route, RouteRequest, StickyStore } from './types';

export type { RerouteEvent };

export interface RouterStats {
  algorithm: string;
  stickiness: NormalizedStickiness;
  backends: BackendStats[];
  requests: RequestCounts;
  storeEntries?: number;
}

/** What an adapter tells the router about itself when it makes one (not for users). */
export interface RouterSetup {
  /** The adapter's own option names, accepted beside the core's. */
  extraOptionKeys?: readonly string[];
  /** How active health checks reach a backend (the adapter's TLS settings, say). */
  probe?: HealthProbe;
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

const STORE_WARNING_INTERVAL_MS = 10_000;

/** Where the exchange finds a router's per-request half (not exported from the user's entry). */
export const kRouting = Symbol('stickyroute.routing');

// Typed events over EventEmitter: the interface adds overloads to the class's inherited methods.
export interface StickyRouter {
  on(event: 'newListener' | 'removeListener', listener: (name: string) => void): this;
  on<K extends keyof RouterEvents>(event: K, listener: (payload: RouterEvents[K]) => void): this;
  once<K extends keyof RouterEvents>(event: K, listener: (payload: RouterEvents[K]) => void): this;
  off<K extends keyof RouterEvents>(event: K, listener: (payload: RouterEvents[K]) => void): this;
  emit<K extends keyof RouterEvents>(event: K, payload: RouterEvents[K]): boolean;
}

// biome-ignore lint/suspicious/noUnsafeDeclarationMerging: the interface above declares event signatures only
export class StickyRouter extends EventEmitter {
  readonly pool: BackendPool;
  readonly options: NormalizedOptions;
  readonly store: StickyStore;
  /** @internal */
  readonly [kRouting]: Routing;
  private readonly placement: Placement;
  private readonly counters = newRequestCounts();
  private readonly clock: Clock;
  private readonly policyContext: PolicyContext;
  private readonly passiveHealth: PassiveHealth;
  private readonly activeHealth: ActiveHealthChecker | null;
  private readonly logger: { warn(message: string): void };
  private stickiness: NormalizedStickiness;
  private lastStoreWarning = Number.NEGATIVE_INFINITY;
  private closed = false;

  constructor(input: StickyOptions, setup: RouterSetup = {}) {
    super();
    const options = normalizeOptions(input, setup.extraOptionKeys);
    const hooks: TestHooks = testHooksOf(input);
    this.options = options;
    this.clock = hooks.clock ?? SYSTEM_CLOCK;
    this.logger = input.logger ?? { warn: (message) => process.emitWarning(message, 'StickyrouteWarning') };
    let secrets = options.secrets;
    if (secrets === null) {
      secrets = [randomBytes(32).toString('base64url')];
      // Only the modes that issue a balancer cookie sign anything (learn and route mode keep the app's).
      const s = options.stickiness;
      if (s.type === 'lb-cookie' || (s.type === 'app-cookie' && s.mode === 'follow'))
        this.logger.warn(
          'stickyroute: no `secret` given, so a random one was made. Cookies will not survive a restart, and several gateway instances need one shared `secret`.',
        );
    }
    if (options.backends.length === 0) {
      // Not an error: an empty pool is valid (an ALB target group may be empty), for gateways that add their
      // backends at run time from service discovery. Said once, since until then every request is a 503.
      this.logger.warn(
        'stickyroute: `backends` is empty, so every request is answered 503 until a backend is added with router.pool.add().',
      );
    }
    const codec = new BalancerCookieCodec(secrets);
    const tokens = new BackendTokens(codec);
    const memoryStore =
      input.store === undefined
        ? new MemoryStore({ maxEntries: options.storeSize, clock: this.clock })
        : null;
    this.store = input.store ?? memoryStore!;

    const events = this.decisionEvents();
    let starting = true;
    this.pool = new BackendPool({
      emit: (event, payload) => this.emit(event, payload as RouterEvents[typeof event]),
      changed: (membership) => {
        // The start-up backends join as one change: ring and tokens are built once, not once per backend
        // (which is quadratic: 10,000 backends took minutes).
        if (starting) return;
        const members = this.pool.members;
        if (membership) tokens.rebuild(members);
        this.placement.update(members, membership);
        this.activeHealth?.sync();
      },
      clock: this.clock,
      stuckClients: memoryStore ? (id) => memoryStore.countOf(id) : undefined,
      ramp: (b) => this.placement.ramp(b),
      drainIdleMs: () => stickinessIdleMs(this.stickiness),
    });
    this.placement = new Placement(
      this.pool,
      this.counters,
      options,
      this.clock,
      hooks.random ?? Math.random,
      events,
    );
    for (const spec of options.backends)
      this.pool.add({ url: spec.url.href, id: spec.id, weight: spec.weight });
    starting = false;
    tokens.rebuild(this.pool.members);
    this.placement.update(this.pool.members, true);

    this.policyContext = this.makePolicyContext(codec, tokens);
    this.stickiness = options.stickiness;
    this.placement.policy = this.makePolicy(options.stickiness);
    this.passiveHealth = new PassiveHealth(this.pool, options.healthCheck, this.clock);
    const failover = new FailoverPolicy(
      this.placement,
      this.passiveHealth,
      this.counters,
      events,
      options.strict,
      (status) => this[kRouting].reply(status),
    );
    this[kRouting] = new Routing(
      this.placement,
      failover,
      this.passiveHealth,
      events,
      codec,
      options.cookie.name,
      options.timeoutMs,
      this.clock,
      options.retryAfter,
    );
    this.activeHealth = options.healthCheck.active
      ? new ActiveHealthChecker(this.pool, options.healthCheck, this.clock, hooks.probe ?? setup.probe)
      : null;
    this.activeHealth?.start();
  }

  /**
   * Which backend serves this request, and why. Never rejects: store trouble falls back to hashing. The route
   * holds a connection slot on its backend until it is released, which the exchange does for the adapters
   * (`@stickyroute/core/adapter`): this method is for asking the router directly, in tests and tools.
   */
  async route(req: RouteRequest): Promise<Route> {
    return this.placement.routeNow(req);
  }

  /** Switches stickiness at run time (validated like start-up); applies to the next request. */
  setStickiness(stickiness: StickinessOptions): void {
    const normalized = normalizeStickiness(stickiness);
    this.stickiness = normalized;
    this.placement.policy = this.makePolicy(normalized);
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
    this.activeHealth?.stop();
    this.pool.close();
    this.passiveHealth.close();
  }

  /** The decisions' events: listener bugs are reported, never thrown into a request. */
  private decisionEvents(): DecisionEvents {
    const router = this;
    const events = {
      observed: false,
      emit<K extends keyof RouterEvents>(event: K, payload: RouterEvents[K]): void {
        try {
          router.emit(event, payload);
        } catch (error) {
          router.logger.warn(`stickyroute: a '${event}' listener threw: ${String(error)}`);
        }
      },
    };
    const recount = () => {
      let observed = false;
      for (const name of PER_REQUEST_EVENTS) if (this.listenerCount(name) > 0) observed = true;
      events.observed = observed;
    };
    this.on('newListener', (name: string) => {
      if (PER_REQUEST_EVENTS.has(name)) events.observed = true;
    });
    this.on('removeListener', recount);
    return events;
  }

  private makePolicyContext(codec: BalancerCookieCodec, tokens: BackendTokens): PolicyContext {
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
      codec,
      writer: new BalancerCookieWriter(this.options.cookie),
      cookieName: this.options.cookie.name,
      persistentCookie: this.options.cookie.persistent,
      backendForToken: (token, keyIndex) => tokens.backendFor(token, keyIndex),
      tokenFor: (backend) => tokens.tokenFor(backend),
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
        if (s.mode === 'route') {
          const unroutable = unroutableIds(
            this.pool.members.map((b) => b.id),
            s.routeSeparator,
          );
          if (unroutable.length > 0)
            this.logger.warn(
              `stickyroute: in route mode a backend is named by the end of the session id after '${s.routeSeparator}', so backends ${unroutable.map((id) => `'${id}'`).join(', ')} can never be named: give each backend the id its app puts there (Tomcat's jvmRoute).`,
            );
          return new AppCookieRoutePolicy(ctx, s.appCookie, s.routeSeparator);
        }
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

/**
 * How long a stuck client may stay away and still be stuck: the default `idle` of a drain, after which a
 * quiet backend takes no session with it. The balancer's own durations where it has them (lb-cookie, keyed
 * modes: the cookie or the store entry expires then); for the app's cookie, the app's usual session timeout
 * (learn mode's 20 minutes, servlet containers' 30 in route mode). Nothing sticks without stickiness.
 */
function stickinessIdleMs(s: NormalizedStickiness): number | null {
  switch (s.type) {
    case 'off':
      return null;
    case 'app-cookie':
      return s.mode === 'route' ? SERVLET_SESSION_IDLE_MS : LEARNED_SESSION_IDLE_MS;
    default:
      return s.durationMs;
  }
}

/** Creates a router. Throws StickyConfigError for a bad option. */
export function createStickyRouter(options: StickyOptions): StickyRouter {
  return new StickyRouter(options);
}

/** The per-request half of a router (for the exchange and the core's tests). */
export function routingOf(router: StickyRouter): Routing {
  return router[kRouting];
}
