// Which headers stop at the gateway (RFC 9110 §7.6.1), for every adapter alike: the connection-specific ones,
// and any header the Connection header names. And which headers are the gateway's to set: X-Forwarded-* and
// x-sticky-rerouted come from the router's Route, so whatever a client sent under those names is dropped
// first and the app never mistakes a client's claim for the gateway's. Other forwarding claims (Forwarded,
// X-Real-IP, True-Client-IP, X-Forwarded-Port/-Prefix…) are dropped too unless the proxy in front is trusted,
// and their underscore spellings always (a WSGI or CGI app merges `X_Forwarded_For` into
// `HTTP_X_FORWARDED_FOR`, ahead of the gateway's own).

/** Hop-by-hop headers. `transfer-encoding` is framing: engines on node:http keep it, undici sets its own. */
const HOP_BY_HOP = ['connection', 'keep-alive', 'proxy-connection', 'te', 'trailer', 'upgrade'];
/** Framing and routing headers a Connection header may not make us drop. */
const PROTECTED = new Set(['host', 'content-length', 'transfer-encoding']);
/** Connection values that nominate nothing beyond themselves: the common case costs no parsing. */
const USUAL_CONNECTION = new Set(['keep-alive', 'Keep-Alive', 'close', 'Close', 'Upgrade', 'upgrade']);
const GATEWAY_OWNED = ['x-forwarded-for', 'x-forwarded-proto', 'x-forwarded-host', 'x-sticky-rerouted'];
/** What a client may claim about itself that only a trusted proxy in front may tell the app. */
const CLIENT_CLAIMS: ReadonlySet<string> = new Set([
  'forwarded',
  'x-real-ip',
  'true-client-ip',
  'x-client-ip',
  'x-forwarded-port',
  'x-forwarded-prefix',
  'x-forwarded-server',
  'x-forwarded-ssl',
]);

type Headers = Record<string, string | string[] | number | undefined>;

export interface HopByHopOptions {
  /** A WebSocket upgrade keeps `Connection: Upgrade` and its `Upgrade` header. */
  upgrade?: boolean;
  /** Also drop `transfer-encoding` (undici frames the body itself and refuses the header). */
  dropFraming?: boolean;
  /** The proxy in front is trusted: its forwarding headers (Forwarded, X-Real-IP…) go on to the app. */
  trusted?: boolean;
}

/** Whether a header stops at the gateway, for engines that walk a raw header list (the Connection header's
 * nominees aside: see nominatedByConnection). */
export function isHopByHop(name: string, options: HopByHopOptions = {}): boolean {
  return HOP_BY_HOP_SET.has(name) || (options.dropFraming === true && name === 'transfer-encoding');
}

/** Header names a Connection header nominates as hop-by-hop (`keep-alive, X-Trace` → `x-trace`). */
export function nominatedByConnection(connection: unknown): string[] {
  if (typeof connection !== 'string' && !Array.isArray(connection)) return [];
  const text = Array.isArray(connection) ? connection.join(',') : connection;
  if (USUAL_CONNECTION.has(text)) return [];
  const names: string[] = [];
  for (const token of text.split(',')) {
    const name = token.trim().toLowerCase();
    if (name !== '' && !PROTECTED.has(name)) names.push(name);
  }
  return names;
}

/** A flat `[name, value, …]` header list without the names a Connection header nominated. */
export function withoutNominated(list: string[], connection: string): string[] {
  const nominated = nominatedByConnection(connection);
  if (nominated.length === 0) return list;
  const kept: string[] = [];
  for (let i = 0; i < list.length; i += 2) {
    if (!nominated.includes(list[i]!)) kept.push(list[i]!, list[i + 1]!);
  }
  return kept;
}

/** Removes hop-by-hop headers, in place (responses, and requests an engine reads from `req.headers`). */
export function stripHopByHop<T extends Headers>(headers: T, options: HopByHopOptions = {}): T {
  return strip(headers, HOP_BY_HOP_SET, options);
}

/**
 * Shapes a request's headers for the upstream, in place: hop-by-hop out, `Expect` out (the gateway already
 * answered `100-continue`), the client's X-Forwarded-* and x-sticky-rerouted out, the Route's headers in.
 */
export function prepareUpstreamHeaders<T extends Headers>(
  headers: T,
  routeHeaders: Record<string, string>,
  options: HopByHopOptions = {},
): T {
  strip(headers, NOT_FORWARDED, options);
  Object.assign(headers, routeHeaders);
  return headers;
}

/**
 * One pass over the headers that are there (a handful), each looked up in a Set, instead of a lookup per name
 * that might be: those are keyed loads V8 cannot cache across header objects (megamorphic), ten or more a
 * request. `delete` only what must go: it turns the object into a slower dictionary.
 */
function strip<T extends Headers>(headers: T, names: ReadonlySet<string>, options: HopByHopOptions): T {
  const h = headers as Headers;
  const connection = h.connection;
  const protocol = h.upgrade;
  for (const name in h) {
    if (!drops(name, names, options)) continue;
    // HTTP/2's compatibility request reads its url and method from these: hidden from copies, not deleted.
    if (name.charCodeAt(0) === 58) hide(h, name);
    else delete h[name];
  }
  if (connection !== undefined) for (const name of nominatedByConnection(connection)) drop(h, name);
  if (options.upgrade && protocol !== undefined) {
    h.connection = 'Upgrade';
    h.upgrade = protocol;
  }
  return headers;
}

/** Whether a header named `name` stops at the gateway (a Set lookup for the common names). */
function drops(name: string, names: ReadonlySet<string>, options: HopByHopOptions): boolean {
  if (names.has(name)) return true;
  // HTTP/2's pseudo-headers (`:method`, `:authority`…) describe the client's stream, not an HTTP/1.1 request.
  if (name.charCodeAt(0) === 58) return true;
  if (options.dropFraming === true && name === 'transfer-encoding') return true;
  if (names === HOP_BY_HOP_SET) return false;
  if (options.trusted !== true && CLIENT_CLAIMS.has(name)) return true;
  // `x_forwarded_for`, `x-forwarded_for`…: an underscore spelling of a name the gateway owns or filters.
  if (name.indexOf('_') === -1) return false;
  const dashed = name.replace(/_/g, '-');
  return names.has(dashed) || CLIENT_CLAIMS.has(dashed);
}

const HOP_BY_HOP_SET: ReadonlySet<string> = new Set(HOP_BY_HOP);
/** What a request's headers lose on the way upstream. */
const NOT_FORWARDED: ReadonlySet<string> = new Set([
  ...HOP_BY_HOP,
  'http2-settings',
  'expect',
  ...GATEWAY_OWNED,
]);

/**
 * What prepareUpstreamHeaders makes, as a new object built in one pass: for engines that hand over a copy of
 * the client's headers made by spreading (reply-from). Adding names to a spread copy is slow in V8 (4–5 µs for
 * three X-Forwarded-* on this project's bench machine, against 0.4 µs for a copy built name by name).
 */
export function copyUpstreamHeaders<T extends Headers>(
  headers: T,
  routeHeaders: Record<string, string>,
  options: HopByHopOptions = {},
): T {
  const out = copyWithout(headers, NOT_FORWARDED, options);
  for (const name in routeHeaders) out[name] = routeHeaders[name];
  return out as T;
}

/**
 * What stripHopByHop makes, as a new object built in one pass: for a response's headers that an engine then
 * walks again (reply-from copies them name by name onto the reply). Deleting `connection` from the parsed
 * object would turn it into a dictionary, slower for every later walk, read and write.
 */
export function copyDownstreamHeaders<T extends Headers>(headers: T, options: HopByHopOptions = {}): T {
  return copyWithout(headers, HOP_BY_HOP_SET, options) as T;
}

function copyWithout(headers: Headers, names: ReadonlySet<string>, options: HopByHopOptions): Headers {
  const out: Headers = {};
  for (const name in headers) {
    const value = headers[name];
    if (value === undefined || drops(name, names, options)) continue;
    out[name] = value;
  }
  if (headers.connection !== undefined)
    for (const name of nominatedByConnection(headers.connection)) drop(out, name);
  if (options.upgrade && headers.upgrade !== undefined) {
    out.connection = 'Upgrade';
    out.upgrade = headers.upgrade;
  }
  return out;
}

/** Keeps a header readable by name but out of every copy (`for…in`, `Object.assign`, spreads). */
function hide(headers: Headers, name: string): void {
  Object.defineProperty(headers, name, { value: headers[name], enumerable: false, writable: true });
}

/**
 * `delete` only what is there: deleting is a slow runtime call even for an absent name, and deleting a
 * present one turns the object into a slower dictionary, which is worth it only when it must go.
 */
function drop(headers: Headers, name: string): void {
  if (headers[name] !== undefined) delete headers[name];
}
