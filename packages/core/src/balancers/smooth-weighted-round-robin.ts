// nginx's smooth weighted round robin: weights 5,1,1 give a a b a c a a, spreading heavy backends out.
// The schedule is computed once per pool change, so a pick is O(1) whatever the pool's size.

import type { Backend } from '../pool/backend';
import { admitted, type Balancer, type BalancerContext, eligible } from './balancer';

/** One full period of nginx's algorithm over `backends` (length = sum of weights). */
export function smoothWeightedSchedule(backends: readonly Backend[]): Backend[] {
  if (backends.length === 0) return [];
  if (backends.every((b) => b.weight === backends[0]!.weight)) return [...backends];
  const total = backends.reduce((sum, b) => sum + b.weight, 0);
  const current = new Float64Array(backends.length);
  const schedule: Backend[] = [];
  for (let step = 0; step < total; step++) {
    let best = 0;
    for (let i = 0; i < backends.length; i++) {
      current[i]! += backends[i]!.weight;
      if (current[i]! > current[best]!) best = i;
    }
    current[best]! -= total;
    schedule.push(backends[best]!);
  }
  return schedule;
}

export class SmoothWeightedRoundRobin implements Balancer {
  private schedule: Backend[] = [];
  private next = 0;

  constructor(private readonly ctx: BalancerContext) {}

  update(members: readonly Backend[]): void {
    this.schedule = smoothWeightedSchedule(members.filter((b) => b.acceptsNew));
    this.next = 0;
  }

  pick(_key: string, exclude?: ReadonlySet<string>): Backend | null {
    const n = this.schedule.length;
    let fallback: Backend | null = null;
    for (let tries = 0; tries < n; tries++) {
      const backend = this.schedule[this.next]!;
      this.next = this.next + 1 === n ? 0 : this.next + 1;
      if (!eligible(backend, exclude)) continue;
      if (admitted(this.ctx, backend)) return backend;
      fallback ??= backend;
    }
    return fallback;
  }
}
