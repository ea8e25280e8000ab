// One request through the gateway, start to finish, written once for every adapter: route → 503, or send
// with the router's upstream headers under a deadline → the upstream's answer gets the balancer cookies →
// on failure, send again (elsewhere, the body replayed) or answer 502/504 → release exactly once, when the
// client's side is over. WebSocket upgrades are exchanges too (the core's own UpgradeEngine), so a 101 gets
// the balancer cookie and a refused first pick is retried like any request.
//
// The adapter's engine does what only it can: send to the origin the exchange names, write a reply the
// exchange gives, abort an attempt. It reports what it sees: the upstream's response headers
// (`responseCookies`/`responseHeaders`), a failure (`failed`), the client's side closing (`closed`).
// The exchange is also the RouteRequest the router reads, so a request costs one object here.

import type { IncomingHttpHeaders } from 'node:http';
import type { Readable } from 'node:stream';
import { classifyUpstreamError, upstreamTimeoutError } from '../health/upstream-failure';
import { BAD_TARGET_REPLY, OPTIONS_REPLY } from '../routing/error-replies';
import type { FailoverDecision } from '../routing/failover-policy';
import type { Routing } from '../routing/routing';
import type { Reply, Route, RouteRequest } from '../types';
import {
  copyDownstreamHeaders,
  copyUpstreamHeaders,
  type HopByHopOptions,
  isHopByHop,
  prepareUpstreamHeaders,
  withoutNominated,
} from './hop-by-hop';
import type { RequestBody } from './request-body';
import { kBucket, kSlot, type UpstreamDeadlines, type Watched } from './upstream-deadlines';

/** What an engine does for an exchange. `C` is the adapter's handle on the client (its response, say). */
export interface ExchangeEngine<C> {
  /** Send `exchange.route` (an attempt; after a failure, another one) to `exchange.route.backend`. */
  send(exchange: Exchange<C>): void;
  /** Answer the client with the gateway's reply; if a response already began, cut the connection instead. */
  reply(exchange: Exchange<C>, reply: Reply): void;
  /** Stop the attempt in flight; the engine then reports `failed(reason)` (or nothing, if it was over). */
  abort(exchange: Exchange<C>, reason?: Error): void;
}

/** What an adapter knows about a request, in the core's terms. */
export interface RequestFacts extends RouteRequest {
  /**
   * The request's body: the client's stream (replayed on a retry from a bounded copy), or the bytes a body
   * parser already read (sent with their own Content-Length). Ignored when the headers announce no body.
   */
  body?: Readable | Buffer | string;
}

/** How an engine takes the request's headers: see Exchange#upstreamHeaders. */
export interface UpstreamHeaderOptions {
  /** Shape the given object itself rather than a copy. */
  inPlace?: boolean;
  /** The engine frames the body itself (undici): `transfer-encoding` goes too. */
  dropFraming?: boolean;
  /** A WebSocket upgrade keeps `Connection: Upgrade` and `Upgrade`. */
  upgrade?: boolean;
}

/** Response headers for the client: as node parses them, but Set-Cookie may be one string. */
export type ClientHeaders = Omit<IncomingHttpHeaders, 'set-cookie'> & { 'set-cookie'?: string | string[] };

/** What every exchange of one gateway shares. */
export interface ExchangeContext {
  routing: Routing;
  deadlines: UpstreamDeadlines<Exchange<unknown>>;
  /** Makes the replayable body of a streamed request. */
  body(source: Readable): RequestBody;
}

/** Where an exchange is: routing, an attempt sent, the upstream answered, over (answered by us, or gone). */
const ROUTING = 0;
const SENDING = 1;
const ANSWERED = 2;
const OVER = 3;

export class Exchange<C = unknown> implements RouteRequest, Watched {
  readonly method: string;
  readonly url: string;
  readonly headers: IncomingHttpHeaders;
  readonly ip: string;
  readonly remoteAddress: string | undefined;
  readonly secure: boolean;
  /** The client's Connection header as it came (engines may shape the headers in place). */
  readonly connection: string | undefined;
  /** The route in use: null while routing; a retry replaces it. */
  route: Route | null = null;
  /** The engine's handle on the attempt in flight (its upstream request), for abort and failure reports. */
  attempt: unknown = undefined;
  [kBucket]: Watched[typeof kBucket] = undefined;
  [kSlot] = 0;
  /** The client speaks HTTP/2 (its host is in `:authority`): no connection-level headers reach it. */
  readonly http2: boolean;
  private phase = ROUTING;
  private clientGone = false;
  private timedOut = false;
  private readonly body: RequestBody | null;
  private readonly bytes: Buffer | null;

  constructor(
    private readonly context: ExchangeContext,
    private readonly engine: ExchangeEngine<C>,
    facts: RequestFacts,
    /** The adapter's handle on the client, for its engine. */
    readonly client: C,
  ) {
    this.method = facts.method;
    // Origin-form upstream (`/path?q`): an absolute-form target (`http://host/path`) loses its authority.
    const url = facts.url;
    this.url = url.charCodeAt(0) === 47 ? url : originForm(url);
    this.headers = facts.headers as IncomingHttpHeaders;
    this.connection = this.headers.connection;
    // Every HTTP/1.1 request has a Host; only without one is `:authority` looked for.
    this.http2 = this.headers.host === undefined && this.headers[':authority'] !== undefined;
    this.ip = facts.ip;
    this.remoteAddress = facts.remoteAddress;
    this.secure = facts.secure;
    const source = facts.body;
    // An HTTP/2 request may carry a body with no Content-Length: its stream tells.
    const present =
      source !== undefined && (announcesBody(this.headers) || (this.http2 && streamCarriesBody(source)));
    if (!present) {
      this.body = null;
      this.bytes = null;
    } else if (typeof source === 'string' || Buffer.isBuffer(source)) {
      this.body = null;
      this.bytes = typeof source === 'string' ? Buffer.from(source) : source;
    } else {
      this.body = context.body(source);
      this.bytes = null;
    }
  }

  /** Routes the request and sends it (or answers 503). */
  start(): void {
    // `OPTIONS *` asks the gateway itself; no other request has `*` as its target.
    if (this.url === '*') {
      this.answer(this.method === 'OPTIONS' ? OPTIONS_REPLY : BAD_TARGET_REPLY);
      return;
    }
    const route = this.context.routing.routeNow(this);
    if (route instanceof Promise) route.then((route) => this.routed(route));
    else this.routed(route);
  }

  /**
   * The body for the attempt being sent: null without one, the parser's bytes, or a stream that replays
   * what earlier attempts took (undici and http-proxy take either).
   */
  attemptBody(): Readable | Buffer | null {
    if (this.bytes !== null) return this.bytes;
    return this.body === null ? null : this.body.attempt();
  }

  /**
   * The request's headers for the attempt being sent: hop-by-hop headers and the client's claims under the
   * gateway's names out (its other forwarding headers too, unless the proxy in front is trusted), the
   * route's X-Forwarded-* and x-sticky-rerouted in, and a Content-Length of their own for bytes a body
   * parser read. `inPlace` shapes `from` itself (an engine that reads the client's own object), else a copy.
   */
  upstreamHeaders(
    options: UpstreamHeaderOptions = {},
    from: IncomingHttpHeaders = this.headers,
  ): IncomingHttpHeaders {
    let route = this.route!.upstreamHeaders;
    // Like a cloud balancer, the app sees the Host the client asked for; an https backend gets its own, which
    // is also the name its certificate is checked against (node and undici take the TLS name from Host).
    const tlsHost = this.route!.backend!.tlsHost;
    if (tlsHost !== undefined) route = { ...route, host: tlsHost };
    // HTTP/2 names the host in `:authority`; the upstream speaks HTTP/1.1 and wants a Host header.
    else if (this.http2 && from.host === undefined)
      route = { ...route, host: this.headers[':authority'] as string };
    const shaping =
      SHAPINGS[
        (options.upgrade ? 4 : 0) |
          (options.dropFraming || this.bytes !== null ? 2 : 0) |
          (this.remoteAddress !== undefined && this.remoteAddress !== this.ip ? 1 : 0)
      ]!;
    if (this.bytes !== null) route = { ...route, 'content-length': String(this.bytes.length) };
    return options.inPlace
      ? prepareUpstreamHeaders(from, route, shaping)
      : copyUpstreamHeaders(from, route, shaping);
  }

  /** The client sent `Connection: close`: the response says so too. */
  get clientAskedClose(): boolean {
    const connection = this.connection;
    return connection !== undefined && connection !== 'keep-alive' && /\bclose\b/i.test(connection);
  }

  // ---- what the engine reports ----

  /**
   * The upstream answered (status and headers): the balancer's Set-Cookie lines for the response, to go
   * after the app's own (`setCookie`). Records the success and ends the deadline.
   */
  responseCookies(setCookie: string | readonly string[] | undefined): readonly string[] {
    this.context.deadlines.unwatch(this);
    this.phase = ANSWERED;
    this.body?.release();
    const routing = this.context.routing;
    const route = this.route!;
    routing.succeeded(route);
    return routing.responseCookies(route, setCookie, this);
  }

  /**
   * `responseCookies` for engines that hand the client an object of headers: a copy without hop-by-hop
   * headers, the balancer's cookies after the app's (a lone string when they are the only ones: node
   * validates an array by joining it on V8's slow RegExp path), `Connection: close` when the client asked.
   * A copy, because deleting from the parse would turn it into a slower dictionary for every later walk.
   */
  responseHeaders(headers: IncomingHttpHeaders, dropFraming = false): ClientHeaders {
    // HTTP/2 frames its own messages: no Transfer-Encoding and no Connection may reach its client.
    const http2 = this.http2;
    const out: ClientHeaders = copyDownstreamHeaders(
      headers,
      dropFraming || http2 ? DROP_FRAMING : NO_OPTIONS,
    );
    const appCookies = out['set-cookie'];
    const cookies = this.responseCookies(appCookies);
    if (cookies.length > 0) out['set-cookie'] = appendCookies(appCookies, cookies);
    if (!http2 && this.clientAskedClose) out.connection = 'close';
    return out;
  }

  /**
   * `responseHeaders` for an engine that reads the upstream's raw header list (undici's handler before it
   * parses, names as bytes, `nameOf` reading one): a flat `[name, value, …]` list that node's `writeHead`
   * takes as it is, made in one walk. The object undici would otherwise parse per response costs more than
   * everything else here. Values are read as latin1, byte for byte as the upstream sent them. An HTTP/2
   * client takes an object: the list becomes one first.
   */
  responseHeaderList(
    raw: readonly Buffer[],
    nameOf: (name: Buffer) => string,
    dropFraming = false,
  ): string[] | ClientHeaders {
    if (this.http2) return this.responseHeaders(headersOf(raw, nameOf), dropFraming);
    const options = dropFraming ? DROP_FRAMING : NO_OPTIONS;
    const list: string[] = [];
    let setCookie: string | string[] | undefined;
    let connection: string | undefined;
    for (let i = 0; i < raw.length; i += 2) {
      const name = nameOf(raw[i]!);
      const value = raw[i + 1]!.toString('latin1');
      if (isHopByHop(name, options)) {
        if (name === 'connection') connection = connection === undefined ? value : `${connection}, ${value}`;
        continue;
      }
      if (name === 'set-cookie') {
        if (setCookie === undefined) setCookie = value;
        else if (typeof setCookie === 'string') setCookie = [setCookie, value];
        else setCookie.push(value);
      }
      list.push(name, value);
    }
    const cookies = this.responseCookies(setCookie);
    for (let i = 0; i < cookies.length; i++) list.push('set-cookie', cookies[i]!);
    if (this.clientAskedClose) list.push('connection', 'close');
    return connection === undefined ? list : withoutNominated(list, connection);
  }

  /**
   * The attempt failed. `reusedConnection`: it went out on a kept-alive connection that had served earlier
   * requests (node's `req.reusedSocket`, undici's byte counts), so a reset is most likely that connection's
   * idle timeout, not the backend failing.
   */
  failed(error: unknown, reusedConnection = false): void {
    if (this.clientGone || this.phase === OVER || this.route === null) return;
    this.context.deadlines.unwatch(this);
    // The client cut its own upload short: not the upstream's fault, and nobody is left to answer.
    if (this.body?.broken) return;
    const kind = this.timedOut ? 'timeout' : classifyUpstreamError(error);
    this.timedOut = false;
    const decision = this.context.routing.failover(this.route, {
      kind,
      responseStarted: this.phase === ANSWERED,
      bodySent: this.bytes !== null || this.body?.started === true,
      bodyReplayable: this.body === null || this.body.replayable,
      reusedConnection,
    });
    if (decision instanceof Promise) decision.then((d) => this.decided(d));
    else this.decided(decision);
  }

  /** The client's side is over: `finished` (the response was sent in full) or gone. Releases once. */
  closed(finished: boolean): void {
    if (this.clientGone) return;
    this.clientGone = true;
    this.context.deadlines.unwatch(this);
    if (!finished && (this.phase === SENDING || this.phase === ANSWERED)) this.engine.abort(this);
    this.phase = OVER;
    if (this.route !== null) this.context.routing.release(this.route);
  }

  /** The deadline passed without response headers: the attempt is aborted and reads as a timeout. */
  expired(): void {
    if (this.phase !== SENDING) return;
    this.timedOut = true;
    this.engine.abort(this, upstreamTimeoutError());
  }

  // ---- the sequence ----

  private routed(route: Route): void {
    this.route = route;
    if (this.clientGone) this.context.routing.release(route);
    else if (route.backend === null) this.answer(this.context.routing.reply(503));
    else this.send();
  }

  private send(): void {
    this.phase = SENDING;
    this.context.deadlines.watch(this);
    try {
      this.engine.send(this);
    } catch (error) {
      // An engine that throws while building the request (a header node refuses) has sent nothing.
      this.failed(error);
    }
  }

  private decided(decision: FailoverDecision): void {
    if (decision.retry !== undefined) {
      this.route = decision.retry;
      if (this.clientGone) this.context.routing.release(decision.retry);
      else this.send();
    } else if (!this.clientGone) this.answer(decision.reply);
  }

  private answer(reply: Reply): void {
    this.phase = OVER;
    let answer = reply;
    if (this.http2) {
      // HTTP/2 forbids connection-level headers; an unread body ends with the stream.
      if (reply.headers.connection !== undefined) {
        const { connection: _, ...headers } = reply.headers;
        answer = { ...reply, headers };
      }
    } else if (this.body !== null && !this.body.complete && reply.headers.connection === undefined) {
      // A body still arriving would keep the connection busy for nothing: the answer closes it.
      answer = { ...reply, headers: { ...reply.headers, connection: 'close' } };
    }
    this.engine.reply(this, answer);
  }
}

/** `http://host/path?q` → `/path?q`; anything else (`*`) as it is. */
function originForm(url: string): string {
  const match = /^[a-z][a-z0-9+.-]*:\/\/[^/?#]*/i.exec(url);
  if (match === null) return url;
  const rest = url.slice(match[0].length);
  return rest.charCodeAt(0) === 47 ? rest : `/${rest}`;
}

/** An HTTP/2 request whose stream did not end with its headers (`Http2ServerRequest#stream`). */
function streamCarriesBody(source: unknown): boolean {
  return (source as { stream?: { endAfterHeaders?: boolean } }).stream?.endAfterHeaders === false;
}

/** A body was (or is being) sent: Content-Length other than 0, or any Transfer-Encoding. */
export function announcesBody(headers: IncomingHttpHeaders): boolean {
  const length = headers['content-length'];
  return headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0');
}

/**
 * The app's Set-Cookie, then the balancer's, in a new array (no `concat`: a slow runtime call in V8); a lone
 * balancer cookie is answered as a string.
 */
export function appendCookies(
  app: string | readonly string[] | number | undefined,
  balancer: readonly string[],
): string | string[] {
  if (app === undefined && balancer.length === 1) return balancer[0]!;
  const all = app === undefined ? [] : typeof app === 'object' ? app.slice() : [String(app)];
  for (const cookie of balancer) all.push(cookie);
  return all;
}

/** A raw header list as an object: repeated names collect into an array, as node's parser does. */
function headersOf(raw: readonly Buffer[], nameOf: (name: Buffer) => string): IncomingHttpHeaders {
  const headers: Record<string, string | string[]> = {};
  for (let i = 0; i < raw.length; i += 2) {
    const name = nameOf(raw[i]!);
    const value = raw[i + 1]!.toString('latin1');
    const earlier = headers[name];
    if (earlier === undefined) headers[name] = value;
    else if (typeof earlier === 'string') headers[name] = [earlier, value];
    else earlier.push(value);
  }
  return headers;
}

const NO_OPTIONS = {};
/** The eight ways to shape a request's headers, made once: upgrade × dropFraming × trusted (bits 4, 2, 1). */
const SHAPINGS: readonly HopByHopOptions[] = Array.from({ length: 8 }, (_, bits) => ({
  upgrade: (bits & 4) !== 0,
  dropFraming: (bits & 2) !== 0,
  trusted: (bits & 1) !== 0,
}));
const DROP_FRAMING = { dropFraming: true } as const;
