// `app-cookie` in `route` mode: the application names its own instance at the end of its session id, as
// servlet containers do with Tomcat's jvmRoute (`JSESSIONID=4F2A…9C.node2`), and the backend whose `id` is that
// route gets the request (Apache mod_proxy_balancer `stickysession=JSESSIONID|jsessionid`, nginx `sticky route`).
// The session id is read from the app cookie or, for clients without cookies, from the path parameter servlet
// containers put in rewritten URLs (`/cart;jsessionid=4F2A…9C.node2?x=1`). No balancer cookie and no store: the
// state is the app's own session id, so nothing is kept per client and every gateway decides alike.
// A session id without a route is balanced as new; a route that names no backend is `gone` and one that names
// a down backend is stuck to it, so placement reroutes both (x-sticky-rerouted, or 503 in strict mode).

import { readCookie } from '../cookie/read-cookie';
import type { RouteRequest } from '../types';
import { type Lookup, NO_COOKIES, NONE, type PolicyContext, type StickinessPolicy } from './policy';

const GONE: Lookup = Object.freeze({ kind: 'gone' });

/** Servlet containers' idle session timeout by default (Tomcat, Jetty, Undertow: 30 minutes). */
export const SERVLET_SESSION_IDLE_MS = 30 * 60_000;

export class AppCookieRoutePolicy implements StickinessPolicy {
  readonly placement = 'balance';
  /** `;jsessionid=`: the path parameter is the cookie's name in lower case, as servlet containers write it. */
  private readonly pathParameter: string;

  constructor(
    private readonly ctx: PolicyContext,
    private readonly appCookie: string,
    private readonly separator: string,
  ) {
    this.pathParameter = `;${appCookie.toLowerCase()}=`;
  }

  lookup(req: RouteRequest): Lookup {
    // The cookie first: a servlet container that gets both uses the cookie's session (Tomcat's CoyoteAdapter).
    const value =
      readCookie(req.headers.cookie, this.appCookie) || readPathParameter(req.url, this.pathParameter);
    if (value === undefined || value === '') return NONE;
    const at = value.lastIndexOf(this.separator);
    if (at === -1) return NONE;
    const route = value.slice(at + this.separator.length);
    if (route === '') return NONE;
    const backend = this.ctx.backendById(route);
    return backend === undefined ? GONE : { kind: 'stuck', backend };
  }

  responseCookies(): readonly string[] {
    return NO_COOKIES;
  }
}

/**
 * The value of the path parameter `needle` (`;jsessionid=`) in the path part of `url`, up to the next `;`, `/`,
 * `?` or `#`; undefined when the path has none (a `;jsessionid=` in the query is not one).
 */
export function readPathParameter(url: string, needle: string): string | undefined {
  const at = url.indexOf(needle);
  if (at === -1) return undefined;
  const query = url.indexOf('?');
  if (query !== -1 && query < at) return undefined;
  const start = at + needle.length;
  let end = start;
  for (; end < url.length; end++) {
    const c = url.charCodeAt(end);
    if (c === 59 || c === 47 || c === 63 || c === 35) break; // ; / ? #
  }
  return url.slice(start, end);
}

/** Backend ids the route can never name: they contain the separator, and the route is what follows the last one. */
export function unroutableIds(ids: Iterable<string>, separator: string): string[] {
  const out: string[] = [];
  for (const id of ids) if (id.includes(separator)) out.push(id);
  return out;
}
