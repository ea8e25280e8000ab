// @stickyroute/status mounted as each README shows it, on a real gateway of every kind (Express, Koa,
// Fastify, node:http) in front of real legacy apps: the status JSON, the metrics and a control answer under
// /__sticky, and everything else (a neighbouring path too) is still proxied.

import http, { type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { StickyOptions, StickyRouter } from '@stickyroute/core';
import { sticky as expressSticky } from '@stickyroute/express';
import { sticky as fastifySticky } from '@stickyroute/fastify';
import { sticky as koaSticky } from '@stickyroute/koa';
import { createStickyHandler } from '@stickyroute/node';
import { createStatusHandler, fastifyStatus, koaStatus, type StatusHandler } from '@stickyroute/status';
import express from 'express';
import Fastify from 'fastify';
import Koa from 'koa';
import { send } from '../support/http-client';
import { type LegacyApp, startLegacyApps } from '../support/legacy-app';

interface Mounted {
  url: string;
  router: StickyRouter;
  close(): Promise<void>;
}

const SECRET = 'status-mounting-test-secret-0123456789';

function listen(server: Server): Promise<string> {
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () =>
      resolve(`http://127.0.0.1:${(server.address() as AddressInfo).port}`),
    ),
  );
}

function closeServer(server: Server): Promise<void> {
  server.closeAllConnections();
  return new Promise((resolve) => server.close(() => resolve()));
}

const mounts: Record<string, (options: StickyOptions) => Promise<Mounted>> = {
  async express(options) {
    const app = express();
    const middleware = expressSticky(options);
    const status: StatusHandler = createStatusHandler({ router: middleware.router });
    app.use(status); // before the middleware: the one line the README shows
    app.use(middleware);
    const server = http.createServer(app);
    return {
      url: await listen(server),
      router: middleware.router,
      close: async () => {
        status.close();
        await closeServer(server);
        await middleware.router.close();
      },
    };
  },
  async koa(options) {
    const app = new Koa();
    const middleware = koaSticky(options);
    const status = createStatusHandler({ router: middleware.router });
    app.use(koaStatus(status));
    app.use(middleware);
    const server = http.createServer(app.callback());
    return {
      url: await listen(server),
      router: middleware.router,
      close: async () => {
        status.close();
        await closeServer(server);
        await middleware.router.close();
      },
    };
  },
  async fastify(options) {
    const app = Fastify();
    await app.register(fastifySticky, options);
    const status = createStatusHandler({ router: app.sticky });
    await app.register(fastifyStatus(status));
    await app.listen({ host: '127.0.0.1', port: 0 });
    return {
      url: `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`,
      router: app.sticky,
      close: async () => {
        status.close();
        await app.close();
      },
    };
  },
  async node(options) {
    const handler = createStickyHandler(options);
    const status = createStatusHandler({ router: handler.router });
    const server = http.createServer((req, res) => status(req, res, () => handler(req, res)));
    return {
      url: await listen(server),
      router: handler.router,
      close: async () => {
        status.close();
        await closeServer(server);
        await handler.close();
      },
    };
  },
};

let apps: LegacyApp[];
beforeAll(async () => {
  apps = await startLegacyApps(2);
});
afterAll(async () => {
  await Promise.all(apps.map((app) => app.close()));
});

describe.each(Object.keys(mounts))('mounted in %s', (name) => {
  let gateway: Mounted;
  beforeAll(async () => {
    gateway = await mounts[name]!({
      backends: apps.map((app) => ({ url: app.url, id: app.instance })),
      stickiness: { type: 'lb-cookie' },
      secret: SECRET,
    });
  });
  afterAll(() => gateway.close());

  test('the JSON, the page and the metrics answer; other paths are proxied', async () => {
    const json = await send(`${gateway.url}/__sticky?format=json`);
    expect(json.status).toBe(200);
    expect(json.json<{ backends: { id: string }[] }>().backends.map((b) => b.id)).toEqual(['a', 'b']);
    const page = await send(`${gateway.url}/__sticky`);
    expect([page.status, page.headers['content-type']]).toEqual([200, 'text/html; charset=utf-8']);
    const proxied = await send(`${gateway.url}/__sticky-not-mine`);
    expect(proxied.json<{ path: string }>().path).toBe('/__sticky-not-mine');
    expect(proxied.setCookies.some((c) => c.startsWith('STICKY='))).toBe(true);
    const metrics = await send(`${gateway.url}/__sticky/metrics`);
    // the status requests were never routed: one proxied request, and nothing left in flight
    expect(metrics.text).toMatch(/^stickyroute_requests_total\{reason="new"\} 1$/m);
    expect(metrics.text).not.toMatch(/^stickyroute_backend_active_requests\{backend="\w"\} [1-9]/m);
  });

  test('a control changes the pool, its JSON body read by the handler itself', async () => {
    const drained = await send(`${gateway.url}/__sticky/backends/b/drain`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ timeout: '10m' }),
    });
    expect(drained.json()).toMatchObject({ ok: true, drain: 'b' });
    expect(gateway.router.pool.get('b')!.state).toBe('draining');
    gateway.router.pool.undrain('b');
    const refused = await send(`${gateway.url}/__sticky/backends/b/down`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', origin: 'http://evil.example' },
      body: '{}',
    });
    expect(refused.status).toBe(403);
    expect(gateway.router.pool.get('b')!.state).toBe('healthy');
  });
});
