// What a stickiness policy is: it finds the backend a request is stuck to, remembers new placements,
// and says which balancer cookies the response carries. The router does the rest (balancing, failover).

import type { BalancerCookieCodec, CookieKind, DecodedCookie } from '../cookie/balancer-cookie-codec';
import type { BalancerCookieWriter } from '../cookie/balancer-cookie-writer';
import { cookieEnd, cookieValue, findCookie } from '../cookie/read-cookie';
import type { Backend } from '../pool/backend';
import type { Clock, Route, RouteRequest, RouteState } from '../types';

/** What a policy found for a request. */
export type Lookup =
  /** Nothing to stick to: balance as new (keyed policies hash `state.key`). */
  | { kind: 'none' }
  /** Stuck to `backend` (it may be down or draining; the router decides). */
  | { kind: 'stuck'; backend: Backend }
  /** Stuck to a backend that no longer exists. */
  | { kind: 'gone' };

export const NONE: Lookup = { kind: 'none' };
export const NO_COOKIES: readonly string[] = Object.freeze([]);

export interface PolicyContext {
  clock: Clock;
  codec: BalancerCookieCodec;
  writer: BalancerCookieWriter;
  cookieName: string;
  persistentCookie: boolean;
  /** The backend an opaque token names under key `keyIndex`, if any. */
  backendForToken(token: string, keyIndex: number): Backend | undefined;
  /** The signing key's token for a backend. */
  tokenFor(backend: Backend): string;
  backendById(id: string): Backend | undefined;
  /** Store access that never rejects: failures are counted and reported, and yield undefined. */
  store: {
    get(key: string, refreshTtlMs?: number): Promise<string | undefined>;
    setIfAbsent(key: string, value: string, ttlMs: number): Promise<string | undefined>;
    set(key: string, value: string, ttlMs: number): void;
    delete(key: string): void;
  };
  /** Counts a cookie that failed verification. */
  forged(reason: 'forged' | 'expired'): void;
}

export interface StickinessPolicy {
  /** How new clients of this policy are placed: by consistent hashing of their key, or by the algorithm. */
  readonly placement: 'hash' | 'balance';
  /**
   * With `placement: 'hash'`: whether the ring's load bound applies (the default). Keyed policies record the
   * placement in the store, so the bound spreads bursts safely; learn mode records nothing and needs the pure
   * ring, which every gateway computes alike whatever its load.
   */
  readonly hashLoadBound?: boolean;
  /** Finds the backend a request is stuck to. Must not throw. */
  lookup(req: RouteRequest, state: RouteState): Lookup | Promise<Lookup>;
  /**
   * Called when the router placed the request on a backend it was not stuck to (new, hashed or rerouted).
   * Keyed policies remember it; may answer another backend that won a race between gateways.
   */
  placed?(state: RouteState, backend: Backend): Promise<Backend | undefined>;
  /** Balancer Set-Cookie strings for the upstream's response (after store bookkeeping, for learn mode). */
  responseCookies(route: Route, upstreamSetCookie: string | readonly string[] | undefined): readonly string[];
}

/**
 * How long a policy honours a balancer cookie, on the server, whichever mode minted it. A value is never
 * honoured past the expiry inside it; `honours` adds the reading mode's own bounds (a cookie minted in one
 * mode is held to the bounds of the mode that reads it).
 */
export interface CookieBounds {
  /** The kind this policy mints: verified first. */
  readonly kind: CookieKind;
  /** Whether a verified value, not past its own expiry, is still valid at `nowSec`. */
  honours(decoded: DecodedCookie, nowSec: number): boolean;
}

/**
 * Reads the balancer cookie (or its CORS twin) and verifies it; counts forgeries and expired values. When the
 * browser holds several (a cookie of the app's domain and one the gateway re-issued after a reroute, or
 * another gateway's on a sibling host), the newest valid one counts.
 */
export function readBalancerCookie(
  ctx: PolicyContext,
  req: RouteRequest,
  state: RouteState,
  bounds: CookieBounds,
): Lookup {
  const header = req.headers.cookie;
  if (header === undefined) return NONE;
  const text = typeof header === 'string' ? header : header.join('; ');
  let name = ctx.cookieName;
  let start = findCookie(text, name, 0);
  if (start === -1) {
    name = `${name}CORS`;
    start = findCookie(text, name, 0);
    if (start === -1) return NONE;
  }
  let end = cookieEnd(text, start);
  const nowSec = ctx.clock.now() / 1000;
  let decoded = ctx.codec.decode(cookieValue(text, start, end), bounds.kind);
  let verdict = judge(decoded, nowSec, bounds);
  for (let next = findCookie(text, name, end); next !== -1; next = findCookie(text, name, end)) {
    end = cookieEnd(text, next);
    const other = ctx.codec.decode(cookieValue(text, next, end), bounds.kind);
    const otherVerdict = judge(other, nowSec, bounds);
    if (otherVerdict === 'valid' && (verdict !== 'valid' || other!.born > decoded!.born)) {
      decoded = other;
      verdict = otherVerdict;
    }
  }
  if (verdict !== 'valid') {
    ctx.forged(verdict);
    return NONE;
  }
  const valid = decoded!;
  state.hadCookie = true;
  state.cookieExpires = valid.expires;
  state.cookieBorn = valid.born;
  const backend = ctx.backendForToken(valid.token, valid.keyIndex);
  return backend === undefined ? { kind: 'gone' } : { kind: 'stuck', backend };
}

function judge(
  decoded: DecodedCookie | null,
  nowSec: number,
  bounds: CookieBounds,
): 'forged' | 'expired' | 'valid' {
  if (decoded === null) return 'forged';
  if ((decoded.expires !== 0 && decoded.expires <= nowSec) || !bounds.honours(decoded, nowSec))
    return 'expired';
  return 'valid';
}
