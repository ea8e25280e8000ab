// A tiny "legacy app" backend for integration suites: a real node:http server on 127.0.0.1 that keeps its
// sessions in memory, exactly the kind of app sticky sessions exist for. It answers which instance it is,
// echoes what it received, and can misbehave on purpose (slow, streaming, malformed cookies, dropped sockets)
// or be stopped and restarted on the same port so tests see a refused connection and a comeback.

import { createHash, randomBytes } from 'node:crypto';
import http, { type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import https from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { WebSocketServer } from 'ws';

export interface LegacyAppOptions {
  /** Answers as this instance (`x-instance` header and the JSON `instance` field). */
  instance: string;
  /** Max-Age of the session cookie set by POST /login; `null` sets a browser-session cookie. Default 600. */
  sessionMaxAge?: number | null;
  /** The session cookie's name. Default PHPSESSID (JSESSIONID with `jvmRoute`). */
  sessionCookie?: string;
  /**
   * Behave like Tomcat with `jvmRoute` set to the instance: session ids are `<hex>.<instance>`, and a request
   * without the session cookie may carry the session in the path (`/cart;jsessionid=<id>?x=1`, the name being
   * the cookie's in lower case); path parameters do not change which route answers. Off by default.
   */
  jvmRoute?: boolean;
  /** Serve HTTPS with this key/cert (PEM) instead of HTTP. */
  https?: { key: string; cert: string };
}

/** One request as the backend saw it (bounded log, newest last). */
export interface SeenRequest {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
}

/** What GET / answers. */
export interface WhoAmI {
  instance: string;
  loggedIn: boolean;
  user: string | null;
  headers: IncomingHttpHeaders;
  /** The request line's path and query as the backend received it. */
  path: string;
}

export interface LegacyApp {
  readonly instance: string;
  /** e.g. http://127.0.0.1:40123 — stays the same across stop()/restart(). */
  readonly url: string;
  readonly port: number;
  /** Requests answered so far (HTTP requests and WebSocket upgrades). */
  readonly requests: number;
  /** The last requests seen (at most 200). */
  readonly seen: readonly SeenRequest[];
  /** Sessions currently held in memory. */
  readonly sessions: number;
  /** TCP connections accepted so far (keep-alive reuse shows as fewer connections than requests). */
  readonly connections: number;
  /** While on, a request arriving on a kept-alive connection that already served one is dropped unanswered. */
  dropReusedConnections(on: boolean): void;
  /** Stops listening and drops every open connection: new connections are refused. */
  stop(): Promise<void>;
  /** Listens again on the same port (sessions survive, as with a process that was only unplugged). */
  restart(): Promise<void>;
  /** Stops for good. Safe to call twice. */
  close(): Promise<void>;
}

/** The unrelated cookies POST /login sets beside the session cookie; they must reach the client unchanged. */
export const APP_EXTRA_COOKIES = [
  'theme=dark; Path=/',
  'lang=en; Path=/; Expires=Wed, 21 Oct 2037 07:28:00 GMT; SameSite=Strict',
];

/** GET /stream: this many bytes in 64 KiB chunks, without Content-Length (chunked). */
export const STREAM_BYTES = 3 * 1024 * 1024 + 123;
const SEEN_LIMIT = 200;

export function streamChunk(index: number, size: number): Buffer {
  return Buffer.alloc(size, String.fromCharCode(97 + (index % 26)));
}

/** The sha256 of GET /stream's body, for clients to compare. */
export function streamSha256(): string {
  const hash = createHash('sha256');
  for (let i = 0, sent = 0; sent < STREAM_BYTES; i++) {
    const size = Math.min(65536, STREAM_BYTES - sent);
    hash.update(streamChunk(i, size));
    sent += size;
  }
  return hash.digest('hex');
}

export function startLegacyApp(options: LegacyAppOptions): Promise<LegacyApp> {
  const { instance } = options;
  const jvmRoute = options.jvmRoute === true;
  const cookieName = options.sessionCookie ?? (jvmRoute ? 'JSESSIONID' : 'PHPSESSID');
  const pathParameter = `;${cookieName.toLowerCase()}=`;
  const defaultMaxAge = options.sessionMaxAge === undefined ? 600 : options.sessionMaxAge;
  const sessions = new Map<string, string>();
  const seen: SeenRequest[] = [];
  const sockets = new Set<Socket>();
  const servedOn = new WeakSet<Socket>();
  let dropReused = false;
  let requests = 0;
  let connections = 0;

  const record = (req: IncomingMessage) => {
    requests++;
    seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers });
    if (seen.length > SEEN_LIMIT) seen.shift();
  };
  /** The session id the request carries: its cookie, else (jvmRoute) the path parameter, as Tomcat reads them. */
  const sessionIdOf = (req: IncomingMessage): string | undefined => {
    const sid = readCookieValue(req.headers.cookie, cookieName);
    if (sid !== undefined || !jvmRoute) return sid;
    const path = (req.url ?? '').split('?')[0]!;
    const at = path.indexOf(pathParameter);
    return at === -1 ? undefined : path.slice(at + pathParameter.length).split(/[;/]/)[0];
  };
  const sessionOf = (req: IncomingMessage): string | null => {
    const sid = sessionIdOf(req);
    return sid === undefined ? null : (sessions.get(sid) ?? null);
  };
  const json = (res: ServerResponse, status: number, body: unknown, cookies: string[] = []) => {
    res.statusCode = status;
    res.setHeader('content-type', 'application/json');
    res.setHeader('x-instance', instance);
    if (cookies.length > 0) res.setHeader('set-cookie', cookies);
    res.end(JSON.stringify(body));
  };

  const handle = (req: IncomingMessage, res: ServerResponse) => {
    // The race of an upstream's keep-alive timeout: a request that arrives on a connection that already
    // served one finds it closed, unanswered (as when the app closes an idle connection just as it is reused).
    if (dropReused && servedOn.has(req.socket)) return void req.socket.destroy();
    servedOn.add(req.socket);
    record(req);
    const url = new URL(req.url ?? '/', 'http://legacy');
    // A servlet container maps the path without its parameters (`/login;jsessionid=…` is `/login`).
    const pathname = jvmRoute ? url.pathname.replace(/;[^/]*/g, '') : url.pathname;
    const route = `${req.method} ${pathname}`;
    if (route === 'POST /login') {
      req.resume();
      const sid = `${randomBytes(12).toString('hex')}${jvmRoute ? `.${instance}` : ''}`;
      const user = url.searchParams.get('user') ?? 'alice';
      sessions.set(sid, user);
      const asked = url.searchParams.get('maxAge');
      const maxAge = asked === 'session' ? null : asked !== null ? Number(asked) : defaultMaxAge;
      const lifetime = maxAge === null ? '' : `; Max-Age=${maxAge}`;
      json(res, 200, { instance, loggedIn: true, user }, [
        `${cookieName}=${sid}${lifetime}; Path=/; HttpOnly`,
        ...APP_EXTRA_COOKIES,
      ]);
    } else if (route === 'POST /logout') {
      req.resume();
      const sid = sessionIdOf(req);
      if (sid !== undefined) sessions.delete(sid);
      json(res, 200, { instance, loggedIn: false }, [`${cookieName}=; Max-Age=0; Path=/; HttpOnly`]);
    } else if (route === 'GET /slow') {
      const timer = setTimeout(
        () => json(res, 200, { instance, slow: true }),
        Number(url.searchParams.get('ms') ?? 1000),
      );
      res.on('close', () => clearTimeout(timer));
    } else if (route === 'GET /stream') {
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'x-instance': instance });
      let index = 0;
      let sent = 0;
      const pump = () => {
        while (sent < STREAM_BYTES) {
          const size = Math.min(65536, STREAM_BYTES - sent);
          const more = res.write(streamChunk(index++, size));
          sent += size;
          if (!more) return void res.once('drain', pump);
        }
        res.end();
      };
      pump();
    } else if (
      (route === 'POST /echo' || route === 'PUT /echo') &&
      url.searchParams.get('reset') === instance
    ) {
      // Reads the whole body, then resets the connection before any response byte: the request reached
      // the app, which may have acted on it.
      req.on('data', () => {});
      req.on('end', () => req.socket.destroy());
    } else if (route === 'POST /echo' || route === 'PUT /echo') {
      const hash = createHash('sha256');
      const chunks: Buffer[] = [];
      let length = 0;
      req.on('data', (chunk: Buffer) => {
        hash.update(chunk);
        chunks.push(chunk);
        length += chunk.length;
      });
      req.on('end', () => {
        res.writeHead(200, {
          'content-type': 'application/octet-stream',
          'x-instance': instance,
          'x-echo-length': String(length),
          'x-echo-sha256': hash.digest('hex'),
        });
        res.end(Buffer.concat(chunks));
      });
    } else if (route === 'GET /health') {
      json(res, 200, { instance, ok: true });
    } else if (route === 'GET /bad-cookie') {
      // Set-Cookie lines a sloppy app really sends: no '=', empty name, nonsense attributes, bad dates.
      json(res, 200, { instance }, [
        `${cookieName}`,
        '=novalue; Path=/',
        `${cookieName}=x; Max-Age=banana; Expires=not a date`,
        ';;; ; =; Max-Age=-',
        `${cookieName}=${'z'.repeat(5000)}; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Max-Age=1e999`,
      ]);
    } else if (route === 'GET /hop') {
      // Hop-by-hop headers on the response: a proxy must not pass them on.
      res.writeHead(200, {
        'content-type': 'application/json',
        'x-instance': instance,
        connection: 'keep-alive, x-upstream-hop',
        'x-upstream-hop': 'secret',
        'keep-alive': 'timeout=2',
      });
      res.end(JSON.stringify({ instance }));
    } else if (route === 'GET /close-mid-body') {
      res.writeHead(200, {
        'content-type': 'text/plain',
        'content-length': '100000',
        'x-instance': instance,
      });
      res.write('x'.repeat(1000), () => res.destroy());
    } else if (req.method === 'GET' || req.method === 'HEAD') {
      const user = sessionOf(req);
      // Any other GET (including a path under a mount prefix) answers "who am I".
      json(res, 200, {
        instance,
        loggedIn: user !== null,
        user,
        headers: req.headers,
        path: req.url ?? '',
      } satisfies WhoAmI);
    } else {
      req.resume();
      json(res, 200, { instance, method: req.method, path: req.url });
    }
  };

  const server = options.https ? https.createServer(options.https, handle) : http.createServer(handle);
  server.keepAliveTimeout = 5000;
  server.on('connection', (socket: Socket) => {
    connections++;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  server.on('clientError', (_error, socket) => socket.destroy());

  const wss = new WebSocketServer({ noServer: true, maxPayload: 1024 * 1024 });
  server.on('upgrade', (req: IncomingMessage, socket: Socket, head: Buffer) => {
    record(req);
    socket.on('error', () => socket.destroy());
    wss.handleUpgrade(req, socket, head, (ws) => {
      // `?headers` answers with the upgrade request's headers; anything else is echoed with the instance.
      ws.on('message', (data, isBinary) => {
        const text = data.toString();
        ws.send(text === '?headers' ? `${instance}:${JSON.stringify(req.headers)}` : `${instance}:${text}`, {
          binary: isBinary,
        });
      });
      ws.on('error', () => ws.terminate());
    });
  });

  let port = 0;
  let listening = false;
  let closed = false;
  const listen = () =>
    new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => {
        server.off('error', reject);
        port = (server.address() as AddressInfo).port;
        listening = true;
        resolve();
      });
    });
  const stop = () =>
    new Promise<void>((resolve) => {
      if (!listening) return resolve();
      listening = false;
      for (const client of wss.clients) client.terminate();
      server.close(() => resolve());
      for (const socket of sockets) socket.destroy();
    });

  return listen().then(() => {
    const scheme = options.https ? 'https' : 'http';
    return {
      instance,
      url: `${scheme}://127.0.0.1:${port}`,
      port,
      get requests() {
        return requests;
      },
      get sessions() {
        return sessions.size;
      },
      get connections() {
        return connections;
      },
      seen,
      dropReusedConnections: (on: boolean) => {
        dropReused = on;
      },
      stop,
      restart: async () => {
        if (closed) throw new Error(`legacy app ${instance} is closed`);
        if (!listening) await listen();
      },
      close: async () => {
        closed = true;
        await stop();
        wss.close();
      },
    };
  });
}

/** Starts `count` instances named a, b, c, … (or the given names). */
export async function startLegacyApps(
  count: number,
  options: Omit<LegacyAppOptions, 'instance'> = {},
): Promise<LegacyApp[]> {
  return Promise.all(
    Array.from({ length: count }, (_, i) =>
      startLegacyApp({ ...options, instance: String.fromCharCode(97 + i) }),
    ),
  );
}

function readCookieValue(header: string | undefined, name: string): string | undefined {
  if (header === undefined) return undefined;
  for (const pair of header.split(';')) {
    const eq = pair.indexOf('=');
    if (eq !== -1 && pair.slice(0, eq).trim() === name) return pair.slice(eq + 1).trim();
  }
  return undefined;
}
