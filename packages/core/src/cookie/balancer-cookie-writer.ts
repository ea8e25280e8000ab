// The one place that builds the balancer's Set-Cookie strings (with the `cookie` library), including the
// SameSite=None twin for cross-origin requests (as ALB's AWSALBCORS) and deletion. The Domain is the
// `cookie.domain` option unless the caller names a scope of its own (follow mode: the app cookie's Domain,
// and `Partitioned`, which a browser keeps as another cookie, when the app cookie is partitioned).

import { serialize } from 'cookie';
import type { NormalizedCookie } from '../config/options';

/** Where a balancer cookie lives in the browser, when not where the options say. */
export interface CookieScope {
  /** Shared with this domain (undefined: the `cookie.domain` option’s). */
  domain: string | undefined;
  /** A partitioned cookie (CHIPS): always Secure. */
  partitioned: boolean;
}

export interface CookieLifetimeAttributes {
  /** Seconds; sent as Max-Age. */
  maxAge?: number;
  /** Sent as Expires. */
  expires?: Date;
}

const CACHE_SIZE = 1024;
/** lastByValue keeps one entry per value issued lately (lb-cookie's new clients have a memo per backend). */
const VALUE_CACHE_SIZE = 4096;
const EPOCH = new Date(0);

export class BalancerCookieWriter {
  private readonly cache = new Map<string, string[]>();
  /** The last attributes each value was issued with: a hit needs no key string (the common case). */
  private readonly lastByValue = new Map<
    string,
    {
      maxAge: number | undefined;
      expiresMs: number | undefined;
      secure: boolean;
      scope: CookieScope | undefined;
      headers: string[];
    }
  >();

  constructor(private readonly options: NormalizedCookie) {}

  /**
   * Set-Cookie strings for `value`; over HTTPS when `secureRequest` and `secure: 'auto'`; in `scope` when
   * given, else in the options' (Domain).
   */
  issue(
    value: string,
    lifetime: CookieLifetimeAttributes,
    secureRequest: boolean,
    scope?: CookieScope,
  ): string[] {
    const maxAge = lifetime.maxAge;
    const expiresMs = lifetime.expires?.getTime();
    const last = this.lastByValue.get(value);
    if (
      last !== undefined &&
      last.maxAge === maxAge &&
      last.expiresMs === expiresMs &&
      last.secure === secureRequest &&
      sameScope(last.scope, scope)
    )
      return last.headers;
    const where = scope === undefined ? '' : `${scope.domain ?? ''}|${scope.partitioned ? 1 : 0}`;
    const key = `${value}|${maxAge ?? ''}|${expiresMs ?? ''}|${secureRequest ? 1 : 0}|${where}`;
    let headers = this.cache.get(key);
    if (headers === undefined) {
      headers = this.build(value, lifetime, secureRequest, scope);
      // Emptied when full: evicting the oldest one by one via keys().next() is slow in V8 (see the codec).
      if (this.cache.size >= CACHE_SIZE) this.cache.clear();
      this.cache.set(key, headers);
    }
    if (last !== undefined) {
      last.maxAge = maxAge;
      last.expiresMs = expiresMs;
      last.secure = secureRequest;
      last.scope = scope;
      last.headers = headers;
    } else {
      if (this.lastByValue.size >= VALUE_CACHE_SIZE) this.lastByValue.clear();
      this.lastByValue.set(value, { maxAge, expiresMs, secure: secureRequest, scope, headers });
    }
    return headers;
  }

  /** Set-Cookie strings that make the browser drop the balancer cookie (and its twin) of `scope`. */
  delete(secureRequest: boolean, scope?: CookieScope): string[] {
    return this.build('', { maxAge: 0, expires: EPOCH }, secureRequest, scope);
  }

  private build(
    value: string,
    lifetime: CookieLifetimeAttributes,
    secureRequest: boolean,
    scope: CookieScope | undefined,
  ): string[] {
    const o = this.options;
    const partitioned = scope?.partitioned === true;
    const secure = partitioned || (o.secure === 'auto' ? secureRequest : o.secure);
    const domain = scope?.domain ?? o.domain;
    const base = { path: o.path, domain, httpOnly: o.httpOnly, partitioned, ...lifetime };
    const sameSite = o.sameSite.toLowerCase() as 'lax' | 'strict' | 'none';
    const main = serialize(o.name, value, { ...base, secure: secure || sameSite === 'none', sameSite });
    if (!o.cors) return [main];
    return [main, serialize(`${o.name}CORS`, value, { ...base, secure: true, sameSite: 'none' })];
  }
}

function sameScope(a: CookieScope | undefined, b: CookieScope | undefined): boolean {
  return (
    a === b ||
    (a !== undefined && b !== undefined && a.domain === b.domain && a.partitioned === b.partitioned)
  );
}
