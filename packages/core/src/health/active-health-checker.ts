// Active health checks, ELB-style: every `interval`, a GET of `path` on each backend with a `timeout`;
// `unhealthyThreshold` consecutive failures mark it down, `healthyThreshold` consecutive passes bring it
// back. Runs off the request path on the injected clock; `stop()` ends it, probes in flight included.

import http from 'node:http';
import https from 'node:https';
import type { ConnectionOptions } from 'node:tls';
import type { NormalizedHealthCheck } from '../config/options';
import type { Backend } from '../pool/backend';
import type { BackendPool } from '../pool/backend-pool';
import type { Clock } from '../types';

/** Resolves to the HTTP status of one probe; rejects on connection failure, timeout or `signal`'s abort. */
export type HealthProbe = (url: URL, timeoutMs: number, signal?: AbortSignal) => Promise<number>;

/**
 * Probes with node:http(s), one connection per probe. `tls` is the adapter's setting for https backends (a
 * private CA, say), so the checks trust what the proxied requests trust.
 */
export function httpProbe(tls: ConnectionOptions = {}): HealthProbe {
  return (url, timeoutMs, signal) =>
    new Promise((resolve, reject) => {
      const secure = url.protocol === 'https:';
      const req = (secure ? https : http).request(
        url,
        {
          ...(secure ? tls : undefined),
          method: 'GET',
          timeout: timeoutMs,
          signal,
          headers: { 'user-agent': 'stickyroute-health-check', connection: 'close' },
        },
        (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        },
      );
      req.on('timeout', () =>
        req.destroy(Object.assign(new Error('health check timed out'), { code: 'ETIMEDOUT' })),
      );
      req.on('error', reject);
      req.end();
    });
}

interface Tracker {
  passes: number;
  failures: number;
  timer: unknown;
  stopped: boolean;
}

export class ActiveHealthChecker {
  private readonly trackers = new Map<string, Tracker>();
  private running = false;
  /** Aborts the probes in flight when the checks stop (router.close()), so no socket outlives them. */
  private inFlight = new AbortController();

  constructor(
    private readonly pool: BackendPool,
    private readonly options: NormalizedHealthCheck,
    private readonly clock: Clock,
    private readonly probe: HealthProbe = httpProbe(),
  ) {}

  start(): void {
    this.running = true;
    this.inFlight = new AbortController();
    this.sync();
  }

  /** Starts checking new members and stops checking removed ones. */
  sync(): void {
    if (!this.running) return;
    const ids = new Set(this.pool.members.map((b) => b.id));
    for (const [id, tracker] of this.trackers) {
      if (!ids.has(id)) {
        this.stopTracker(tracker);
        this.trackers.delete(id);
      }
    }
    for (const backend of this.pool.members) {
      if (this.trackers.has(backend.id)) continue;
      const tracker: Tracker = { passes: 0, failures: 0, timer: undefined, stopped: false };
      this.trackers.set(backend.id, tracker);
      this.schedule(backend, tracker, 0);
    }
  }

  stop(): void {
    this.running = false;
    this.inFlight.abort();
    for (const tracker of this.trackers.values()) this.stopTracker(tracker);
    this.trackers.clear();
  }

  private stopTracker(tracker: Tracker): void {
    tracker.stopped = true;
    if (tracker.timer !== undefined) this.clock.clearTimeout(tracker.timer);
  }

  private schedule(backend: Backend, tracker: Tracker, delayMs: number): void {
    tracker.timer = this.clock.setTimeout(() => void this.check(backend, tracker), delayMs);
  }

  private async check(backend: Backend, tracker: Tracker): Promise<void> {
    let ok: boolean;
    try {
      const url = new URL(this.options.path, backend.url);
      ok = this.options.isHealthyStatus(await this.probe(url, this.options.timeoutMs, this.inFlight.signal));
    } catch {
      ok = false;
    }
    if (tracker.stopped) return;
    if (ok) {
      tracker.failures = 0;
      // Passes count towards recovery only: a backend that passive checks took down while its checks
      // were passing still needs `healthyThreshold` fresh passes, as an ELB target does.
      tracker.passes = backend.health === 'down' ? tracker.passes + 1 : 0;
      if (backend.health === 'down' && tracker.passes >= this.options.healthyThreshold)
        this.pool.markUp(backend.id, 'health-check');
    } else {
      tracker.passes = 0;
      tracker.failures++;
      if (backend.health === 'healthy' && tracker.failures >= this.options.unhealthyThreshold)
        this.pool.markDown(backend.id, 'health-check');
    }
    this.schedule(backend, tracker, this.options.intervalMs);
  }
}
