// Which host a cookie belongs to, as a browser decides it (RFC 6265bis §5.7 with the public suffix list):
// a `Domain` attribute must domain-match the request's host and must not be a public suffix, or the browser
// refuses the whole cookie; and a `Secure` cookie is refused from an origin that is not potentially
// trustworthy. The public suffix list is tldts's (MIT), with its private section, as Chromium uses both.
// Only read when a response sets the app cookie with such an attribute: never on a request's path.

import { domainToASCII } from 'node:url';
import { getDomain } from 'tldts';

const REGISTRABLE = { allowPrivateDomains: true, extractHostname: false } as const;

/** The request's host as a browser names it: lower case, without the port (`[::1]` keeps its brackets). */
export function requestHost(authority: string): string {
  let end = authority.length;
  if (authority.charCodeAt(0) === 0x5b) {
    const close = authority.indexOf(']');
    if (close !== -1) end = close + 1;
  } else {
    const colon = authority.lastIndexOf(':');
    if (colon !== -1) end = colon;
  }
  return authority.slice(0, end).toLowerCase();
}

/**
 * Whether a browser lets this host set `Secure` cookies over plain HTTP: `localhost`, `*.localhost` and the
 * loopback addresses are potentially trustworthy origins (Chromium and Firefox store them; any other host
 * over HTTP is refused).
 */
export function isTrustworthyHost(host: string): boolean {
  const name = host.endsWith('.') ? host.slice(0, -1) : host;
  return (
    name === 'localhost' ||
    name.endsWith('.localhost') ||
    name === '[::1]' ||
    /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(name)
  );
}

/**
 * What a browser makes of a `Domain` attribute sent by `host`: `''` for a host-only cookie (an empty value,
 * or the host itself when it has no registrable domain: an IP address, `localhost`), the domain the cookie is
 * shared with (canonical: lower case, punycode, no leading dot), or null when the browser refuses the
 * cookie: no domain-match (a sibling, a port, a trailing dot, quotes, `%`), or a public suffix (`.org`,
 * `github.io`). Chromium's rules (`GetCookieDomainWithString`).
 */
export function cookieDomain(attribute: string, host: string): string | null {
  if (attribute === '') return '';
  if (attribute.includes('%')) return null;
  // One leading dot is dropped (`.example.org` is `example.org`); a second one is an empty label.
  const domain = canonicalDomain(attribute.startsWith('.') ? attribute.slice(1) : attribute);
  if (domain === null || domain === '' || domain.startsWith('.')) return null;
  const hostDomain = getDomain(host, REGISTRABLE);
  // IP addresses, `localhost`, intranet names and public suffixes set host-only cookies, and only by naming
  // themselves.
  if (hostDomain === null || isIpAddress(host)) return domain === host ? '' : null;
  if (getDomain(domain, REGISTRABLE) !== hostDomain) return null;
  return host === domain || host.endsWith(`.${domain}`) ? domain : null;
}

function canonicalDomain(attribute: string): string | null {
  let text = attribute;
  // Headers reach node as latin1: a non-ASCII domain is UTF-8 bytes, read back as such when they are UTF-8.
  // biome-ignore lint/suspicious/noControlCharactersInRegex: the ASCII range, not control characters
  if (/[^\x00-\x7f]/.test(text)) {
    const utf8 = Buffer.from(text, 'latin1').toString('utf8');
    if (!utf8.includes('\ufffd')) text = utf8;
  }
  if (text.startsWith('[')) return text.toLowerCase();
  const ascii = domainToASCII(text);
  return ascii === '' ? null : ascii;
}

function isIpAddress(host: string): boolean {
  return host.startsWith('[') || /^\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}
