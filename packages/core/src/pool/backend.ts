// One upstream instance: where it is, how much it weighs, whether it takes clients, and its counters.

export type BackendHealth = 'healthy' | 'down';
export type BackendState = 'healthy' | 'down' | 'draining';

export interface BackendStats {
  id: string;
  url: string;
  weight: number;
  state: BackendState;
  /** Requests in flight now (stuck and new alike). */
  active: number;
  total: number;
  new: number;
  sticky: number;
  rerouted: number;
  failed: number;
  /** Keyed/learned clients the store maps to this backend, when the store can count them (memory store). */
  stuckClients?: number;
  /** Share of new clients a slow-starting backend takes now, 0..1. */
  rampFactor: number;
  /**
   * Draining backends only: how long no client stuck to it has sent a request (ms, on the router's clock),
   * counted from the drain's start until the first one does; a request still in flight there when the idle
   * rule falls due (a WebSocket, a long download) restarts it, to the second. At `drain.idleMs` it is removed.
   */
  quietMs?: number;
  /** Draining backends only: the drain in force (see DrainStats). */
  drain?: DrainStats;
}

/** A drain as `router.stats()` shows it (`pool.drain(id, { idle, timeout })`); times are epoch ms. */
export interface DrainStats {
  /** When the drain began. */
  since: number;
  /** Removed once its stuck clients have been quiet this long; null: no idle rule (stickiness off). */
  idleMs: number | null;
  /** Removed this long after `since` at the latest. */
  timeoutMs: number;
  /** When it will be removed if no stuck client comes again: the earlier of quiet + idle and since + timeout. */
  removesAt: number;
}

/** The drain a backend is under (kept on the backend, so the request path reaches it without a lookup). */
export interface Drain {
  since: number;
  idleMs: number | null;
  timeoutMs: number;
  /** Quiet by arrivals, but requests were still in flight there at the last look: looking every second. */
  watchingInFlight: boolean;
}

export class Backend {
  readonly id: string;
  readonly url: URL;
  /** `protocol//host`: what proxy engines take as a target. */
  readonly origin: string;
  /** `host[:port]` of an https backend (its TLS name is checked against it); undefined for http. */
  readonly tlsHost: string | undefined;
  readonly weight: number;
  health: BackendHealth = 'healthy';
  draining = false;
  /** When the backend joined or last came back up, for slow start (epoch ms). */
  upSince: number;
  /** Consecutive passive failures (connection refused/reset, timeouts). */
  consecutiveFailures = 0;
  active = 0;
  total = 0;
  counts = { new: 0, sticky: 0, rerouted: 0, failed: 0 };
  /** The backend is still a member of the pool (false once removed). */
  member = true;
  /** While draining: the drain's rule. */
  drain: Drain | null = null;
  /**
   * While draining: when a client stuck to it last sent a request (epoch ms; the drain's start until one
   * does). Written only while draining, so other requests pay one field read for it and no clock read.
   */
  lastStuckAt = 0;

  constructor(id: string, url: URL, weight: number, now: number) {
    this.id = id;
    this.url = url;
    this.origin = url.origin;
    this.tlsHost = url.protocol === 'https:' ? url.host : undefined;
    this.weight = weight;
    this.upSince = now;
  }

  /** Healthy, not draining, still in the pool: may take new clients. */
  get acceptsNew(): boolean {
    return this.member && this.health === 'healthy' && !this.draining;
  }

  /** May serve clients already stuck to it (draining backends still do). */
  get servesStuck(): boolean {
    return this.member && this.health === 'healthy';
  }

  get state(): BackendState {
    if (this.health === 'down') return 'down';
    return this.draining ? 'draining' : 'healthy';
  }
}
