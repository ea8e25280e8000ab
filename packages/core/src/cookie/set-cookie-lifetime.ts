// What a browser does with an upstream's Set-Cookie lines for one cookie (RFC 6265bis §5.6–5.7, as
// Chromium applies it): stores it for a while or for the browser session, deletes it, or refuses the line
// and keeps whatever it had. One line is one cookie, never split at commas (`a=b; max-age=3600, c=d` is a
// session cookie whose Max-Age is invalid). The balancer cookie of follow mode mirrors exactly this, so the
// rules are the browser's, not a lenient parse's:
// - Max-Age is digits with an optional sign; the last Max-Age attribute counts, and when it is invalid the
//   lifetime comes from Expires (read by the cookie-date algorithm), else it is a session cookie. Max-Age
//   wins over Expires; ≤ 0 or a past date deletes; lifetimes are capped at 400 days.
// - An attribute value longer than 1024 bytes is dropped; a name and value longer than 4096 bytes together,
//   or a control character, refuse the line.
// - Refused: a Domain that does not domain-match the request's host or is a public suffix; `Secure`,
//   `SameSite=None` without Secure, or `Partitioned` without Secure, from an origin that is not secure
//   (HTTP other than localhost); the prefixes' rules (`__Secure-`: Secure; `__Host-`: Secure, no Domain,
//   `Path=/` given; `__Http-`: Secure and HttpOnly; all matched in any case).
// `Path` decides nothing here: a cookie is stored whatever its path.

import { parseCookieDate } from './cookie-date';
import { cookieDomain, isTrustworthyHost, requestHost } from './cookie-domain';

/** The request a response answers, as far as cookie storage cares. A RouteState is one. */
export interface CookieOrigin {
  /** The request's Host (or HTTP/2 `:authority`) as it came, port included; undefined when it had none. */
  host: string | undefined;
  /** It reached the gateway over HTTPS. */
  secure: boolean;
}

export type CookieLifetime =
  | {
      kind: 'set';
      value: string;
      /** Epoch ms, or null for a session cookie. */
      expiresAt: number | null;
      /** Seconds, capped at 400 days: to send as Max-Age. */
      maxAge?: number;
      /** To send as Expires (a date within 400 days). */
      expires?: Date;
      /** The domain the cookie is shared with (canonical), or undefined for a host-only cookie. */
      domain: string | undefined;
      /** Partitioned (CHIPS): the browser keeps it apart from an unpartitioned cookie of the same name. */
      partitioned: boolean;
    }
  | { kind: 'delete'; domain: string | undefined; partitioned: boolean };

const MAX_AGE_CAP_S = 400 * 86_400;
const MAX_NAME_VALUE = 4096;
const MAX_ATTRIBUTE_VALUE = 1024;
const MAX_AGE = /^[+-]?\d+$/;

/**
 * Whether a line sets cookie `name` at all (its first `=` ends `name`, give or take spaces and tabs): the
 * cheap test made before anything is parsed, so a response that does not touch the app cookie costs nothing.
 */
export function namesCookie(setCookie: string | readonly string[] | undefined, name: string): boolean {
  if (setCookie === undefined) return false;
  if (typeof setCookie === 'string') return lineNames(setCookie, name);
  for (let i = 0; i < setCookie.length; i++) {
    const line = setCookie[i];
    if (typeof line === 'string' && lineNames(line, name)) return true;
  }
  return false;
}

function lineNames(line: string, name: string): boolean {
  let at = 0;
  while (at < line.length && isWhitespace(line.charCodeAt(at))) at++;
  if (!line.startsWith(name, at)) return false;
  at += name.length;
  while (at < line.length && isWhitespace(line.charCodeAt(at))) at++;
  return line.charCodeAt(at) === 61; // '='
}

function isWhitespace(code: number): boolean {
  return code === 32 || code === 9;
}

/**
 * What the browser ends up with for cookie `name` after `setCookie`, one entry per cookie it touched (a
 * domain, partitioned or not; in the order first touched; the last line for one wins): set, or deleted.
 * Lines the browser refuses are skipped. Empty when nothing the browser keeps names it. Never throws.
 */
export function readSetCookies(
  setCookie: string | readonly string[] | undefined,
  name: string,
  nowMs: number,
  origin: CookieOrigin,
): CookieLifetime[] {
  const results: CookieLifetime[] = [];
  if (setCookie === undefined) return results;
  const lines = typeof setCookie === 'string' ? [setCookie] : setCookie;
  let host: string | undefined;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    if (typeof line !== 'string' || !lineNames(line, name)) continue;
    if (host === undefined && origin.host !== undefined) host = requestHost(origin.host);
    const result = storedCookie(line, name, nowMs, origin.secure, host);
    if (result === null) continue;
    const same = results.findIndex((r) => r.domain === result.domain && r.partitioned === result.partitioned);
    if (same === -1) results.push(result);
    else results[same] = result;
  }
  return results;
}

/** The last line for `name` the browser keeps (whatever its domain), or null: for learn mode's store. */
export function parseSetCookieLifetime(
  setCookie: string | readonly string[] | undefined,
  name: string,
  nowMs: number,
  origin: CookieOrigin,
): CookieLifetime | null {
  const results = readSetCookies(setCookie, name, nowMs, origin);
  return results.length === 0 ? null : results[results.length - 1]!;
}

interface Attributes {
  maxAge?: string;
  expires?: string;
  domain?: string;
  path?: string;
  secure: boolean;
  httpOnly: boolean;
  sameSiteNone: boolean;
  partitioned: boolean;
}

/** One line the prefilter matched, through §5.6 (parsing) and §5.7 (storage); null when refused. */
function storedCookie(
  line: string,
  name: string,
  nowMs: number,
  secureOrigin: boolean,
  host: string | undefined,
): CookieLifetime | null {
  if (hasControlCharacter(line)) return null;
  const end = line.indexOf(';');
  const pair = end === -1 ? line : line.slice(0, end);
  const value = trimWhitespace(pair.slice(pair.indexOf('=') + 1));
  if (name.length + value.length > MAX_NAME_VALUE) return null;
  const a = attributesOf(line, end);

  const trustworthy = secureOrigin || (host !== undefined && isTrustworthyHost(host));
  if (a.secure && !trustworthy) return null;
  if ((a.sameSiteNone || a.partitioned) && !a.secure) return null;
  let domain: string | undefined;
  if (a.domain !== undefined && a.domain !== '') {
    const shared =
      host === undefined ? a.domain.toLowerCase().replace(/^\./, '') : cookieDomain(a.domain, host);
    if (shared === null) return null;
    domain = shared === '' ? undefined : shared;
  }
  if (!prefixAllows(name, a)) return null;

  const partitioned = a.partitioned;
  const maxAge = a.maxAge !== undefined && MAX_AGE.test(a.maxAge) ? Number(a.maxAge) : undefined;
  if (maxAge !== undefined) {
    if (maxAge <= 0) return { kind: 'delete', domain, partitioned };
    const capped = Math.min(maxAge, MAX_AGE_CAP_S);
    return { kind: 'set', value, expiresAt: nowMs + capped * 1000, maxAge: capped, domain, partitioned };
  }
  const at = a.expires === undefined ? null : parseCookieDate(a.expires);
  if (at === null) return { kind: 'set', value, expiresAt: null, domain, partitioned };
  if (at <= nowMs) return { kind: 'delete', domain, partitioned };
  // Beyond the cap, the browser stores 400 days from when it receives the line: Max-Age says the same.
  const cap = nowMs + MAX_AGE_CAP_S * 1000;
  if (at > cap) return { kind: 'set', value, expiresAt: cap, maxAge: MAX_AGE_CAP_S, domain, partitioned };
  return { kind: 'set', value, expiresAt: at, expires: new Date(at), domain, partitioned };
}

/** The attributes after the name-value pair; the last of each kind counts, over-long values are dropped. */
function attributesOf(line: string, from: number): Attributes {
  const a: Attributes = {
    secure: false,
    httpOnly: false,
    sameSiteNone: false,
    partitioned: false,
  };
  let at = from;
  while (at !== -1 && at < line.length) {
    const next = line.indexOf(';', at + 1);
    const part = line.slice(at + 1, next === -1 ? line.length : next);
    at = next;
    const eq = part.indexOf('=');
    const key = trimWhitespace(eq === -1 ? part : part.slice(0, eq)).toLowerCase();
    const value = eq === -1 ? '' : trimWhitespace(part.slice(eq + 1));
    if (value.length > MAX_ATTRIBUTE_VALUE) continue;
    switch (key) {
      case 'max-age':
        a.maxAge = value;
        break;
      case 'expires':
        a.expires = value;
        break;
      case 'domain':
        a.domain = value;
        break;
      case 'path':
        a.path = value;
        break;
      case 'secure':
        a.secure = true;
        break;
      case 'httponly':
        a.httpOnly = true;
        break;
      case 'samesite':
        a.sameSiteNone = value.toLowerCase() === 'none';
        break;
      case 'partitioned':
        a.partitioned = true;
        break;
    }
  }
  return a;
}

/** Cookie name prefixes (RFC 6265bis §4.1.3, and the `__Http-` prefixes), matched in any case. */
function prefixAllows(name: string, a: Attributes): boolean {
  if (name.length < 7 || name.charCodeAt(0) !== 95 || name.charCodeAt(1) !== 95) return true;
  const lower = name.toLowerCase();
  if (lower.startsWith('__secure-') && !a.secure) return false;
  if (lower.startsWith('__host-')) {
    if (!a.secure || (a.domain !== undefined && a.domain !== '') || a.path !== '/') return false;
    if (lower.startsWith('__host-http-') && !a.httpOnly) return false;
  }
  if (lower.startsWith('__http-') && !(a.secure && a.httpOnly)) return false;
  return true;
}

/** CTL characters but HTAB (%x00-08 / %x0A-1F / %x7F): the browser refuses the line. */
function hasControlCharacter(line: string): boolean {
  for (let i = 0; i < line.length; i++) {
    const code = line.charCodeAt(i);
    if ((code < 32 && code !== 9) || code === 127) return true;
  }
  return false;
}

function trimWhitespace(text: string): string {
  let start = 0;
  let end = text.length;
  while (start < end && isWhitespace(text.charCodeAt(start))) start++;
  while (end > start && isWhitespace(text.charCodeAt(end - 1))) end--;
  return start === 0 && end === text.length ? text : text.slice(start, end);
}
