// `app-cookie` in `learn` mode (nginx `sticky learn`): no balancer cookie at all. When the upstream sets the
// app cookie, the store maps its value to the backend for as long as the app cookie lives (a session cookie:
// an idle timeout that slides with each request); requests carrying the value go back there.
// The two kinds live under two keys, because only session entries slide: apps set a session cookie once, at
// login, so without sliding an active client would lose its backend 20 minutes after logging in, while
// sliding a cookie with a lifetime would cut it short after 20 idle minutes.
// Only values the app issued are stored (read from the upstream's Set-Cookie, never from a request), so made-up
// cookie values cannot take store entries. A value found nowhere (the store lost it, or its backend is gone)
// is placed by the pure hash ring over the healthy backends: every gateway computes the same ring whatever its
// load, so they all send that value to one instance without having to agree through the store.

import { readCookie } from '../cookie/read-cookie';
import { parseSetCookieLifetime } from '../cookie/set-cookie-lifetime';
import type { Route, RouteRequest, RouteState } from '../types';
import { type Lookup, NO_COOKIES, NONE, type PolicyContext, type StickinessPolicy } from './policy';

/** How long a learned session cookie (no Max-Age/Expires) is remembered after its last request. */
export const LEARNED_SESSION_IDLE_MS = 20 * 60_000;
/** The longest a learned entry is kept, whatever the app cookie says. */
export const LEARNED_MAX_MS = 24 * 3_600_000;
/** Longer app cookie values are neither looked up nor learned (they would only bloat the store). */
const MAX_VALUE_LENGTH = 512;

export class AppCookieLearnPolicy implements StickinessPolicy {
  readonly placement = 'hash';
  // The ring's load bound would make two gateways under different loads place one value differently, and
  // nothing records a hashed placement here (see placed's absence): only the pure ring is the same everywhere.
  readonly hashLoadBound = false;

  constructor(
    private readonly ctx: PolicyContext,
    private readonly appCookie: string,
  ) {}

  /** The entry of an app cookie with a lifetime (kept exactly that long); also the value's hashing key. */
  private key(value: string): string {
    return `app:${this.appCookie}=${value}`;
  }

  async lookup(req: RouteRequest, state: RouteState): Promise<Lookup> {
    const value = readCookie(req.headers.cookie, this.appCookie);
    if (value === undefined || value === '' || value.length > MAX_VALUE_LENGTH) return NONE;
    state.key = this.key(value);
    const id =
      (await this.ctx.store.get(sessionKey(state.key), LEARNED_SESSION_IDLE_MS)) ??
      (await this.ctx.store.get(state.key));
    if (id === undefined) return NONE;
    const backend = this.ctx.backendById(id);
    return backend === undefined ? { kind: 'gone' } : { kind: 'stuck', backend };
  }

  // No `placed()`: where the router hashed a value is not remembered, since the request, not the app, chose
  // that value. The ring gives the same answer next time; if the app there issues a new session, its
  // Set-Cookie is learned below.

  responseCookies(
    route: Route,
    upstreamSetCookie: string | readonly string[] | undefined,
  ): readonly string[] {
    const backend = route.backend;
    if (backend === null) return NO_COOKIES;
    const now = this.ctx.clock.now();
    const app = parseSetCookieLifetime(upstreamSetCookie, this.appCookie, now, route.state);
    if (app?.kind === 'set' && app.value !== '' && app.value.length <= MAX_VALUE_LENGTH) {
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
