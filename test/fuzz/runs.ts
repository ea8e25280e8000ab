// How hard the fuzz project works: FUZZ_RUNS runs per property (3,000 by default so CI stays fast;
// `pnpm fuzz` sets 100,000), and a per-test timeout that grows with it.

const parsed = Number.parseInt(process.env.FUZZ_RUNS ?? '', 10);

export const FUZZ_RUNS = Number.isInteger(parsed) && parsed > 0 ? parsed : 3_000;

/** Jest timeout for a test that checks `properties` properties at FUZZ_RUNS runs each. */
export function fuzzTimeout(properties = 1): number {
  return Math.max(30_000, properties * FUZZ_RUNS * 3);
}
