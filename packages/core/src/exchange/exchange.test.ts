// The exchange on its own: one request driven through a recording engine (the adapter's part: send, reply,
// abort), the router real, its clock fake. What the contract suite proves through sockets for every adapter,
// here decision by decision: what goes upstream, what comes back to the client, retries and their limits,
// releasing exactly once.

import { once } from 'node:events';
import { Readable } from 'node:stream';
import type { StickyOptions } from '../config/options';
import { routingOf, StickyRouter } from '../router';
import { BAD_TARGET_REPLY } from '../routing/error-replies';
import { FakeClock, flushPromises } from '../testing/fake-clock';
import { cookieAttributes } from '../testing/requests';
import { readText } from '../testing/streams';
import { withTestHooks } from '../testing-hooks';
import type { Reply } from '../types';
import {
  announcesBody,
  appendCookies,
  type ClientHeaders,
  Exchange,
  type ExchangeContext,
  type ExchangeEngine,
  type RequestFacts,
} from './exchange';
import { Gateway } from './gateway';
import { RequestBody } from './request-body';
import { UpstreamDeadlines } from './upstream-deadlines';

const BACKENDS = [
  { url: 'http://10.0.0.1:8080', id: 'a' },
  { url: 'http://10.0.0.2:8080', id: 'b' },
  { url: 'http://10.0.0.3:8080', id: 'c' },
];
const REFUSED = Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
const RESET = Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });

/** The adapter's side, recorded: every send (with the headers it would send), reply and abort. */
class RecordingEngine implements ExchangeEngine<string> {
  sent: { backend: string; headers: Record<string, unknown>; body: unknown }[] = [];
  replies: Reply[] = [];
  aborted: (Error | undefined)[] = [];
  /** Called on each send: the test answers there (or leaves the attempt in flight). */
  onSend: (exchange: Exchange<string>) => void = () => {};

  send(exchange: Exchange<string>): void {
    this.sent.push({
      backend: exchange.route!.backend!.id,
      headers: { ...exchange.upstreamHeaders({ dropFraming: true }) },
      body: exchange.attemptBody(),
    });
    this.onSend(exchange);
  }
  reply(_exchange: Exchange<string>, reply: Reply): void {
    this.replies.push(reply);
  }
  abort(exchange: Exchange<string>, reason?: Error): void {
    this.aborted.push(reason);
    exchange.failed(reason ?? new Error('aborted'));
  }
}

/** The gateway's options in every test here: lb-cookie over BACKENDS, on the test's clock. */
function testOptions(options: Partial<StickyOptions>, clock: FakeClock) {
  const base: StickyOptions = {
    backends: BACKENDS,
    stickiness: { type: 'lb-cookie' },
    secret: 'exchange-test-secret-0123456789',
  };
  return withTestHooks({ ...base, ...options }, { clock });
}

function setup(options: Partial<StickyOptions> = {}) {
  const clock = new FakeClock();
  const gateway = new Gateway(testOptions(options, clock));
  const engine = new RecordingEngine();
  const serve = (facts: Partial<RequestFacts> = {}) =>
    gateway.serve(
      engine,
      {
        method: 'GET',
        url: '/',
        headers: { host: 'app.example' },
        ip: '203.0.113.7',
        secure: false,
        ...facts,
      },
      'client',
    );
  const active = () => gateway.router.stats().backends.map((b) => b.active);
  return { gateway, engine, serve, active, close: () => gateway.close() };
}

const raw = (...pairs: string[]) => pairs.map((text) => Buffer.from(text, 'latin1'));
const nameOf = (name: Buffer) => name.toString('latin1').toLowerCase();

describe('Exchange', () => {
  test('a new client: one attempt, its headers shaped for the upstream, released once when it closes', async () => {
    const { engine, serve, active, close } = setup();
    const exchange = serve({
      headers: {
        host: 'app.example',
        connection: 'keep-alive, x-trace',
        'keep-alive': 'timeout=5',
        'x-trace': '1',
        te: 'trailers',
        'x-forwarded-for': '6.6.6.6',
        forwarded: 'for=6.6.6.6',
        x_forwarded_for: '6.6.6.6',
        accept: 'text/html',
      },
    });
    expect(engine.sent).toHaveLength(1);
    const { headers } = engine.sent[0]!;
    expect(headers).toEqual({
      host: 'app.example',
      accept: 'text/html',
      'x-forwarded-for': '203.0.113.7',
      'x-forwarded-proto': 'http',
      'x-forwarded-host': 'app.example',
    });
    expect(active().reduce((a, b) => a + b)).toBe(1);
    exchange.closed(true);
    exchange.closed(true);
    expect(active()).toEqual([0, 0, 0]);
    expect(engine.aborted).toStrictEqual([]);
    await close();
  });

  test('the response: hop-by-hop and nominated headers out, the app cookie first, Connection: close when asked', async () => {
    const { serve, close } = setup();
    const exchange = serve({ headers: { host: 'app.example', connection: 'close' } });
    const out = exchange.responseHeaders(
      {
        connection: 'keep-alive, x-hop',
        'x-hop': '1',
        'keep-alive': 'timeout=5',
        'transfer-encoding': 'chunked',
        'content-type': 'text/plain',
        'set-cookie': ['JSESSIONID=abc; Path=/'],
      },
      true,
    );
    expect(Object.keys(out).sort()).toEqual(['connection', 'content-type', 'set-cookie']);
    expect(out.connection).toBe('close');
    const cookies = out['set-cookie'] as string[];
    expect(cookies[0]).toBe('JSESSIONID=abc; Path=/');
    expect(cookieAttributes(cookies[1]!).name).toBe('STICKY');
    await close();
  });

  test('the response as a raw list gives what the object form gives, byte for byte', async () => {
    const { serve, close } = setup();
    const listed = serve().responseHeaderList(
      raw(
        'Connection',
        'keep-alive, X-Hop',
        'X-Hop',
        '1',
        'Transfer-Encoding',
        'chunked',
        'Content-Type',
        'text/plain; charset=\xe9',
        'Set-Cookie',
        'a=1',
        'Set-Cookie',
        'b=2',
      ),
      nameOf,
      true,
    ) as string[];
    const pairs: [string, string][] = [];
    for (let i = 0; i < listed.length; i += 2) pairs.push([listed[i]!, listed[i + 1]!]);
    expect(pairs.slice(0, 3)).toEqual([
      ['content-type', 'text/plain; charset=\xe9'],
      ['set-cookie', 'a=1'],
      ['set-cookie', 'b=2'],
    ]);
    expect(pairs).toHaveLength(4);
    expect(pairs[3]![0]).toBe('set-cookie');
    expect(cookieAttributes(pairs[3]![1]).name).toBe('STICKY');
    // Without dropFraming the framing stays; a client that asked to close is told so.
    const kept = serve({ headers: { host: 'h', connection: 'close' } }).responseHeaderList(
      raw('Transfer-Encoding', 'chunked', 'Connection', 'keep-alive'),
      nameOf,
    ) as string[];
    expect(kept.filter((_, i) => i % 2 === 0)).toEqual(['transfer-encoding', 'set-cookie', 'connection']);
    expect(kept[kept.length - 1]).toBe('close');
    await close();
  });

  test('the raw list hands follow mode every Set-Cookie line, and only those', async () => {
    const { serve, close } = setup({ stickiness: { type: 'app-cookie', appCookie: 'JSESSIONID' } });
    const balancerCookies = (...pairs: string[]) =>
      (serve().responseHeaderList(raw(...pairs), nameOf) as string[]).filter(
        (value, i, list) => i % 2 === 1 && list[i - 1] === 'set-cookie' && value.startsWith('STICKY='),
      );
    // The app cookie first of three lines, then second of two: mirrored either way.
    expect(
      balancerCookies('Set-Cookie', 'JSESSIONID=s1; Max-Age=60', 'Set-Cookie', 'a=1', 'Set-Cookie', 'b=2'),
    ).toHaveLength(1);
    expect(balancerCookies('Set-Cookie', 'a=1', 'Set-Cookie', 'JSESSIONID=s2; Max-Age=60')).toHaveLength(1);
    // A header that merely looks like one is not a Set-Cookie line.
    expect(balancerCookies('X-Echo', 'JSESSIONID=s3; Max-Age=60')).toEqual([]);
    await close();
  });

  test('an HTTP/2 client: Host from :authority upstream, an object of headers back with no connection headers', async () => {
    const { engine, serve, close } = setup();
    const exchange = serve({ headers: { ':authority': 'h2.example', ':method': 'GET', ':path': '/' } });
    expect(exchange.http2).toBe(true);
    expect(engine.sent[0]!.headers.host).toBe('h2.example');
    expect(Object.keys(engine.sent[0]!.headers).some((name) => name.startsWith(':'))).toBe(false);
    const out = exchange.responseHeaderList(
      raw('Connection', 'close', 'Transfer-Encoding', 'chunked', 'X-A', '1', 'X-A', '2'),
      nameOf,
    );
    expect(Array.isArray(out)).toBe(false);
    expect(out).toMatchObject({ 'x-a': ['1', '2'] });
    expect(out).not.toHaveProperty('connection');
    expect(out).not.toHaveProperty('transfer-encoding');
    await close();
  });

  test('a refused attempt goes elsewhere, any method, the body sent again; after two retries a 502', async () => {
    const { engine, serve, active, close } = setup();
    engine.onSend = (exchange) => exchange.failed(REFUSED);
    const body = Buffer.from('{"a":1}');
    serve({ method: 'POST', headers: { host: 'h', 'content-length': String(body.length) }, body });
    expect(engine.sent.map((s) => s.backend)).toHaveLength(3);
    expect(new Set(engine.sent.map((s) => s.backend)).size).toBe(3);
    for (const attempt of engine.sent) {
      expect(attempt.body).toBe(body);
      expect(attempt.headers['content-length']).toBe('7');
    }
    expect(engine.replies.map((r) => r.status)).toEqual([502]);
    expect(active()).toEqual([0, 0, 0]);
    await close();
  });

  test('a reset after a non-idempotent request was sent is a 502, not a second POST; a GET is retried', async () => {
    const { engine, serve, close } = setup();
    engine.onSend = (exchange) => {
      if (engine.sent.length === 1) exchange.failed(RESET);
    };
    serve({ method: 'POST', headers: { host: 'h', 'content-length': '1' }, body: 'x' });
    expect(engine.sent).toHaveLength(1);
    expect(engine.replies.map((r) => r.status)).toEqual([502]);
    engine.sent = [];
    engine.replies = [];
    const get = serve();
    expect(engine.sent).toHaveLength(2);
    expect(engine.replies).toEqual([]);
    get.closed(true);
    await close();
  });

  test('no backend left: 503 with Retry-After, nothing sent', async () => {
    const { gateway, engine, serve, active, close } = setup();
    for (const b of BACKENDS) gateway.router.pool.markDown(b.id);
    const exchange = serve();
    expect(engine.sent).toEqual([]);
    expect(engine.replies[0]!.status).toBe(503);
    expect(engine.replies[0]!.headers['retry-after']).toBeDefined();
    exchange.closed(true);
    expect(active()).toEqual([0, 0, 0]);
    await close();
  });

  test('the deadline passing: the attempt is aborted and the client gets a 504', async () => {
    const { engine, serve, close } = setup();
    const exchange = serve();
    exchange.expired();
    expect(engine.aborted).toHaveLength(1);
    expect(engine.replies.map((r) => r.status)).toEqual([504]);
    // Expiring again once answered does nothing.
    exchange.expired();
    expect(engine.aborted).toHaveLength(1);
    await close();
  });

  test('the client leaving mid-attempt aborts it, releases once, and a failure reported after is ignored', async () => {
    const { engine, serve, active, close } = setup();
    const exchange = serve();
    engine.abort = (_exchange, reason) => void engine.aborted.push(reason);
    exchange.closed(false);
    expect(engine.aborted).toHaveLength(1);
    exchange.failed(REFUSED);
    expect(engine.sent).toHaveLength(1);
    expect(engine.replies).toEqual([]);
    expect(active()).toEqual([0, 0, 0]);
    await close();
  });

  test('a finished response is not aborted; a failure after the response began is not retried', async () => {
    const { engine, serve, close } = setup();
    const exchange = serve();
    exchange.responseCookies(undefined);
    exchange.failed(RESET);
    expect(engine.sent).toHaveLength(1);
    exchange.closed(true);
    expect(engine.aborted).toStrictEqual([]);
    await close();
  });

  test('targets: OPTIONS * is answered by the gateway, * otherwise a 400, absolute-form sent as origin-form', async () => {
    const { engine, serve, close } = setup();
    serve({ method: 'OPTIONS', url: '*' });
    serve({ method: 'GET', url: '*' });
    expect(engine.replies.map((r) => r.status)).toEqual([200, 400]);
    expect(engine.sent).toEqual([]);
    const exchange = serve({ url: 'http://evil.example:81/path?q=1' });
    expect(exchange.url).toBe('/path?q=1');
    await close();
  });

  test('a body: announced and streamed is replayable, unannounced is not sent, parsed bytes get their own length', async () => {
    const { engine, serve, close } = setup();
    serve({ method: 'POST', headers: { host: 'h' }, body: Readable.from([]) });
    expect(engine.sent[0]!.body).toBeNull();
    serve({
      method: 'POST',
      headers: { host: 'h', 'transfer-encoding': 'chunked' },
      body: Readable.from([Buffer.from('x')]),
    });
    expect(engine.sent[1]!.body).toBeInstanceOf(Readable);
    serve({ method: 'POST', headers: { host: 'h', 'content-length': '99' }, body: 'héllo' });
    expect(engine.sent[2]!.body).toEqual(Buffer.from('héllo'));
    expect(engine.sent[2]!.headers['content-length']).toBe(String(Buffer.byteLength('héllo')));
    expect(engine.sent[2]!.headers).not.toHaveProperty('transfer-encoding');
    await close();
  });
});

// The paths the tests above do not take, one by one, on an exchange made from a context of the test's own
// (the router real, its clock fake, deadlines on that clock): asynchronous routing and failover, the client
// leaving at each phase, each way of shaping the upstream's headers and the client's, and the body's cases.
describe('Exchange, path by path', () => {
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0)) await cleanup();
  });

  function direct(options: Partial<StickyOptions> = {}, retryBufferBytes = 1024) {
    const clock = new FakeClock();
    const router = new StickyRouter(testOptions(options, clock));
    const routing = routingOf(router);
    const deadlines = new UpstreamDeadlines<Exchange>(
      routing.timeoutMs,
      (exchange) => exchange.expired(),
      clock.now,
    );
    const context: ExchangeContext = {
      routing,
      deadlines,
      body: (source) => new RequestBody(source, retryBufferBytes),
    };
    const engine = new RecordingEngine();
    const make = (facts: Partial<RequestFacts> = {}) =>
      new Exchange(
        context,
        engine,
        {
          method: 'GET',
          url: '/',
          headers: { host: 'app.example' },
          ip: '203.0.113.7',
          secure: false,
          ...facts,
        },
        'client',
      );
    const serve = (facts: Partial<RequestFacts> = {}) => {
      const exchange = make(facts);
      exchange.start();
      return exchange;
    };
    const active = () => router.stats().backends.map((b) => b.active);
    cleanups.push(async () => {
      deadlines.close();
      await router.close();
    });
    return { router, clock, routing, deadlines, engine, make, serve, active };
  }

  const CHUNKED = { host: 'app.example', 'transfer-encoding': 'chunked' };

  describe('the request as the exchange takes it', () => {
    test('method, ip, remote address, scheme and Connection are the facts given', () => {
      const { make } = direct();
      const exchange = make({
        method: 'PUT',
        headers: { host: 'h', connection: 'keep-alive' },
        ip: '198.51.100.9',
        remoteAddress: '10.0.0.99',
        secure: true,
      });
      expect(exchange.method).toBe('PUT');
      expect(exchange.ip).toBe('198.51.100.9');
      expect(exchange.remoteAddress).toBe('10.0.0.99');
      expect(exchange.secure).toBe(true);
      expect(exchange.connection).toBe('keep-alive');
      expect(make().connection).toBeUndefined();
      expect(make().remoteAddress).toBeUndefined();
      expect(make().route).toBeNull();
    });

    test.each([
      ['/already/origin?q=1', '/already/origin?q=1'],
      ['HTTP://Host.example:8080/p?q=1', '/p?q=1'],
      ['http://host.example?q=1', '/?q=1'],
      ['http://host.example#frag', '/#frag'],
      ['http://host.example', '/'],
      ['svn+ssh.x-y://host/p', '/p'],
      ['example.com:443', 'example.com:443'],
      ['1http://host/p', '1http://host/p'],
      ['*', '*'],
    ])('the target %s goes upstream as %s', (url, expected) => {
      expect(direct().make({ url }).url).toBe(expected);
    });

    test('HTTP/2 is a request with :authority and no Host', () => {
      const { make } = direct();
      expect(make({ headers: { ':authority': 'h2.example' } }).http2).toBe(true);
      expect(make({ headers: { host: 'h1.example', ':authority': 'h2.example' } }).http2).toBe(false);
      expect(make({ headers: {} }).http2).toBe(false);
    });

    test('a body: the bytes given, a Buffer as it is, nothing unless announced or streamed over HTTP/2', () => {
      const { make } = direct();
      const buffer = Buffer.from('abc');
      const h2 = { ':authority': 'h2.example', ':method': 'POST', ':path': '/' };
      const h2Stream = (endAfterHeaders: boolean) =>
        Object.assign(Readable.from([Buffer.from('x')]), { stream: { endAfterHeaders } });
      expect(make({ headers: { host: 'h', 'content-length': '3' }, body: buffer }).attemptBody()).toBe(
        buffer,
      );
      expect(make({ headers: { host: 'h', 'content-length': '3' }, body: 'abc' }).attemptBody()).toEqual(
        buffer,
      );
      expect(make({ headers: { host: 'h', 'content-length': '0' }, body: 'abc' }).attemptBody()).toBeNull();
      expect(make({ headers: { host: 'h' }, body: 'abc' }).attemptBody()).toBeNull();
      expect(make({ headers: { host: 'h', 'content-length': '5' } }).attemptBody()).toBeNull();
      expect(make({ headers: h2, body: h2Stream(false) }).attemptBody()).toBeInstanceOf(Readable);
      expect(make({ headers: h2, body: h2Stream(true) }).attemptBody()).toBeNull();
      expect(make({ headers: h2, body: Readable.from([]) }).attemptBody()).toBeNull();
      expect(make({ headers: h2, body: 'abc' }).attemptBody()).toBeNull();
      // Over HTTP/1.1 only the headers tell.
      expect(make({ headers: { host: 'h' }, body: h2Stream(false) }).attemptBody()).toBeNull();
    });

    test.each([
      [{}, false],
      [{ 'content-length': '0' }, false],
      [{ 'content-length': '1' }, true],
      [{ 'transfer-encoding': 'chunked' }, true],
      [{ 'transfer-encoding': 'chunked', 'content-length': '0' }, true],
    ])('announcesBody(%j) is %s', (headers, expected) => {
      expect(announcesBody(headers)).toBe(expected);
    });

    test.each([
      [undefined, false],
      ['keep-alive', false],
      ['close', true],
      ['Close', true],
      ['keep-alive, close', true],
      ['closed', false],
      ['enclose', false],
      ['Upgrade', false],
    ])('Connection: %s asks to close: %s', (connection, expected) => {
      const headers = connection === undefined ? { host: 'h' } : { host: 'h', connection };
      expect(direct().make({ headers }).clientAskedClose).toBe(expected);
    });
  });

  describe('routing', () => {
    test('a route the store answers later: nothing is sent until it comes', async () => {
      const { engine, serve, active } = direct({ stickiness: { type: 'source-ip' } });
      const exchange = serve();
      expect(exchange.route).toBeNull();
      expect(engine.sent).toEqual([]);
      await flushPromises();
      expect(exchange.route!.reason).toBe('hashed');
      expect(engine.sent.map((s) => s.backend)).toEqual([exchange.route!.backend!.id]);
      expect(active().reduce((a, b) => a + b)).toBe(1);
      exchange.closed(true);
      expect(active()).toEqual([0, 0, 0]);
    });

    test('a client gone before its route came: nothing aborted or sent, the route released when it comes', async () => {
      const { engine, serve, active } = direct({ stickiness: { type: 'source-ip' } });
      const exchange = serve();
      exchange.closed(false);
      expect(engine.aborted).toStrictEqual([]);
      await flushPromises();
      expect(exchange.route!.backend).not.toBeNull();
      expect(engine.sent).toEqual([]);
      expect(engine.replies).toEqual([]);
      expect(active()).toEqual([0, 0, 0]);
    });

    test('a failure reported before the route came is ignored', async () => {
      const { engine, serve } = direct({ stickiness: { type: 'source-ip' } });
      const exchange = serve();
      exchange.failed(REFUSED);
      expect(engine.replies).toEqual([]);
      await flushPromises();
      expect(engine.sent).toHaveLength(1);
      expect(engine.replies).toEqual([]);
      exchange.closed(true);
    });

    test('a failover the store decides later: the retry goes out when it comes', async () => {
      const { engine, serve, active } = direct({ stickiness: { type: 'source-ip' } });
      let sentWhenFailed = -1;
      engine.onSend = (exchange) => {
        if (engine.sent.length > 1) return;
        exchange.failed(REFUSED);
        sentWhenFailed = engine.sent.length;
      };
      const exchange = serve();
      await flushPromises();
      expect(sentWhenFailed).toBe(1);
      expect(engine.sent).toHaveLength(2);
      expect(engine.sent[1]!.backend).not.toBe(engine.sent[0]!.backend);
      expect(exchange.route!.backend!.id).toBe(engine.sent[1]!.backend);
      expect(engine.replies).toEqual([]);
      expect(active().reduce((a, b) => a + b)).toBe(1);
      exchange.closed(true);
      expect(active()).toEqual([0, 0, 0]);
    });

    test('a client gone while the failover is decided: the retry is released, not sent', async () => {
      const { engine, serve, active } = direct({ stickiness: { type: 'source-ip' } });
      engine.onSend = (exchange) => {
        exchange.failed(REFUSED);
        exchange.closed(false);
      };
      serve();
      await flushPromises();
      expect(engine.sent).toHaveLength(1);
      expect(engine.aborted).toStrictEqual([undefined]);
      expect(engine.replies).toEqual([]);
      expect(active()).toEqual([0, 0, 0]);
    });
  });

  describe('sending', () => {
    test('an engine that throws while sending: the error is the attempt failure (refused: sent elsewhere)', () => {
      const { engine, serve } = direct();
      engine.onSend = () => {
        if (engine.sent.length === 1) throw REFUSED;
      };
      const exchange = serve();
      expect(engine.sent).toHaveLength(2);
      expect(engine.sent[1]!.backend).not.toBe(engine.sent[0]!.backend);
      expect(engine.replies).toEqual([]);
      exchange.closed(true);
    });

    test('an engine that throws on a header it refuses: a 502, nothing else sent', () => {
      const { engine, routing, serve } = direct();
      engine.onSend = () => {
        throw new TypeError('Invalid character in header content ["x-bad"]');
      };
      serve();
      expect(engine.sent).toHaveLength(1);
      expect(engine.replies).toEqual([routing.reply(502)]);
      expect(engine.replies[0]).toEqual({
        status: 502,
        headers: { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' },
        body: 'Bad Gateway\n',
      });
    });
  });

  describe('the headers that go upstream', () => {
    const FORWARDED = {
      'x-forwarded-for': '203.0.113.7',
      'x-forwarded-proto': 'http',
      'x-forwarded-host': 'app.example',
    };

    test('by default: a copy, the framing kept for an engine on node:http', () => {
      const { serve } = direct();
      const headers = { ...CHUNKED, accept: '*/*' };
      const exchange = serve({ method: 'POST', headers, body: new Readable({ read() {} }) });
      const out = exchange.upstreamHeaders();
      expect(out).toStrictEqual({ ...CHUNKED, accept: '*/*', ...FORWARDED });
      expect(out).not.toBe(headers);
      expect(exchange.upstreamHeaders({ dropFraming: true })).toStrictEqual({
        host: 'app.example',
        accept: '*/*',
        ...FORWARDED,
      });
      exchange.closed(true);
    });

    test('bytes a parser read: the framing goes and their own Content-Length comes, whatever the engine asks', () => {
      const { serve } = direct();
      const exchange = serve({ method: 'POST', headers: CHUNKED, body: 'héllo' });
      expect(exchange.upstreamHeaders()).toStrictEqual({
        host: 'app.example',
        'content-length': '6',
        ...FORWARDED,
      });
      exchange.closed(true);
    });

    test('in place: the given object itself is shaped and returned', () => {
      const { serve } = direct();
      const exchange = serve({ headers: { host: 'app.example', te: 'trailers' } });
      const from = { host: 'app.example', connection: 'keep-alive', 'keep-alive': 'timeout=5', accept: 'a' };
      const out = exchange.upstreamHeaders({ inPlace: true }, from);
      expect(out).toBe(from);
      expect(from).toStrictEqual({ host: 'app.example', accept: 'a', ...FORWARDED });
      // Not in place: the given object stays as it was.
      const kept = { host: 'app.example', connection: 'keep-alive' };
      expect(exchange.upstreamHeaders({}, kept)).toStrictEqual({ host: 'app.example', ...FORWARDED });
      expect(kept).toStrictEqual({ host: 'app.example', connection: 'keep-alive' });
      exchange.closed(true);
    });

    test('a WebSocket upgrade keeps Connection: Upgrade and Upgrade; anything else loses them', () => {
      const { serve } = direct();
      const exchange = serve({
        headers: {
          host: 'app.example',
          connection: 'Upgrade',
          upgrade: 'websocket',
          'sec-websocket-key': 'k',
        },
      });
      expect(exchange.upstreamHeaders({ upgrade: true })).toStrictEqual({
        host: 'app.example',
        'sec-websocket-key': 'k',
        connection: 'Upgrade',
        upgrade: 'websocket',
        ...FORWARDED,
      });
      expect(exchange.upstreamHeaders()).toStrictEqual({
        host: 'app.example',
        'sec-websocket-key': 'k',
        ...FORWARDED,
      });
      exchange.closed(true);
    });

    test('forwarding claims go on only from a trusted proxy in front (the IP differs from the peer)', () => {
      const { serve } = direct();
      const headers = { host: 'app.example', forwarded: 'for=198.51.100.1', 'x-real-ip': '198.51.100.1' };
      const behindProxy = serve({ headers, ip: '198.51.100.1', remoteAddress: '10.0.0.9' });
      expect(behindProxy.upstreamHeaders()).toStrictEqual({
        ...headers,
        ...FORWARDED,
        'x-forwarded-for': '198.51.100.1',
      });
      const peer = serve({ headers, ip: '10.0.0.9', remoteAddress: '10.0.0.9' });
      expect(peer.upstreamHeaders()).toStrictEqual({
        host: 'app.example',
        ...FORWARDED,
        'x-forwarded-for': '10.0.0.9',
      });
      const unknownPeer = serve({ headers });
      expect(unknownPeer.upstreamHeaders()).toStrictEqual({ host: 'app.example', ...FORWARDED });
      for (const exchange of [behindProxy, peer, unknownPeer]) exchange.closed(true);
    });

    test('an https backend gets its own host as Host (its certificate name); X-Forwarded-Host stays the client’s', () => {
      const { serve } = direct({ backends: [{ url: 'https://api.internal:8443', id: 's' }] });
      const exchange = serve();
      expect(exchange.upstreamHeaders()).toStrictEqual({ ...FORWARDED, host: 'api.internal:8443' });
      exchange.closed(true);
    });

    test('HTTP/2: Host from :authority unless the headers given carry one; HTTP/1.1 without Host gets none', () => {
      const { serve } = direct();
      const h2 = serve({ headers: { ':authority': 'h2.example' } });
      const forwarded = { ...FORWARDED, 'x-forwarded-host': 'h2.example' };
      expect(h2.upstreamHeaders()).toStrictEqual({ ...forwarded, host: 'h2.example' });
      expect(h2.upstreamHeaders({}, { host: 'given.example' })).toStrictEqual({
        ...forwarded,
        host: 'given.example',
      });
      const hostless = serve({ headers: {} });
      expect(hostless.upstreamHeaders()).toStrictEqual({
        'x-forwarded-for': '203.0.113.7',
        'x-forwarded-proto': 'http',
      });
      for (const exchange of [h2, hostless]) exchange.closed(true);
    });
  });

  describe('the upstream answering', () => {
    test('ends the deadline, counts the success, and drops the body copy no retry will need', async () => {
      const { router, deadlines, engine, serve } = direct({ healthCheck: { maxFailures: 2 } });
      const exchange = serve({ method: 'POST', headers: CHUNKED, body: Readable.from([Buffer.from('ab')]) });
      expect(await readText(engine.sent[0]!.body as Readable)).toBe('ab');
      const backend = router.pool.get(exchange.route!.backend!.id)!;
      backend.consecutiveFailures = 1;
      expect(deadlines.size).toBe(1);
      const cookies = exchange.responseCookies(undefined);
      expect(cookies).toHaveLength(1);
      expect(cookieAttributes(cookies[0]!).name).toBe('STICKY');
      expect(deadlines.size).toBe(0);
      expect(backend.consecutiveFailures).toBe(0);
      expect(() => exchange.attemptBody()).toThrow('stickyroute: the request body can no longer be replayed');
      // Answered: the deadline no longer applies, and a client leaving now cuts the response.
      exchange.expired();
      expect(engine.aborted).toStrictEqual([]);
      exchange.closed(false);
      expect(engine.aborted).toStrictEqual([undefined]);
    });

    test('the cookie event names the exchange as the request', () => {
      const { router, serve } = direct();
      const seen: unknown[] = [];
      router.on('cookie', (event) => seen.push(event.request));
      const exchange = serve();
      exchange.responseCookies(undefined);
      expect(seen).toEqual([exchange]);
      exchange.closed(true);
    });

    test('response headers: framing kept by default, the lone balancer cookie a string, no Connection unless asked', () => {
      const { serve } = direct();
      const out = serve().responseHeaders({ 'transfer-encoding': 'chunked', 'content-type': 'text/plain' });
      expect(out).toStrictEqual({
        'transfer-encoding': 'chunked',
        'content-type': 'text/plain',
        'set-cookie': expect.stringMatching(/^STICKY=/),
      });
    });

    test('response headers without a balancer cookie: the app’s Set-Cookie as it came, or none', () => {
      const { serve } = direct({ stickiness: false });
      expect(serve().responseHeaders({ 'set-cookie': ['app=1'], 'x-a': '1' })).toStrictEqual({
        'set-cookie': ['app=1'],
        'x-a': '1',
      });
      expect(serve().responseHeaders({ 'x-a': '1' })).toStrictEqual({ 'x-a': '1' });
    });

    test('response headers for an HTTP/2 client: no framing, no Connection even when it asked to close', () => {
      const { serve } = direct();
      const exchange = serve({ headers: { ':authority': 'h2.example', connection: 'close' } });
      expect(exchange.clientAskedClose).toBe(true);
      expect(
        exchange.responseHeaders({ 'transfer-encoding': 'chunked', connection: 'close', 'x-a': '1' }),
      ).toStrictEqual({ 'x-a': '1', 'set-cookie': expect.stringMatching(/^STICKY=/) });
    });

    test('the raw list: every Connection header’s nominees go, the framing stays by default', () => {
      const { serve } = direct({ stickiness: false });
      const list = serve().responseHeaderList(
        raw(
          'Connection',
          'X-A',
          'Transfer-Encoding',
          'chunked',
          'Connection',
          'X-B',
          'X-A',
          '1',
          'X-B',
          '2',
          // Trailer names a field too, but does not make it hop-by-hop.
          'Trailer',
          'X-C',
          'X-C',
          '3',
          // A header that happens to be named so: only what a Connection header names goes.
          'Undefined',
          '4',
        ),
        nameOf,
      );
      expect(list).toStrictEqual(['transfer-encoding', 'chunked', 'x-c', '3', 'undefined', '4']);
    });

    test('the raw list: the app’s Set-Cookie lines, however many, are what the policy reads', () => {
      const follow = { type: 'app-cookie', appCookie: 'JSESSIONID', mode: 'follow' } as const;
      const { serve } = direct({ stickiness: follow });
      // The balancer's cookie, whatever its value, shows as STICKY.
      const shown = (list: string[] | ClientHeaders) =>
        (list as string[]).map((item) => (item.startsWith('STICKY=') ? 'STICKY' : item));
      const third = serve().responseHeaderList(
        raw('Set-Cookie', 'a=1', 'Set-Cookie', 'b=2', 'Set-Cookie', 'JSESSIONID=x; Path=/'),
        nameOf,
      );
      expect(shown(third)).toEqual([
        'set-cookie',
        'a=1',
        'set-cookie',
        'b=2',
        'set-cookie',
        'JSESSIONID=x; Path=/',
        'set-cookie',
        'STICKY',
      ]);
      const second = serve().responseHeaderList(
        raw('Set-Cookie', 'a=1', 'Set-Cookie', 'JSESSIONID=x'),
        nameOf,
      );
      expect(shown(second)).toEqual([
        'set-cookie',
        'a=1',
        'set-cookie',
        'JSESSIONID=x',
        'set-cookie',
        'STICKY',
      ]);
      const none = serve().responseHeaderList(raw('Set-Cookie', 'a=1', 'X-A', '1'), nameOf);
      expect(none).toEqual(['set-cookie', 'a=1', 'x-a', '1']);
    });

    test('the raw list for an HTTP/2 client: repeated names collect into one array, values read as latin1', () => {
      const { serve } = direct({ stickiness: false });
      const exchange = serve({ headers: { ':authority': 'h2.example' } });
      expect(
        exchange.responseHeaderList(raw('X-A', '1', 'X-A', '2', 'X-A', '3', 'X-B', 'caf\xe9'), nameOf),
      ).toStrictEqual({
        'x-a': ['1', '2', '3'],
        'x-b': 'caf\xe9',
      });
    });

    test.each([
      [undefined, ['c'], 'c'],
      [undefined, ['c', 'd'], ['c', 'd']],
      [undefined, [], []],
      ['a', ['c'], ['a', 'c']],
      [['a', 'b'], ['c'], ['a', 'b', 'c']],
      [['a'], [], ['a']],
      [7, ['c'], ['7', 'c']],
    ])('appendCookies(%j, %j) is %j', (app, balancer, expected) => {
      const before = JSON.stringify(app);
      expect(appendCookies(app as never, balancer)).toStrictEqual(expected);
      // The app's own array is copied, never extended.
      expect(JSON.stringify(app)).toBe(before);
    });
  });

  describe('failures', () => {
    test('a failure after the answer was given is ignored', () => {
      const { engine, serve } = direct();
      const exchange = serve();
      exchange.failed(new Error('no code'));
      expect(engine.replies.map((r) => r.status)).toEqual([502]);
      exchange.failed(REFUSED);
      expect(engine.replies.map((r) => r.status)).toEqual([502]);
      expect(engine.sent).toHaveLength(1);
    });

    test('the client’s upload breaking is not the upstream’s failure: no retry, no answer, the deadline ended', async () => {
      const { deadlines, engine, serve } = direct();
      const source = new Readable({ read() {} });
      const exchange = serve({ method: 'PUT', headers: CHUNKED, body: source });
      const attempt = engine.sent[0]!.body as Readable;
      const broke = new Promise<Error>((resolve) => attempt.once('error', resolve));
      attempt.resume();
      source.push('ab');
      await once(attempt, 'data');
      source.destroy(RESET);
      const error = await broke;
      expect(deadlines.size).toBe(1);
      exchange.failed(error);
      expect(deadlines.size).toBe(0);
      expect(engine.sent).toHaveLength(1);
      expect(engine.replies).toEqual([]);
    });

    test('a timed-out attempt reads as a timeout whatever error the engine reports: 504, not retried', () => {
      const { engine, serve } = direct();
      engine.abort = (exchange, reason) => {
        engine.aborted.push(reason);
        exchange.failed(RESET);
      };
      serve().expired();
      expect(engine.aborted).toHaveLength(1);
      expect((engine.aborted[0] as Error & { code: string }).code).toBe('ETIMEDOUT');
      expect(engine.sent).toHaveLength(1);
      expect(engine.replies.map((r) => r.status)).toEqual([504]);
    });

    test('a kept-alive connection reset as it was reused: sent again on the same backend, unless a body went out', async () => {
      const { engine, serve } = direct();
      const reset = (facts: Partial<RequestFacts>, reused: boolean) => {
        engine.sent = [];
        engine.replies = [];
        const exchange = serve({ method: 'POST', ...facts });
        exchange.failed(RESET, reused);
        return exchange;
      };
      // No body: the same backend again.
      reset({}, true).closed(true);
      expect(engine.sent).toHaveLength(2);
      expect(engine.sent[1]!.backend).toBe(engine.sent[0]!.backend);
      // Not on a reused connection (the default): a POST that may have reached the app is not sent again.
      serve({ method: 'POST' }).failed(RESET);
      expect(engine.sent).toHaveLength(3);
      expect(engine.replies.map((r) => r.status)).toEqual([502]);
      // Bytes a parser read went out with the attempt.
      reset({ headers: { host: 'h', 'content-length': '1' }, body: 'x' }, true);
      expect(engine.sent).toHaveLength(1);
      expect(engine.replies.map((r) => r.status)).toEqual([502]);
      // A streamed body not yet read: nothing went out, the same backend again, the body whole.
      const unread = reset({ headers: CHUNKED, body: Readable.from([Buffer.from('abc')]) }, true);
      expect(engine.sent).toHaveLength(2);
      expect(engine.sent[1]!.backend).toBe(engine.sent[0]!.backend);
      expect(await readText(engine.sent[1]!.body as Readable)).toBe('abc');
      unread.closed(true);
      // A streamed body some of which went out.
      engine.sent = [];
      engine.replies = [];
      const started = serve({ method: 'POST', headers: CHUNKED, body: Readable.from([Buffer.from('abc')]) });
      expect(await readText(engine.sent[0]!.body as Readable)).toBe('abc');
      started.failed(RESET, true);
      expect(engine.sent).toHaveLength(1);
      expect(engine.replies.map((r) => r.status)).toEqual([502]);
    });

    test('a refused attempt is sent elsewhere only while its body can be replayed (the retry buffer’s bound)', async () => {
      const { router, engine, serve } = direct({}, 4);
      const refusedAfterReading = async (text: string) => {
        engine.sent = [];
        engine.replies = [];
        const exchange = serve({
          method: 'POST',
          headers: CHUNKED,
          body: Readable.from([Buffer.from(text)]),
        });
        expect(await readText(engine.sent[0]!.body as Readable)).toBe(text);
        exchange.failed(REFUSED);
        return exchange;
      };
      const atBound = await refusedAfterReading('abcd');
      expect(engine.sent).toHaveLength(2);
      expect(await readText(engine.sent[1]!.body as Readable)).toBe('abcd');
      expect(engine.replies).toEqual([]);
      atBound.closed(true);
      expect(router.stats().requests.retried).toBe(1);
      await refusedAfterReading('abcde');
      expect(engine.sent).toHaveLength(1);
      expect(engine.replies.map((r) => r.status)).toEqual([502]);
      expect(router.stats().requests.retried).toBe(1);
    });
  });

  describe('the client leaving', () => {
    test('having had the whole response: the deadline ends, nothing is aborted; after a 503 nothing either', () => {
      const { router, deadlines, engine, serve, active } = direct();
      const exchange = serve();
      expect(deadlines.size).toBe(1);
      exchange.closed(true);
      expect(deadlines.size).toBe(0);
      expect(engine.aborted).toStrictEqual([]);
      for (const b of BACKENDS) router.pool.markDown(b.id);
      const answered = serve();
      expect(engine.replies.map((r) => r.status)).toEqual([503]);
      answered.closed(false);
      expect(engine.aborted).toStrictEqual([]);
      expect(active()).toEqual([0, 0, 0]);
    });

    test('mid-attempt, twice: aborted once, and a deadline passing after it aborts nothing more', () => {
      const { engine, serve, active } = direct();
      const exchange = serve();
      engine.abort = (_exchange, reason) => void engine.aborted.push(reason);
      exchange.closed(false);
      exchange.closed(false);
      exchange.expired();
      expect(engine.aborted).toStrictEqual([undefined]);
      expect(active()).toEqual([0, 0, 0]);
    });
  });

  describe('the gateway’s own answers', () => {
    test('to an HTTP/2 client: no Connection header', () => {
      const { engine, serve } = direct();
      serve({ url: '*', headers: { ':authority': 'h2.example' } });
      expect(engine.replies).toEqual([
        {
          status: 400,
          headers: { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' },
          body: 'Bad Request\n',
        },
      ]);
    });

    test('to an HTTP/2 client, an answer without Connection is given as it is', () => {
      const { router, routing, engine, serve } = direct();
      for (const b of BACKENDS) router.pool.markDown(b.id);
      // A body still arriving changes nothing: it ends with the stream.
      const body = Object.assign(new Readable({ read() {} }), { stream: { endAfterHeaders: false } });
      serve({ headers: { ':authority': 'h2.example' }, body });
      expect(engine.replies[0]).toBe(routing.reply(503));
    });

    test('while the body is still arriving: Connection: close, unless the answer already says how', () => {
      const { router, routing, engine, serve } = direct();
      for (const b of BACKENDS) router.pool.markDown(b.id);
      serve({ method: 'POST', headers: CHUNKED, body: new Readable({ read() {} }) });
      expect(engine.replies[0]).toEqual({
        ...routing.reply(503),
        headers: { ...routing.reply(503).headers, connection: 'close' },
      });
      serve({ method: 'POST', url: '*', headers: CHUNKED, body: new Readable({ read() {} }) });
      expect(engine.replies[1]).toBe(BAD_TARGET_REPLY);
      serve();
      expect(engine.replies[2]).toBe(routing.reply(503));
    });

    test('once the whole body arrived: the answer as it is', async () => {
      const { routing, engine, serve } = direct();
      const exchange = serve({ method: 'POST', headers: CHUNKED, body: Readable.from([Buffer.from('ab')]) });
      expect(await readText(engine.sent[0]!.body as Readable)).toBe('ab');
      exchange.failed(new Error('no code'));
      expect(engine.replies).toEqual([routing.reply(502)]);
      expect(engine.replies[0]).toBe(routing.reply(502));
    });
  });
});
