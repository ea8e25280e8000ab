// The one place that builds the balancer's Set-Cookie strings (with the `cookie` library), including the
// SameSite=None twin for cross-origin requests (as ALB's AWSALBCORS) and deletion. The Domain is the
// `cookie.domain` option unless the caller names another (follow mode: the app cookie's own domain).

import { serialize } from 'cookie';
import type { NormalizedCookie } from '../config/options';

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
      domain: string | undefined;
      headers: string[];
    }
  >();

  constructor(private readonly options: NormalizedCookie) {}

  /**
   * Set-Cookie strings for `value`; over HTTPS when `secureRequest` and `secure: 'auto'`; shared with
   * `domain` when given, else with the `cookie.domain` option's.
   */
  issue(
    value: string,
    lifetime: CookieLifetimeAttributes,
    secureRequest: boolean,
    domain?: string,
  ): string[] {
    const maxAge = lifetime.maxAge;
    const expiresMs = lifetime.expires?.getTime();
    const last = this.lastByValue.get(value);
    if (
      last !== undefined &&
      last.maxAge === maxAge &&
      last.expiresMs === expiresMs &&
      last.secure === secureRequest &&
      last.domain === domain
    )
      return last.headers;
    const key = `${value}|${maxAge ?? ''}|${expiresMs ?? ''}|${secureRequest ? 1 : 0}|${domain ?? ''}`;
    let headers = this.cache.get(key);
    if (headers === undefined) {
      headers = this.build(value, lifetime, secureRequest, domain);
      // Emptied when full: evicting the oldest one by one via keys().next() is slow in V8 (see the codec).
      if (this.cache.size >= CACHE_SIZE) this.cache.clear();
      this.cache.set(key, headers);
    }
    if (last !== undefined) {
      last.maxAge = maxAge;
      last.expiresMs = expiresMs;
      last.secure = secureRequest;
      last.domain = domain;
      last.headers = headers;
    } else {
      if (this.lastByValue.size >= VALUE_CACHE_SIZE) this.lastByValue.clear();
      this.lastByValue.set(value, { maxAge, expiresMs, secure: secureRequest, domain, headers });
    }
    return headers;
  }

  /** Set-Cookie strings that make the browser drop the balancer cookie (and its twin) of `domain`. */
  delete(secureRequest: boolean, domain?: string): string[] {
    return this.build('', { maxAge: 0, expires: EPOCH }, secureRequest, domain);
  }

  private build(
    value: string,
    lifetime: CookieLifetimeAttributes,
    secureRequest: boolean,
    domain = this.options.domain,
  ): string[] {
    const o = this.options;
    const secure = o.secure === 'auto' ? secureRequest : o.secure;
    const base = { path: o.path, domain, httpOnly: o.httpOnly, ...lifetime };
    const sameSite = o.sameSite.toLowerCase() as 'lax' | 'strict' | 'none';
    const main = serialize(o.name, value, { ...base, secure: secure || sameSite === 'none', sameSite });
    if (!o.cors) return [main];
    return [main, serialize(`${o.name}CORS`, value, { ...base, secure: true, sameSite: 'none' })];
  }
}
