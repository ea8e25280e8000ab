// `app-cookie` in `follow` mode (stateless): the balancer cookie lives exactly as long as the application's
// session cookie. When the upstream sets the app cookie, the balancer cookie is set with the same lifetime
// (Max-Age, Expires, or none for a session cookie); when the app deletes it, the balancer cookie goes too.
// A response that does not touch the app cookie leaves the balancer cookie alone, except after a reroute,
// when the client gets a cookie for its new backend with the old one's expiry.

import type { CookieLifetimeAttributes } from '../cookie/balancer-cookie-writer';
import { parseSetCookieLifetime } from '../cookie/set-cookie-lifetime';
import type { Backend } from '../pool/backend';
import type { Route, RouteRequest, RouteState } from '../types';
import {
  type Lookup,
  NO_COOKIES,
  type PolicyContext,
  readBalancerCookie,
  type StickinessPolicy,
} from './policy';

export class AppCookieFollowPolicy implements StickinessPolicy {
  readonly placement = 'balance';

  constructor(
    private readonly ctx: PolicyContext,
    private readonly appCookie: string,
  ) {}

  lookup(req: RouteRequest, state: RouteState): Lookup {
    return readBalancerCookie(this.ctx, req, state, null);
  }

  responseCookies(
    route: Route,
    upstreamSetCookie: string | readonly string[] | undefined,
  ): readonly string[] {
    const backend = route.backend;
    if (backend === null) return NO_COOKIES;
    const now = this.ctx.clock.now();
    const app = parseSetCookieLifetime(upstreamSetCookie, this.appCookie, now);
    if (app?.kind === 'delete') return this.ctx.writer.delete(route.state.secure);
    if (app?.kind === 'set') {
      const expires = app.expiresAt === null ? 0 : Math.ceil(app.expiresAt / 1000);
      const lifetime: CookieLifetimeAttributes = {};
      if (app.maxAge !== undefined) lifetime.maxAge = app.maxAge;
      if (app.expires !== undefined) lifetime.expires = app.expires;
      return this.issue(backend, expires, lifetime, route.state.secure);
    }
    if (route.reason === 'rerouted' && route.state.hadCookie) {
      const expires = route.state.cookieExpires ?? 0;
      const nowSec = Math.floor(now / 1000);
      return this.issue(
        backend,
        expires,
        expires === 0 ? {} : { maxAge: Math.max(1, expires - nowSec) },
        route.state.secure,
      );
    }
    return NO_COOKIES;
  }

  private issue(
    backend: Backend,
    expires: number,
    lifetime: CookieLifetimeAttributes,
    secure: boolean,
  ): readonly string[] {
    const born = Math.floor(this.ctx.clock.now() / 1000);
    return this.ctx.writer.issue(
      this.ctx.codec.encode(this.ctx.tokenFor(backend), expires, born),
      lifetime,
      secure,
    );
  }
}
