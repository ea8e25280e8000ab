// The gateway on its own: what an adapter makes once. Its options (the TLS for https backends, the adapter's
// own option names, the retry buffer), the exchanges it hands out, the deadline it keeps, and WebSocket
// upgrades through real loopback servers: a front server whose 'upgrade' listener calls gateway.upgrade, a
// backend that switches protocols (or holds the handshake), a client on a raw socket.

import { once } from 'node:events';
import http, { type IncomingHttpHeaders, type IncomingMessage } from 'node:http';
import net, { type AddressInfo, type Socket } from 'node:net';
import { Readable } from 'node:stream';
import { StickyConfigError } from '../config/errors';
import type { StickyOptions } from '../config/options';
import { FakeClock } from '../testing/fake-clock';
import { cookieAttributes } from '../testing/requests';
import { readText } from '../testing/streams';
import { withTestHooks } from '../testing-hooks';
import type { Reply, RouteRequest } from '../types';
import type { Exchange, ExchangeEngine, RequestFacts } from './exchange';
import { Gateway, type GatewaySetup } from './gateway';

const SECRET = 'gateway-test-secret-0123456789';
const REFUSED = Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
const FACTS: RequestFacts = {
  method: 'GET',
  url: '/',
  headers: { host: 'app.example' },
  ip: '203.0.113.7',
  secure: false,
};

/** The adapter's side, recorded: every send (with its body), reply and abort. */
class RecordingEngine implements ExchangeEngine<string> {
  sent: { backend: string; body: unknown }[] = [];
  replies: Reply[] = [];
  aborted: (Error | undefined)[] = [];

  send(exchange: Exchange<string>): void {
    this.sent.push({ backend: exchange.route!.backend!.id, body: exchange.attemptBody() });
  }
  reply(_exchange: Exchange<string>, reply: Reply): void {
    this.replies.push(reply);
  }
  abort(exchange: Exchange<string>, reason?: Error): void {
    this.aborted.push(reason);
    exchange.failed(reason ?? new Error('aborted'));
  }
}

const gateways: Gateway[] = [];
afterEach(async () => {
  for (const gateway of gateways.splice(0)) await gateway.close();
  jest.useRealTimers();
});

function makeGateway(
  options: Partial<StickyOptions> = {},
  setup?: GatewaySetup,
  clock = new FakeClock(),
): Gateway {
  const gateway = new Gateway(
    withTestHooks(
      {
        backends: [
          { url: 'http://10.0.0.1:8080', id: 'a' },
          { url: 'http://10.0.0.2:8080', id: 'b' },
        ],
        stickiness: { type: 'lb-cookie' },
        secret: SECRET,
        ...options,
      } as StickyOptions,
      { clock },
    ),
    setup,
  );
  gateways.push(gateway);
  return gateway;
}

describe('Gateway options', () => {
  test('without tls: certificates of https backends are verified', () => {
    expect(makeGateway().tls).toStrictEqual({ rejectUnauthorized: true });
  });

  test('tls options are kept, verification on unless they turn it off', () => {
    expect(makeGateway({}, { tls: { ca: 'PEM', servername: 'api.internal' } }).tls).toStrictEqual({
      ca: 'PEM',
      servername: 'api.internal',
      rejectUnauthorized: true,
    });
    expect(makeGateway({}, { tls: { ca: 'PEM', rejectUnauthorized: false } }).tls).toStrictEqual({
      ca: 'PEM',
      rejectUnauthorized: false,
    });
  });

  test.each([['PEM'], [1], [true], [null], [['PEM']]])(
    'tls %j is a StickyConfigError naming the option',
    (tls) => {
      let error: unknown;
      try {
        makeGateway({}, { tls });
      } catch (thrown) {
        error = thrown;
      }
      expect(error).toBeInstanceOf(StickyConfigError);
      expect((error as StickyConfigError).option).toBe('tls');
      expect((error as Error).message).toBe(
        'stickyroute: option `tls` must be an object of TLS options for https backends, such as { ca }',
      );
    },
  );

  test("the adapter's own option names are accepted beside the core's, and only those", () => {
    const gateway = makeGateway({ prefix: '/api' } as Partial<StickyOptions>, { ownOptions: ['prefix'] });
    expect(gateway.router.options.timeoutMs).toBe(30_000);
    expect(() => makeGateway({ prefix: '/api' } as Partial<StickyOptions>)).toThrow(
      /^stickyroute: option `prefix` is not a known option/,
    );
  });

  test('the retry buffer: a body up to its size is sent again after a refusal, one byte more is a 502', async () => {
    const gateway = makeGateway({}, { retryBufferBytes: 4 });
    const engine = new RecordingEngine();
    const post = async (text: string) => {
      engine.sent = [];
      const exchange = gateway.serve(
        engine,
        {
          ...FACTS,
          method: 'POST',
          headers: { host: 'h', 'content-length': String(text.length) },
          body: Readable.from([Buffer.from(text)]),
        },
        'client',
      );
      expect(await readText(engine.sent[0]!.body as Readable)).toBe(text);
      exchange.failed(REFUSED);
      return exchange;
    };
    const atLimit = await post('abcd');
    expect(engine.sent.map((s) => s.backend)).toEqual(['a', 'b']);
    expect(await readText(engine.sent[1]!.body as Readable)).toBe('abcd');
    expect(engine.replies).toEqual([]);
    atLimit.closed(true);
    await post('abcde');
    expect(engine.sent).toHaveLength(1);
    expect(engine.replies.map((r) => r.status)).toEqual([502]);
  });
});

describe('Gateway exchanges', () => {
  test('exchange() makes one not yet started; start() routes and sends it', () => {
    const gateway = makeGateway();
    const engine = new RecordingEngine();
    const exchange = gateway.exchange(engine, FACTS, 'the client');
    expect(exchange.client).toBe('the client');
    expect(exchange.route).toBeNull();
    expect(engine.sent).toEqual([]);
    expect(gateway.router.stats().requests.total).toBe(0);
    exchange.start();
    expect(engine.sent.map((s) => s.backend)).toEqual(['a']);
    expect(exchange.route!.backend!.id).toBe('a');
  });

  test('serve() starts the exchange it makes', () => {
    const gateway = makeGateway();
    const engine = new RecordingEngine();
    const exchange = gateway.serve(engine, FACTS, 'the client');
    expect(exchange.client).toBe('the client');
    expect(engine.sent.map((s) => s.backend)).toEqual(['a']);
  });

  test('the deadline: no response headers within `timeout` aborts the attempt and answers 504', () => {
    jest.useFakeTimers();
    const gateway = makeGateway({ timeout: '1s' });
    const engine = new RecordingEngine();
    gateway.serve(engine, FACTS, 'client');
    jest.advanceTimersByTime(999);
    expect(engine.aborted).toStrictEqual([]);
    // The deadline is checked once a period (a twentieth of it), so it fires within two periods after.
    jest.advanceTimersByTime(101);
    expect(engine.aborted).toHaveLength(1);
    expect((engine.aborted[0] as Error & { code: string }).code).toBe('ETIMEDOUT');
    expect(engine.replies.map((r) => r.status)).toEqual([504]);
  });

  test('closing the gateway stops its deadlines: an attempt in flight then never expires', async () => {
    jest.useFakeTimers();
    const gateway = makeGateway({ timeout: '1s' });
    const engine = new RecordingEngine();
    gateway.serve(engine, FACTS, 'client');
    await gateway.close();
    jest.advanceTimersByTime(5000);
    expect(engine.aborted).toStrictEqual([]);
    expect(engine.replies).toEqual([]);
  });

  test("closing the gateway closes its router: a backend's passive cool-down is no longer pending", async () => {
    const clock = new FakeClock();
    const gateway = makeGateway(
      { backends: [{ url: 'http://10.0.0.1:8080', id: 'a' }], healthCheck: { maxFailures: 1 } },
      undefined,
      clock,
    );
    const engine = new RecordingEngine();
    gateway.serve(engine, FACTS, 'client').failed(REFUSED);
    expect(engine.replies.map((r) => r.status)).toEqual([502]);
    expect(gateway.router.stats().backends.map((b) => b.state)).toEqual(['down']);
    expect(clock.pending).toBe(1);
    await gateway.close();
    expect(clock.pending).toBe(0);
  });
});

describe('Gateway upgrades', () => {
  /** The backend's side: every upgrade request it got, and its sockets (all closed after each test). */
  let backend: http.Server;
  let backendUrl: string;
  let upgrades: { headers: IncomingHttpHeaders; url: string; socket: Socket }[];
  let backendConnections: Set<Socket>;
  let switchProtocols: boolean;
  let upgraded: () => void;
  /** The gateway's front: its 'upgrade' listener hands every upgrade to the gateway. */
  let front: http.Server;
  let frontSockets: Socket[];
  let plainRequests: { method: string; url: string; headers: IncomingHttpHeaders }[];
  let clientOfCalls: string[];
  let clientOf: (req: IncomingMessage) => RouteRequest | undefined;
  let gateway: Gateway;
  let clients: Socket[];

  const listen = async (server: http.Server) => {
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    return (server.address() as AddressInfo).port;
  };

  beforeEach(async () => {
    upgrades = [];
    backendConnections = new Set();
    switchProtocols = true;
    upgraded = () => {};
    backend = http.createServer((_req, res) => res.end('not an upgrade'));
    backend.on('connection', (socket: Socket) => {
      backendConnections.add(socket);
      socket.on('close', () => backendConnections.delete(socket));
    });
    backend.on('upgrade', (req: IncomingMessage, socket: Socket) => {
      socket.on('error', () => socket.destroy());
      upgrades.push({ headers: req.headers, url: req.url!, socket });
      if (switchProtocols) {
        socket.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n');
        socket.pipe(socket); // an echo
      } else {
        // Holding the handshake, but reading: the gateway giving up on it ends the connection.
        socket.resume();
        socket.once('end', () => socket.destroy());
      }
      upgraded();
    });
    backendUrl = `http://127.0.0.1:${await listen(backend)}`;

    gateway = makeGateway({ backends: [{ url: backendUrl, id: 'only' }] });
    frontSockets = [];
    plainRequests = [];
    clientOfCalls = [];
    clientOf = (req) => {
      clientOfCalls.push(req.url!);
      return { method: req.method!, url: req.url!, headers: req.headers, ip: '198.51.100.4', secure: false };
    };
    front = http.createServer((req, res) => {
      plainRequests.push({ method: req.method!, url: req.url!, headers: req.headers });
      res.end(`plain ${req.method} ${req.url}`);
    });
    front.on('upgrade', (req: IncomingMessage, socket: Socket, head: Buffer) => {
      frontSockets.push(socket);
      gateway.upgrade(req, socket, head, (r) => clientOf(r));
    });
    await listen(front);
    clients = [];
  });

  afterEach(async () => {
    for (const socket of [...clients, ...frontSockets, ...backendConnections]) socket.destroy();
    front.close();
    backend.close();
    await Promise.all([once(front, 'close'), once(backend, 'close')]);
  });

  const connect = async () => {
    const socket = net.connect((front.address() as AddressInfo).port, '127.0.0.1');
    clients.push(socket);
    await once(socket, 'connect');
    return socket;
  };
  /** What the socket receives until `marker` (or until it closes). */
  const receive = (socket: Socket, marker: string) =>
    new Promise<string>((resolve) => {
      let text = '';
      const done = () => {
        socket.off('data', onData);
        socket.off('close', done);
        resolve(text);
      };
      const onData = (chunk: Buffer) => {
        text += chunk.toString('latin1');
        if (text.includes(marker)) done();
      };
      socket.on('data', onData);
      socket.on('close', done);
    });
  /** A socket's 'close' (events.once would reject on the 'error' a reset brings first). */
  const closing = (socket: Socket) => new Promise<void>((resolve) => socket.once('close', () => resolve()));
  const backendGotUpgrade = () => new Promise<void>((resolve) => (upgraded = resolve));
  const WEBSOCKET =
    'GET /chat?room=1 HTTP/1.1\r\nHost: app.example\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n' +
    'Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n';
  const active = () => gateway.router.stats().backends.map((b) => b.active);

  test('a WebSocket is routed by the facts clientOf gives, gets the balancer cookie with its 101, then is tunnelled', async () => {
    const client = await connect();
    const head = receive(client, '\r\n\r\n');
    client.write(WEBSOCKET);
    const lines = (await head).split('\r\n');
    expect(lines[0]).toBe('HTTP/1.1 101 Switching Protocols');
    const cookies = lines.filter((line) => line.startsWith('Set-Cookie: '));
    expect(cookies).toHaveLength(1);
    expect(cookieAttributes(cookies[0]!.slice('Set-Cookie: '.length)).name).toBe('STICKY');
    expect(clientOfCalls).toEqual(['/chat?room=1']);
    expect(upgrades).toHaveLength(1);
    expect(upgrades[0]!.url).toBe('/chat?room=1');
    expect(upgrades[0]!.headers).toMatchObject({
      host: 'app.example',
      connection: 'Upgrade',
      upgrade: 'websocket',
      'x-forwarded-for': '198.51.100.4',
      'x-forwarded-proto': 'http',
      'x-forwarded-host': 'app.example',
    });
    expect(active()).toEqual([1]);
    const echoed = receive(client, 'ping');
    client.write('ping');
    expect(await echoed).toBe('ping');
    // The gateway holds the upgrade until it ends (its private set: nothing public would show a leak).
    const open = (gateway as unknown as { open: Set<unknown> }).open;
    expect(open.size).toBe(1);
    // The client leaving ends the exchange: its slot on the backend is free, the gateway lets go of it.
    const frontClosed = closing(frontSockets[0]!);
    client.destroy();
    await frontClosed;
    expect(active()).toEqual([0]);
    expect(open.size).toBe(0);
  });

  test('a client resetting mid-handshake: no crash, the attempt aborted, the slot freed', async () => {
    switchProtocols = false;
    const client = await connect();
    const held = backendGotUpgrade();
    client.write(WEBSOCKET);
    await held;
    expect(active()).toEqual([1]);
    const attemptClosed = closing(upgrades[0]!.socket);
    const frontClosed = closing(frontSockets[0]!);
    client.resetAndDestroy();
    await Promise.all([attemptClosed, frontClosed]);
    expect(active()).toEqual([0]);
  });

  test('closing the gateway ends the upgrades in flight', async () => {
    switchProtocols = false;
    const client = await connect();
    const held = backendGotUpgrade();
    client.write(WEBSOCKET);
    await held;
    const clientClosed = closing(client);
    const attemptClosed = closing(upgrades[0]!.socket);
    await gateway.close();
    await Promise.all([clientClosed, attemptClosed]);
    expect(frontSockets[0]!.destroyed).toBe(true);
    expect(active()).toEqual([0]);
  });

  test('an upgrade to anything but WebSocket (h2c) is served as the plain request it also is', async () => {
    const client = await connect();
    const answer = receive(client, '\u0000never');
    client.write(
      'GET /plain?x=1 HTTP/1.1\r\nHost: app.example\r\nConnection: Upgrade, HTTP2-Settings\r\n' +
        'Upgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQCAAAAAAIAAAAA\r\n\r\n',
    );
    const text = await answer;
    expect(text.split('\r\n')[0]).toBe('HTTP/1.1 200 OK');
    expect(text.endsWith('\r\n\r\nplain GET /plain?x=1')).toBe(true);
    expect(plainRequests.map((r) => `${r.method} ${r.url}`)).toEqual(['GET /plain?x=1']);
    expect(plainRequests[0]!.headers.upgrade).toBeUndefined();
    expect(clientOfCalls).toEqual([]);
    expect(upgrades).toEqual([]);
    expect(gateway.router.stats().requests.total).toBe(0);
  });

  test("a WebSocket that is not this gateway's (clientOf answers undefined) is left alone", async () => {
    clientOf = (req) => void clientOfCalls.push(req.url!);
    const client = await connect();
    const handed = new Promise<void>((resolve) => front.once('upgrade', () => setImmediate(resolve)));
    client.write(WEBSOCKET);
    await handed;
    expect(clientOfCalls).toEqual(['/chat?room=1']);
    const socket = frontSockets[0]!;
    expect(socket.destroyed).toBe(false);
    expect(socket.bytesWritten).toBe(0);
    expect(upgrades).toEqual([]);
    expect(gateway.router.stats().requests.total).toBe(0);
  });
});
