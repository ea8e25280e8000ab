// One proxied HTTP request, start to finish, following the core's adapter protocol: route → 503 or proxy
// with the router's upstream headers → append the balancer cookies to the upstream's Set-Cookie → on an
// upstream error, failover (retry elsewhere, or 502/504) → release exactly once when the response is over.
//
// The hot path is kept as lean as a bare node:http + undici proxy: this one object is at once the router's
// RouteRequest and undici's dispatch handler, so a request costs no closures and no URL parsing. It uses
// undici's (deprecated, still native in v7) onConnect/onHeaders/onData handler methods because the newer
// controller API is adapted to them per request and parses headers into an object we would not use.

import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import {
  closedAfterEarlierResponses,
  copyUpstreamHeaders,
  isHopByHop,
  nominatedByConnection,
  type Reply,
  type Route,
  type RouteRequest,
  type StickyRouter,
} from '@stickyroute/core';
import { util } from 'undici';
import { clientIp, isSecure, type ProxyTrust } from './client-address';
import type { UpstreamPools } from './upstream-pools';

/** What every exchange of one handler shares. */
export interface Gateway {
  router: StickyRouter;
  pools: UpstreamPools;
  trustProxy: ProxyTrust;
}

const kExchange = Symbol('stickyroute.exchange');
type TrackedResponse = ServerResponse & { [kExchange]?: ProxyExchange };

export class ProxyExchange implements RouteRequest {
  readonly method: string;
  readonly url: string;
  readonly headers: IncomingHttpHeaders;
  readonly ip: string;
  readonly remoteAddress: string | undefined;
  readonly secure: boolean;

  private route: Route | null = null;
  private readonly hasBody: boolean;
  private abortUpstream: ((reason?: Error) => void) | null = null;
  private resumeUpstream: (() => void) | null = null;
  private responseStarted = false;
  private upstreamDone = false;
  /** The client's response is over: finished, or its connection is gone. */
  private closed = false;

  constructor(
    private readonly gateway: Gateway,
    private readonly req: IncomingMessage,
    private readonly res: ServerResponse,
  ) {
    const headers = req.headers;
    this.method = req.method ?? 'GET';
    // Mounted under a path in connect/Express, the full original URL is forwarded (docs/decisions.md).
    this.url = (req as { originalUrl?: string }).originalUrl ?? req.url ?? '/';
    this.headers = headers;
    this.remoteAddress = req.socket.remoteAddress;
    this.ip = clientIp(req, gateway.trustProxy);
    this.secure = isSecure(req, gateway.trustProxy);
    const length = headers['content-length'];
    this.hasBody = headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0');
  }

  /** Routes and proxies the request: every failure becomes an answer or a closed connection. */
  start(): void {
    const res = this.res as TrackedResponse;
    res[kExchange] = this;
    res.on('close', onResponseClose);
    // In the cookie modes the core answers synchronously: no promise, no microtask turn.
    const route = this.gateway.router.routeNow(this);
    if (route instanceof Promise) route.then((route) => this.routed(route));
    else this.routed(route);
  }

  private routed(route: Route): void {
    const router = this.gateway.router;
    if (this.closed) {
      router.release(route);
      return;
    }
    this.route = route;
    if (route.backend === null) this.send(router.reply(503));
    else this.dispatch(route);
  }

  // ---- undici dispatch handler ----

  onConnect(abort: (reason?: Error) => void): void {
    this.abortUpstream = abort;
  }

  onHeaders(statusCode: number, rawHeaders: Buffer[], resume: () => void): boolean {
    if (statusCode < 200) return true; // 1xx informational: the final answer follows
    this.responseStarted = true;
    this.resumeUpstream = resume;
    const router = this.gateway.router;
    const route = this.route!;
    router.succeeded(route);
    const headers: string[] = [];
    let setCookie: string | string[] | undefined;
    let connection: string | undefined;
    for (let i = 0; i < rawHeaders.length; i += 2) {
      const name = util.headerNameToString(rawHeaders[i]!);
      const value = rawHeaders[i + 1]!.toString('latin1');
      if (isHopByHop(name, FRAMED_BY_UNDICI)) {
        if (name === 'connection') connection = value;
        continue;
      }
      if (name === 'set-cookie') {
        if (setCookie === undefined) setCookie = value;
        else if (typeof setCookie === 'string') setCookie = [setCookie, value];
        else setCookie.push(value);
      }
      headers.push(name, value);
    }
    const cookies = router.responseCookies(route, setCookie);
    for (let i = 0; i < cookies.length; i++) headers.push('set-cookie', cookies[i]!);
    this.res.writeHead(
      statusCode,
      connection === undefined ? headers : withoutNominated(headers, connection),
    );
    return true;
  }

  onData(chunk: Buffer): boolean {
    if (this.res.write(chunk)) return true;
    // The client reads slower than the upstream sends: pause the upstream until the client drains.
    this.res.once('drain', this.resumeUpstream!);
    return false;
  }

  onComplete(): void {
    this.upstreamDone = true;
    this.res.end();
  }

  onError(error: Error): void {
    this.upstreamDone = true;
    // Aborted because the client went away, or the client's own upload broke: not the upstream's fault.
    if (this.closed || this.req.errored) return;
    void this.failover(error);
  }

  // ---- the response is over ----

  /** The client's response closed (finished, or the connection dropped): stop the upstream, release once. */
  clientClosed(): void {
    if (this.closed) return;
    this.closed = true;
    if (!this.upstreamDone && this.abortUpstream !== null) this.abortUpstream();
    if (this.route !== null) this.gateway.router.release(this.route);
  }

  private dispatch(route: Route): void {
    this.abortUpstream = null;
    this.gateway.pools.dispatch(
      route.backend!,
      {
        path: this.url,
        method: this.method,
        headers: copyUpstreamHeaders(this.headers, route.upstreamHeaders, FRAMED_BY_UNDICI),
        body: this.hasBody ? this.req : null,
      },
      this,
    );
  }

  private async failover(error: Error): Promise<void> {
    const router = this.gateway.router;
    const next = await router.failover(this.route!, {
      error,
      bodySent: this.hasBody && this.req.readableDidRead,
      responseStarted: this.responseStarted,
      // A kept-alive connection the upstream closed as it was reused: retried on the same backend.
      reusedConnection: closedAfterEarlierResponses(error),
    });
    if (next.retry !== undefined) {
      this.route = next.retry;
      if (this.closed) router.release(next.retry);
      else {
        this.upstreamDone = false;
        this.dispatch(next.retry);
      }
      return;
    }
    if (!this.closed) this.send(next.reply);
  }

  private send(reply: Reply): void {
    const res = this.res;
    if (res.headersSent || res.destroyed) {
      // Too late for a status line: cutting the connection is how the client learns the answer broke.
      res.destroy();
      return;
    }
    res.writeHead(reply.status, reply.headers);
    res.end(reply.body);
  }
}

function onResponseClose(this: TrackedResponse): void {
  this[kExchange]?.clientClosed();
}

/** undici frames the request body itself and node:http the response's: `transfer-encoding` stops here too. */
const FRAMED_BY_UNDICI = { dropFraming: true } as const;

/** Drops the headers a response's Connection header nominates (rare: only then is the list copied). */
function withoutNominated(headers: string[], connection: string): string[] {
  const nominated = nominatedByConnection(connection);
  if (nominated.length === 0) return headers;
  const kept: string[] = [];
  for (let i = 0; i < headers.length; i += 2) {
    if (!nominated.includes(headers[i]!)) kept.push(headers[i]!, headers[i + 1]!);
  }
  return kept;
}
