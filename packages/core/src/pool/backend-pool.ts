// The set of backends and every change to it: add (scale up), drain and remove (scale down),
// down/up (health). Each change is announced as an event and tells the router to refresh its balancers.

import { parseDuration } from '../config/duration';
import { StickyConfigError } from '../config/errors';
import { type BackendInput, normalizeBackend } from '../config/options';
import type { Clock } from '../types';
import { Backend, type BackendState, type BackendStats } from './backend';

export interface PoolEvents {
  add: { id: string; url: string };
  remove: { id: string; url: string };
  drain: { id: string; url: string; timeoutMs: number };
  down: { id: string; url: string; reason: string };
  up: { id: string; url: string; reason: string };
  state: { id: string; from: BackendState | 'absent'; to: BackendState | 'removed' };
}

export interface PoolHooks {
  emit<K extends keyof PoolEvents>(event: K, payload: PoolEvents[K]): void;
  /** Membership or a backend's state changed; `membership` is true when backends joined or left. */
  changed(membership: boolean): void;
  clock: Clock;
  /** Counts of keyed clients per backend id, when the store can tell. */
  stuckClients?(id: string): number | undefined;
  /** Slow start factor of a backend now. */
  ramp(backend: Backend): number;
}

/** Default drain timeout: ALB's default deregistration delay. */
const DEFAULT_DRAIN_MS = 300_000;

export class BackendPool {
  private readonly byId = new Map<string, Backend>();
  private backends: Backend[] = [];
  private readonly timers = new Map<string, unknown>();
  /** Live totals the hash ring reads for its load bound. */
  readonly load = { active: 0, acceptingWeight: 0 };

  constructor(private readonly hooks: PoolHooks) {}

  /** Backends currently in the pool, in the order they were added. */
  get members(): readonly Backend[] {
    return this.backends;
  }

  get(id: string): Backend | undefined {
    return this.byId.get(id);
  }

  /** Scale up: the new backend takes new clients; no stuck client moves. */
  add(input: BackendInput): Backend {
    const spec = normalizeBackend(input, 'backend');
    if (this.byId.has(spec.id))
      throw new StickyConfigError('backend.id', `duplicates another backend's id "${spec.id}"`);
    const backend = new Backend(spec.id, spec.url, spec.weight, this.hooks.clock.now());
    this.byId.set(backend.id, backend);
    this.backends = [...this.backends, backend];
    this.hooks.emit('add', { id: backend.id, url: backend.origin });
    this.hooks.emit('state', { id: backend.id, from: 'absent', to: backend.state });
    this.refresh(true);
    return backend;
  }

  /** Removes at once: its stuck clients move on their next request. Returns false if unknown. */
  remove(id: string): boolean {
    const backend = this.byId.get(id);
    if (!backend) return false;
    this.clearTimer(id);
    backend.member = false;
    this.byId.delete(id);
    this.backends = this.backends.filter((b) => b !== backend);
    this.hooks.emit('remove', { id, url: backend.origin });
    this.hooks.emit('state', { id, from: backend.state, to: 'removed' });
    this.refresh(true);
    return true;
  }

  /**
   * Scale down gently: no new clients; stuck clients keep being served until `timeout`
   * (default 300 s, as ALB's deregistration delay), then the backend is removed.
   */
  drain(id: string, options: { timeout?: number | string } = {}): boolean {
    const backend = this.byId.get(id);
    if (!backend) return false;
    const timeoutMs =
      options.timeout === undefined ? DEFAULT_DRAIN_MS : parseDuration(options.timeout, 'drain.timeout');
    const from = backend.state;
    backend.draining = true;
    this.clearTimer(id);
    this.timers.set(
      id,
      this.hooks.clock.setTimeout(() => this.remove(id), timeoutMs),
    );
    this.hooks.emit('drain', { id, url: backend.origin, timeoutMs });
    if (from !== backend.state) this.hooks.emit('state', { id, from, to: backend.state });
    this.refresh(false);
    return true;
  }

  /** Cancels a drain: the backend takes new clients again. */
  undrain(id: string): boolean {
    const backend = this.byId.get(id);
    if (!backend?.draining) return false;
    this.clearTimer(id);
    backend.draining = false;
    this.hooks.emit('state', { id, from: 'draining', to: backend.state });
    this.refresh(false);
    return true;
  }

  markDown(id: string, reason = 'manual'): boolean {
    const backend = this.byId.get(id);
    if (!backend || backend.health === 'down') return false;
    const from = backend.state;
    backend.health = 'down';
    this.hooks.emit('down', { id, url: backend.origin, reason });
    this.hooks.emit('state', { id, from, to: backend.state });
    this.refresh(false);
    return true;
  }

  markUp(id: string, reason = 'manual'): boolean {
    const backend = this.byId.get(id);
    if (!backend || backend.health === 'healthy') return false;
    backend.health = 'healthy';
    backend.consecutiveFailures = 0;
    backend.upSince = this.hooks.clock.now();
    this.hooks.emit('up', { id, url: backend.origin, reason });
    this.hooks.emit('state', { id, from: 'down', to: backend.state });
    this.refresh(false);
    return true;
  }

  /** Every backend with its state and counters. */
  list(): BackendStats[] {
    return this.backends.map((b) => this.statsOf(b));
  }

  statsOf(b: Backend): BackendStats {
    const ramp = this.hooks.ramp(b);
    const stuckClients = this.hooks.stuckClients?.(b.id);
    return {
      id: b.id,
      url: b.origin,
      weight: b.weight,
      state: b.state,
      active: b.active,
      total: b.total,
      ...b.counts,
      ...(stuckClients === undefined ? {} : { stuckClients }),
      rampFactor: ramp,
    };
  }

  /** Stops drain timers (router.close()). */
  close(): void {
    for (const id of [...this.timers.keys()]) this.clearTimer(id);
  }

  private clearTimer(id: string): void {
    const timer = this.timers.get(id);
    if (timer !== undefined) this.hooks.clock.clearTimeout(timer);
    this.timers.delete(id);
  }

  private refresh(membership: boolean): void {
    this.load.acceptingWeight = 0;
    for (const b of this.backends) if (b.acceptsNew) this.load.acceptingWeight += b.weight;
    this.hooks.changed(membership);
  }
}
