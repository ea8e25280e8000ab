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
}

export class Backend {
  readonly id: string;
  readonly url: URL;
  /** `protocol//host`: what proxy engines take as a target. */
  readonly origin: string;
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

  constructor(id: string, url: URL, weight: number, now: number) {
    this.id = id;
    this.url = url;
    this.origin = url.origin;
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
