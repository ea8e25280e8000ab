// Test hooks (time, randomness, the health probe) ride on the options under a symbol, so they are not part
// of `StickyOptions` and no user meets them, yet they pass through every adapter untouched (`{ ...options }`
// copies symbol keys). `withTestHooks` in `@stickyroute/core/testing` puts them there.

import type { HealthProbe } from './health/active-health-checker';
import type { Clock } from './types';

export interface TestHooks {
  /** Time and timers: a fake clock makes every time-based rule deterministic. */
  clock?: Clock;
  /** The random source of the random balancers and slow start. */
  random?: () => number;
  /** How active health checks probe a backend. */
  probe?: HealthProbe;
}

/** `Symbol.for`, so that the ESM and CommonJS builds of the core agree on it. */
export const TEST_HOOKS: unique symbol = Symbol.for('stickyroute.testHooks') as never;

/** `options` with test hooks attached (a copy). */
export function withTestHooks<T extends object>(options: T, hooks: TestHooks): T {
  return { ...options, [TEST_HOOKS]: hooks };
}

export function testHooksOf(options: unknown): TestHooks {
  const hooks =
    typeof options === 'object' && options !== null
      ? (options as { [TEST_HOOKS]?: unknown })[TEST_HOOKS]
      : undefined;
  return typeof hooks === 'object' && hooks !== null ? (hooks as TestHooks) : {};
}
