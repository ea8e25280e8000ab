// createStickyHandler on a real node:http gateway in front of real backends: stickiness, the adapter
// protocol's edges (hop-by-hop headers, X-Forwarded-*, 503/502/504, retry, release), pools that follow the
// router's pool, and WebSocket upgrades.

import { createHash } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { Readable } from 'node:stream';
import { StickyConfigError } from '@stickyroute/core';
import { cookiesNamed, HttpClient, send } from '../../../test/support/http-client';
import {
  type LegacyApp,
  STREAM_BYTES,
  startLegacyApps,
  streamSha256,
} from '../../../test/support/legacy-app';
import { waitFor } from '../../../test/support/wait-for';
import { openWebSocket } from '../../../test/support/ws-client';
import { createStickyHandler, type StickyHandler, type StickyHandlerOptions } from './index';

const SECRET = 'node-handler-test-secret-0123456789';

interface Gateway {
  url: string;
  handler: StickyHandler;
  close(): Promise<void>;
}

async function startGateway(options: StickyHandlerOptions): Promise<Gateway> {
  const handler = createStickyHandler(options);
  const server = http.createServer(handler);
  server.on('upgrade', handler.upgrade);
  const sockets = new Set<Socket>();
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    handler,
    close: async () => {
      const closed = new Promise((resolve) => server.close(resolve));
      for (const socket of sockets) socket.destroy();
      await closed;
      await handler.close();
    },
  };
}

describe('@stickyroute/node createStickyHandler', () => {
  let apps: LegacyApp[];
  let gateway: Gateway | undefined;

  beforeAll(async () => {
    apps = await startLegacyApps(3);
  });
  afterEach(async () => {
    await gateway?.close();
    gateway = undefined;
    for (const app of apps) await app.restart();
  });
  afterAll(async () => {
    await Promise.all(apps.map((app) => app.close()));
  });

  const start = async (options: Partial<StickyHandlerOptions> = {}) => {
    gateway = await startGateway({
      backends: apps.map((app) => app.url),
      stickiness: { type: 'lb-cookie' },
      secret: SECRET,
      ...options,
    });
    return gateway;
  };

  test('an lb-cookie client stays on one backend; new clients are balanced; the app cookies pass through', async () => {
    const { url } = await start();
    const browser = new HttpClient(url);
    const login = await browser.post('/login?user=ann');
    expect(login.setCookies.filter((c) => c.startsWith('PHPSESSID=')).length).toBe(1);
    expect(login.setCookies.filter((c) => c.startsWith('theme=')).length).toBe(1);
    const [sticky] = cookiesNamed(login, 'STICKY');
    expect(sticky?.attributes['max-age']).toBe('1200');
    const home = login.json<{ instance: string }>().instance;
    for (let i = 0; i < 6; i++) {
      const me = (await browser.get('/')).json<{ instance: string; user: string }>();
      expect(me).toMatchObject({ instance: home, user: 'ann' });
    }
    const fresh = new Set<string>();
    for (let i = 0; i < 3; i++) fresh.add((await send(`${url}/`)).json<{ instance: string }>().instance);
    expect(fresh.size).toBe(3);
  });

  test('hop-by-hop headers are dropped both ways; X-Forwarded-* come from the socket, not the client', async () => {
    const { url } = await start({ stickiness: false });
    const seen = await send(`${url}/who?q=1`, {
      headers: {
        connection: 'keep-alive, x-client-hop',
        'x-client-hop': 'secret',
        'keep-alive': 'timeout=5',
        te: 'trailers',
        'x-forwarded-for': '6.6.6.6',
        'x-forwarded-proto': 'https',
        'x-kept': 'yes',
      },
    });
    const { headers, path } = seen.json<{ headers: Record<string, string>; path: string }>();
    expect(path).toBe('/who?q=1');
    expect(headers['x-client-hop']).toBeUndefined();
    expect(headers['keep-alive']).toBeUndefined();
    expect(headers.te).toBeUndefined();
    expect(headers['x-kept']).toBe('yes');
    expect(headers['x-forwarded-for']).toBe('127.0.0.1');
    expect(headers['x-forwarded-proto']).toBe('http');
    expect(headers['x-forwarded-host']).toBe(new URL(url).host);
    const hop = await send(`${url}/hop`);
    expect(hop.status).toBe(200);
    expect(hop.headers['x-upstream-hop']).toBeUndefined();
    expect(hop.headers['keep-alive']).not.toBe('timeout=2');
  });

  test('trustProxy: true reads the first X-Forwarded-For hop and X-Forwarded-Proto', async () => {
    const { url } = await start({ trustProxy: true, stickiness: { type: 'source-ip' } });
    const seen = await send(`${url}/`, {
      headers: { 'x-forwarded-for': '203.0.113.9, 10.0.0.1', 'x-forwarded-proto': 'https' },
    });
    const { headers } = seen.json<{ headers: Record<string, string> }>();
    expect(headers['x-forwarded-for']).toBe('203.0.113.9, 10.0.0.1, 127.0.0.1');
    expect(headers['x-forwarded-proto']).toBe('https');
    // source-ip stickiness keys on the trusted client IP: the same first hop lands on the same backend.
    const again = new Set<string>();
    for (let i = 0; i < 4; i++) {
      const r = await send(`${url}/`, { headers: { 'x-forwarded-for': '203.0.113.9' } });
      again.add(r.json<{ instance: string }>().instance);
    }
    expect(again).toEqual(new Set([seen.json<{ instance: string }>().instance]));
  });

  test('lb-cookie over a trusted HTTPS hop is Secure', async () => {
    const { url } = await start({ trustProxy: true });
    const r = await send(`${url}/`, { headers: { 'x-forwarded-proto': 'https' } });
    expect(cookiesNamed(r, 'STICKY')[0]?.attributes.secure).toBe('');
    const plain = await send(`${url}/`);
    expect(cookiesNamed(plain, 'STICKY')[0]?.attributes.secure).toBeUndefined();
  });

  test('request and response bodies stream through, large and chunked', async () => {
    const { url } = await start({ stickiness: false });
    const stream = await send(`${url}/stream`);
    expect(stream.body.length).toBe(STREAM_BYTES);
    expect(createHash('sha256').update(stream.body).digest('hex')).toBe(streamSha256());
    const payload = Buffer.alloc(2 * 1024 * 1024 + 7, 'q');
    const echoed = await send(`${url}/echo`, { method: 'POST', body: Readable.from([payload]) });
    expect(echoed.headers['x-echo-length']).toBe(String(payload.length));
    expect(echoed.body.equals(payload)).toBe(true);
  });

  test('no healthy backend: 503 with Retry-After and no details', async () => {
    const { url, handler } = await start();
    for (const app of apps) handler.router.pool.markDown(app.url);
    const r = await send(`${url}/`);
    expect(r.status).toBe(503);
    expect(r.headers['retry-after']).toBe('5');
    expect(r.text).toBe('Service Unavailable\n');
  });

  test('a stuck client whose backend is refused moves and is told so', async () => {
    const { url } = await start({ healthCheck: { maxFailures: 0 } });
    const browser = new HttpClient(url);
    const home = (await browser.get('/')).json<{ instance: string }>().instance;
    const app = apps.find((a) => a.instance === home)!;
    await app.stop();
    const moved = await browser.get('/');
    expect(moved.status).toBe(200);
    const body = moved.json<{ instance: string; headers: Record<string, string> }>();
    expect(body.instance).not.toBe(home);
    expect(body.headers['x-sticky-rerouted']).toBe('1');
    expect((await browser.get('/')).json<{ instance: string }>().instance).toBe(body.instance);
  });

  test('no response headers within `timeout`: 504, and the slot is released', async () => {
    const { url, handler } = await start({ stickiness: false, timeout: '300ms' });
    const r = await send(`${url}/slow?ms=3000`);
    expect(r.status).toBe(504);
    expect(r.text).toBe('Gateway Timeout\n');
    await waitFor(() => handler.router.pool.list().every((b) => b.active === 0), 2000, 'all released');
  });

  test('an upstream that breaks mid-body cuts the client connection (no 502 after a 200)', async () => {
    const { url, handler } = await start({ stickiness: false });
    await expect(send(`${url}/close-mid-body`)).rejects.toThrow();
    await waitFor(() => handler.router.pool.list().every((b) => b.active === 0), 2000, 'released');
    expect(handler.router.stats().requests.failed).toBe(1);
  });

  test('a client that goes away mid-request releases its route and aborts the upstream', async () => {
    const { url, handler } = await start({ stickiness: false });
    const request = http.get(`${url}/slow?ms=5000`, { agent: false });
    request.on('error', () => {});
    await waitFor(() => handler.router.pool.list().some((b) => b.active === 1), 2000, 'request in flight');
    request.destroy();
    await waitFor(() => handler.router.pool.list().every((b) => b.active === 0), 2000, 'released');
    expect(handler.router.stats().requests.failed).toBe(0);
  });

  test('pools follow the router: an added backend serves, a removed one no longer does', async () => {
    const { url, handler } = await start({ backends: [apps[0]!.url], stickiness: false });
    handler.router.pool.add({ url: apps[1]!.url, id: 'b' });
    const seen = new Set<string>();
    for (let i = 0; i < 4; i++) seen.add((await send(`${url}/`)).json<{ instance: string }>().instance);
    expect(seen).toEqual(new Set(['a', 'b']));
    handler.router.pool.remove(apps[0]!.url);
    for (let i = 0; i < 3; i++)
      expect((await send(`${url}/`)).json<{ instance: string }>().instance).toBe('b');
  });

  test('WebSocket upgrades follow the same stickiness as HTTP', async () => {
    const { url } = await start();
    const browser = new HttpClient(url);
    const home = (await browser.get('/')).json<{ instance: string }>().instance;
    const cookie = browser.jar.header()!;
    for (let i = 0; i < 3; i++) {
      const ws = await openWebSocket(`${url.replace('http', 'ws')}/socket`, { headers: { cookie } });
      expect(await ws.ask('hi')).toBe(`${home}:hi`);
      const headers = JSON.parse((await ws.ask('?headers')).slice(home.length + 1)) as Record<string, string>;
      expect(headers['x-forwarded-for']).toBe('127.0.0.1');
      await ws.close();
    }
  });

  test('a WebSocket upgrade with no backend gets a 503; a refused one is retried elsewhere', async () => {
    const { url, handler } = await start({ stickiness: false, healthCheck: { maxFailures: 0 } });
    await apps[0]!.stop();
    for (let i = 0; i < 3; i++) {
      const ws = await openWebSocket(`${url.replace('http', 'ws')}/socket`);
      expect(await ws.ask('x')).toMatch(/^[bc]:x$/);
      await ws.close();
    }
    for (const app of apps) handler.router.pool.markDown(app.url);
    await expect(openWebSocket(`${url.replace('http', 'ws')}/socket`)).rejects.toThrow(/503/);
    await waitFor(() => handler.router.pool.list().every((b) => b.active === 0), 2000, 'released');
  });

  test('its own options are validated at start-up', () => {
    const backends = [apps[0]!.url];
    expect(() => createStickyHandler({ backends, trustProxy: 'yes' as unknown as boolean })).toThrow(
      StickyConfigError,
    );
    expect(() => createStickyHandler({ backends, connections: 0 })).toThrow(/connections/);
    expect(() => createStickyHandler({ backends, colour: 'red' } as StickyHandlerOptions)).toThrow(/colour/);
  });
});
