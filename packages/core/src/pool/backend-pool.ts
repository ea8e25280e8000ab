// The set of backends and every change to it: add (scale up), drain and remove (scale down),
// down/up (health). Each change is announced as an event and tells the router to refresh its balancers.
// A drain ends in removal once the backend's stuck clients have gone quiet for `idle`, or at `timeout`: the
// request path only notes when a stuck client last came (Backend.lastStuckAt), and one timer per draining
// backend, on the router's clock, wakes when the earlier of the two could be due and looks again.

import { formatDuration, parseDuration, show } from '../config/duration';
import { StickyConfigError } from '../config/errors';
import { type BackendInput, normalizeBackend } from '../config/options';
import type { Clock, Duration } from '../types';
import { Backend, type BackendState, type BackendStats } from './backend';

export interface PoolEvents {
  add: { id: string; url: string };
  /**
   * `manual`: `pool.remove()`; `drain-idle`: its stuck clients were quiet for the drain's idle duration;
   * `drain-timeout`: the drain's timeout came first.
   */
  remove: { id: string; url: string; reason: RemoveReason };
  /** `idleMs` null: no idle rule (stickiness off and no `idle` given), the timeout alone removes it. */
  drain: { id: string; url: string; idleMs: number | null; timeoutMs: number };
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
  /** The idle duration of the stickiness in force, the drains' default `idle` (null: nothing sticks). */
  drainIdleMs(): number | null;
}

export type RemoveReason = 'manual' | 'drain-idle' | 'drain-timeout';

export interface DrainOptions {
  /** Removed once no client stuck to it has sent a request for this long (≥ 1 s; default: the stickiness's idle duration). */
  idle?: Duration;
  /** Removed this long after the drain began at the latest (default 300 s, ALB's deregistration delay). */
  timeout?: Duration;
}

/** Default drain timeout: ALB's default deregistration delay. */
const DEFAULT_DRAIN_MS = 300_000;
const MIN_DRAIN_IDLE_MS = 1000;
/** While a quiet draining backend still has a request in flight, how often its end is looked for. */
const IN_FLIGHT_POLL_MS = 1000;
/** The longest a Node timer waits (a longer delay fires at once); longer waits look again when it fires. */
const MAX_TIMER_MS = 2 ** 31 - 1;

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
    return this.removeFor(id, 'manual');
  }

  private removeFor(id: string, reason: RemoveReason): boolean {
    const backend = this.byId.get(id);
    if (!backend) return false;
    this.clearTimer(id);
    backend.member = false;
    this.byId.delete(id);
    this.backends = this.backends.filter((b) => b !== backend);
    this.hooks.emit('remove', { id, url: backend.origin, reason });
    this.hooks.emit('state', { id, from: backend.state, to: 'removed' });
    this.refresh(true);
    return true;
  }

  /**
   * Scale down gently: no new clients; stuck clients keep being served, and the backend is removed once none
   * of them has sent a request for `idle` (default: the stickiness's idle duration), or at `timeout` (default
   * 300 s, as ALB's deregistration delay), whichever comes first. Draining a draining backend replaces its
   * rule; how long it has been quiet carries over. Throws StickyConfigError for a bad duration, or an `idle`
   * that the timeout would always beat.
   */
  drain(id: string, options: DrainOptions = {}): boolean {
    const backend = this.byId.get(id);
    if (!backend) return false;
    if (typeof options !== 'object' || options === null)
      throw new StickyConfigError('drain', `must be an object { idle?, timeout? } (got ${show(options)})`);
    for (const key of Object.keys(options))
      if (key !== 'idle' && key !== 'timeout')
        throw new StickyConfigError(`drain.${key}`, 'is not a known option (known: idle, timeout)');
    const timeoutMs =
      options.timeout === undefined ? DEFAULT_DRAIN_MS : parseDuration(options.timeout, 'drain.timeout');
    let idleMs: number | null;
    if (options.idle === undefined) idleMs = this.hooks.drainIdleMs();
    else {
      idleMs = parseDuration(options.idle, 'drain.idle');
      if (idleMs < MIN_DRAIN_IDLE_MS)
        throw new StickyConfigError('drain.idle', `must be at least 1s (got ${show(options.idle)})`);
      // An idle rule the timeout always beats is a mistake, not a drain: say so rather than ignore it.
      if (idleMs >= timeoutMs)
        throw new StickyConfigError(
          'drain.idle',
          `must be shorter than drain.timeout (${formatDuration(idleMs)} is not shorter than ${formatDuration(timeoutMs)}${options.timeout === undefined ? ', the default' : ''}): give a longer timeout`,
        );
    }
    const now = this.hooks.clock.now();
    const from = backend.state;
    if (!backend.draining) backend.lastStuckAt = now;
    backend.draining = true;
    backend.drain = { since: now, idleMs, timeoutMs, watchingInFlight: false };
    this.clearTimer(id);
    this.hooks.emit('drain', { id, url: backend.origin, idleMs, timeoutMs });
    if (from !== backend.state) this.hooks.emit('state', { id, from, to: backend.state });
    this.refresh(false);
    this.checkDrain(backend);
    return true;
  }

  /** Cancels a drain: the backend takes new clients again. */
  undrain(id: string): boolean {
    const backend = this.byId.get(id);
    if (!backend?.draining) return false;
    this.clearTimer(id);
    const from = backend.state;
    backend.draining = false;
    backend.drain = null;
    // A backend down while draining stays down: nothing to announce.
    if (from !== backend.state) this.hooks.emit('state', { id, from, to: backend.state });
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
    const stats: BackendStats = {
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
    const drain = b.drain;
    if (drain !== null) {
      stats.quietMs = Math.max(0, this.hooks.clock.now() - b.lastStuckAt);
      stats.drain = {
        since: drain.since,
        idleMs: drain.idleMs,
        timeoutMs: drain.timeoutMs,
        removesAt: removalDue(b, drain),
      };
    }
    return stats;
  }

  /** Stops drain timers (router.close()). */
  close(): void {
    for (const id of [...this.timers.keys()]) this.clearTimer(id);
  }

  /** Removes a draining backend whose time has come, or sets its timer for when it next could have. */
  private checkDrain(backend: Backend): void {
    const drain = backend.drain;
    if (drain === null || !backend.member) return;
    const now = this.hooks.clock.now();
    if (now - drain.since >= drain.timeoutMs) {
      this.removeFor(backend.id, 'drain-timeout');
      return;
    }
    let wait: number;
    const idleMs = drain.idleMs;
    if (
      idleMs !== null &&
      (drain.watchingInFlight || now - backend.lastStuckAt >= idleMs) &&
      backend.active > 0
    ) {
      // Quiet by arrivals, yet a request is still in flight there (a WebSocket, a long download): a session
      // in use. Its end is looked for every second, and the quiet is counted from then.
      drain.watchingInFlight = true;
      backend.lastStuckAt = now;
      wait = Math.min(IN_FLIGHT_POLL_MS, idleMs);
    } else if (idleMs !== null && now - backend.lastStuckAt >= idleMs) {
      this.removeFor(backend.id, 'drain-idle');
      return;
    } else {
      drain.watchingInFlight = false;
      // A stuck client that came since only moves the due time later: the timer then finds it not due yet
      // and waits again, so requests never touch a timer.
      wait = removalDue(backend, drain) - now;
    }
    wait = Math.min(wait, drain.since + drain.timeoutMs - now, MAX_TIMER_MS);
    this.timers.set(
      backend.id,
      this.hooks.clock.setTimeout(() => this.checkDrain(backend), wait),
    );
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

/** When a draining backend is removed unless a stuck client comes first (epoch ms). */
function removalDue(backend: Backend, drain: NonNullable<Backend['drain']>): number {
  const timeout = drain.since + drain.timeoutMs;
  return drain.idleMs === null ? timeout : Math.min(timeout, backend.lastStuckAt + drain.idleMs);
}
