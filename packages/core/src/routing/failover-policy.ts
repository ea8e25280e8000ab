// What happens when the upstream fails a request: send it again (on the same backend after a stale
// keep-alive connection, else on another one), or answer 502/503/504. The rules are nginx's and HAProxy's
// (`proxy_next_upstream error`, `retry-on conn-failure`) with RFC 9110's care for non-idempotent requests:
// - refused (the connection never opened: nothing reached the backend): any request is sent elsewhere, its
//   body replayed, as long as the body could be kept (see RequestBody);
// - a kept-alive connection closed as it was reused (the upstream's idle timeout racing the request): sent
//   again on the same backend, once, unless it is not idempotent and some of its body went out;
// - reset before any response byte: only an idempotent request is sent elsewhere; a POST that may have
//   reached the app is never replayed;
// - a timeout is a 504 and any other failure a 502; a response already under way is cut, never retried.
// Each failure counts against the backend (passive health); strict mode never moves a stuck client.

import type { RerouteEvent } from '../events';
import type { PassiveHealth } from '../health/passive-health';
import { isIdempotent } from '../health/upstream-failure';
import type { RequestCounts } from '../stats/request-counts';
import type { FailureKind, Reply, Route, RouteReason, RouteState } from '../types';
import type { ErrorStatus } from './error-replies';
import type { DecisionEvents, Placement } from './placement';

/** What the exchange saw of a failed attempt. */
export interface AttemptFailure {
  kind: FailureKind;
  /** Some of the upstream's response had reached the gateway (or the client). */
  responseStarted: boolean;
  /** Some of the request's body went to the upstream (it may have reached the app). */
  bodySent: boolean;
  /** The request's body (if any) can be sent again from the start. */
  bodyReplayable: boolean;
  /** The attempt went out on a kept-alive connection that had served earlier requests. */
  reusedConnection: boolean;
}

export type FailoverDecision = { retry: Route; reply?: undefined } | { reply: Reply; retry?: undefined };

/** How many times one request may be sent to another backend (HAProxy's `retries` is 3 attempts). */
export const MAX_RETRIES = 2;

export class FailoverPolicy {
  constructor(
    private readonly placement: Placement,
    private readonly health: PassiveHealth,
    private readonly counters: RequestCounts,
    private readonly events: DecisionEvents,
    private readonly strict: boolean,
    private readonly reply: (status: ErrorStatus) => Reply,
  ) {}

  /** The attempt on `route` failed (its slot is released here): retry it, or the answer to give. */
  decide(route: Route, failure: AttemptFailure): FailoverDecision | Promise<FailoverDecision> {
    const { kind } = failure;
    const backend = route.backend;
    this.placement.release(route);
    const sendable = !failure.responseStarted && failure.bodyReplayable;
    // A keep-alive connection the upstream closed while idle (a race with its keep-alive timeout): the app
    // most likely never saw the request and the backend is fine. Once, on the same backend, moving no one;
    // but a body that went out may have reached the app, so only an idempotent request sends it again.
    if (
      backend?.servesStuck &&
      sendable &&
      failure.reusedConnection &&
      (!failure.bodySent || isIdempotent(route.state.method)) &&
      (kind === 'refused' || kind === 'reset') &&
      route.state.staleRetried !== true
    ) {
      const state: RouteState = { ...route.state, staleRetried: true, released: false };
      this.counters.retried++;
      // The same request again: in flight once more, but not counted as another one.
      this.placement.retake(backend);
      return { retry: { ...route, state } };
    }
    this.counters.failed++;
    if (backend !== null) {
      backend.counts.failed++;
      if (kind !== 'other') this.health.failed(backend);
    }
    const reply = this.reply(kind === 'timeout' ? 504 : 502);
    const retryable =
      sendable &&
      route.attempts < MAX_RETRIES &&
      (kind === 'refused' || (kind === 'reset' && isIdempotent(route.state.method)));
    if (!retryable || backend === null) return { reply };
    // Strict mode never moves a stuck client, also when its backend refuses the connection.
    if (this.strict && (route.reason === 'sticky' || route.reason === 'learned'))
      return { reply: this.reply(503) };
    const failed = new Set(route.state.failed ?? []);
    failed.add(backend.id);
    const state: RouteState = { ...route.state, failed, released: false };
    const next = this.placement.next(state, failed);
    if (next === null) return { reply };
    const placed = this.placement.policy?.placed?.(state, next);
    if (placed === undefined) return this.moved(route, backend.id, next, state);
    return placed.then(() => this.moved(route, backend.id, next, state));
  }

  private moved(
    route: Route,
    from: string,
    next: NonNullable<Route['backend']>,
    state: RouteState,
  ): FailoverDecision {
    // A client placed by this very request (new, or hashed for the first time) had no session to lose.
    const wasStuck = route.reason !== 'new' && route.reason !== 'hashed';
    const reason: RouteReason = wasStuck ? 'rerouted' : route.reason;
    this.counters.retried++;
    this.counters[reason]++;
    this.placement.admit(next, reason);
    this.events.emit('retry', { from, to: next.id, method: state.method });
    if (wasStuck) this.events.emit('reroute', { from, to: next.id, why: 'failed' } satisfies RerouteEvent);
    const upstreamHeaders = wasStuck
      ? { ...route.upstreamHeaders, 'x-sticky-rerouted': '1' }
      : route.upstreamHeaders;
    return { retry: { backend: next, reason, attempts: route.attempts + 1, state, upstreamHeaders } };
  }
}
