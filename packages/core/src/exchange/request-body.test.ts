// The request body an exchange keeps for a retry: each attempt replays what earlier ones took, then reads on
// from the client; past the bound (or once the upstream answered) the copy is gone and no attempt may start
// again; an engine destroying its attempt never touches the client's stream; the client's stream breaking
// fails every attempt. On in-process streams, on real requests a node:http server received (Content-Length,
// chunked, empty, cut short), and through an Exchange as the gateway makes them.

import { once } from 'node:events';
import http from 'node:http';
import net, { type AddressInfo } from 'node:net';
import { PassThrough, type Readable } from 'node:stream';
import type { StickyOptions } from '../config/options';
import { FakeClock } from '../testing/fake-clock';
import { withTestHooks } from '../testing-hooks';
import type { Reply } from '../types';
import type { Exchange, ExchangeEngine } from './exchange';
import { Gateway } from './gateway';
import { DEFAULT_RETRY_BUFFER_BYTES, RequestBody } from './request-body';

const NOT_REPLAYABLE = 'stickyroute: the request body can no longer be replayed';

/** What a stream gave a flowing reader so far. */
interface Seen {
  text: string;
  bytes: number;
  ended: boolean;
  error: unknown;
  closed: boolean;
}

function watch(stream: Readable): Seen {
  const seen: Seen = { text: '', bytes: 0, ended: false, error: undefined, closed: false };
  stream.on('data', (chunk: Buffer) => {
    seen.bytes += chunk.length;
    // The first 4 KiB as text (a MiB would make a failed expectation unreadable).
    if (seen.text.length < 4096) seen.text += chunk.toString('latin1', 0, 4096 - seen.text.length);
  });
  stream.on('end', () => {
    seen.ended = true;
  });
  stream.on('error', (error) => {
    seen.error = error;
  });
  stream.on('close', () => {
    seen.closed = true;
  });
  return seen;
}

/** In-process streams move on ticks: a few event-loop turns let every chunk and event through. */
async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}

/** The client's stream, and how often it was paused. */
function client(encoding?: BufferEncoding) {
  const source = new PassThrough();
  if (encoding !== undefined) source.setEncoding(encoding);
  const pauses = { count: 0 };
  source.on('pause', () => {
    pauses.count++;
  });
  return { source, pauses };
}

describe('RequestBody', () => {
  test('keeps 1 MiB by default', () => {
    expect(DEFAULT_RETRY_BUFFER_BYTES).toBe(1048576);
  });

  test('before any byte was read: not started, replayable, not complete, not broken, the client not read', async () => {
    const { source } = client();
    const body = new RequestBody(source, 4);
    expect([body.started, body.replayable, body.complete, body.broken]).toEqual([false, true, false, false]);
    body.attempt();
    await settle();
    // An attempt nobody reads from leaves the client's stream alone.
    expect(source.listenerCount('data')).toBe(0);
    expect(body.started).toBe(false);
  });

  test('one attempt reads the whole body once, never pausing a client it keeps up with', async () => {
    const { source, pauses } = client();
    const body = new RequestBody(source, 100);
    const first = body.attempt();
    const seen = watch(first);
    for (const part of ['ab', 'cde', 'f']) {
      source.write(part);
      await settle();
    }
    expect(seen.text).toBe('abcdef');
    expect(body.started).toBe(true);
    expect(body.complete).toBe(false);
    expect(pauses.count).toBe(0);
    source.end('gh');
    await settle();
    expect(seen).toEqual({ text: 'abcdefgh', bytes: 8, ended: true, error: undefined, closed: true });
    expect([body.started, body.replayable, body.complete, body.broken]).toEqual([true, true, true, false]);
    // The attempt, ended, destroys itself and so lets go of the client.
    expect(pauses.count).toBe(1);
    // Listened to once, however often the attempt asked for more.
    expect(source.listenerCount('end')).toBe(0);
    expect(source.listenerCount('data')).toBe(1);
  });

  test('a new attempt replays what the earlier one took, then goes on with what the client still sends', async () => {
    const { source } = client();
    const body = new RequestBody(source, 100);
    const first = body.attempt();
    const firstSeen = watch(first);
    source.write('abc');
    await settle();
    source.write('def');
    await settle();
    expect(firstSeen.text).toBe('abcdef');
    expect(source.isPaused()).toBe(false);
    const second = body.attempt();
    // The earlier attempt lets go of the client at once.
    expect(source.isPaused()).toBe(true);
    const secondSeen = watch(second);
    await settle();
    expect(secondSeen.text).toBe('abcdef');
    source.write('ghi');
    await settle();
    source.end('jk');
    await settle();
    expect(secondSeen).toEqual({
      text: 'abcdefghijk',
      bytes: 11,
      ended: true,
      error: undefined,
      closed: true,
    });
    // The abandoned attempt got nothing more and never ends.
    expect(firstSeen).toEqual({ text: 'abcdef', bytes: 6, ended: false, error: undefined, closed: false });
    // A third attempt after the client finished: the whole body, then its end.
    const thirdSeen = watch(body.attempt());
    await settle();
    expect(thirdSeen).toEqual({
      text: 'abcdefghijk',
      bytes: 11,
      ended: true,
      error: undefined,
      closed: true,
    });
  });

  test('a body exactly at the bound is kept and replayed in full', async () => {
    const { source } = client();
    const body = new RequestBody(source, 5);
    watch(body.attempt());
    source.write('ab');
    await settle();
    source.end('cde');
    await settle();
    expect([body.started, body.replayable, body.complete]).toEqual([true, true, true]);
    const again = watch(body.attempt());
    await settle();
    expect(again).toEqual({ text: 'abcde', bytes: 5, ended: true, error: undefined, closed: true });
  });

  test('one byte past the bound drops the copy: the attempt reading goes on to the end, no new one may start', async () => {
    const { source } = client();
    const body = new RequestBody(source, 5);
    const first = watch(body.attempt());
    source.write('ab');
    await settle();
    source.write('cdef');
    await settle();
    expect(body.replayable).toBe(false);
    expect(body.started).toBe(true);
    expect(first.text).toBe('abcdef');
    source.end('gh');
    await settle();
    expect(first).toEqual({ text: 'abcdefgh', bytes: 8, ended: true, error: undefined, closed: true });
    expect([body.started, body.replayable, body.complete, body.broken]).toEqual([true, false, true, false]);
    expect(() => body.attempt()).toThrow(NOT_REPLAYABLE);
  });

  test('a bound of 0 keeps an empty body replayable and drops the copy at the first byte', async () => {
    const empty = client();
    const none = new RequestBody(empty.source, 0);
    const seen = watch(none.attempt());
    empty.source.end();
    await settle();
    expect(seen).toEqual({ text: '', bytes: 0, ended: true, error: undefined, closed: true });
    expect([none.started, none.replayable, none.complete]).toEqual([false, true, true]);

    const one = client();
    const body = new RequestBody(one.source, 0);
    watch(body.attempt());
    one.source.write('x');
    await settle();
    expect([body.started, body.replayable]).toEqual([true, false]);
    expect(() => body.attempt()).toThrow(NOT_REPLAYABLE);
  });

  test('the default bound: exactly 1 MiB is replayed, one byte more is not', async () => {
    const { source } = client();
    const body = new RequestBody(source);
    const first = watch(body.attempt());
    source.write(Buffer.alloc(DEFAULT_RETRY_BUFFER_BYTES, 'a'));
    await settle();
    expect(first.bytes).toBe(DEFAULT_RETRY_BUFFER_BYTES);
    expect(body.replayable).toBe(true);
    const second = watch(body.attempt());
    await settle();
    expect(second.bytes).toBe(DEFAULT_RETRY_BUFFER_BYTES);
    source.write('b');
    await settle();
    expect(second.bytes).toBe(DEFAULT_RETRY_BUFFER_BYTES + 1);
    expect(body.replayable).toBe(false);
    expect(() => body.attempt()).toThrow(NOT_REPLAYABLE);
  });

  test('string chunks (a client stream with an encoding) are counted in bytes, not characters', async () => {
    const { source } = client('utf8');
    const body = new RequestBody(source, 4);
    watch(body.attempt());
    source.write('é');
    await settle();
    source.write('é');
    await settle();
    expect(body.replayable).toBe(true);
    const replay: Buffer[] = [];
    const second = body.attempt();
    second.on('data', (chunk: Buffer) => replay.push(chunk));
    await settle();
    expect(Buffer.concat(replay)).toEqual(Buffer.from('éé'));
    // Five bytes in three characters: past the bound of 4.
    source.write('x');
    await settle();
    expect(body.replayable).toBe(false);
    expect(Buffer.concat(replay)).toEqual(Buffer.from('ééx'));
  });

  test('an empty body (chunked, no chunk) ends each attempt at once and stays replayable', async () => {
    const { source } = client();
    const body = new RequestBody(source, 5);
    const first = watch(body.attempt());
    source.end();
    await settle();
    expect(first).toEqual({ text: '', bytes: 0, ended: true, error: undefined, closed: true });
    expect([body.started, body.replayable, body.complete, body.broken]).toEqual([false, true, true, false]);
    const second = watch(body.attempt());
    await settle();
    expect(second).toEqual({ text: '', bytes: 0, ended: true, error: undefined, closed: true });
  });

  test('released before any byte was read, an attempt may still start; once a byte went, none may', async () => {
    const { source } = client();
    const body = new RequestBody(source, 100);
    body.release();
    expect(body.replayable).toBe(false);
    expect(body.started).toBe(false);
    const first = watch(body.attempt());
    source.write('ab');
    await settle();
    source.end('c');
    await settle();
    expect(first).toEqual({ text: 'abc', bytes: 3, ended: true, error: undefined, closed: true });
    expect([body.started, body.replayable, body.complete]).toEqual([true, false, true]);
    expect(() => body.attempt()).toThrow(NOT_REPLAYABLE);
  });

  test('released while an attempt reads (the upstream answered): the attempt reads on, nothing is kept', async () => {
    const { source } = client();
    const body = new RequestBody(source, 100);
    const first = watch(body.attempt());
    source.write('ab');
    await settle();
    body.release();
    expect(body.replayable).toBe(false);
    source.write('cd');
    await settle();
    source.end('e');
    await settle();
    expect(first).toEqual({ text: 'abcde', bytes: 5, ended: true, error: undefined, closed: true });
    expect(() => body.attempt()).toThrow(NOT_REPLAYABLE);
  });

  test('an attempt that reads slowly pauses the client until it reads again, and replays only what it wants', async () => {
    const { source } = client();
    const body = new RequestBody(source, 100_000);
    const first = body.attempt();
    first.read(0);
    const chunk = (fill: string) => Buffer.alloc(10_240, fill);
    source.write(chunk('a'));
    await settle();
    expect(source.isPaused()).toBe(false);
    source.write(chunk('b'));
    await settle();
    // 20 KiB waiting in the attempt, past its 16 KiB mark: the client is held.
    expect(first.readableLength).toBe(20_480);
    expect(source.isPaused()).toBe(true);
    source.write(chunk('c'));
    await settle();
    expect(first.readableLength).toBe(20_480);
    expect(source.readableLength).toBe(10_240);
    // Reading on lets the client go on, until the attempt holds 16 KiB again.
    expect(first.read()).toEqual(Buffer.concat([chunk('a'), chunk('b')]));
    await settle();
    expect(first.readableLength).toBe(10_240);
    expect(source.readableLength).toBe(0);
    expect(source.isPaused()).toBe(false);
    source.write(chunk('d'));
    await settle();
    expect(first.readableLength).toBe(20_480);
    expect(source.isPaused()).toBe(true);
    const second = body.attempt();
    // Read from the abandoned attempt: it has nothing more to give, and the client stays held.
    expect(first.read()).toEqual(Buffer.concat([chunk('c'), chunk('d')]));
    await settle();
    expect(first.readableLength).toBe(0);
    expect(source.isPaused()).toBe(true);
    // The new attempt is given the four kept chunks only up to its own 16 KiB mark, one read at a time.
    second.read(0);
    expect(second.readableLength).toBe(20_480);
    const rest = watch(second);
    source.end();
    await settle();
    expect(rest).toMatchObject({ bytes: 40_960, ended: true, error: undefined });
  });

  test('the replay stops at the mark of a new attempt and goes on where it stopped', async () => {
    const { source } = client();
    const body = new RequestBody(source, 100);
    watch(body.attempt());
    for (const part of ['ab', 'cd', 'ef']) {
      source.write(part);
      await settle();
    }
    const second = body.attempt();
    second.read(0);
    // Small chunks: all three in one read.
    expect(second.readableLength).toBe(6);
    expect(second.read()?.toString()).toBe('abcdef');
    const seen = watch(second);
    source.end('g');
    await settle();
    expect(seen).toEqual({ text: 'g', bytes: 1, ended: true, error: undefined, closed: true });
  });

  test('an engine destroying the attempt it reads (a failed connection) detaches it; the client is paused, not destroyed', async () => {
    const { source } = client();
    const body = new RequestBody(source, 100);
    const first = body.attempt();
    const seen = watch(first);
    source.write('ab');
    await settle();
    const failure = new Error('connect ECONNREFUSED');
    first.destroy(failure);
    expect(source.isPaused()).toBe(true);
    expect(source.destroyed).toBe(false);
    await settle();
    expect(seen).toEqual({ text: 'ab', bytes: 2, ended: false, error: failure, closed: true });
    expect([body.started, body.replayable, body.complete, body.broken]).toEqual([true, true, false, false]);
    // Something else resumes the client while no attempt reads: what arrives is kept, the client held again.
    source.resume();
    source.write('cd');
    await settle();
    expect(source.isPaused()).toBe(true);
    const second = watch(body.attempt());
    source.end('e');
    await settle();
    expect(second).toEqual({ text: 'abcde', bytes: 5, ended: true, error: undefined, closed: true });
  });

  test('destroying an abandoned attempt leaves the newer one reading', async () => {
    const { source, pauses } = client();
    const body = new RequestBody(source, 100);
    const first = body.attempt();
    watch(first);
    source.write('ab');
    await settle();
    const second = watch(body.attempt());
    await settle();
    const pausedBefore = pauses.count;
    first.destroy();
    expect(source.isPaused()).toBe(false);
    source.write('cd');
    await settle();
    expect(pauses.count).toBe(pausedBefore);
    expect(second.text).toBe('abcd');
    source.end('e');
    await settle();
    expect(second).toEqual({ text: 'abcde', bytes: 5, ended: true, error: undefined, closed: true });
  });

  test('the client ending while no attempt reads (its attempt destroyed at the last byte) still completes the body', async () => {
    const { source } = client();
    const body = new RequestBody(source, 100);
    const first = body.attempt();
    // Before the body's own listener: the client's end finds no attempt reading.
    source.once('end', () => first.destroy());
    watch(first);
    source.end('abc');
    await settle();
    expect(first.destroyed).toBe(true);
    expect(body.complete).toBe(true);
    const second = watch(body.attempt());
    await settle();
    expect(second).toEqual({ text: 'abc', bytes: 3, ended: true, error: undefined, closed: true });
  });

  test('the client stream breaking fails the attempt reading it with that error, and every later attempt', async () => {
    const { source } = client();
    const body = new RequestBody(source, 100);
    const first = watch(body.attempt());
    source.write('ab');
    await settle();
    const cut = new Error('aborted');
    source.destroy(cut);
    await settle();
    expect(first).toEqual({ text: 'ab', bytes: 2, ended: false, error: cut, closed: true });
    expect([body.started, body.replayable, body.complete, body.broken]).toEqual([true, true, false, true]);
    const second = body.attempt();
    second.on('error', () => {});
    second.read(0);
    expect(second.destroyed).toBe(true);
    expect(second.errored).toBe(cut);
  });

  test('the client stream breaking while no attempt reads: the next attempt fails with its error', async () => {
    const { source } = client();
    const body = new RequestBody(source, 100);
    const first = body.attempt();
    watch(first);
    source.write('ab');
    await settle();
    first.destroy();
    const cut = new Error('aborted');
    source.destroy(cut);
    await settle();
    expect(body.broken).toBe(true);
    const second = watch(body.attempt());
    await settle();
    expect(second.error).toBe(cut);
    expect(second.ended).toBe(false);
  });
});

describe('RequestBody of a request a node:http server received', () => {
  let server: http.Server;
  let port: number;
  /** The test's handler for the next request. */
  let handle: (req: http.IncomingMessage, res: http.ServerResponse) => void;

  beforeAll(async () => {
    server = http.createServer((req, res) => handle(req, res));
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    port = (server.address() as AddressInfo).port;
  });

  afterAll(async () => {
    server.closeAllConnections();
    server.close();
    await once(server, 'close');
  });

  /** Sends `parts` one write each (Content-Length when `length` is set, else chunked); the answer's text. */
  async function post(parts: string[], length?: number): Promise<{ status: number; text: string }> {
    const req = http.request({
      host: '127.0.0.1',
      port,
      method: 'POST',
      path: '/',
      agent: false,
      headers: length === undefined ? { 'transfer-encoding': 'chunked' } : { 'content-length': length },
    });
    for (const part of parts) req.write(part);
    req.end();
    const [res] = (await once(req, 'response')) as [http.IncomingMessage];
    res.setEncoding('latin1');
    let text = '';
    for await (const chunk of res) text += chunk;
    return { status: res.statusCode!, text };
  }

  /** Reads an attempt to its end. */
  async function text(stream: Readable): Promise<string> {
    let out = '';
    for await (const chunk of stream) out += (chunk as Buffer).toString('latin1');
    return out;
  }

  const big = ['a', 'b', 'c'].map((fill) => fill.repeat(20_000));

  test.each([
    ['Content-Length', big, 60_000],
    ['chunked', big, undefined],
    ['empty chunked', [] as string[], undefined],
  ])(
    '%s: an attempt destroyed at its first byte (an empty body: at its end), the next sends the whole body',
    async (_name, parts, length) => {
      handle = (req, res) => {
        const body = new RequestBody(req, 64 * 1024);
        const first = body.attempt();
        const firstSeen = watch(first);
        const failure = new Error('connect ECONNREFUSED');
        first.once('data', () => first.destroy(failure));
        let clientCut: boolean | undefined;
        // The engine that failed lets go; the exchange sends the next attempt once it was told.
        once(first, 'close')
          .catch(() => undefined)
          .then(() => {
            // Destroyed before it was read in full: the client's connection would be reset.
            clientCut = req.destroyed && !req.complete;
            return text(body.attempt());
          })
          .then((sent) => {
            res.end(
              JSON.stringify({
                sent: sent.length,
                same: sent === parts.join(''),
                firstFailed: firstSeen.error === failure,
                clientCut,
                state: [body.started, body.replayable, body.complete, body.broken],
              }),
            );
          });
        if (parts.length === 0) first.once('end', () => first.destroy());
      };
      const answer = await post(parts, length);
      expect(answer.status).toBe(200);
      const total = parts.join('').length;
      expect(JSON.parse(answer.text)).toEqual({
        sent: total,
        same: true,
        firstFailed: parts.length > 0,
        clientCut: false,
        state: [total > 0, true, true, false],
      });
    },
  );

  test('past the bound: the body reaches its one attempt in full, and cannot be sent again', async () => {
    handle = (req, res) => {
      const body = new RequestBody(req, 1024);
      text(body.attempt()).then((sent) => {
        let again = '';
        try {
          body.attempt();
        } catch (error) {
          again = (error as Error).message;
        }
        res.end(JSON.stringify({ sent: sent.length, replayable: body.replayable, again }));
      });
    };
    const answer = await post(['x'.repeat(1024), 'y'], 1025);
    expect(JSON.parse(answer.text)).toEqual({ sent: 1025, replayable: false, again: NOT_REPLAYABLE });
  });

  test('a client cutting its upload short fails the attempt with the request’s own error and breaks the body', async () => {
    const received = new Promise<{ body: RequestBody; attempt: Readable; seen: Seen }>((resolve) => {
      handle = (req) => {
        const body = new RequestBody(req, 1024);
        const attempt = body.attempt();
        const seen = watch(attempt);
        attempt.once('data', () => resolve({ body, attempt, seen }));
      };
    });
    const socket = net.connect(port, '127.0.0.1');
    await once(socket, 'connect');
    socket.write('POST / HTTP/1.1\r\nHost: gw\r\nContent-Length: 100\r\n\r\n0123456789');
    const { body, attempt, seen } = await received;
    socket.destroy();
    // Not `once(attempt, 'close')`: that rejects on the 'error' before it.
    await new Promise((resolve) => attempt.once('close', resolve));
    expect(seen.text).toBe('0123456789');
    expect(seen.ended).toBe(false);
    expect((seen.error as NodeJS.ErrnoException).code).toBe('ECONNRESET');
    expect([body.started, body.replayable, body.complete, body.broken]).toEqual([true, true, false, true]);
  });
});

describe('RequestBody through an Exchange', () => {
  const BACKENDS = [
    { url: 'http://10.0.0.1:8080', id: 'a' },
    { url: 'http://10.0.0.2:8080', id: 'b' },
  ];
  const REFUSED = Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });

  /** The adapter's side, recorded: each attempt's body stream, each reply. */
  class RecordingEngine implements ExchangeEngine<string> {
    sent: { backend: string; body: Readable }[] = [];
    replies: Reply[] = [];
    send(exchange: Exchange<string>): void {
      this.sent.push({ backend: exchange.route!.backend!.id, body: exchange.attemptBody() as Readable });
    }
    reply(_exchange: Exchange<string>, reply: Reply): void {
      this.replies.push(reply);
    }
    abort(exchange: Exchange<string>, reason?: Error): void {
      exchange.failed(reason ?? new Error('aborted'));
    }
  }

  function setup(retryBufferBytes: number) {
    const options: StickyOptions = {
      backends: BACKENDS,
      stickiness: { type: 'lb-cookie' },
      secret: 'request-body-test-secret-0123456789',
    };
    const gateway = new Gateway(withTestHooks(options, { clock: new FakeClock() }), { retryBufferBytes });
    const engine = new RecordingEngine();
    const source = new PassThrough();
    const exchange = gateway.serve(
      engine,
      {
        method: 'POST',
        url: '/',
        headers: { host: 'app.example', 'transfer-encoding': 'chunked' },
        ip: '203.0.113.7',
        secure: false,
        body: source,
      },
      'client',
    );
    return { gateway, engine, source, exchange };
  }

  test('a refused attempt that took the body is sent to the other backend with the body replayed', async () => {
    const { gateway, engine, source, exchange } = setup(8);
    const first = watch(engine.sent[0]!.body);
    source.write('abcd');
    await settle();
    expect(first.text).toBe('abcd');
    exchange.failed(REFUSED);
    expect(engine.sent.map((s) => s.backend).sort()).toEqual(['a', 'b']);
    expect(engine.replies).toEqual([]);
    const second = watch(engine.sent[1]!.body);
    source.end('efgh');
    await settle();
    expect(second).toEqual({ text: 'abcdefgh', bytes: 8, ended: true, error: undefined, closed: true });
    exchange.closed(true);
    await gateway.close();
  });

  test('answers 502 and closes the connection when the refused attempt took more than retryBufferBytes', async () => {
    const { gateway, engine, source, exchange } = setup(8);
    const first = watch(engine.sent[0]!.body);
    source.write('abcdefghi');
    await settle();
    expect(first.bytes).toBe(9);
    exchange.failed(REFUSED);
    expect(engine.sent).toHaveLength(1);
    expect(engine.replies.map((r) => [r.status, r.headers.connection])).toEqual([[502, 'close']]);
    exchange.closed(true);
    await gateway.close();
  });

  test('answers nothing when the client cut its own upload short', async () => {
    const { gateway, engine, source, exchange } = setup(8);
    const attempt = engine.sent[0]!.body;
    const first = watch(attempt);
    source.write('ab');
    await settle();
    source.destroy(new Error('aborted'));
    await settle();
    expect(first.error).toEqual(new Error('aborted'));
    exchange.failed(first.error);
    expect(engine.sent).toHaveLength(1);
    expect(engine.replies).toEqual([]);
    exchange.closed(false);
    await gateway.close();
  });
});
