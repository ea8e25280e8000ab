// WebSocket upgrades through the core's own engine (UpgradeEngine), and the other upgrades (h2c) served as
// the plain requests they also are (plain-upgrade), over real loopback sockets: backends that answer `101` by
// hand on the raw socket and echo bytes, a gateway http.Server whose 'upgrade' event goes to Gateway#upgrade
// as the adapters' `attach(server)` wires it, and a raw net client that reads the exact bytes it gets back.
// What only a direct call can reach (a client gone as the backend answers, a deadline passing) drives an
// exchange of the gateway's with an engine of the test's own.

import { once } from 'node:events';
import http, { type ClientRequest, IncomingMessage } from 'node:http';
import https from 'node:https';
import net, { type AddressInfo, Socket } from 'node:net';
import { Duplex } from 'node:stream';
import type { StickyOptions } from '../config/options';
import { FakeClock } from '../testing/fake-clock';
import { cookieAttributes } from '../testing/requests';
import { withTestHooks } from '../testing-hooks';
import type { RouteRequest } from '../types';
import type { Exchange } from './exchange';
import { Gateway, type GatewaySetup } from './gateway';
import { isWebSocketUpgrade, serveAsPlainRequest } from './plain-upgrade';
import { type UpgradeClient, UpgradeEngine } from './upgrade-engine';

// A self-signed certificate for 127.0.0.1 and localhost (EC P-256, valid 2000–2100), made with openssl for
// this file: the https backend's, and the private CA the gateway is told to trust.
const KEY = `-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgCydE2KRHMhR3Z6fn
hkQoEEMS0WjvuemWFwL7AAppiIOhRANCAARA2WAm9UJfmPZWXsmtasqICFRcSFu0
hXP+v8BZueaBnMMPHb9tNo91KELQktO+M9epTHVBlfeAcwGOO7rms4KQ
-----END PRIVATE KEY-----
`;
const CERT = `-----BEGIN CERTIFICATE-----
MIIBhDCCASugAwIBAgIBATAKBggqhkjOPQQDAjAjMSEwHwYDVQQDDBhzdGlja3ly
b3V0ZSB1cGdyYWRlIHRlc3QwIBcNMDAwMTAxMDAwMDAwWhgPMjEwMDAxMDEwMDAw
MDBaMCMxITAfBgNVBAMMGHN0aWNreXJvdXRlIHVwZ3JhZGUgdGVzdDBZMBMGByqG
SM49AgEGCCqGSM49AwEHA0IABEDZYCb1Ql+Y9lZeya1qyogIVFxIW7SFc/6/wFm5
5oGcww8dv202j3UoQtCS074z16lMdUGV94BzAY47uuazgpCjTjBMMA8GA1UdEwEB
/wQFMAMBAf8wGgYDVR0RBBMwEYcEfwAAAYIJbG9jYWxob3N0MB0GA1UdDgQWBBTA
jOh+H2WP678hxu+EKXVbKHEskzAKBggqhkjOPQQDAgNHADBEAiBVsLyPEXmEF5YH
a5n8BQAjMkhpXeF7CTrp5IAk0wq7xAIgM+BJ4IwU4hy+po8DneMRSE3TWxCLUUAP
Qwi3XFvU4wA=
-----END CERTIFICATE-----
`;

const EMPTY = Buffer.alloc(0);
const SWITCHED =
  'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
  'Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n';
const WS_REQUEST =
  'GET /ws HTTP/1.1\r\nHost: app.example\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n' +
  'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n';
const RAW_502 =
  'HTTP/1.1 502 Bad Gateway\r\ncontent-type: text/plain; charset=utf-8\r\ncache-control: no-store\r\n' +
  'content-length: 12\r\nconnection: close\r\n\r\nBad Gateway\n';
const RAW_400 =
  'HTTP/1.1 400 Bad Request\r\ncontent-type: text/plain; charset=utf-8\r\ncache-control: no-store\r\n' +
  'connection: close\r\ncontent-length: 12\r\n\r\nBad Request\n';

/** What ends after each test: servers, sockets, gateways. */
const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function listen<S extends net.Server>(server: S, host = '127.0.0.1'): Promise<number> {
  server.listen(0, host);
  await once(server, 'listening');
  return (server.address() as AddressInfo).port;
}

/** A socket's every byte as latin1 text: `until` waits for the text to pass a test, `closed` for the end. */
function reader(socket: Socket) {
  let text = '';
  let ended = false;
  let waiting: { test: (text: string) => boolean; resolve: (text: string) => void; fail: () => void } | null =
    null;
  socket.setEncoding('latin1');
  socket.on('error', () => {});
  socket.on('data', (chunk: string) => {
    text += chunk;
    if (waiting?.test(text)) {
      const { resolve } = waiting;
      waiting = null;
      resolve(text);
    }
  });
  const closed = new Promise<string>((resolve) =>
    socket.once('close', () => {
      ended = true;
      waiting?.fail();
      resolve(text);
    }),
  );
  return {
    closed,
    until(test: (text: string) => boolean): Promise<string> {
      if (test(text)) return Promise.resolve(text);
      if (ended) return Promise.reject(new Error(`closed having read ${JSON.stringify(text)}`));
      return new Promise((resolve, reject) => {
        waiting = {
          test,
          resolve,
          fail: () => reject(new Error(`closed having read ${JSON.stringify(text)}`)),
        };
      });
    },
  };
}

interface SeenUpgrade {
  method: string | undefined;
  url: string | undefined;
  httpVersion: string;
  rawHeaders: string[];
  head: string;
  socket: Socket;
  /** The socket closed (resolves with what the backend read after the head). */
  closed: Promise<string>;
}

/** Answers 101 and `hello` in one write (so they reach the gateway together), then echoes every byte. */
function switchAndEcho(socket: Socket, head: Buffer, extraHeaders = ''): void {
  socket.write(`${SWITCHED}${extraHeaders}\r\nhello`);
  if (head.length > 0) socket.write(head);
  socket.on('data', (chunk) => socket.write(chunk));
}

/** A backend http(s) server on loopback that takes upgrades; `answer` says what it does with each. */
async function backend(options: { tls?: boolean; host?: string } = {}) {
  const server = options.tls ? https.createServer({ key: KEY, cert: CERT }) : http.createServer();
  const seen: SeenUpgrade[] = [];
  /** Each says whether it is done. */
  const waiters: (() => boolean)[] = [];
  let connections = 0;
  const sockets = new Set<Socket>();
  const state = {
    seen,
    /** TCP connections accepted. */
    get connections() {
      return connections;
    },
    answer: (socket: Socket, head: Buffer, _req: IncomingMessage) => switchAndEcho(socket, head),
    /** Resolves once `n` upgrade requests have arrived. */
    upgrades(n: number): Promise<SeenUpgrade[]> {
      if (seen.length >= n) return Promise.resolve(seen);
      return new Promise((resolve) =>
        waiters.push(() => {
          if (seen.length < n) return false;
          resolve(seen);
          return true;
        }),
      );
    },
    url: '',
    port: 0,
  };
  server.on('connection', (socket: Socket) => {
    connections++;
    sockets.add(socket);
    socket.on('error', () => {});
    socket.once('close', () => sockets.delete(socket));
  });
  server.on('request', (_req, res) => res.writeHead(500).end());
  server.on('upgrade', (req: IncomingMessage, socket: Socket, head: Buffer) => {
    let after = '';
    socket.on('data', (chunk: Buffer) => (after += chunk.toString('latin1')));
    // Half-open after an upgrade (http.Server allows it): like a WebSocket server, it ends when the peer does.
    socket.on('end', () => socket.end());
    socket.on('error', () => {});
    sockets.add(socket);
    seen.push({
      method: req.method,
      url: req.url,
      httpVersion: req.httpVersion,
      rawHeaders: req.rawHeaders,
      head: head.toString('latin1'),
      socket,
      closed: new Promise((resolve) => socket.once('close', () => resolve(after))),
    });
    state.answer(socket, head, req);
    for (const waiter of waiters.splice(0)) if (!waiter()) waiters.push(waiter);
  });
  const host = options.host ?? '127.0.0.1';
  state.port = await listen(server, host);
  state.url = `${options.tls ? 'https' : 'http'}://${host.includes(':') ? `[${host}]` : host}:${state.port}`;
  cleanups.push(async () => {
    for (const socket of sockets) socket.destroy();
    server.close();
    await once(server, 'close');
  });
  return state;
}

/** A port nothing listens on (it did a moment ago): connecting to it is refused. */
async function refusingUrl(): Promise<string> {
  const server = net.createServer();
  const port = await listen(server);
  server.close();
  await once(server, 'close');
  return `http://127.0.0.1:${port}`;
}

function makeGateway(urls: string[], options: Partial<StickyOptions> = {}, setup: GatewaySetup = {}) {
  const gateway = new Gateway(
    withTestHooks(
      {
        backends: urls.map((url, i) => ({ url, id: `b${i}` })),
        stickiness: { type: 'lb-cookie' },
        secret: 'upgrade-test-secret-0123456789abcdef',
        logger: { warn: () => {} },
        ...options,
      },
      { clock: new FakeClock() },
    ),
    setup,
  );
  cleanups.push(() => gateway.close());
  return gateway;
}

/** The client as an adapter's `clientOf` tells it: the TCP peer, over plain HTTP. */
function clientOf(req: IncomingMessage): RouteRequest {
  return {
    method: req.method ?? 'GET',
    url: req.url ?? '/',
    headers: req.headers,
    ip: req.socket.remoteAddress ?? '',
    remoteAddress: req.socket.remoteAddress,
    secure: false,
  };
}

/** A gateway http.Server: upgrades go to Gateway#upgrade; requests (h2c served plainly) to `app`. */
async function gatewayServer(gateway: Gateway) {
  const calls: IncomingMessage[] = [];
  const state = {
    calls,
    app: (_req: IncomingMessage, res: http.ServerResponse) => void res.writeHead(404).end(),
    /** The gateway's side of each client connection. */
    sockets: [] as Socket[],
    /** Each of those closed (whether on an error), once every 'close' listener ran. */
    closed: [] as Promise<boolean>[],
    port: 0,
  };
  const server = http.createServer((req, res) => {
    calls.push(req);
    state.app(req, res);
  });
  server.on('connection', (socket: Socket) => {
    state.sockets.push(socket);
    state.closed.push(new Promise((resolve) => socket.once('close', resolve)));
  });
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) =>
    gateway.upgrade(req, socket, head, clientOf),
  );
  state.port = await listen(server);
  cleanups.push(async () => {
    for (const socket of state.sockets) socket.destroy();
    server.close();
    await once(server, 'close');
  });
  return state;
}

/** A raw client connected to `port`, already sending `bytes`. */
async function client(port: number, bytes: string) {
  const socket = net.connect(port, '127.0.0.1');
  cleanups.push(() => socket.destroy());
  const read = reader(socket);
  await once(socket, 'connect');
  socket.write(bytes, 'latin1');
  return Object.assign(read, { socket });
}

/** The STICKY Set-Cookie line of an answer (the balancer's cookie value is the router's to choose). */
function stickyCookie(answer: string): string {
  const match = /\r\nSet-Cookie: (STICKY=[^\r]*)\r\n/.exec(answer);
  if (match === null) throw new Error(`no STICKY cookie in ${JSON.stringify(answer)}`);
  expect(cookieAttributes(match[1]!)).toMatchObject({ name: 'STICKY', path: '/', httponly: true });
  return match[1]!;
}

const active = (gateway: Gateway) => gateway.router.stats().backends.map((b) => b.active);

/** Two ends of one loopback TCP connection: `near` as a server's (it has `.server`), `far` the client's. */
async function socketPair(): Promise<{ near: Socket; far: Socket }> {
  const server = net.createServer();
  const port = await listen(server);
  const far = net.connect(port, '127.0.0.1');
  const [near] = (await once(server, 'connection')) as [Socket];
  await once(far, 'connect');
  server.close();
  near.on('error', () => {});
  cleanups.push(() => {
    near.destroy();
    far.destroy();
  });
  return { near, far };
}

/** Gateway#upgrade's part, for a test's own engine: the exchange for `socket`, started. */
function upgradeDirectly(
  gateway: Gateway,
  engine: UpgradeEngine,
  socket: Socket,
  { watchClose = true, head = EMPTY } = {},
): Exchange<UpgradeClient> {
  const exchange = gateway.exchange<UpgradeClient>(
    engine,
    {
      method: 'GET',
      url: '/ws',
      headers: { host: 'app.example', connection: 'Upgrade', upgrade: 'websocket' },
      ip: '127.0.0.1',
      remoteAddress: '127.0.0.1',
      secure: false,
    },
    { socket, head, tunnel: null },
  );
  if (watchClose) socket.once('close', () => exchange.closed(false));
  exchange.start();
  return exchange;
}

describe('UpgradeEngine through a gateway', () => {
  test('a backend that switches protocols: its 101 with the balancer cookie after its own, then bytes both ways, the request’s head first', async () => {
    const target = await backend();
    target.answer = (socket, head) => switchAndEcho(socket, head, 'Set-Cookie: app=1; Path=/\r\n');
    const gateway = makeGateway([target.url]);
    const gw = await gatewayServer(gateway);
    const c = await client(gw.port, `${WS_REQUEST}ping`);
    const answer = await c.until((text) => text.endsWith('helloping'));
    const cookie = stickyCookie(answer);
    expect(answer).toBe(`${SWITCHED}Set-Cookie: app=1; Path=/\r\nSet-Cookie: ${cookie}\r\n\r\nhelloping`);
    const [seen] = await target.upgrades(1);
    expect(seen!.head).toBe('');
    c.socket.write('more');
    expect(await c.until((text) => text.endsWith('pingmore'))).toBe(`${answer}more`);
    expect(active(gateway)).toEqual([1]);
    expect(gateway.router.stats().requests).toMatchObject({ total: 1, new: 1, failed: 0, retried: 0 });
    expect(gw.calls).toEqual([]);
  });

  test('a 101 without headers of the backend’s own but for the two, and no bytes after it, is relayed as it came', async () => {
    const target = await backend();
    target.answer = (socket) => {
      socket.write('HTTP/1.1 101 Switching Protocols\r\nupgrade: WebSocket\r\nconnection: upgrade\r\n\r\n');
      socket.on('data', (chunk) => socket.write(chunk));
    };
    const gateway = makeGateway([target.url]);
    const gw = await gatewayServer(gateway);
    const c = await client(gw.port, WS_REQUEST);
    const answer = await c.until((text) => text.endsWith('\r\n\r\n'));
    const cookie = stickyCookie(answer);
    expect(answer).toBe(
      `HTTP/1.1 101 Switching Protocols\r\nupgrade: WebSocket\r\nconnection: upgrade\r\nSet-Cookie: ${cookie}\r\n\r\n`,
    );
    c.socket.write('x');
    expect(await c.until((text) => text.endsWith('x'))).toBe(`${answer}x`);
    expect((await target.upgrades(1))[0]!.head).toBe('');
  });

  test('the backend sees the request the router shaped: hop-by-hop and claimed headers out, Connection: Upgrade and Upgrade kept, X-Forwarded-* in', async () => {
    const target = await backend();
    const gateway = makeGateway([target.url]);
    const gw = await gatewayServer(gateway);
    const c = await client(
      gw.port,
      'GET /chat?room=1 HTTP/1.1\r\nHost: app.example\r\nConnection: keep-alive, Upgrade, X-Hop\r\n' +
        'Upgrade: websocket\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n' +
        'X-Hop: 1\r\nKeep-Alive: timeout=5\r\nTE: trailers\r\nTransfer-Encoding: chunked\r\n' +
        'X-Forwarded-For: 6.6.6.6\r\nX-Real-IP: 6.6.6.6\r\nCookie: a=1\r\n\r\n',
    );
    await c.until((text) => text.endsWith('hello'));
    const [seen] = await target.upgrades(1);
    expect(seen!.method).toBe('GET');
    expect(seen!.url).toBe('/chat?room=1');
    expect(seen!.httpVersion).toBe('1.1');
    expect(seen!.rawHeaders).toEqual([
      'host',
      'app.example',
      'sec-websocket-key',
      'dGhlIHNhbXBsZSBub25jZQ==',
      'sec-websocket-version',
      '13',
      'cookie',
      'a=1',
      'connection',
      'Upgrade',
      'upgrade',
      'websocket',
      'x-forwarded-for',
      '127.0.0.1',
      'x-forwarded-proto',
      'http',
      'x-forwarded-host',
      'app.example',
    ]);
  });

  test('a backend that refuses: its answer relayed but for framing and connection headers, the cookie and Connection: close added, the body decoded, both connections closed', async () => {
    const target = await backend();
    target.answer = (socket) =>
      socket.write(
        'HTTP/1.1 403 Go Away\r\nContent-Type: text/plain\r\nCONNECTION: keep-alive\r\nKeep-Alive: timeout=5\r\n' +
          'Transfer-Encoding: chunked\r\nSet-Cookie: app=1\r\nX-Reason: origin\r\n\r\n5\r\nnope!\r\n0\r\n\r\n',
      );
    const gateway = makeGateway([target.url]);
    const gw = await gatewayServer(gateway);
    const c = await client(gw.port, `${WS_REQUEST}ping`);
    const answer = await c.closed;
    const cookie = stickyCookie(answer);
    expect(answer).toBe(
      'HTTP/1.1 403 Go Away\r\nContent-Type: text/plain\r\nSet-Cookie: app=1\r\nX-Reason: origin\r\n' +
        `Set-Cookie: ${cookie}\r\nConnection: close\r\n\r\nnope!`,
    );
    const [seen] = await target.upgrades(1);
    // The request's head is the tunnel's first bytes: with no tunnel, the backend never gets them.
    expect(await seen!.closed).toBe('');
    await gw.closed[0];
    expect(gateway.router.stats().requests).toMatchObject({ total: 1, failed: 0, retried: 0 });
    expect(active(gateway)).toEqual([0]);
  });

  test('a refusal’s status line: the backend’s reason phrase, else the standard one, else none', async () => {
    const target = await backend();
    const answers = [
      'HTTP/1.1 426 \r\nContent-Length: 0\r\n\r\n',
      'HTTP/1.1 499 \r\nContent-Length: 0\r\n\r\n',
    ];
    target.answer = (socket) => socket.write(answers.shift()!);
    const gateway = makeGateway([target.url]);
    const gw = await gatewayServer(gateway);
    for (const status of ['426 Upgrade Required', '499 ']) {
      const answer = await (await client(gw.port, WS_REQUEST)).closed;
      expect(answer).toBe(
        `HTTP/1.1 ${status}\r\nContent-Length: 0\r\nSet-Cookie: ${stickyCookie(answer)}\r\nConnection: close\r\n\r\n`,
      );
    }
  });

  test('a backend that refuses the connection: the raw 502, the gateway’s own bytes, and the socket closed', async () => {
    const gateway = makeGateway([await refusingUrl()]);
    const gw = await gatewayServer(gateway);
    const c = await client(gw.port, `${WS_REQUEST}ping`);
    expect(await c.closed).toBe(RAW_502);
    expect(gateway.router.stats().requests).toMatchObject({ total: 1, failed: 1, retried: 0 });
    expect(active(gateway)).toEqual([0]);
  });

  test('no backend to send to: the raw 503 with Retry-After, and no connection attempted', async () => {
    const target = await backend();
    const gateway = makeGateway([target.url], { retryAfter: 7 });
    gateway.router.pool.markDown('b0');
    const gw = await gatewayServer(gateway);
    const c = await client(gw.port, WS_REQUEST);
    expect(await c.closed).toBe(
      'HTTP/1.1 503 Service Unavailable\r\ncontent-type: text/plain; charset=utf-8\r\ncache-control: no-store\r\n' +
        'retry-after: 7\r\ncontent-length: 20\r\nconnection: close\r\n\r\nService Unavailable\n',
    );
    expect(target.connections).toBe(0);
  });

  test('a refused first pick is sent to the next backend, whose 101 the client gets', async () => {
    const target = await backend();
    const gateway = makeGateway([await refusingUrl(), target.url]);
    const gw = await gatewayServer(gateway);
    const c = await client(gw.port, `${WS_REQUEST}ping`);
    const answer = await c.until((text) => text.endsWith('helloping'));
    expect(answer).toBe(`${SWITCHED}Set-Cookie: ${stickyCookie(answer)}\r\n\r\nhelloping`);
    expect(gateway.router.stats().requests).toMatchObject({ total: 1, failed: 1, retried: 1 });
    expect(target.seen).toHaveLength(1);
    expect(active(gateway)).toEqual([0, 1]);
  });

  test('a backend that drops the connection before answering: one attempt (a new connection, not a stale one to retry), then 502', async () => {
    const target = await backend();
    target.answer = (socket) => socket.destroy();
    const gateway = makeGateway([target.url]);
    const gw = await gatewayServer(gateway);
    const c = await client(gw.port, WS_REQUEST);
    expect(await c.closed).toBe(RAW_502);
    expect(target.connections).toBe(1);
    expect(gateway.router.stats().requests).toMatchObject({ failed: 1, retried: 0 });
  });

  test('a client resetting before the backend answers: the attempt is aborted and the route released', async () => {
    const target = await backend();
    target.answer = () => {};
    const gateway = makeGateway([target.url]);
    const gw = await gatewayServer(gateway);
    const c = await client(gw.port, WS_REQUEST);
    const [seen] = await target.upgrades(1);
    expect(active(gateway)).toEqual([1]);
    c.socket.resetAndDestroy();
    await seen!.closed;
    expect(active(gateway)).toEqual([0]);
    expect(gateway.router.stats().requests).toMatchObject({ failed: 0, retried: 0 });
  });

  test('a client resetting a tunnel: the backend’s socket is destroyed and the route released', async () => {
    const target = await backend();
    const gateway = makeGateway([target.url]);
    const gw = await gatewayServer(gateway);
    const c = await client(gw.port, WS_REQUEST);
    await c.until((text) => text.endsWith('hello'));
    const [seen] = await target.upgrades(1);
    expect(active(gateway)).toEqual([1]);
    // A reset, not an end: nothing is piped on, so only the exchange's abort closes the backend's side.
    c.socket.resetAndDestroy();
    await seen!.closed;
    expect(seen!.socket.destroyed).toBe(true);
    expect(active(gateway)).toEqual([0]);
  });

  test('a backend resetting a tunnel: the client is cut off and the route released', async () => {
    const target = await backend();
    const gateway = makeGateway([target.url]);
    const gw = await gatewayServer(gateway);
    const c = await client(gw.port, WS_REQUEST);
    const answer = await c.until((text) => text.endsWith('hello'));
    const [seen] = await target.upgrades(1);
    seen!.socket.resetAndDestroy();
    expect(await c.closed).toBe(answer);
    await gw.closed[0];
    expect(active(gateway)).toEqual([0]);
  });

  test('a backend named by an IPv6 address ([::1]) is reached by the bare address', async () => {
    const target = await backend({ host: '::1' });
    const gateway = makeGateway([target.url]);
    const gw = await gatewayServer(gateway);
    const c = await client(gw.port, `${WS_REQUEST}ping`);
    const answer = await c.until((text) => text.endsWith('helloping'));
    expect(answer).toBe(`${SWITCHED}Set-Cookie: ${stickyCookie(answer)}\r\n\r\nhelloping`);
    expect(target.seen[0]!.socket.remoteAddress).toBe('::1');
  });

  test('an https backend is reached with the gateway’s tls options (a private CA), Host named after it', async () => {
    const target = await backend({ tls: true });
    const gateway = makeGateway([target.url], {}, { tls: { ca: CERT } });
    const gw = await gatewayServer(gateway);
    const c = await client(gw.port, `${WS_REQUEST}ping`);
    const answer = await c.until((text) => text.endsWith('helloping'));
    expect(answer).toBe(`${SWITCHED}Set-Cookie: ${stickyCookie(answer)}\r\n\r\nhelloping`);
    const [seen] = await target.upgrades(1);
    expect(seen!.rawHeaders.slice(0, 2)).toEqual(['host', `127.0.0.1:${target.port}`]);
    c.socket.write('more');
    await c.until((text) => text.endsWith('pingmore'));
  });

  test('the tls options are for https backends only: an http backend is reached without them', async () => {
    const target = await backend();
    const looked: string[] = [];
    // A lookup in the tls options would be used by any request they reached (for a name, not an address).
    const lookup = (
      hostname: string,
      options: { all?: boolean },
      done: (error: null, address: string | { address: string; family: number }[], family?: number) => void,
    ) => {
      looked.push(hostname);
      if (options.all) done(null, [{ address: '127.0.0.1', family: 4 }]);
      else done(null, '127.0.0.1', 4);
    };
    const gateway = makeGateway([`http://localhost:${target.port}`], {}, { tls: { lookup } });
    const gw = await gatewayServer(gateway);
    const c = await client(gw.port, WS_REQUEST);
    const answer = await c.until((text) => text.endsWith('hello'));
    expect(answer).toBe(`${SWITCHED}Set-Cookie: ${stickyCookie(answer)}\r\n\r\nhello`);
    expect(looked).toEqual([]);
  });

  test('an https backend whose certificate the gateway cannot verify: 502, the upgrade never sent', async () => {
    const target = await backend({ tls: true });
    const gateway = makeGateway([target.url]);
    const gw = await gatewayServer(gateway);
    const c = await client(gw.port, WS_REQUEST);
    expect(await c.closed).toBe(RAW_502);
    expect(target.connections).toBe(1);
    expect(target.seen).toEqual([]);
  });
});

describe('UpgradeEngine driven directly', () => {
  test('a backend URL without a port: 80 for http, 443 for https, on the URL’s host', async () => {
    for (const [url, protocol, port] of [
      ['http://127.0.0.1', 'http:', 80],
      ['https://127.0.0.1', 'https:', 443],
    ] as const) {
      const gateway = makeGateway([url]);
      const { near, far } = await socketPair();
      const read = reader(far);
      const exchange = upgradeDirectly(gateway, new UpgradeEngine(), near);
      const attempt = exchange.attempt as ClientRequest;
      expect([attempt.protocol, attempt.host, attempt.method, attempt.path]).toEqual([
        protocol,
        '127.0.0.1',
        'GET',
        '/ws',
      ]);
      const [error] = (await once(attempt, 'error')) as [NodeJS.ErrnoException & { port?: number }];
      expect([error.code, error.port]).toEqual(['ECONNREFUSED', port]);
      expect(await read.closed).toBe(RAW_502);
    }
  });

  test('a deadline passing before the backend answers: the attempt destroyed with the timeout, the raw 504', async () => {
    const target = await backend();
    target.answer = () => {};
    const gateway = makeGateway([target.url]);
    const { near, far } = await socketPair();
    const read = reader(far);
    const exchange = upgradeDirectly(gateway, new UpgradeEngine(), near);
    const [seen] = await target.upgrades(1);
    const errors: NodeJS.ErrnoException[] = [];
    (exchange.attempt as ClientRequest).on('error', (error) => errors.push(error));
    exchange.expired();
    expect(await read.closed).toBe(
      'HTTP/1.1 504 Gateway Timeout\r\ncontent-type: text/plain; charset=utf-8\r\ncache-control: no-store\r\n' +
        'content-length: 16\r\nconnection: close\r\n\r\nGateway Timeout\n',
    );
    await seen!.closed;
    expect(errors.map((e) => [e.code, e.message])).toEqual([['ETIMEDOUT', 'upstream timed out']]);
    expect(gateway.router.stats().requests).toMatchObject({ failed: 1, retried: 0 });
  });

  test('a 101 for a client already gone: the backend’s socket is destroyed and nothing is written', async () => {
    const target = await backend();
    let switchNow: () => void = () => {};
    target.answer = (socket, head) => (switchNow = () => switchAndEcho(socket, head));
    const gateway = makeGateway([target.url]);
    const { near, far } = await socketPair();
    const read = reader(far);
    // No close watch: the exchange learns nothing of the client, as when its socket dies as the 101 arrives.
    const exchange = upgradeDirectly(gateway, new UpgradeEngine(), near, {
      watchClose: false,
      head: Buffer.from('ping'),
    });
    const [seen] = await target.upgrades(1);
    near.destroy();
    switchNow();
    expect(await seen!.closed).toBe('');
    expect(await read.closed).toBe('');
    expect(exchange.client.tunnel?.destroyed).toBe(true);
  });

  test('a refusal for a client already gone: the response is destroyed, not read, and nothing is written', async () => {
    const target = await backend();
    let refuseNow: () => void = () => {};
    // Half a body: only destroying the response ends this connection.
    target.answer = (socket) =>
      (refuseNow = () => socket.write('HTTP/1.1 403 Forbidden\r\nContent-Length: 10\r\n\r\nnope!'));
    const gateway = makeGateway([target.url]);
    const { near, far } = await socketPair();
    const read = reader(far);
    const exchange = upgradeDirectly(gateway, new UpgradeEngine(), near, { watchClose: false });
    const [seen] = await target.upgrades(1);
    near.destroy();
    refuseNow();
    await seen!.closed;
    expect(await read.closed).toBe('');
    expect(exchange.client.tunnel).toBeNull();
  });

  test('a reply once tunnelled cuts the connection instead of writing an answer into the tunnel', async () => {
    const target = await backend();
    const gateway = makeGateway([target.url]);
    const engine = new UpgradeEngine();
    const { near, far } = await socketPair();
    const read = reader(far);
    const exchange = upgradeDirectly(gateway, engine, near);
    const answer = await read.until((text) => text.endsWith('hello'));
    const [seen] = await target.upgrades(1);
    expect(exchange.client.tunnel).not.toBeNull();
    engine.reply(exchange, REPLY_502);
    expect(near.destroyed).toBe(true);
    expect(await read.closed).toBe(answer);
    await seen!.closed;
  });

  test('a reply to a client socket no longer writable destroys it, writing nothing', async () => {
    const target = await backend();
    const gateway = makeGateway([target.url]);
    const engine = new UpgradeEngine();
    const { near, far } = await socketPair();
    const read = reader(far);
    const exchange = gateway.exchange<UpgradeClient>(
      engine,
      { method: 'GET', url: '/ws', headers: { host: 'h' }, ip: '127.0.0.1', secure: false },
      { socket: near, head: EMPTY, tunnel: null },
    );
    const errors: Error[] = [];
    near.on('error', (error) => errors.push(error));
    near.end();
    expect(near.destroyed).toBe(false);
    engine.reply(exchange, REPLY_502);
    expect(near.destroyed).toBe(true);
    expect(await read.closed).toBe('');
    // Not an answer written after the end (which would fail as ERR_STREAM_WRITE_AFTER_END).
    expect(errors).toEqual([]);
    expect(target.connections).toBe(0);
  });

  test('a reply to a writable client with no tunnel is the raw answer, and the socket ends', async () => {
    const gateway = makeGateway(['http://127.0.0.1:9']);
    const engine = new UpgradeEngine();
    const { near, far } = await socketPair();
    const read = reader(far);
    const exchange = gateway.exchange<UpgradeClient>(
      engine,
      { method: 'GET', url: '/ws', headers: { host: 'h' }, ip: '127.0.0.1', secure: false },
      { socket: near, head: EMPTY, tunnel: null },
    );
    engine.reply(exchange, REPLY_502);
    expect(near.writableEnded).toBe(true);
    expect(await read.closed).toBe(RAW_502);
  });

  test('an abort with nothing in flight and no tunnel does nothing', async () => {
    const gateway = makeGateway(['http://127.0.0.1:9']);
    const engine = new UpgradeEngine();
    const { near, far } = await socketPair();
    const exchange = gateway.exchange<UpgradeClient>(
      engine,
      { method: 'GET', url: '/ws', headers: { host: 'h' }, ip: '127.0.0.1', secure: false },
      { socket: near, head: EMPTY, tunnel: null },
    );
    expect(() => engine.abort(exchange, new Error('gone'))).not.toThrow();
    expect(near.destroyed).toBe(false);
    expect(far.destroyed).toBe(false);
  });
});

const REPLY_502 = {
  status: 502,
  headers: { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' },
  body: 'Bad Gateway\n',
};

describe('isWebSocketUpgrade', () => {
  const asks = (upgrade: string | undefined) =>
    isWebSocketUpgrade({ headers: upgrade === undefined ? {} : { upgrade } } as IncomingMessage);

  test.each([
    'websocket',
    'WebSocket',
    'h2c, websocket',
    'h2c,websocket',
    'websocket, h2c',
    'websocket,h2c',
    ' websocket ',
  ])('an Upgrade list naming websocket (%j) asks for a WebSocket', (upgrade) => {
    expect(asks(upgrade)).toBe(true);
  });

  test.each([
    undefined,
    '',
    'h2c',
    'websockets',
    'xwebsocket',
    'web socket',
    'websocket/13',
    'h2c, websocketx',
  ])('an Upgrade of %j does not', (upgrade) => {
    expect(asks(upgrade)).toBe(false);
  });
});

describe('serveAsPlainRequest: an h2c upgrade through the gateway is the plain request it also is', () => {
  /** Records what the app saw of each request; answers with the body it read, once it ended. */
  function recordingApp(gw: Awaited<ReturnType<typeof gatewayServer>>) {
    const seen: {
      method?: string;
      url?: string;
      version: string[];
      headers: http.IncomingHttpHeaders;
      rawHeaders: string[];
      body: string;
      complete: boolean;
      dataListeners: number;
    }[] = [];
    let called: () => void = () => {};
    const calledOnce = new Promise<void>((resolve) => (called = resolve));
    gw.app = (req, res) => {
      let body = '';
      called();
      req.setEncoding('latin1');
      req.on('data', (chunk: string) => (body += chunk));
      req.on('end', () => {
        seen.push({
          method: req.method,
          url: req.url,
          version: [req.httpVersion, String(req.httpVersionMajor), String(req.httpVersionMinor)],
          headers: req.headers,
          rawHeaders: req.rawHeaders,
          body,
          complete: req.complete,
          dataListeners: req.socket.listenerCount('data'),
        });
        res.sendDate = false;
        res.setHeader('X-Body', body);
        res.end('ok');
      });
    };
    return { seen, calledOnce };
  }

  test('a body split between the head and the socket: Content-Length bytes of it, Upgrade gone, Connection: close, the socket closed after the answer', async () => {
    const gateway = makeGateway([await refusingUrl()]);
    const gw = await gatewayServer(gateway);
    const app = recordingApp(gw);
    const c = await client(
      gw.port,
      'POST /h2c?x=1 HTTP/1.1\r\nHost: app.example\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\n' +
        'HTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\nContent-Length: 5\r\nContent-Type: text/plain\r\n\r\nab',
    );
    await app.calledOnce;
    c.socket.write('cdeEXTRA');
    expect(await c.closed).toBe(
      'HTTP/1.1 200 OK\r\nX-Body: abcde\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok',
    );
    expect(app.seen).toEqual([
      {
        method: 'POST',
        url: '/h2c?x=1',
        version: ['1.1', '1', '1'],
        headers: {
          host: 'app.example',
          connection: 'close',
          'content-length': '5',
          'content-type': 'text/plain',
        },
        rawHeaders: [
          'Host',
          'app.example',
          'Connection',
          'close',
          'Content-Length',
          '5',
          'Content-Type',
          'text/plain',
        ],
        body: 'abcde',
        complete: true,
        dataListeners: 0,
      },
    ]);
    expect(gateway.router.stats().requests.total).toBe(0);
  });

  test('a body all in the head: cut at Content-Length, no listener left on the socket', async () => {
    const gateway = makeGateway([await refusingUrl()]);
    const gw = await gatewayServer(gateway);
    const app = recordingApp(gw);
    const c = await client(
      gw.port,
      'PUT /h2c HTTP/1.1\r\nHost: h\r\nupgrade: h2c\r\nconnection: upgrade\r\ncontent-length: 3\r\n\r\nabcEXTRA',
    );
    expect(await c.closed).toBe(
      'HTTP/1.1 200 OK\r\nX-Body: abc\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok',
    );
    expect(app.seen.map((s) => [s.method, s.body, s.complete, s.dataListeners, s.rawHeaders])).toEqual([
      ['PUT', 'abc', true, 0, ['Host', 'h', 'connection', 'close', 'content-length', '3']],
    ]);
  });

  test('no Content-Length: an empty body that has ended', async () => {
    const gateway = makeGateway([await refusingUrl()]);
    const gw = await gatewayServer(gateway);
    const app = recordingApp(gw);
    const c = await client(
      gw.port,
      'GET /plain HTTP/1.1\r\nHost: h\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n',
    );
    expect(await c.closed).toBe(
      'HTTP/1.1 200 OK\r\nX-Body: \r\nConnection: close\r\nContent-Length: 2\r\n\r\nok',
    );
    expect(app.seen.map((s) => [s.url, s.body, s.complete, s.dataListeners, s.headers])).toEqual([
      ['/plain', '', true, 0, { host: 'h', connection: 'close' }],
    ]);
  });

  test('a chunked body is refused with the raw 400 (its decoder is gone), the app never called', async () => {
    const gateway = makeGateway([await refusingUrl()]);
    const gw = await gatewayServer(gateway);
    const c = await client(
      gw.port,
      'POST /h2c HTTP/1.1\r\nHost: h\r\nConnection: Upgrade\r\nUpgrade: h2c\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n',
    );
    expect(await c.closed).toBe(RAW_400);
    expect(gw.calls).toEqual([]);
  });

  test('a Content-Length past the largest safe integer is refused with the raw 400; the largest is served', async () => {
    const gateway = makeGateway([await refusingUrl()]);
    const gw = await gatewayServer(gateway);
    const request = (length: string) =>
      `POST /h2c HTTP/1.1\r\nHost: h\r\nConnection: Upgrade\r\nUpgrade: h2c\r\nContent-Length: ${length}\r\n\r\nab`;
    const refused = await client(gw.port, request('9007199254740992'));
    expect(await refused.closed).toBe(RAW_400);
    expect(gw.calls).toEqual([]);
    gw.app = (req, res) => {
      res.sendDate = false;
      res.end(req.headers['content-length']);
    };
    const served = await client(gw.port, request('9007199254740991'));
    expect(await served.closed).toBe(
      'HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 16\r\n\r\n9007199254740991',
    );
    expect(gw.calls).toHaveLength(1);
  });

  test('a client resetting mid-body: its socket is destroyed, the gateway serves on', async () => {
    const gateway = makeGateway([await refusingUrl()]);
    const gw = await gatewayServer(gateway);
    const app = recordingApp(gw);
    const c = await client(
      gw.port,
      'POST /h2c HTTP/1.1\r\nHost: h\r\nConnection: Upgrade\r\nUpgrade: h2c\r\nContent-Length: 5\r\n\r\nab',
    );
    await app.calledOnce;
    c.socket.resetAndDestroy();
    expect(await gw.closed[0]).toBe(true);
    const next = await client(
      gw.port,
      'GET / HTTP/1.1\r\nHost: h\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n',
    );
    expect(await next.closed).toBe(
      'HTTP/1.1 200 OK\r\nX-Body: \r\nConnection: close\r\nContent-Length: 2\r\n\r\nok',
    );
  });

  test('a stream that no server accepted (no `server` to hand the request to): the raw 400, and it ends', async () => {
    const written: string[] = [];
    const stream = new Duplex({
      read() {},
      write(chunk: Buffer, _encoding, done) {
        written.push(chunk.toString('latin1'));
        done();
      },
    });
    const req = new IncomingMessage(new Socket());
    req.headers = { host: 'h', connection: 'Upgrade', upgrade: 'h2c' };
    serveAsPlainRequest(req, stream, EMPTY);
    await once(stream, 'finish');
    expect(written.join('')).toBe(RAW_400);
  });

  test('a net.Socket that no server accepted (`server: null`): the raw 400 too, not a TypeError', async () => {
    // The connecting side of a pair: a socket of no server.
    const { near, far } = await socketPair();
    const read = reader(near);
    expect((far as Socket & { server?: unknown }).server).toBeNull();
    const req = new IncomingMessage(new Socket());
    req.headers = { host: 'h', connection: 'Upgrade', upgrade: 'h2c' };
    serveAsPlainRequest(req, far, EMPTY);
    expect(await read.closed).toBe(RAW_400);
  });
});
