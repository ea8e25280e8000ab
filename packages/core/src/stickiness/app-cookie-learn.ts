// `app-cookie` in `learn` mode (nginx `sticky learn`): no balancer cookie at all. When the upstream sets the
// app cookie, the store maps its value to the backend for as long as the app cookie lives (a session cookie:
// an idle timeout that slides with each request); requests carrying the value go back there.
// The two kinds live under two keys, because only session entries slide: apps set a session cookie once, at
// login, so without sliding an active client would lose its backend 20 minutes after logging in, while
// sliding a cookie with a lifetime would cut it short after 20 idle minutes.

import { readCookie } from '../cookie/read-cookie';
import { parseSetCookieLifetime } from '../cookie/set-cookie-lifetime';
import type { Route, RouteRequest, RouteState } from '../types';
import { type Lookup, NO_COOKIES, NONE, type PolicyContext, type StickinessPolicy } from './policy';

/** How long a learned session cookie (no Max-Age/Expires) is remembered after its last request. */
export const LEARNED_SESSION_IDLE_MS = 20 * 60_000;
/** The longest a learned entry is kept, whatever the app cookie says. */
export const LEARNED_MAX_MS = 24 * 3_600_000;

export class AppCookieLearnPolicy implements StickinessPolicy {
  readonly placement = 'balance';

  constructor(
    private readonly ctx: PolicyContext,
    private readonly appCookie: string,
  ) {}

  /** The entry of an app cookie with a lifetime (kept exactly that long). */
  private key(value: string): string {
    return `app:${this.appCookie}=${value}`;
  }

  async lookup(req: RouteRequest, state: RouteState): Promise<Lookup> {
    const value = readCookie(req.headers.cookie, this.appCookie);
    if (value === undefined || value === '' || value.length > 512) return NONE;
    state.key = this.key(value);
    const id =
      (await this.ctx.store.get(sessionKey(state.key), LEARNED_SESSION_IDLE_MS)) ??
      (await this.ctx.store.get(state.key));
    if (id === undefined) return NONE;
    const backend = this.ctx.backendById(id);
    return backend === undefined ? { kind: 'gone' } : { kind: 'stuck', backend };
  }

  async placed(state: RouteState, backend: import('../pool/backend').Backend): Promise<undefined> {
    // A client whose learned backend is gone (or whose value is unknown): remember its new home for the
    // rest of the session, sliding, since the app cookie's lifetime is not known here.
    if (state.key !== undefined) {
      this.ctx.store.set(sessionKey(state.key), backend.id, LEARNED_SESSION_IDLE_MS);
      this.ctx.store.delete(state.key);
    }
    return undefined;
  }

  responseCookies(
    route: Route,
    upstreamSetCookie: string | readonly string[] | undefined,
  ): readonly string[] {
    const backend = route.backend;
    if (backend === null) return NO_COOKIES;
    const now = this.ctx.clock.now();
    const app = parseSetCookieLifetime(upstreamSetCookie, this.appCookie, now);
    if (app?.kind === 'set' && app.value !== '' && app.value.length <= 512) {
      const key = this.key(app.value);
      if (app.expiresAt === null) {
        this.ctx.store.set(sessionKey(key), backend.id, LEARNED_SESSION_IDLE_MS);
        this.ctx.store.delete(key);
      } else {
        this.ctx.store.set(key, backend.id, Math.min(app.expiresAt - now, LEARNED_MAX_MS));
        this.ctx.store.delete(sessionKey(key));
      }
    } else if (app?.kind === 'delete' && route.state.key !== undefined) {
      this.ctx.store.delete(route.state.key);
      this.ctx.store.delete(sessionKey(route.state.key));
    }
    return NO_COOKIES;
  }
}

/** The entry of a session app cookie (an idle timeout that slides with each request). */
function sessionKey(key: string): string {
  return `session:${key}`;
}
