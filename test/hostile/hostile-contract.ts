// What an attacker (or a careless client) sends at the gateway, and what must come of it, on every adapter:
// the findings of the outside audit (issue 15) as one contract run through each harness. Requests are raw
// bytes on a socket where a well-behaved client could not send them; every answer must be a complete
// response with the expected status (a hang or a silent close fails), and the backends must see only what
// a gateway should let through.

import net from 'node:net';
import { StickyConfigError } from '@stickyroute/core';
import type { GatewayExtras, GatewayHarness, StartedGateway } from '../conformance/harness';
import { send } from '../support/http-client';
import { type LegacyApp, startLegacyApps, type WhoAmI } from '../support/legacy-app';
import { waitFor } from '../support/wait-for';

const quiet = { warn() {} };

/** Responses read off one raw connection: each a status and a body. */
interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** A complete response at the start of `buffer` (framed by Content-Length, chunks, or the close), or null. */
function parseResponse(buffer: Buffer, closed: boolean): { response: RawResponse; rest: Buffer } | null {
  const end = buffer.indexOf('\r\n\r\n');
  if (end === -1) return null;
  const lines = buffer.subarray(0, end).toString('latin1').split('\r\n');
  const headers: Record<string, string> = {};
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(':');
    headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(lines[0] ?? '')?.[1] ?? 0);
  let rest = buffer.subarray(end + 4);
  let body: Buffer;
  if (headers['content-length'] !== undefined) {
    const length = Number(headers['content-length']);
    if (rest.length < length) return null;
    body = rest.subarray(0, length);
    rest = rest.subarray(length);
  } else if (/chunked/i.test(headers['transfer-encoding'] ?? '')) {
    const parts: Buffer[] = [];
    for (;;) {
      const eol = rest.indexOf('\r\n');
      if (eol === -1) return null;
      const size = Number.parseInt(rest.subarray(0, eol).toString(), 16);
      if (rest.length < eol + 2 + size + 2) return null;
      parts.push(rest.subarray(eol + 2, eol + 2 + size));
      rest = rest.subarray(eol + 2 + size + 2);
      if (size === 0) break;
    }
    body = Buffer.concat(parts);
  } else {
    if (!closed) return null; // delimited by the close
    body = rest;
    rest = Buffer.alloc(0);
  }
  return { response: { status, headers, body: body.toString() }, rest };
}

/**
 * Writes `chunks` (with `gapMs` between them) on one connection and reads complete responses until `count`
 * arrived (and the close that follows, when the last says so) or the gateway closed the connection; `closed`
 * says whether it did. Bounded by `timeoutMs`.
 */
function rawConversation(
  url: string,
  chunks: readonly string[],
  { count = 1, gapMs = 0, timeoutMs = 5000 } = {},
): Promise<{ responses: RawResponse[]; closed: boolean; timedOut: boolean }> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const socket = net.connect(Number(port), hostname);
    let buffer: Buffer = Buffer.alloc(0);
    const responses: RawResponse[] = [];
    let settled = false;
    const read = (closed: boolean) => {
      for (let next = parseResponse(buffer, closed); next !== null; next = parseResponse(buffer, closed)) {
        responses.push(next.response);
        buffer = next.rest;
      }
    };
    const finish = (closed: boolean, timedOut: boolean) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      if (closed) read(true);
      resolve({ responses, closed, timedOut });
    };
    const timer = setTimeout(() => finish(false, true), timeoutMs);
    socket.on('data', (data: Buffer) => {
      buffer = Buffer.concat([buffer, data]);
      read(false);
      const last = responses.at(-1);
      if (responses.length >= count && last?.headers.connection?.toLowerCase() !== 'close')
        finish(false, false);
    });
    socket.on('close', () => finish(true, false));
    socket.on('error', () => finish(true, false));
    void (async () => {
      for (const chunk of chunks) {
        if (socket.destroyed) return;
        socket.write(Buffer.from(chunk, 'latin1'));
        if (gapMs > 0) await new Promise((r) => setTimeout(r, gapMs));
      }
    })();
  });
}

export function runHostileContract(harness: GatewayHarness): void {
  describe(`${harness.name}: hostile input`, () => {
    let apps: LegacyApp[];
    const gateways: StartedGateway[] = [];

    beforeAll(async () => {
      apps = await startLegacyApps(2);
    });
    afterEach(async () => {
      const open = gateways.splice(0);
      try {
        for (const g of open) {
          const inFlight = () => g.router.stats().backends.reduce((sum, b) => sum + b.active, 0);
          await waitFor(() => inFlight() === 0, 3000, `${harness.name}: every route released`);
        }
      } finally {
        await Promise.all(open.map((g) => g.close()));
      }
    });
    afterAll(() => Promise.all(apps.map((a) => a.close())));

    const gateway = async (options: object = {}, extras?: GatewayExtras) => {
      const started = await harness.start(
        {
          backends: apps.map((a) => ({ url: a.url, id: a.instance })),
          secret: 'hostile-contract-secret-0123456789',
          logger: quiet,
          ...options,
        },
        extras,
      );
      gateways.push(started);
      return started;
    };
    const seenUrls = () => apps.flatMap((a) => a.seen.map((r) => r.url));
    const host = (gw: StartedGateway) => new URL(gw.url).host;

    test('HTTP/1.0 keep-alive: both requests on one connection are answered, and every route released', async () => {
      const gw = await gateway({ stickiness: { type: 'lb-cookie' } });
      const request = (path: string) =>
        `GET ${path} HTTP/1.0\r\nHost: ${host(gw)}\r\nConnection: keep-alive\r\n\r\n`;
      const { responses } = await rawConversation(gw.url, [request('/first'), request('/second')], {
        count: 2,
        gapMs: 100,
      });
      expect(responses.map((r) => r.status)).toEqual([200, 200]);
      expect(responses.map((r) => JSON.parse(r.body).path)).toEqual(['/first', '/second']);
    });

    test('paths reach the app byte for byte: no slashes folded, no dot segments resolved', async () => {
      const gw = await gateway({ stickiness: false });
      for (const path of [
        '//admin?x=1',
        '/x//y',
        '/a/%2e%2e/b',
        '/a/./b',
        '/%2F%2f/c',
        '/a;b=c/d',
        '/~u/%7E',
      ]) {
        const { responses } = await rawConversation(gw.url, [
          `GET ${path} HTTP/1.1\r\nHost: ${host(gw)}\r\nConnection: close\r\n\r\n`,
        ]);
        expect({ path, status: responses[0]?.status }).toEqual({ path, status: 200 });
        expect(JSON.parse(responses[0]!.body).path).toBe(path);
      }
    });

    test('an absolute-form target goes upstream in origin-form; OPTIONS * is answered by the gateway', async () => {
      const gw = await gateway({ stickiness: false });
      const absolute = await rawConversation(gw.url, [
        `GET http://elsewhere.example/abs?x=1 HTTP/1.1\r\nHost: ${host(gw)}\r\nConnection: close\r\n\r\n`,
      ]);
      expect(absolute.responses[0]?.status).toBe(200);
      expect(JSON.parse(absolute.responses[0]!.body).path).toBe('/abs?x=1');
      const before = apps.reduce((n, a) => n + a.requests, 0);
      const star = await rawConversation(gw.url, [
        `OPTIONS * HTTP/1.1\r\nHost: ${host(gw)}\r\nConnection: close\r\n\r\n`,
      ]);
      expect(star.responses[0]?.status).toBe(200);
      expect(star.responses[0]?.headers.allow).toMatch(/GET/);
      expect(apps.reduce((n, a) => n + a.requests, 0)).toBe(before);
      expect(gw.router.stats().requests.failed).toBe(0);
      expect(gw.router.stats().backends.every((b) => b.state === 'healthy')).toBe(true);
    });

    test('Upgrade: h2c on a plain request is served as that request; only WebSocket upgrades are tunnelled', async () => {
      const gw = await gateway({ stickiness: false });
      const h2c = [
        'Connection: Upgrade, HTTP2-Settings',
        'Upgrade: h2c',
        'HTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA',
      ].join('\r\n');
      const get = await rawConversation(gw.url, [`GET /h2c HTTP/1.1\r\nHost: ${host(gw)}\r\n${h2c}\r\n\r\n`]);
      expect(get.responses[0]?.status).toBe(200);
      const seen = JSON.parse(get.responses[0]!.body) as WhoAmI & { path: string };
      expect(seen.path).toBe('/h2c');
      expect(seen.headers.upgrade).toBeUndefined();
      expect(seen.headers['http2-settings']).toBeUndefined();
      expect(seen.headers['x-forwarded-for']).toBe('127.0.0.1');
      const body = 'hello h2c body';
      const post = await rawConversation(gw.url, [
        `POST /echo HTTP/1.1\r\nHost: ${host(gw)}\r\n${h2c}\r\nContent-Length: ${body.length}\r\n\r\n${body}`,
      ]);
      expect(post.responses[0]?.status).toBe(200);
      expect(post.responses[0]?.body).toBe(body);
      // Another protocol name is no WebSocket either: served plainly, never piped through to a backend.
      const other = await rawConversation(gw.url, [
        `GET /other HTTP/1.1\r\nHost: ${host(gw)}\r\nConnection: Upgrade\r\nUpgrade: raw-tcp\r\n\r\n`,
      ]);
      expect(other.responses[0]?.status).toBe(200);
      expect(JSON.parse(other.responses[0]!.body).headers.upgrade).toBeUndefined();
    });

    test('a request body trickling in is cut at the upstream timeout: 504, and the connection closed', async () => {
      const gw = await gateway({ stickiness: false, timeout: '1s' });
      const head = `POST /echo HTTP/1.1\r\nHost: ${host(gw)}\r\nContent-Length: 10000\r\n\r\n`;
      const drips = Array.from({ length: 60 }, () => 'x'.repeat(10));
      const { responses, closed, timedOut } = await rawConversation(gw.url, [head, ...drips], {
        gapMs: 100,
        timeoutMs: 5000,
      });
      expect(timedOut).toBe(false);
      expect(responses[0]?.status).toBe(504);
      expect(responses[0]?.body).toBe('Gateway Timeout\n');
      expect(closed).toBe(true);
    });

    test('forwarding claims a client makes are dropped, in every spelling, unless the proxy in front is trusted', async () => {
      const claims = {
        forwarded: 'for=6.6.6.6;proto=https',
        'x-real-ip': '6.6.6.6',
        'true-client-ip': '6.6.6.6',
        'x-client-ip': '6.6.6.6',
        'x-forwarded-port': '443',
        'x-forwarded-prefix': '/admin',
        x_forwarded_for: '6.6.6.6',
        'x-forwarded_proto': 'https',
        x_sticky_rerouted: '1',
      };
      const head = (gw: StartedGateway, extra = '') =>
        `GET /claims HTTP/1.1\r\nHost: ${host(gw)}\r\n${Object.entries(claims)
          .map(([name, value]) => `${name}: ${value}`)
          .join('\r\n')}${extra}\r\nConnection: close\r\n\r\n`;
      const untrusting = await gateway({ stickiness: false });
      const plain = await rawConversation(untrusting.url, [head(untrusting)]);
      const seen = (JSON.parse(plain.responses[0]!.body) as WhoAmI).headers;
      for (const name of Object.keys(claims))
        expect({ name, value: seen[name] }).toEqual({ name, value: undefined });
      expect(seen['x-forwarded-for']).toBe('127.0.0.1');
      // Behind a trusted proxy (it says who the client is), its forwarding headers reach the app; the
      // underscore spellings never do.
      const trusting = await gateway({ stickiness: false }, { trustProxy: true });
      const proxied = await rawConversation(trusting.url, [
        head(trusting, '\r\nX-Forwarded-For: 203.0.113.9'),
      ]);
      const relayed = (JSON.parse(proxied.responses[0]!.body) as WhoAmI).headers;
      expect(relayed['x-real-ip']).toBe('6.6.6.6');
      expect(relayed.forwarded).toBe(claims.forwarded);
      for (const name of ['x_forwarded_for', 'x-forwarded_proto', 'x_sticky_rerouted'])
        expect({ name, value: relayed[name] }).toEqual({ name, value: undefined });
    });

    if (harness.limitsServer)
      test('serverLimits: a connection that sends nothing is closed after the idle timeout', async () => {
        const gw = await gateway({ stickiness: false, serverLimits: { idleTimeout: '1s' } });
        const idle = await rawConversation(gw.url, [], { timeoutMs: 6000 });
        expect(idle).toMatchObject({ closed: true, timedOut: false, responses: [] });
        // The limits are options like any other: a wrong one names itself.
        await expect(
          harness.start({
            backends: ['http://127.0.0.1:1'],
            logger: quiet,
            serverLimits: { idle: 1 },
          } as never),
        ).rejects.toMatchObject({ option: 'serverLimits.idle' });
      }, 10_000);

    test('every hostile request above left the gateway answering, and its options are still checked', async () => {
      const gw = await gateway({});
      expect((await send(`${gw.url}/still-there`)).status).toBe(200);
      expect(seenUrls().length).toBeGreaterThan(0);
      await expect(harness.start({ backends: ['ftp://x'], logger: quiet })).rejects.toBeInstanceOf(
        StickyConfigError,
      );
    });
  });
}
