// The sticky-session contract, held by @stickyroute/fastify, and what only the Fastify adapter has to prove:
// the places where @fastify/reply-from would otherwise decide for us (its own retries, unverified TLS) and
// how the plugin sits inside a Fastify app (enclosing prefixes, option checks).

import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { StickyConfigError } from '@stickyroute/core';
import { type FastifyStickyOptions, sticky } from '@stickyroute/fastify';
import Fastify, { type FastifyInstance } from 'fastify';
import { send } from '../support/http-client';
import { type LegacyApp, startLegacyApp } from '../support/legacy-app';
import { makeSelfSignedCert } from '../support/self-signed-cert';
import { runStickyContract } from './contract';
import { fastifyHarness } from './harness-fastify';

runStickyContract(fastifyHarness);
runStickyContract(fastifyHarness, { transport: 'h2' });

describe('fastify: what reply-from would decide otherwise', () => {
  const quiet = { warn() {} };
  const closers: Array<() => Promise<unknown>> = [];
  afterEach(async () => {
    for (const close of closers.splice(0).reverse()) await close();
  });

  const legacy = async (instance: string, options: { https?: { key: string; cert: string } } = {}) => {
    const app = await startLegacyApp({ instance, ...options });
    closers.push(() => app.close());
    return app;
  };
  const _dead = async (): Promise<LegacyApp> => {
    const app = await legacy('dead');
    await app.stop();
    return app;
  };
  const listen = async (mount: (app: FastifyInstance) => unknown) => {
    const app = Fastify();
    closers.push(() => app.close());
    await mount(app);
    await app.listen({ host: '127.0.0.1', port: 0 });
    return { app, url: `http://127.0.0.1:${(app.server.address() as AddressInfo).port}` };
  };
  const gateway = (options: FastifyStickyOptions) =>
    listen((app) => app.register(sticky, { logger: quiet, ...options }));

  test("an app's own 503 reaches the client once: reply-from does not re-send the GET", async () => {
    let hits = 0;
    const busy = http.createServer((_req, res) => {
      hits++;
      res.writeHead(503, { 'retry-after': '0' }).end('busy');
    });
    await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve));
    closers.push(() => new Promise((resolve) => busy.close(resolve)));
    const { url } = await gateway({ backends: [`http://127.0.0.1:${(busy.address() as AddressInfo).port}`] });
    const res = await send(`${url}/`);
    expect(res.status).toBe(503);
    expect(res.text).toBe('busy');
    expect(hits).toBe(1);
  });

  test('an https backend is verified: trusted through `tls.ca`, refused without it', async () => {
    const pems = await makeSelfSignedCert();
    const secure = await legacy('tls', { https: pems });
    const trusting = await gateway({ backends: [secure.url], tls: { ca: pems.cert } });
    const res = await send(`${trusting.url}/`);
    expect(res.status).toBe(200);
    expect(res.headers['x-instance']).toBe('tls');
    const strict = await gateway({ backends: [secure.url] });
    expect((await send(`${strict.url}/`)).status).toBe(502);
  });

  test("an enclosing plugin's prefix and the plugin's own add up; the full URL and Host go upstream", async () => {
    const a = await legacy('a');
    const { url } = await listen((app) =>
      app.register((api) => api.register(sticky, { backends: [a.url], prefix: '/v1/', logger: quiet }), {
        prefix: '/api',
      }),
    );
    const res = await send(`${url}/api/v1/orders?id=3`);
    const seen = res.json<{ path: string; headers: Record<string, string> }>();
    expect(seen.path).toBe('/api/v1/orders?id=3');
    expect(seen.headers.host).toBe(new URL(url).host); // the Host the client asked for, as a cloud balancer
    expect((await send(`${url}/v1/orders`)).headers['x-instance']).toBeUndefined();
    expect((await send(`${url}/api/orders`)).headers['x-instance']).toBeUndefined();
  });

  test('two plugins side by side, each under its own prefix, proxy to their own backends', async () => {
    const [a, b] = [await legacy('a'), await legacy('b')];
    const { url } = await listen(async (app) => {
      await app.register(sticky, { backends: [a.url], prefix: '/a', logger: quiet });
      await app.register((scope, _options, done) => {
        scope.register(sticky, { backends: [b.url], prefix: '/b', logger: quiet });
        done();
      });
    });
    expect((await send(`${url}/a/x`)).headers['x-instance']).toBe('a');
    expect((await send(`${url}/b/x`)).headers['x-instance']).toBe('b');
  });

  test('a prefix that is not a path is a StickyConfigError naming it', async () => {
    const app = Fastify();
    closers.push(() => app.close());
    const error = await app.register(sticky, { backends: ['http://127.0.0.1:1'], prefix: 'api' }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(StickyConfigError);
    expect((error as StickyConfigError).option).toBe('prefix');
  });
});
