// What the router announces. Pool changes and failures have always been events; every routing decision is
// one too (a client placed, stuck, moved; a cookie issued or deleted), so observers such as the status
// page count what they need without wrapping the router's methods. The per-request events cost nothing
// until someone listens.

import type { NormalizedStickiness } from './config/options';
import type { PoolEvents } from './pool/backend-pool';
import type { RouteRequest } from './types';

export interface RerouteEvent {
  from: string | null;
  to: string;
  /** Why the client moved: its backend was removed, is down, or failed this request. */
  why: 'gone' | 'down' | 'failed';
}

export interface RouterEvents extends PoolEvents {
  /** A client without (valid) stickiness was placed: by the algorithm (`new`) or by hashing its key. */
  placed: { backend: string; reason: 'new' | 'hashed'; request: RouteRequest };
  /**
   * A client's stickiness held: its cookie or its remembered key named `backend`. In the cookie modes `born`
   * and `expires` are the dates inside its cookie (epoch seconds; `expires` 0: a browser-session cookie).
   */
  stuck: {
    backend: string;
    reason: 'sticky' | 'learned';
    request: RouteRequest;
    born?: number;
    expires?: number;
  };
  /** A stuck client moved to another backend. */
  reroute: RerouteEvent;
  /** The response carries a balancer cookie for `backend` (`issued`), or one that deletes it. */
  cookie: {
    backend: string;
    action: 'issued' | 'deleted';
    request: RouteRequest;
    born?: number;
    expires?: number;
  };
  /** A request is sent again after an upstream failure. */
  retry: { from: string; to: string; method: string };
  /** A balancer cookie failed verification or was past its server-side expiry. */
  forged: { reason: 'forged' | 'expired' };
  'store-error': { error: unknown };
  stickiness: NormalizedStickiness;
}

/** Events emitted on every request: the router checks for listeners before building their payloads. */
export const PER_REQUEST_EVENTS: ReadonlySet<string> = new Set(['placed', 'stuck', 'cookie']);
