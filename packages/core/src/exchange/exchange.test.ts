// The exchange on its own: one request driven through a recording engine (the adapter's part: send, reply,
// abort), the router real, its clock fake. What the contract suite proves through sockets for every adapter,
// here decision by decision: what goes upstream, what comes back to the client, retries and their limits,
// releasing exactly once.

import { Readable } from 'node:stream';
import type { StickyOptions } from '../config/options';
import { FakeClock } from '../testing/fake-clock';
import { cookieAttributes } from '../testing/requests';
import { withTestHooks } from '../testing-hooks';
import type { Reply } from '../types';
import type { Exchange, ExchangeEngine, RequestFacts } from './exchange';
import { Gateway } from './gateway';

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

function setup(options: Partial<StickyOptions> = {}) {
  const clock = new FakeClock();
  const gateway = new Gateway(
    withTestHooks(
      {
        backends: BACKENDS,
        stickiness: { type: 'lb-cookie' },
        secret: 'exchange-test-secret-0123456789',
        ...options,
      },
      { clock },
    ),
  );
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
    expect(engine.aborted).toEqual([]);
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
    expect(engine.aborted).toEqual([]);
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
