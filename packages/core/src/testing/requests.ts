// Test scaffolding for the core's unit tests: plain RouteRequests, and reading the Set-Cookie strings the
// router answers the way a browser would (name=value to send back, attributes by name).

import type { RouteRequest } from '../types';

/** A RouteRequest with plain defaults: GET / from 203.0.113.7 over HTTP. */
export function request(overrides: Partial<RouteRequest> = {}): RouteRequest {
  return { method: 'GET', url: '/', headers: {}, ip: '203.0.113.7', secure: false, ...overrides };
}

/** A request carrying `cookie` as its Cookie header. */
export function withCookie(cookie: string, overrides: Partial<RouteRequest> = {}): RouteRequest {
  return request({ ...overrides, headers: { ...overrides.headers, cookie } });
}

/** The `name=value` pair of the first Set-Cookie string for `name`, ready to send back as a Cookie header. */
export function cookiePair(setCookies: readonly string[], name = 'STICKY'): string {
  const header = setCookies.find((c) => c.startsWith(`${name}=`));
  if (header === undefined) throw new Error(`no Set-Cookie for ${name} in ${JSON.stringify(setCookies)}`);
  return header.split(';')[0]!;
}

/** A Set-Cookie string's attributes by lower-case name (`true` for flags), plus `name` and `value`. */
export function cookieAttributes(setCookie: string): Record<string, string | true> {
  const [pair, ...attributes] = setCookie.split(';');
  const eq = pair!.indexOf('=');
  const out: Record<string, string | true> = {
    name: pair!.slice(0, eq).trim(),
    value: pair!.slice(eq + 1).trim(),
  };
  for (const attribute of attributes) {
    const at = attribute.indexOf('=');
    if (at === -1) out[attribute.trim().toLowerCase()] = true;
    else out[attribute.slice(0, at).trim().toLowerCase()] = attribute.slice(at + 1).trim();
  }
  return out;
}
