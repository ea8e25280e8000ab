// Reads what an upstream's Set-Cookie headers say about one cookie's lifetime (RFC 6265 §5.2–5.3):
// set for a while, set for the browser session, or deleted. Parsing is set-cookie-parser's; the
// lifetime rules are ours: Max-Age wins over Expires, Max-Age ≤ 0 or a past Expires deletes.

import { parse } from 'set-cookie-parser';

export type CookieLifetime =
  | {
      kind: 'set';
      value: string /** epoch ms, or null for a session cookie */;
      expiresAt: number | null;
      maxAge?: number;
      expires?: Date;
    }
  | { kind: 'delete' };

/** The lifetime of the last `name` cookie among `setCookie` headers, or null when none sets it. Never throws. */
export function parseSetCookieLifetime(
  setCookie: string | readonly string[] | undefined,
  name: string,
  nowMs: number,
): CookieLifetime | null {
  if (setCookie === undefined) return null;
  const headers = typeof setCookie === 'string' ? [setCookie] : setCookie;
  let result: CookieLifetime | null = null;
  for (const header of headers) {
    if (typeof header !== 'string' || !header.includes(name)) continue;
    let cookies: ReturnType<typeof parse>;
    try {
      cookies = parse(header, { decodeValues: false, silent: true });
    } catch {
      continue;
    }
    for (const cookie of cookies) {
      if (cookie.name !== name) continue;
      result = lifetimeOf(cookie.value, cookie.maxAge, cookie.expires, nowMs) ?? result;
    }
  }
  return result;
}

function lifetimeOf(
  value: string,
  maxAge: number | undefined,
  expires: Date | undefined,
  nowMs: number,
): CookieLifetime | null {
  if (typeof maxAge === 'number' && !Number.isNaN(maxAge)) {
    if (maxAge <= 0) return { kind: 'delete' };
    const capped = Math.min(maxAge, 400 * 86_400); // RFC 6265bis caps lifetimes at 400 days
    return { kind: 'set', value, expiresAt: nowMs + capped * 1000, maxAge: capped };
  }
  if (expires instanceof Date) {
    const at = expires.getTime();
    if (Number.isNaN(at)) return { kind: 'set', value, expiresAt: null }; // unparsable Expires is ignored (RFC 6265 §5.2.1)
    if (at <= nowMs) return { kind: 'delete' };
    return { kind: 'set', value, expiresAt: Math.min(at, nowMs + 400 * 86_400_000), expires };
  }
  return { kind: 'set', value, expiresAt: null };
}
