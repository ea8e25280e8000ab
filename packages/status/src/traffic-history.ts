// Requests per second per backend over the last minutes, for the status page's live chart and its "share of
// recent traffic": the router's per-backend totals, sampled at a fixed interval into a bounded ring. A
// backend added or removed inside the window keeps its line (null where it was absent), so an operator who
// drains one watches its line fall to zero and stop.

export interface TrafficSeries {
  backend: string;
  /** Requests per second in each interval, oldest first; null where the backend was not in the pool. */
  perSecond: (number | null)[];
}

export interface TrafficRates {
  intervalSeconds: number;
  /** The span the chart shows; the series fill it from the right as samples accumulate. */
  windowSeconds: number;
  /** Epoch ms of the newest sample: the right edge of the chart. */
  end: number;
  series: TrafficSeries[];
}

interface Sample {
  at: number;
  totals: ReadonlyMap<string, number>;
}

export class TrafficHistory {
  private readonly samples: Sample[] = [];
  private readonly maxSamples: number;

  constructor(
    readonly intervalMs: number,
    readonly windowMs: number,
  ) {
    this.maxSamples = Math.max(2, Math.ceil(windowMs / intervalMs) + 1);
  }

  /** Records every current backend's total request count at `at` (epoch ms). */
  sample(at: number, backends: readonly { id: string; total: number }[]): void {
    this.samples.push({ at, totals: new Map(backends.map((b) => [b.id, b.total])) });
    if (this.samples.length > this.maxSamples) this.samples.shift();
  }

  /** One rate per interval between consecutive samples, for every backend seen in the window. */
  rates(): TrafficRates {
    const ids = new Set<string>();
    for (const sample of this.samples) for (const id of sample.totals.keys()) ids.add(id);
    const series: TrafficSeries[] = [...ids].map((backend) => ({ backend, perSecond: [] }));
    for (let i = 1; i < this.samples.length; i++) {
      const before = this.samples[i - 1]!;
      const after = this.samples[i]!;
      const seconds = (after.at - before.at) / 1000;
      for (const line of series) {
        const from = before.totals.get(line.backend);
        const to = after.totals.get(line.backend);
        // A backend removed and added back under its id starts counting again from 0: never a negative rate.
        line.perSecond.push(
          from === undefined || to === undefined || seconds <= 0
            ? null
            : Math.round((Math.max(0, to - from) / seconds) * 100) / 100,
        );
      }
    }
    return {
      intervalSeconds: this.intervalMs / 1000,
      windowSeconds: this.windowMs / 1000,
      end: this.samples.at(-1)?.at ?? 0,
      series,
    };
  }

  /**
   * Requests each backend took in about the last `windowMs`, given its total now: counted from the oldest
   * sample in that window; a backend absent from that sample joined since, so all its requests are recent.
   */
  recent(
    now: number,
    windowMs: number,
    backends: readonly { id: string; total: number }[],
  ): Map<string, number> {
    const oldest = this.samples.find((s) => s.at >= now - windowMs);
    return new Map(backends.map((b) => [b.id, Math.max(0, b.total - (oldest?.totals.get(b.id) ?? 0))]));
  }
}
