// The demo's status page as machines use it (the browser suite sees it as people do): the JSON, the
// Prometheus metrics, the changes to the pool and to the stickiness, its protection (token, JSON-only
// changes, a listener of its own) and its count of stuck clients. A real Express gateway built by the
// demo's gateway.js in front of real instances of the demo's legacy app, all in this process.

import type { Server } from 'node:http';
import type { StickyOptions, StickyRouter } from '@stickyroute/core';
import { HttpClient, send } from '../support/http-client';

interface Gateway {
  url: string;
  statusUrl: string | null;
  router: StickyRouter;
  close(): Promise<void>;
}
const { startGateway } = require('../../examples/demo/gateway') as {
  startGateway(options: {
    framework?: string;
    port?: number;
    stickyOptions: StickyOptions;
    status?: false | { token?: string; port?: number };
    addInstance?: () => Promise<{ url: string; id?: string }>;
  }): Promise<Gateway>;
};
const { listenLegacyApp } = require('../../examples/demo/app') as {
  listenLegacyApp(options: { instance: number }): Promise<{ server: Server; url: string }>;
};

interface StatusJson {
  stickiness: { type: string; duration?: number };
  backends: { id: string; state: string; stuckClients: number; total: number; share: number }[];
}

const TOKEN = 'open-sesame-0123456789';
const SECRET = 'status-page-test-secret-0123456789';
const apps: Server[] = [];

async function legacyApp(instance: number): Promise<{ id: string; url: string }> {
  const { server, url } = await listenLegacyApp({ instance });
  apps.push(server);
  return { id: `instance-${instance}`, url };
}

afterAll(async () => {
  await Promise.all(apps.map((server) => new Promise((done) => server.close(done))));
});

describe('status page on the gateway, behind a token', () => {
  let gateway: Gateway;
  const auth = { authorization: `Bearer ${TOKEN}` };
  const json = { ...auth, 'content-type': 'application/json' };
  const status = async (): Promise<StatusJson> =>
    (await send(`${gateway.statusUrl}?format=json`, { headers: auth })).json<StatusJson>();

  beforeAll(async () => {
    const backends = [await legacyApp(1), await legacyApp(2)];
    let next = 3;
    gateway = await startGateway({
      port: 0,
      stickyOptions: { backends, stickiness: { type: 'lb-cookie', duration: '20m' }, secret: SECRET },
      status: { token: TOKEN },
      addInstance: () => legacyApp(next++),
    });
  });
  afterAll(() => gateway.close());

  test('answers nothing without the token, HTML and JSON with it', async () => {
    for (const path of ['', '?format=json', '/metrics']) {
      const refused = await send(`${gateway.statusUrl}${path}`);
      expect(refused.status).toBe(401);
      expect(refused.headers['www-authenticate']).toMatch(/^Bearer/);
      expect(refused.text).not.toContain('instance-1');
    }
    expect(
      (await send(`${gateway.statusUrl}?format=json`, { headers: { authorization: 'Bearer nope' } })).status,
    ).toBe(401);
    const page = await send(`${gateway.statusUrl}?token=${TOKEN}`);
    expect(page.status).toBe(200);
    expect(page.headers['content-type']).toMatch(/^text\/html/);
    expect(page.text).toContain('"canAddInstance":true'); // the page's config, from the gateway's options
    const byAccept = await send(gateway.statusUrl!, { headers: { ...auth, accept: 'application/json' } });
    expect(byAccept.json<StatusJson>().backends.map((b) => b.id)).toEqual(['instance-1', 'instance-2']);
  });

  test('counts a client as stuck once it comes back with its cookie; cookieless clients never', async () => {
    const browser = new HttpClient(gateway.url);
    const first = await browser.get('/');
    expect(first.text).toMatch(/Instance Number \d/);
    for (let i = 0; i < 3; i++) await send(`${gateway.url}/`); // cookieless: balanced, never stuck
    const home = /Instance Number (\d)/.exec(first.text)![1];
    expect((await status()).backends.every((b) => b.stuckClients === 0)).toBe(true);
    await browser.get('/');
    const stuck = (await status()).backends.map((b) => [b.id, b.stuckClients]);
    expect(stuck).toEqual([
      ['instance-1', home === '1' ? 1 : 0],
      ['instance-2', home === '2' ? 1 : 0],
    ]);
    const s = await status();
    expect(s.backends.reduce((sum, b) => sum + b.share, 0)).toBeCloseTo(1, 5);
  });

  test('drains, undrains, adds, removes and marks down; the JSON and the metrics follow', async () => {
    const post = (path: string, body: unknown = {}) =>
      send(`${gateway.statusUrl}${path}`, { method: 'POST', headers: json, body: JSON.stringify(body) });

    expect((await post('/backends/instance-2/drain', { timeout: '5m' })).json()).toMatchObject({
      ok: true,
      drain: 'instance-2',
    });
    expect((await status()).backends[1]!.state).toBe('draining');
    const metrics = await send(`${gateway.statusUrl}/metrics`, { headers: auth });
    expect(metrics.headers['content-type']).toMatch(/^text\/plain/);
    expect(metrics.text).toMatch(/^stickyroute_backend_state\{backend="instance-2",state="draining"\} 1$/m);
    expect(metrics.text).toMatch(/^stickyroute_stickiness_info\{type="lb-cookie"\} 1$/m);
    await post('/backends/instance-2/undrain');
    expect((await status()).backends[1]!.state).toBe('healthy');

    const added = (await post('/backends')).json<{ added: string }>();
    expect(added.added).toBe('instance-3');
    expect((await status()).backends.map((b) => b.id)).toEqual(['instance-1', 'instance-2', 'instance-3']);
    await post('/backends/instance-3/down');
    expect((await status()).backends[2]!.state).toBe('down');
    const removed = await send(`${gateway.statusUrl}/backends/instance-3`, {
      method: 'DELETE',
      headers: json,
    });
    expect(removed.json()).toMatchObject({ ok: true, remove: 'instance-3' });
    expect(gateway.router.pool.get('instance-3')).toBeUndefined();
  });

  test('switches stickiness off and on at run time, validated like start-up', async () => {
    const post = (body: unknown) =>
      send(`${gateway.statusUrl}/stickiness`, { method: 'POST', headers: json, body: JSON.stringify(body) });
    expect((await post({ type: 'off' })).status).toBe(200);
    expect(gateway.router.getStickiness().type).toBe('off');
    const proxied = await send(`${gateway.url}/`);
    expect(proxied.setCookies.filter((c) => c.startsWith('STICKY='))).toEqual([]);

    const tooShort = await post({ type: 'lb-cookie', duration: '5s' });
    expect(tooShort.status).toBe(400);
    expect(tooShort.json<{ error: string }>().error).toContain('stickiness.duration');
    expect(gateway.router.getStickiness().type).toBe('off');

    expect((await post({ type: 'source-ip', duration: '5m' })).json()).toMatchObject({
      stickiness: { type: 'source-ip', duration: 300 },
    });
    expect((await post({ type: 'lb-cookie', duration: '15m' })).status).toBe(200);
    expect((await status()).stickiness).toEqual({ type: 'lb-cookie', duration: 900 });
  });

  test('refuses form posts, bad JSON, unknown backends and methods, without details', async () => {
    const form = await send(`${gateway.statusUrl}/backends/instance-1/drain`, {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/x-www-form-urlencoded' },
      body: 'timeout=1m',
    });
    expect(form.status).toBe(415);
    const cases: [string, string, string, number][] = [
      ['POST', '/stickiness', '{not json', 400],
      ['POST', '/stickiness', '[1]', 400],
      ['POST', '/backends/nobody/drain', '{}', 404],
      ['POST', '/backends/instance-1/explode', '{}', 404],
      ['POST', '/backends', '{"url":"ftp://x"}', 400],
      ['PUT', '/backends', '{}', 405],
      ['POST', '/stickiness', 'x'.repeat(10_000), 413],
    ];
    for (const [method, path, body, expected] of cases) {
      const answer = await send(`${gateway.statusUrl}${path}`, { method, headers: json, body });
      expect([path, answer.status]).toEqual([path, expected]);
      expect(answer.text).not.toMatch(/\bat .*\.(js|ts):\d+/);
    }
    expect(gateway.router.pool.get('instance-1')!.state).toBe('healthy');
  });
});

describe('status page on a listener of its own', () => {
  let gateway: Gateway;
  beforeAll(async () => {
    gateway = await startGateway({
      port: 0,
      stickyOptions: { backends: [(await legacyApp(9)).url], stickiness: false },
      status: { port: 0 },
    });
  });
  afterAll(() => gateway.close());

  test('the gateway proxies /__sticky like any path; the status listener serves it', async () => {
    expect(new URL(gateway.statusUrl!).port).not.toBe(new URL(gateway.url).port);
    const proxied = await send(`${gateway.url}/__sticky?format=json`);
    expect(proxied.status).toBe(404); // the app's own 404: the gateway does not serve the page here
    expect(proxied.text).not.toContain('backends');
    const own = await send(`${gateway.statusUrl}?format=json`);
    expect(own.json<StatusJson>().stickiness).toEqual({ type: 'off' });
    const refusedAdd = await send(`${gateway.statusUrl}/backends`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{}',
    });
    expect(refusedAdd.status).toBe(400); // no addInstance here: a URL is needed
  });
});
