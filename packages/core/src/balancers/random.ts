// Weighted random, and power of two choices (two weighted random draws, the less loaded wins).

import type { Backend } from '../pool/backend';
import { admitted, type Balancer, type BalancerContext, eligible } from './balancer';

export class WeightedRandom implements Balancer {
  protected eligibleList: Backend[] = [];
  private cumulative = new Float64Array(0);

  constructor(protected readonly ctx: BalancerContext) {}

  update(members: readonly Backend[]): void {
    this.eligibleList = members.filter((b) => b.acceptsNew);
    this.cumulative = new Float64Array(this.eligibleList.length);
    let sum = 0;
    this.eligibleList.forEach((b, i) => {
      sum += b.weight;
      this.cumulative[i] = sum;
    });
  }

  /** One weighted draw, or null after a few draws that hit only excluded or ramping backends. */
  protected draw(exclude?: ReadonlySet<string>): Backend | null {
    const n = this.eligibleList.length;
    if (n === 0) return null;
    const total = this.cumulative[n - 1]!;
    let fallback: Backend | null = null;
    for (let tries = 0; tries < 8; tries++) {
      const target = this.ctx.random() * total;
      let lo = 0;
      let hi = n - 1;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (this.cumulative[mid]! > target) hi = mid;
        else lo = mid + 1;
      }
      const backend = this.eligibleList[lo]!;
      if (!eligible(backend, exclude)) continue;
      if (admitted(this.ctx, backend)) return backend;
      fallback ??= backend;
    }
    // Many exclusions: scan for anything still eligible rather than answer "none" wrongly.
    return fallback ?? this.eligibleList.find((b) => eligible(b, exclude)) ?? null;
  }

  pick(_key: string, exclude?: ReadonlySet<string>): Backend | null {
    return this.draw(exclude);
  }
}

export class PowerOfTwoChoices extends WeightedRandom {
  override pick(_key: string, exclude?: ReadonlySet<string>): Backend | null {
    const a = this.draw(exclude);
    const b = this.draw(exclude);
    if (a === null || b === null) return a ?? b;
    return a.active / a.weight <= b.active / b.weight ? a : b;
  }
}
