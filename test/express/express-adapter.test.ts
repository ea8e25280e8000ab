// What only the Express adapter has to prove, beyond the shared contract (test/conformance): Express's own
// mounting, body parsers in front of it, `trust proxy` for WebSocket upgrades, keep-alive to upstreams,
// its option checks, and how it answers a WebSocket whose backend is gone.

import { createHash } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { StickyConfigError, type StickyOptions } from '@stickyroute/core';
import { type StickyMiddleware, sticky } from '@stickyroute/express';
import express, { type Express } from 'express';
import { send } from '../support/http-client';
import { type LegacyApp, startLegacyApps, type WhoAmI } from '../support/legacy-app';
import { openWebSocket } from '../support/ws-client';

const SECRET = 'express-adapter-secret-0123456789';
const quiet = { warn() {} };

interface Gateway {
  url: string;
  middleware: StickyMiddleware;
  close(): Promise<void>;
}

describe('@stickyroute/express', () => {
  let apps: LegacyApp[];
  const open: Gateway[] = [];

  beforeAll(async () => {
    apps = await startLegacyApps(3);
  });
  afterEach(async () => {
    await Promise.all(open.splice(0).map((g) => g.close()));
    await Promise.all(apps.map((a) => a.restart()));
  });
  afterAll(() => Promise.all(apps.map((a) => a.close())));

  const options = (extra: Partial<StickyOptions> = {}): StickyOptions => ({
    backends: apps.map((a) => ({ url: a.url, id: a.instance })),
    secret: SECRET,
    logger: quiet,
    ...extra,
  });

  /** Serves `app` on 127.0.0.1:0 with the middleware's upgrade handler attached. */
  async function serve(app: Express, middleware: StickyMiddleware): Promise<Gateway> {
    const server = http.createServer(app);
    server.on('upgrade', middleware.upgrade);
    const sockets = new Set<Socket>();
    server.on('connection', (socket: Socket) => {
      sockets.add(socket);
      socket.once('close', () => sockets.delete(socket));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const gateway = {
      url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
      middleware,
      async close() {
        await middleware.close();
        await new Promise<void>((resolve) => {
          server.close(() => resolve());
          for (const socket of sockets) socket.destroy();
        });
      },
    };
    open.push(gateway);
    return gateway;
  }

  test("app.use('/api', sticky(…)) forwards the full original URL; the app's other routes still answer", async () => {
    const app = express();
    const middleware = sticky(options({ stickiness: { type: 'lb-cookie' } }));
    app.use('/api', middleware);
    app.get('/health', (_req, res) => {
      res.json({ gateway: true });
    });
    const gw = await serve(app, middleware);
    const proxied = await send(`${gw.url}/api/v1/orders?page=2`);
    expect(proxied.json<WhoAmI>().path).toBe('/api/v1/orders?page=2');
    expect(proxied.setCookies.some((line) => line.startsWith('STICKY='))).toBe(true);
    expect((await send(`${gw.url}/health`)).json()).toEqual({ gateway: true });
  });

  test('a JSON body parsed by express.json() in front of the middleware still reaches the upstream', async () => {
    const app = express();
    const middleware = sticky(options());
    app.use(express.json());
    app.use(middleware);
    const gw = await serve(app, middleware);
    const body = JSON.stringify({ order: 42, items: ['a', 'b'] });
    const res = await send(`${gw.url}/echo`, {
      method: 'POST',
      body,
      headers: { 'content-type': 'application/json' },
    });
    expect(res.status).toBe(200);
    expect(res.text).toBe(body);
    expect(res.headers['x-echo-sha256']).toBe(createHash('sha256').update(body).digest('hex'));
  });

  test('an Expect: 100-continue upload is forwarded with the gateway’s headers', async () => {
    const app = express();
    const middleware = sticky(options());
    app.use(middleware);
    const gw = await serve(app, middleware);
    const body = Buffer.alloc(256 * 1024, 7);
    const res = await send(`${gw.url}/echo`, { method: 'PUT', body, headers: { expect: '100-continue' } });
    expect(res.status).toBe(200);
    expect(res.headers['x-echo-length']).toBe(String(body.length));
    const seen = apps.find((a) => a.instance === res.headers['x-instance'])!.seen.at(-1)!;
    expect(seen.headers['x-forwarded-for']).toBe('127.0.0.1');
    expect(seen.headers.expect).toBeUndefined();
  });

  test('upstream connections are kept alive and reused', async () => {
    const app = express();
    const middleware = sticky(options({ backends: [{ url: apps[0]!.url, id: 'a' }] }));
    app.use(middleware);
    const gw = await serve(app, middleware);
    const before = apps[0]!.connections;
    for (let i = 0; i < 20; i++) expect((await send(`${gw.url}/`)).status).toBe(200);
    expect(apps[0]!.connections - before).toBeLessThanOrEqual(2);
    expect(apps[0]!.seen.at(-1)!.headers.connection).toBe('keep-alive');
  });

  test('WebSocket upgrades honour trust proxy: the forwarded client IP counts only when trusted', async () => {
    for (const trusted of [false, true]) {
      const app = express();
      app.set('trust proxy', trusted);
      const middleware = sticky(options({ stickiness: { type: 'source-ip' } }));
      app.use(middleware);
      const gw = await serve(app, middleware);
      const ws = await openWebSocket(`${gw.url.replace('http', 'ws')}/socket`, {
        headers: { 'x-forwarded-for': '10.1.2.3' },
      });
      try {
        const answer = await ws.ask('?headers');
        const headers = JSON.parse(answer.slice(answer.indexOf(':') + 1));
        expect(headers['x-forwarded-for']).toBe(trusted ? '10.1.2.3, 127.0.0.1' : '127.0.0.1');
      } finally {
        await ws.close();
      }
    }
  });

  test('options are checked at start-up: prefix and unknown names are StickyConfigErrors', () => {
    const attempt = (extra: Record<string, unknown>) => {
      try {
        sticky({ ...options(), ...extra } as StickyOptions);
        return undefined;
      } catch (error) {
        return error;
      }
    };
    for (const prefix of ['api', '/a b', 42]) {
      const error = attempt({ prefix });
      expect(error).toBeInstanceOf(StickyConfigError);
      expect((error as StickyConfigError).option).toBe('prefix');
    }
    expect((attempt({ prefx: '/api' }) as StickyConfigError).option).toBe('prefx');
    const ok = sticky({ ...options(), prefix: '/api/' });
    void ok.close();
  });
});
