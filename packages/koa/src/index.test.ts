// What the conformance suite does not cover for the Koa adapter: its own option (`prefix`) validation, Koa
// middleware order (a request outside the prefix reaches the next middleware untouched; a body parser that ran
// before it does not starve the upstream), and that the middleware's promise settles only when the proxied
// response is over, so middleware above it can time it.

import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { StickyConfigError, type StickyRouter } from '@stickyroute/core';
import Koa from 'koa';
import { sticky } from './index';

function listen(server: http.Server): Promise<string> {
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () =>
      resolve(`http://127.0.0.1:${(server.address() as AddressInfo).port}`),
    ),
  );
}

/** Sends a WebSocket-style upgrade and resolves with the `x-saw` header of the 101. */
function upgradeThrough(url: string, forwardedFor: string): Promise<string | string[] | undefined> {
  return new Promise((resolve, reject) => {
    const headers = { connection: 'upgrade', upgrade: 'websocket', 'x-forwarded-for': forwardedFor };
    http
      .request(url, { headers, agent: false })
      .on('upgrade', (res, socket) => {
        socket.destroy();
        resolve(res.headers['x-saw']);
      })
      .on('response', (res) => reject(new Error(`upgrade answered ${res.statusCode}`)))
      .on('error', reject)
      .end();
  });
}

function request(url: string, method = 'GET', json?: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const headers = json === undefined ? {} : { 'content-type': 'application/json' };
    const req = http.request(url, { method, headers, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        body += chunk;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject).end(json);
  });
}
const get = (url: string) => request(url);

/** Every proxied exchange has been released (the upgrade sockets close asynchronously). */
async function waitForIdle(router: StickyRouter): Promise<void> {
  const deadline = Date.now() + 2000;
  while (router.stats().backends.some((b) => b.active > 0)) {
    if (Date.now() > deadline) throw new Error('a route was never released');
    await new Promise((resolve) => setImmediate(resolve));
  }
}

/** What koa-bodyparser does: read the stream, keep the text as `rawBody` (or not), parse it into `body`. */
function jsonBodyParser(keepRaw: boolean): Koa.Middleware {
  return async (ctx, next) => {
    let text = '';
    for await (const chunk of ctx.req) text += chunk;
    const request = ctx.request as { body?: unknown; rawBody?: string };
    request.body = text === '' ? {} : JSON.parse(text);
    if (keepRaw) request.rawBody = text;
    await next();
  };
}

describe('sticky() for Koa', () => {
  let backend: http.Server;
  let backendUrl: string;
  let gateway: http.Server | undefined;

  beforeAll(async () => {
    backend = http.createServer(async (req, res) => {
      let body = '';
      for await (const chunk of req) body += chunk;
      res.end(body === '' ? `backend saw ${req.url}` : `backend got ${body}`);
    });
    // A bare upgrade answer telling which X-Forwarded-For reached the backend.
    backend.on('upgrade', (req: http.IncomingMessage, socket: Duplex) => {
      const xff = req.headers['x-forwarded-for'];
      socket.end(
        `HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: upgrade\r\nx-saw: ${xff}\r\n\r\n`,
      );
    });
    backendUrl = await listen(backend);
  });

  afterEach(async () => {
    const server = gateway;
    gateway = undefined;
    if (server) await new Promise((resolve) => server.close(resolve));
  });

  afterAll(async () => {
    backend.closeAllConnections();
    await new Promise((resolve) => backend.close(resolve));
  });

  test('rejects a prefix that is not a path, naming the option', () => {
    expect(() => sticky({ backends: [backendUrl], prefix: 'app' })).toThrow(StickyConfigError);
    expect(() => sticky({ backends: [backendUrl], prefix: 'app' })).toThrow(/`prefix`/);
  });

  test('passes requests outside the prefix to the next middleware and proxies the full URL under it', async () => {
    const middleware = sticky({ backends: [backendUrl], prefix: '/app/' });
    const app = new Koa();
    app.use(middleware);
    app.use((ctx) => {
      ctx.body = `koa answered ${ctx.path}`;
    });
    gateway = http.createServer(app.callback());
    const url = await listen(gateway);

    expect(await get(`${url}/application`)).toEqual({ status: 200, body: 'koa answered /application' });
    expect(await get(`${url}/app`)).toEqual({ status: 200, body: 'backend saw /app' });
    expect(await get(`${url}/app/x?y=1`)).toEqual({ status: 200, body: 'backend saw /app/x?y=1' });
    await middleware.close();
  });

  test('the middleware settles after the proxied response is over, and releases the backend once', async () => {
    const middleware = sticky({ backends: [backendUrl] });
    const app = new Koa();
    const settled: boolean[] = [];
    app.use(async (ctx, next) => {
      await next();
      settled.push(ctx.res.writableEnded);
    });
    app.use(middleware);
    gateway = http.createServer(app.callback());
    const url = await listen(gateway);

    for (let i = 0; i < 3; i++) expect((await get(`${url}/r${i}`)).body).toBe(`backend saw /r${i}`);
    expect(settled).toEqual([true, true, true]);
    const [stats] = middleware.router.stats().backends;
    expect(stats).toMatchObject({ total: 3, active: 0 });
    await middleware.close();
  });

  test.each([
    ['keeps the raw body', true, '{"a": 1}', 'backend got {"a": 1}'],
    ['keeps only the parsed body', false, '{"a": 1}', 'backend got {"a":1}'],
  ])(
    'a body parser before the middleware (%s): the upstream still gets the body',
    async (_, keepRaw, json, answer) => {
      const middleware = sticky({ backends: [backendUrl] });
      const app = new Koa();
      app.use(jsonBodyParser(keepRaw));
      app.use(middleware);
      gateway = http.createServer(app.callback());
      const url = await listen(gateway);

      expect(await request(`${url}/orders`, 'POST', json)).toEqual({ status: 200, body: answer });
      await middleware.close();
    },
  );

  test('upgrades take the client IP as Koa does (app.proxy) once the app is known, the TCP peer before', async () => {
    const middleware = sticky({ backends: [backendUrl] });
    const app = new Koa();
    app.proxy = true;
    app.use(middleware);
    gateway = http.createServer(app.callback());
    gateway.on('upgrade', middleware.upgrade);
    const url = await listen(gateway);

    // Before any HTTP request the middleware has not met the app: the forwarded address is not trusted.
    expect(await upgradeThrough(`${url}/ws`, '203.0.113.9')).toBe('127.0.0.1');
    expect((await get(`${url}/`)).status).toBe(200);
    expect(await upgradeThrough(`${url}/ws`, '203.0.113.9')).toBe('203.0.113.9, 127.0.0.1');
    await waitForIdle(middleware.router);
    await middleware.close();
  });
});
