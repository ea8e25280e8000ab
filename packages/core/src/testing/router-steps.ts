// Test scaffolding: the per-request steps an exchange takes through a router (route, the response's
// cookies, release, failover), callable one by one so unit tests drive decisions without a network.

import { classifyUpstreamError } from '../health/upstream-failure';
import { routingOf, type StickyRouter } from '../router';
import type { FailoverDecision } from '../routing/failover-policy';
import type { Route, RouteRequest } from '../types';

/** A failed attempt as a test describes it: the error, and what had happened by then. */
export interface FailureReport {
  error: unknown;
  /** Some of the body reached the engine and could not be kept for a replay. */
  bodySent?: boolean;
  /** What went out was kept and can be sent again (a body within the retry buffer); default: nothing went out. */
  bodyReplayable?: boolean;
  responseStarted?: boolean;
  reusedConnection?: boolean;
}

export function steps(router: StickyRouter) {
  const routing = routingOf(router);
  return {
    routeNow: (req: RouteRequest) => routing.routeNow(req),
    /** With `req`, as an exchange calls it: the router may announce the cookie (the `cookie` event). */
    responseCookies: (route: Route, setCookie?: string | readonly string[], req?: RouteRequest) =>
      routing.responseCookies(route, setCookie, req),
    release: (route: Route) => routing.release(route),
    succeeded: (route: Route) => routing.succeeded(route),
    reply: (status: 502 | 503 | 504) => routing.reply(status),
    failover: async (route: Route, failure: FailureReport): Promise<FailoverDecision> =>
      routing.failover(route, {
        kind: classifyUpstreamError(failure.error),
        responseStarted: failure.responseStarted === true,
        bodySent: failure.bodySent === true,
        bodyReplayable: failure.bodyReplayable ?? failure.bodySent !== true,
        reusedConnection: failure.reusedConnection === true,
      }),
  };
}
