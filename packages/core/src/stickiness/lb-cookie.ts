// `lb-cookie`: the balancer issues its own signed cookie. The idle timeout slides: every proxied response
// re-issues the cookie with a fresh expiry (as ALB does); `maxLifetime` bounds the total from the first issue
// (HAProxy maxlife). Both dates live inside the signed value and are enforced here, not by the browser.
// A value follow mode minted (same secret, stickiness switched, or another gateway) is held to the same idle
// rule: its `born` is when it was last issued, so it is honoured for `duration` after that, whatever expiry
// (or none, for a session app cookie) it carries, and then replaced by a cookie of this mode.

import type { DecodedCookie } from '../cookie/balancer-cookie-codec';
import type { Backend } from '../pool/backend';
import type { Route, RouteRequest, RouteState } from '../types';
import {
  type CookieBounds,
  type Lookup,
  type PolicyContext,
  readBalancerCookie,
  type StickinessPolicy,
} from './policy';

/** The Set-Cookie lines last issued for a backend, and the dates and scheme they were made for. */
interface Issued {
  /** The second they were made in (Max-Age counts from it, even when maxLifetime caps `expires`). */
  nowSec: number;
  expires: number;
  born: number;
  secure: boolean;
  cookies: readonly string[];
}

export class LbCookiePolicy implements StickinessPolicy {
  readonly placement = 'balance';
  private readonly maxAgeSec: number;
  /**
   * New clients of a backend within one second get the same lines: one lookup here instead of the token's,
   * the value's and the Set-Cookie lines' (which, cold in memory, made 10,000 backends 2.6× slower than 3).
   */
  private readonly lastIssued = new WeakMap<Backend, Issued>();
  private readonly bounds: CookieBounds;

  constructor(
    private readonly ctx: PolicyContext,
    durationMs: number,
    private readonly maxLifetimeMs: number | null,
  ) {
    this.maxAgeSec = Math.round(durationMs / 1000);
    const idleSec = durationMs / 1000;
    const maxLifetimeSec = maxLifetimeMs === null ? null : maxLifetimeMs / 1000;
    this.bounds = {
      kind: 'lb',
      // Its own values expire `duration` after their last issue already; any other is idle since its born.
      honours: (d: DecodedCookie, nowSec: number) =>
        ((d.kind === 'lb' && d.expires !== 0) || d.born + idleSec > nowSec) &&
        (maxLifetimeSec === null || d.born + maxLifetimeSec > nowSec),
    };
  }

  lookup(req: RouteRequest, state: RouteState): Lookup {
    return readBalancerCookie(this.ctx, req, state, this.bounds);
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
    const secure = route.state.secure;
    const last = this.lastIssued.get(backend);
    if (
      last !== undefined &&
      last.nowSec === nowSec &&
      last.expires === expires &&
      last.born === born &&
      last.secure === secure
    )
      return last.cookies;
    const value = this.ctx.codec.encode(this.ctx.tokenFor(backend), expires, born);
    const lifetime = this.ctx.persistentCookie ? { maxAge: expires - nowSec } : {};
    const cookies = this.ctx.writer.issue(value, lifetime, secure);
    if (last === undefined) this.lastIssued.set(backend, { nowSec, expires, born, secure, cookies });
    else {
      last.nowSec = nowSec;
      last.expires = expires;
      last.born = born;
      last.secure = secure;
      last.cookies = cookies;
    }
    return cookies;
  }
}
