// Passive health checks: consecutive connection failures or timeouts seen on real requests mark a backend
// down (`healthCheck.maxFailures`, 0 turns them off); an answer resets the count. Without active checks to
// bring it back, a passively failed backend is tried again after `healthCheck.cooldown`.

import type { NormalizedHealthCheck } from '../config/options';
import type { Backend } from '../pool/backend';
import type { BackendPool } from '../pool/backend-pool';
import type { Clock } from '../types';

export class PassiveHealth {
  private readonly cooldowns = new Map<string, unknown>();

  constructor(
    private readonly pool: BackendPool,
    private readonly options: NormalizedHealthCheck,
    private readonly clock: Clock,
  ) {}

  /** The backend answered: its run of failures is over. */
  succeeded(backend: Backend): void {
    backend.consecutiveFailures = 0;
  }

  /** A connection failure or timeout on a real request. */
  failed(backend: Backend): void {
    const max = this.options.maxFailures;
    backend.consecutiveFailures++;
    if (max === 0 || backend.consecutiveFailures < max) return;
    if (!this.pool.markDown(backend.id, 'passive') || this.options.active) return;
    const id = backend.id;
    // A manual markUp may have left an earlier cool-down pending: it must not bring this failure back early.
    const pending = this.cooldowns.get(id);
    if (pending !== undefined) this.clock.clearTimeout(pending);
    this.cooldowns.set(
      id,
      this.clock.setTimeout(() => {
        this.cooldowns.delete(id);
        this.pool.markUp(id, 'cooldown');
      }, this.options.cooldownMs),
    );
  }

  close(): void {
    for (const timer of this.cooldowns.values()) this.clock.clearTimeout(timer);
    this.cooldowns.clear();
  }
}
