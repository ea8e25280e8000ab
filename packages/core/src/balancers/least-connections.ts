// Least connections, weighted: the backend with the fewest in-flight requests per unit of weight.
// In-flight counts every request, stuck clients' too (as nginx counts bound requests), so a backend
// busy with its sticky clients gets fewer new ones. Ties rotate so equal backends share evenly.

import type { Backend } from '../pool/backend';
import type { Balancer, BalancerContext } from './balancer';
import { eligible } from './balancer';

export class LeastConnections implements Balancer {
  private members: readonly Backend[] = [];
  private offset = 0;

  constructor(private readonly ctx: BalancerContext) {}

  update(members: readonly Backend[]): void {
    this.members = members;
  }

  pick(_key: string, exclude?: ReadonlySet<string>): Backend | null {
    const n = this.members.length;
    let best: Backend | null = null;
    let bestScore = Number.POSITIVE_INFINITY;
    const start = this.offset++ % Math.max(n, 1);
    for (let k = 0; k < n; k++) {
      const backend = this.members[(start + k) % n]!;
      if (!eligible(backend, exclude)) continue;
      const score = (backend.active + 1) / (backend.weight * this.ctx.ramp(backend));
      if (score < bestScore) {
        best = backend;
        bestScore = score;
      }
    }
    return best;
  }
}
