// `lb-cookie`: the balancer issues its own signed cookie. The idle timeout slides: every proxied response
// re-issues the cookie with a fresh expiry (as ALB does); `maxLifetime` bounds the total from the first issue
// (HAProxy maxlife). Both dates live inside the signed value and are enforced here, not by the browser.

import type { Route, RouteRequest, RouteState } from '../types';
import { type Lookup, type PolicyContext, readBalancerCookie, type StickinessPolicy } from './policy';

export class LbCookiePolicy implements StickinessPolicy {
  readonly placement = 'balance';
  private readonly maxAgeSec: number;

  constructor(
    private readonly ctx: PolicyContext,
    durationMs: number,
    private readonly maxLifetimeMs: number | null,
  ) {
    this.maxAgeSec = Math.round(durationMs / 1000);
  }

  lookup(req: RouteRequest, state: RouteState): Lookup {
    return readBalancerCookie(this.ctx, req, state, this.maxLifetimeMs);
  }

  responseCookies(route: Route): readonly string[] {
    const backend = route.backend;
    if (backend === null) return [];
    const nowSec = Math.floor(this.ctx.clock.now() / 1000);
    const keepsBirth = route.reason === 'sticky' && route.state.cookieBorn !== undefined;
    const born = keepsBirth ? route.state.cookieBorn! : nowSec;
    let expires = nowSec + this.maxAgeSec;
    if (this.maxLifetimeMs !== null)
      expires = Math.min(expires, born + Math.round(this.maxLifetimeMs / 1000));
    const value = this.ctx.codec.encode(this.ctx.tokenFor(backend), expires, born);
    const lifetime = this.ctx.persistentCookie ? { maxAge: expires - nowSec } : {};
    return this.ctx.writer.issue(value, lifetime, route.state.secure);
  }
}
