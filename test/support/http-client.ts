// A small real HTTP(S) client for integration suites, on node:http so that tests may send any header
// (hop-by-hop ones included) and read every Set-Cookie line raw. `HttpClient` adds a cookie jar that
// behaves like a browser's for one host: it stores cookies, honours deletion, and sends them back.

import http, { type IncomingHttpHeaders, type OutgoingHttpHeaders } from 'node:http';
import http2 from 'node:http2';
import https from 'node:https';
import type { Readable } from 'node:stream';

export interface SendOptions {
  method?: string;
  headers?: OutgoingHttpHeaders;
  body?: string | Buffer | Readable;
  /** Trust this certificate (PEM) for https: URLs, e.g. a self-signed one made by makeSelfSignedCert(). */
  ca?: string;
  /** Give up (reject) after this long. Default 10 s. */
  timeoutMs?: number;
  /** Speak HTTP/2 (TLS with ALPN, to an https: URL); connection-level headers are left out, as h2 forbids. */
  http2?: boolean;
}

export interface HttpResult {
  status: number;
  headers: IncomingHttpHeaders;
  /** Every Set-Cookie line, as sent. */
  setCookies: string[];
  body: Buffer;
  text: string;
  json<T = Record<string, unknown>>(): T;
}

/** What HTTP/2 forbids a request to carry (RFC 9113 §8.2.2). */
const CONNECTION_HEADERS = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'upgrade',
]);

function result(status: number, headers: IncomingHttpHeaders, chunks: Buffer[]): HttpResult {
  const body = Buffer.concat(chunks);
  const text = body.toString('utf8');
  return {
    status,
    headers,
    setCookies: headers['set-cookie'] ?? [],
    body,
    text,
    json: <T>() => JSON.parse(text) as T,
  };
}

/** One request over a fresh HTTP/2 session. */
function sendHttp2(url: string, options: SendOptions): Promise<HttpResult> {
  const target = new URL(url);
  return new Promise((resolve, reject) => {
    const session = http2.connect(target.origin, options.ca ? { ca: options.ca } : {});
    const fail = (error: Error) => {
      session.destroy();
      reject(error);
    };
    session.on('error', fail);
    const headers: OutgoingHttpHeaders = {
      ':method': options.method ?? 'GET',
      ':path': `${target.pathname}${target.search}`,
    };
    for (const [name, value] of Object.entries(options.headers ?? {}))
      if (!CONNECTION_HEADERS.has(name.toLowerCase()) && value !== undefined)
        headers[name.toLowerCase()] = value;
    const stream = session.request(headers);
    stream.setTimeout(options.timeoutMs ?? 10_000, () =>
      stream.close(http2.constants.NGHTTP2_CANCEL, () => fail(new Error(`${url} timed out`))),
    );
    const chunks: Buffer[] = [];
    let status = 0;
    let responseHeaders: IncomingHttpHeaders = {};
    stream.on('response', (h) => {
      status = Number(h[':status']);
      const { ':status': _, ...rest } = h;
      responseHeaders = rest as IncomingHttpHeaders;
    });
    stream.on('data', (chunk: Buffer) => chunks.push(chunk));
    stream.on('error', fail);
    stream.on('end', () => {
      session.close();
      resolve(result(status, responseHeaders, chunks));
    });
    const body = options.body;
    if (body === undefined || typeof body === 'string' || Buffer.isBuffer(body)) stream.end(body);
    else body.pipe(stream);
  });
}

/** One request over a fresh connection (no agent, so a stopped server is seen at once). */
export function send(url: string, options: SendOptions = {}): Promise<HttpResult> {
  if (options.http2) return sendHttp2(url, options);
  const target = new URL(url);
  const transport = target.protocol === 'https:' ? https : http;
  return new Promise((resolve, reject) => {
    const req = transport.request(
      target,
      {
        method: options.method ?? 'GET',
        headers: options.headers,
        agent: false,
        ...(options.ca ? { ca: options.ca } : {}),
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('error', reject);
        res.on('end', () => resolve(result(res.statusCode ?? 0, res.headers, chunks)));
      },
    );
    req.setTimeout(options.timeoutMs ?? 10_000, () =>
      req.destroy(new Error(`${options.method ?? 'GET'} ${url} timed out`)),
    );
    req.on('error', reject);
    const body = options.body;
    if (body === undefined || typeof body === 'string' || Buffer.isBuffer(body)) req.end(body);
    else body.pipe(req);
  });
}

/** A parsed Set-Cookie line: name, value and lower-cased attributes (`max-age`, `path`, `httponly` → ''). */
export interface SetCookie {
  name: string;
  value: string;
  attributes: Record<string, string>;
}

export function parseSetCookie(line: string): SetCookie {
  const [pair = '', ...rest] = line.split(';');
  const eq = pair.indexOf('=');
  const attributes: Record<string, string> = {};
  for (const part of rest) {
    const at = part.indexOf('=');
    const key = (at === -1 ? part : part.slice(0, at)).trim().toLowerCase();
    if (key !== '') attributes[key] = at === -1 ? '' : part.slice(at + 1).trim();
  }
  return { name: pair.slice(0, eq).trim(), value: pair.slice(eq + 1).trim(), attributes };
}

/** The Set-Cookie lines of `result` that set cookie `name`, parsed. */
export function cookiesNamed(result: Pick<HttpResult, 'setCookies'>, name: string): SetCookie[] {
  return result.setCookies.map(parseSetCookie).filter((c) => c.name === name);
}

/** Cookies for one host, kept as a browser keeps them (paths and domains are not needed on 127.0.0.1). */
export class CookieJar {
  private readonly cookies = new Map<string, { value: string; expiresAt: number | null }>();

  constructor(private readonly now: () => number = Date.now) {}

  /** Takes in a response's Set-Cookie lines: sets, replaces, or deletes (Max-Age ≤ 0 or a past Expires). */
  absorb(setCookies: readonly string[]): void {
    for (const line of setCookies) {
      const { name, value, attributes } = parseSetCookie(line);
      if (name === '') continue;
      let expiresAt: number | null = null;
      const maxAge = attributes['max-age'];
      if (maxAge !== undefined && /^-?\d+$/.test(maxAge)) expiresAt = this.now() + Number(maxAge) * 1000;
      else if (attributes.expires !== undefined) {
        const date = Date.parse(attributes.expires);
        if (!Number.isNaN(date)) expiresAt = date;
      }
      if (expiresAt !== null && expiresAt <= this.now()) this.cookies.delete(name);
      else this.cookies.set(name, { value, expiresAt });
    }
  }

  get(name: string): string | undefined {
    const cookie = this.cookies.get(name);
    if (cookie === undefined) return undefined;
    if (cookie.expiresAt !== null && cookie.expiresAt <= this.now()) {
      this.cookies.delete(name);
      return undefined;
    }
    return cookie.value;
  }

  set(name: string, value: string): void {
    this.cookies.set(name, { value, expiresAt: null });
  }

  delete(name: string): void {
    this.cookies.delete(name);
  }

  names(): string[] {
    return [...this.cookies.keys()].filter((name) => this.get(name) !== undefined);
  }

  /** The Cookie header to send, or undefined when the jar is empty. */
  header(): string | undefined {
    const pairs = this.names().map((name) => `${name}=${this.get(name)}`);
    return pairs.length === 0 ? undefined : pairs.join('; ');
  }
}

/** A client bound to one base URL, with its own cookie jar: one "browser". */
export class HttpClient {
  readonly jar: CookieJar;

  constructor(
    readonly baseUrl: string,
    private readonly defaults: Pick<SendOptions, 'ca' | 'timeoutMs' | 'http2'> = {},
    now?: () => number,
  ) {
    this.jar = new CookieJar(now);
  }

  async request(path: string, options: SendOptions = {}): Promise<HttpResult> {
    const headers: OutgoingHttpHeaders = { ...options.headers };
    const cookie = this.jar.header();
    if (cookie !== undefined && headers.cookie === undefined) headers.cookie = cookie;
    const result = await send(new URL(path, this.baseUrl).href, { ...this.defaults, ...options, headers });
    this.jar.absorb(result.setCookies);
    return result;
  }

  get(path = '/', options: Omit<SendOptions, 'method'> = {}): Promise<HttpResult> {
    return this.request(path, { ...options, method: 'GET' });
  }

  post(path: string, body?: string | Buffer, options: Omit<SendOptions, 'method' | 'body'> = {}) {
    return this.request(path, { ...options, method: 'POST', body: body ?? '' });
  }
}
