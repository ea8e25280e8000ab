// `app-cookie` in `follow` mode (stateless): the balancer cookie exists in the browser exactly when the
// application's session cookie does. When the upstream sets the app cookie and a browser would store it
// (RFC 6265bis storage rules: see set-cookie-lifetime.ts), the balancer cookie is set with the same lifetime
// (Max-Age, Expires, or none for a session cookie) and the same Domain, so it is sent wherever the app cookie
// is (and `Partitioned` when the app cookie is: the browser keeps that one apart); when the app deletes it,
// the balancer cookie goes too; a line the browser refuses changes nothing.
// A response that does not touch the app cookie leaves the balancer cookie alone, except after a reroute,
// when the client gets a cookie for its new backend with the old one's expiry, and for a session cookie
// that is getting old on the server (below).
//
// On the server a value is honoured until the expiry inside it (the app cookie's); a session app cookie has
// none, so its balancer cookie is honoured for FOLLOW_SESSION_IDLE_MS after it was issued, and re-issued (still
// a session cookie) on a request past half of that: a client idle that long is balanced again, one that
// keeps coming is not.

import type { CookieKind, DecodedCookie } from '../cookie/balancer-cookie-codec';
import type { CookieLifetimeAttributes, CookieScope } from '../cookie/balancer-cookie-writer';
import { type CookieLifetime, namesCookie, readSetCookies } from '../cookie/set-cookie-lifetime';
import type { Backend } from '../pool/backend';
import type { Route, RouteRequest, RouteState } from '../types';
import {
  type CookieBounds,
  type Lookup,
  NO_COOKIES,
  type PolicyContext,
  readBalancerCookie,
  type StickinessPolicy,
} from './policy';

/**
 * How long the balancer cookie of a session app cookie is honoured on the server after it was issued: 24 hours,
 * the longest idle timeout lb-cookie accepts and ALB's default stickiness duration.
 */
export const FOLLOW_SESSION_IDLE_MS = 24 * 3_600_000;
const SESSION_IDLE_S = FOLLOW_SESSION_IDLE_MS / 1000;
const KIND: CookieKind = 'follow';

const BOUNDS: CookieBounds = {
  kind: KIND,
  honours: (d: DecodedCookie, nowSec: number) => d.expires !== 0 || d.born + SESSION_IDLE_S > nowSec,
};

export class AppCookieFollowPolicy implements StickinessPolicy {
  readonly placement = 'balance';

  constructor(
    private readonly ctx: PolicyContext,
    private readonly appCookie: string,
  ) {}

  lookup(req: RouteRequest, state: RouteState): Lookup {
    return readBalancerCookie(this.ctx, req, state, BOUNDS);
  }

  responseCookies(
    route: Route,
    upstreamSetCookie: string | readonly string[] | undefined,
  ): readonly string[] {
    const backend = route.backend;
    if (backend === null) return NO_COOKIES;
    const state = route.state;
    if (namesCookie(upstreamSetCookie, this.appCookie)) {
      const app = readSetCookies(upstreamSetCookie, this.appCookie, this.ctx.clock.now(), state);
      if (app.length === 1) return this.mirror(backend, app[0]!, state.secure);
      if (app.length > 1) return app.flatMap((cookie) => this.mirror(backend, cookie, state.secure));
    }
    if (!state.hadCookie) return NO_COOKIES;
    const nowSec = Math.floor(this.ctx.clock.now() / 1000);
    const expires = state.cookieExpires ?? 0;
    if (route.reason === 'rerouted')
      return this.issue(
        backend,
        expires,
        expires === 0 ? {} : { maxAge: Math.max(1, expires - nowSec) },
        state,
      );
    if (route.reason === 'sticky' && expires === 0 && nowSec - (state.cookieBorn ?? 0) >= SESSION_IDLE_S / 2)
      return this.issue(backend, 0, {}, state);
    return NO_COOKIES;
  }

  /** The balancer cookie the browser keeps beside the app cookie it keeps (or drops with it). */
  private mirror(backend: Backend, app: CookieLifetime, secure: boolean): readonly string[] {
    try {
      return this.write(backend, app, secure, app);
    } catch {
      // A domain a browser takes but the `cookie` library will not write (an underscore in a label): the
      // configured scope is the next best, a balancer cookie the host's own requests carry.
      return this.write(backend, app, secure, { domain: undefined, partitioned: app.partitioned });
    }
  }

  private write(
    backend: Backend,
    app: CookieLifetime,
    secure: boolean,
    scope: CookieScope,
  ): readonly string[] {
    if (app.kind === 'delete') return this.ctx.writer.delete(secure, scope);
    const expires = app.expiresAt === null ? 0 : Math.ceil(app.expiresAt / 1000);
    const lifetime: CookieLifetimeAttributes = {};
    if (app.maxAge !== undefined) lifetime.maxAge = app.maxAge;
    if (app.expires !== undefined) lifetime.expires = app.expires;
    const value = this.ctx.codec.encode(this.ctx.tokenFor(backend), expires, this.nowSec(), KIND);
    return this.ctx.writer.issue(value, lifetime, secure, scope);
  }

  /** A balancer cookie the app did not ask for (reroute, session renewal), in the configured scope. */
  private issue(
    backend: Backend,
    expires: number,
    lifetime: CookieLifetimeAttributes,
    state: RouteState,
  ): readonly string[] {
    const value = this.ctx.codec.encode(this.ctx.tokenFor(backend), expires, this.nowSec(), KIND);
    return this.ctx.writer.issue(value, lifetime, state.secure);
  }

  private nowSec(): number {
    return Math.floor(this.ctx.clock.now() / 1000);
  }
}
