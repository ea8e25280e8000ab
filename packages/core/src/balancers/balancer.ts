// What every algorithm for new clients implements, and what it may ask of the router.

import type { Backend } from '../pool/backend';

export interface BalancerContext {
  random(): number;
  /** Slow start: the share (0..1] of its weight a backend takes now. */
  ramp(backend: Backend): number;
}

export interface Balancer {
  /**
   * A backend for a new client among those that accept new clients, skipping `exclude`d ids, or null.
   * `key` is the hashing key (client IP, header value); algorithms that do not hash ignore it.
   */
  pick(key: string, exclude?: ReadonlySet<string>): Backend | null;
  /** The pool's membership or a backend's state changed. */
  update(members: readonly Backend[]): void;
}

export function eligible(backend: Backend, exclude?: ReadonlySet<string>): boolean {
  return backend.acceptsNew && (exclude === undefined || !exclude.has(backend.id));
}

/** Slow start by rejection: a ramping backend is passed over with probability 1 - ramp. */
export function admitted(ctx: BalancerContext, backend: Backend): boolean {
  const ramp = ctx.ramp(backend);
  return ramp >= 1 || ctx.random() < ramp;
}
