// The Fastify adapter on its own (on 127.0.0.1, no backend ever reached: Fastify's `inject` needs an ES
// module jest cannot load): its
// options, what it adds to the instance, which requests it takes and which it leaves to the app, the
// gateway's own answers, and the limits it sets on Fastify's server. Proxying itself is the contract
// suite's (test/conformance/fastify.test.ts).

import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { StickyConfigError } from '@stickyroute/core';
import Fastify, { type FastifyInstance } from 'fastify';
import { sticky } from './index';

const BACKENDS = [
  { url: 'http://127.0.0.1:1', id: 'a' },
  { url: 'http://127.0.0.1:2', id: 'b' },
];

let apps: FastifyInstance[] = [];
afterEach(async () => {
  await Promise.all(apps.map((app) => app.close()));
  apps = [];
});

function fastify(): FastifyInstance {
  const app = Fastify();
  apps.push(app);
  return app;
}

interface Answer {
  statusCode: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** One request to `app` over a socket (it listens on first use). */
async function call(
  app: FastifyInstance,
  options: { method?: string; url: string; payload?: string },
): Promise<Answer> {
  if (!app.server.listening) await app.listen({ port: 0, host: '127.0.0.1' });
  const { port } = app.server.address() as AddressInfo;
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: '127.0.0.1', port, method: options.method ?? 'GET', path: options.url, agent: false },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          body += chunk;
        });
        res.on('end', () => resolve({ statusCode: res.statusCode ?? 0, headers: res.headers, body }));
      },
    );
    req.on('error', reject).end(options.payload);
  });
}

async function registered(options: Record<string, unknown>): Promise<unknown> {
  const app = fastify();
  return app.register(sticky, { backends: BACKENDS, ...options } as never).then(
    () => undefined,
    (error: unknown) => error,
  );
}

describe('@stickyroute/fastify on a Fastify instance', () => {
  test.each([
    ['prefix', { prefix: 'api' }],
    ['serverLimits', { serverLimits: 'none' }],
    ['serverLimits.headersTimeout', { serverLimits: { headersTimeout: 'soon' } }],
    ['tls', { tls: 'insecure' }],
    ['proxy', { proxy: true }],
    ['backends', { backends: 'http://127.0.0.1:1' }],
  ])('a wrong %s is a StickyConfigError naming it', async (option, options) => {
    const error = await registered(options);
    expect(error).toBeInstanceOf(StickyConfigError);
    expect((error as StickyConfigError).option).toBe(option);
  });

  test('the instance gets the router as `sticky`; every backend down answers 503 with Retry-After', async () => {
    const app = fastify();
    await app.register(sticky, {
      backends: BACKENDS,
      stickiness: { type: 'lb-cookie' },
      secret: 's'.repeat(32),
    });
    expect(app.sticky.stats().backends.map((b) => b.id)).toEqual(['a', 'b']);
    for (const { id } of BACKENDS) app.sticky.pool.markDown(id);
    const res = await call(app, { url: '/anything' });
    expect(res.statusCode).toBe(503);
    expect(res.headers['retry-after']).toBeDefined();
    expect(res.headers['set-cookie']).toBeUndefined();
    expect(app.sticky.stats().backends.map((b) => b.active)).toEqual([0, 0]);
  });

  test("under a prefix, the app's own routes and paths outside it stay the app's", async () => {
    const app = fastify();
    app.get('/health', async () => 'own');
    await app.register(sticky, { backends: BACKENDS, prefix: '/app' });
    for (const { id } of BACKENDS) app.sticky.pool.markDown(id);
    expect((await call(app, { url: '/health' })).body).toBe('own');
    expect((await call(app, { url: '/other' })).statusCode).toBe(404);
    expect((await call(app, { url: '/application' })).statusCode).toBe(404);
    expect((await call(app, { url: '/app' })).statusCode).toBe(503);
    expect((await call(app, { url: '/app/x?y=1' })).statusCode).toBe(503);
    expect((await call(app, { method: 'POST', url: '/app/form', payload: 'a=1' })).statusCode).toBe(503);
  });

  test("OPTIONS * is the gateway's to answer", async () => {
    const app = fastify();
    await app.register(sticky, { backends: BACKENDS });
    const res = await call(app, { method: 'OPTIONS', url: '*' });
    expect(res.statusCode).toBe(200);
    expect(res.headers.allow).toContain('GET');
  });

  test("the server limits go on Fastify's server, and `false` leaves them as Fastify made them", async () => {
    const limited = fastify();
    await limited.register(sticky, {
      backends: BACKENDS,
      serverLimits: { headersTimeout: '7s', maxConnections: 5 },
    });
    await limited.ready();
    expect(limited.server.headersTimeout).toBe(7_000);
    expect(limited.server.maxConnections).toBe(5);
    expect(limited.server.requestTimeout).toBe(120_000);

    const untouched = fastify();
    const before = untouched.server.requestTimeout;
    await untouched.register(sticky, { backends: BACKENDS, serverLimits: false });
    await untouched.ready();
    expect(untouched.server.requestTimeout).toBe(before);
  });

  test('closing the app resolves with health checks running (their timers stop with the router)', async () => {
    const app = fastify();
    await app.register(sticky, {
      backends: BACKENDS,
      healthCheck: { path: '/health', interval: '1s', timeout: '500ms' },
    });
    await app.ready();
    apps = apps.filter((a) => a !== app);
    await expect(app.close()).resolves.toBeUndefined();
  });
});
