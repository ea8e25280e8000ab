// createStatusHandler on a real node:http gateway (the node adapter, in front of real legacy apps): what it
// serves (page, JSON, metrics, the traffic chart's data), the changes it makes, and each of its protections
// — token, Host, Origin, allowed backend URLs, the warning when it is exposed without a token, bad escapes —
// each shown failing the way an attack would need it to succeed.

import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { FakeClock } from '@stickyroute/core/testing';
import { createStickyHandler, type StickyHandler } from '@stickyroute/node';
import { Registry } from 'prom-client';
import { HttpClient, type HttpResult, send } from '../../../test/support/http-client';
import { type LegacyApp, startLegacyApps } from '../../../test/support/legacy-app';
import { createStatusHandler, type StatusHandler, type StatusHandlerOptions } from './index';
import { createStatusMetrics, loadPromClient } from './status-metrics';

const SECRET = 'status-handler-test-secret-0123456789';
const TOKEN = 'status-token-0123456789';

interface Gateway {
  url: string;
  port: number;
  sticky: StickyHandler;
  status: StatusHandler;
  close(): Promise<void>;
}

let apps: LegacyApp[];
const gateways: Gateway[] = [];

beforeAll(async () => {
  apps = await startLegacyApps(2);
});
afterEach(async () => {
  await Promise.all(gateways.splice(0).map((g) => g.close()));
});
afterAll(async () => {
  await Promise.all(apps.map((app) => app.close()));
});

/** A node:http gateway with the status handler in front of the sticky handler, as the README mounts it. */
async function startGateway(
  status: Omit<StatusHandlerOptions, 'router'> = {},
  { host = '127.0.0.1', stickiness = { type: 'lb-cookie' as const } } = {},
): Promise<Gateway> {
  const sticky = createStickyHandler({ backends: apps.map((app) => app.url), stickiness, secret: SECRET });
  const handler = createStatusHandler({ router: sticky.router, ...status });
  const server = http.createServer((req, res) => handler(req, res, () => sticky(req, res)));
  const sockets = new Set<Socket>();
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  const port = (server.address() as AddressInfo).port;
  const gateway: Gateway = {
    url: `http://127.0.0.1:${port}`,
    port,
    sticky,
    status: handler,
    close: async () => {
      const closed = new Promise((resolve) => server.close(resolve));
      for (const socket of sockets) socket.destroy();
      await closed;
      handler.close();
      await sticky.close();
    },
  };
  gateways.push(gateway);
  return gateway;
}

const JSON_BODY = { 'content-type': 'application/json' };

function post(gateway: Gateway, path: string, body: unknown = {}, headers: Record<string, string> = {}) {
  return send(`${gateway.url}/__sticky${path}`, {
    method: 'POST',
    headers: { ...JSON_BODY, ...headers },
    body: JSON.stringify(body),
  });
}

interface StatusJson {
  title: string;
  stickiness: { type: string; duration?: number };
  backends: { id: string; state: string; total: number; stuckClients: number; recentRequests: number }[];
  traffic: {
    intervalSeconds: number;
    windowSeconds: number;
    series: { backend: string; perSecond: (number | null)[] }[];
  };
}

const status = async (gateway: Gateway, headers: Record<string, string> = {}) =>
  (await send(`${gateway.url}/__sticky?format=json`, { headers })).json<StatusJson>();

describe('what it serves', () => {
  test('the page, its JSON by ?format=json or Accept, and every other path to next()', async () => {
    const gateway = await startGateway({ title: 'node gateway' });
    const page = await send(`${gateway.url}/__sticky`);
    expect(page.status).toBe(200);
    expect(page.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(page.text).toContain('<svg class="chart"');
    const nonce = /<script nonce="([^"]+)">/.exec(page.text)?.[1];
    expect(nonce).toBeDefined();
    expect(page.headers['content-security-policy']).toContain(`script-src 'nonce-${nonce}'`);
    expect(page.headers['content-security-policy']).toContain("connect-src 'self'");
    expect(page.headers['content-security-policy']).toContain("frame-ancestors 'none'");
    expect(page.headers['referrer-policy']).toBe('no-referrer');
    // nothing the browser would fetch from elsewhere (the CSP would refuse it anyway)
    expect(page.text).not.toMatch(/(src|href|action)\s*=\s*["']?(https?:)?\/\/|url\(|@import/i);

    const byQuery = await status(gateway);
    expect(byQuery.title).toBe('node gateway');
    expect(byQuery.backends.map((b) => b.id)).toEqual(apps.map((app) => app.url));
    const byAccept = await send(`${gateway.url}/__sticky/`, { headers: { accept: 'application/json' } });
    expect(byAccept.json<StatusJson>().stickiness).toEqual({ type: 'lb-cookie', duration: 1200 });

    const proxied = await send(`${gateway.url}/__stickyish`);
    expect(proxied.status).toBe(200);
    expect(proxied.json<{ path: string }>().path).toBe('/__stickyish'); // the app answered
    const head = await send(`${gateway.url}/__sticky`, { method: 'HEAD' });
    expect([head.status, head.body.length]).toEqual([200, 0]);
  });

  test('the chart: requests per second per backend, one point an interval, a line per backend', async () => {
    const clock = new FakeClock(Date.UTC(2025, 0, 1));
    const gateway = await startGateway({ clock }, { stickiness: false as never });
    for (let second = 0; second < 3; second++) {
      for (let i = 0; i < 4 * (second + 1); i++) await send(`${gateway.url}/`);
      clock.advance(1000);
    }
    const { traffic } = await status(gateway);
    expect(traffic.intervalSeconds).toBe(1);
    expect(traffic.windowSeconds).toBe(300);
    expect(traffic.series.map((s) => s.backend)).toEqual(apps.map((app) => app.url));
    // round robin over two backends: half of 4, 8 and 12 requests each second
    for (const line of traffic.series) expect(line.perSecond).toEqual([2, 4, 6]);

    gateway.sticky.router.pool.remove(apps[1]!.url);
    await send(`${gateway.url}/`);
    clock.advance(1000);
    const after = (await status(gateway)).traffic.series;
    expect(after.find((s) => s.backend === apps[0]!.url)!.perSecond).toEqual([2, 4, 6, 1]);
    // the removed backend keeps its line, with no value once it is gone
    expect(after.find((s) => s.backend === apps[1]!.url)!.perSecond).toEqual([2, 4, 6, null]);
  });

  test('Prometheus metrics labelled by backend', async () => {
    const gateway = await startGateway();
    await send(`${gateway.url}/`);
    await send(`${gateway.url}/`);
    gateway.sticky.router.pool.drain(apps[1]!.url);
    const metrics = await send(`${gateway.url}/__sticky/metrics`);
    expect(metrics.status).toBe(200);
    expect(metrics.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
    const a = apps[0]!.url;
    const b = apps[1]!.url;
    expect(metrics.text).toContain(`stickyroute_backend_requests_total{backend="${a}",reason="new"} 1`);
    expect(metrics.text).toContain(`stickyroute_backend_requests_total{backend="${b}",reason="new"} 1`);
    expect(metrics.text).toContain(`stickyroute_backend_state{backend="${b}",state="draining"} 1`);
    expect(metrics.text).toContain(`stickyroute_backend_state{backend="${a}",state="draining"} 0`);
    expect(metrics.text).toContain(`stickyroute_backend_active_requests{backend="${a}"} 0`);
    expect(metrics.text).toContain(`stickyroute_backend_stuck_clients{backend="${a}"} 0`);
    expect(metrics.text).toContain('stickyroute_requests_total{reason="new"} 2');
    expect(metrics.text).toContain('stickyroute_stickiness_info{type="lb-cookie"} 1');
    for (const name of ['forged_cookies', 'store_errors', 'retries', 'upstream_failures'])
      expect(metrics.text).toContain(`stickyroute_${name}_total 0`);
  });

  test('reroutes and retries counted per backend, from the router events', async () => {
    const gateway = await startGateway();
    const browser = new HttpClient(gateway.url);
    const home = (await browser.get('/')).json<{ instance: string }>().instance;
    const homeApp = apps.find((app) => app.instance === home)!;
    gateway.sticky.router.pool.markDown(homeApp.url);
    await browser.get('/'); // moved: its backend is down
    const metrics = (await send(`${gateway.url}/__sticky/metrics`)).text;
    expect(metrics).toContain(`stickyroute_backend_reroutes_total{backend="${homeApp.url}",why="down"} 1`);

    gateway.sticky.router.pool.markUp(homeApp.url);
    await homeApp.stop(); // refused: a new client's first pick is retried on the other backend
    try {
      let retried = 0;
      for (let i = 0; i < 4; i++) {
        const answer = await send(`${gateway.url}/`);
        expect(answer.status).toBe(200);
        retried = gateway.sticky.router.stats().requests.retried;
        if (retried > 0) break;
      }
      expect(retried).toBeGreaterThan(0);
      const after = (await send(`${gateway.url}/__sticky/metrics`)).text;
      expect(after).toContain(`stickyroute_backend_retries_total{backend="${homeApp.url}"} ${retried}`);
    } finally {
      await homeApp.restart();
    }
  });

  test("metrics go into the user's registry, once: a second handler on it is a StickyConfigError", async () => {
    const register = new Registry();
    const gateway = await startGateway({ register });
    await send(`${gateway.url}/`);
    expect(await register.metrics()).toContain('stickyroute_requests_total{reason="new"} 1');
    expect(() => createStatusHandler({ router: gateway.sticky.router, register })).toThrow(
      expect.objectContaining({ name: 'StickyConfigError', option: 'register' }),
    );
  });

  test('without prom-client installed, /metrics answers 501 and says what to install', async () => {
    // The packaging test removes prom-client from a real install; here, a require that does not find it.
    const nowhere = (id: string) => {
      throw Object.assign(new Error(`Cannot find module '${id}'`), { code: 'MODULE_NOT_FOUND' });
    };
    expect(loadPromClient(nowhere)).toBeNull();
    const metrics = createStatusMetrics({} as never, { promClient: loadPromClient(nowhere) });
    const answer = await metrics.scrape();
    expect(answer.status).toBe(501);
    expect(answer.body).toContain('npm install prom-client');
    expect(() => createStatusMetrics({} as never, { promClient: null, register: new Registry() })).toThrow(
      expect.objectContaining({ name: 'StickyConfigError', option: 'register' }),
    );
    expect(loadPromClient()).not.toBeNull(); // the workspace has it: the same loader finds it
  });
});

describe('the controls', () => {
  test('drain, undrain, down, up, remove, add and stickiness, each reflected in the JSON', async () => {
    const gateway = await startGateway();
    const [a, b] = apps.map((app) => encodeURIComponent(app.url));
    const state = async (i: number) => (await status(gateway)).backends[i]?.state;
    expect((await post(gateway, `/backends/${b}/drain`, { timeout: '5m' })).json()).toMatchObject({
      ok: true,
    });
    expect(await state(1)).toBe('draining');
    await post(gateway, `/backends/${b}/undrain`);
    expect(await state(1)).toBe('healthy');
    await post(gateway, `/backends/${a}/down`);
    expect(await state(0)).toBe('down');
    await post(gateway, `/backends/${a}/up`);
    expect(await state(0)).toBe('healthy');
    const added = await post(gateway, '/backends', { url: 'http://127.0.0.1:9', id: 'spare' });
    expect(added.json()).toMatchObject({ ok: true, added: 'spare' });
    const removed = await send(`${gateway.url}/__sticky/backends/spare`, {
      method: 'DELETE',
      headers: JSON_BODY,
    });
    expect(removed.json()).toMatchObject({ ok: true, remove: 'spare' });
    expect((await status(gateway)).backends).toHaveLength(2);
    const switched = await post(gateway, '/stickiness', { type: 'source-ip', duration: '5m' });
    expect(switched.json()).toMatchObject({ stickiness: { type: 'source-ip', duration: 300 } });
    const wrong = await post(gateway, '/stickiness', { type: 'lb-cookie', duration: '5 minutes' });
    expect([wrong.status, wrong.json<{ error: string }>().error]).toEqual([
      400,
      expect.stringContaining('stickiness.duration'),
    ]);
  });

  test('refuses form posts, bad JSON, unknown backends and methods, without details', async () => {
    const gateway = await startGateway();
    const cases: [string, string, string, string, number][] = [
      ['POST', '/stickiness', 'application/x-www-form-urlencoded', 'type=off', 415],
      ['POST', '/stickiness', 'application/json', '{not json', 400],
      ['POST', '/stickiness', 'application/json', '[1]', 400],
      ['POST', '/backends/nobody/drain', 'application/json', '{}', 404],
      ['PUT', '/backends', 'application/json', '{}', 405],
      ['POST', '/stickiness', 'application/json', 'x'.repeat(10_000), 413],
    ];
    for (const [method, path, type, body, expected] of cases) {
      const answer = await send(`${gateway.url}/__sticky${path}`, {
        method,
        headers: { 'content-type': type },
        body,
      });
      expect([path, answer.status]).toEqual([path, expected]);
      expect(answer.text).not.toMatch(/\bat .*\.(js|ts):\d+/);
    }
    expect(gateway.sticky.router.getStickiness().type).toBe('lb-cookie');
  });

  test('a malformed %-escape is a 400, never a 500', async () => {
    const gateway = await startGateway();
    for (const [method, path] of [
      ['GET', '/__sticky/%E0%A4%A'],
      ['GET', '/__sticky/metrics%'],
      ['POST', '/__sticky/backends/%zz/drain'],
      ['DELETE', '/__sticky/backends/%C0'],
    ] as const) {
      // a body only where the method has one by default (node sends GET and DELETE bodies unframed)
      const body = method === 'POST' ? '{}' : undefined;
      const answer = await send(`${gateway.url}${path}`, { method, headers: JSON_BODY, body });
      expect([path, answer.status]).toEqual([path, 400]);
      expect(answer.json<{ error: string }>().error).toMatch(/%-escape/);
    }
  });
});

describe('its protections', () => {
  test('with a token, nothing answers without it, and a wrong one is refused', async () => {
    const gateway = await startGateway({ token: TOKEN });
    for (const path of ['', '?format=json', '/metrics']) {
      const refused = await send(`${gateway.url}/__sticky${path}`);
      expect(refused.status).toBe(401);
      expect(refused.headers['www-authenticate']).toMatch(/^Bearer/);
      expect(refused.text).not.toContain(apps[0]!.url);
    }
    const control = await post(gateway, `/backends/${encodeURIComponent(apps[0]!.url)}/down`);
    expect(control.status).toBe(401);
    expect(gateway.sticky.router.pool.get(apps[0]!.url)!.state).toBe('healthy');
    expect(
      (await send(`${gateway.url}/__sticky?format=json`, { headers: { authorization: 'Bearer nope' } }))
        .status,
    ).toBe(401);
    expect((await send(`${gateway.url}/__sticky?format=json&token=${TOKEN}`)).status).toBe(200);
    const allowed = await post(
      gateway,
      `/backends/${encodeURIComponent(apps[0]!.url)}/down`,
      {},
      {
        authorization: `Bearer ${TOKEN}`,
      },
    );
    expect(allowed.status).toBe(200);
    expect(() => createStatusHandler({ router: gateway.sticky.router, token: 'short' })).toThrow(/token/);
  });

  test('Host: loopback names and its own address answer; a rebound name does not, reading or changing', async () => {
    const gateway = await startGateway();
    for (const host of [
      `localhost:${gateway.port}`,
      `127.0.0.1:${gateway.port}`,
      '[::1]',
      'app.localhost',
      '127.0.0.1',
    ])
      expect([
        host,
        (await send(`${gateway.url}/__sticky?format=json`, { headers: { host } })).status,
      ]).toEqual([host, 200]);
    for (const host of [
      `evil.example:${gateway.port}`,
      'evil.example',
      '127.0.0.1.evil.example',
      'localhost.evil.example',
      'a b',
      'x/y',
    ]) {
      const read = await send(`${gateway.url}/__sticky?format=json`, { headers: { host } });
      expect([host, read.status]).toEqual([host, 403]);
      expect(read.text).not.toContain(apps[0]!.url);
      const change = await post(gateway, `/backends/${encodeURIComponent(apps[0]!.url)}/down`, {}, { host });
      expect([host, change.status]).toEqual([host, 403]);
    }
    expect(gateway.sticky.router.pool.get(apps[0]!.url)!.state).toBe('healthy');
    // the gateway itself still proxies any Host: the check is the status page's own
    expect((await send(`${gateway.url}/`, { headers: { host: 'evil.example' } })).status).toBe(200);
  });

  test('Host: the names the operator allows, exactly or by suffix, or any', async () => {
    const listed = await startGateway({ allowedHosts: ['status.example.com', '.ops.example.org'] });
    const statusOf = async (g: Gateway, host: string) =>
      (await send(`${g.url}/__sticky?format=json`, { headers: { host } })).status;
    expect(await statusOf(listed, 'status.example.com')).toBe(200);
    expect(await statusOf(listed, 'STATUS.example.com:8443')).toBe(200);
    expect(await statusOf(listed, 'gw1.ops.example.org')).toBe(200);
    expect(await statusOf(listed, 'example.com')).toBe(403);
    expect(await statusOf(listed, 'evilops.example.org')).toBe(403);
    expect(await statusOf(listed, 'localhost')).toBe(200);
    const any = await startGateway({ allowedHosts: 'any' });
    expect(await statusOf(any, 'evil.example')).toBe(200);
    expect(() =>
      createStatusHandler({ router: any.sticky.router, allowedHosts: 'status.example.com' as never }),
    ).toThrow(/allowedHosts/);
  });

  test('Origin: a change from another site is refused; the page itself and non-browsers are not', async () => {
    const gateway = await startGateway();
    const down = `/backends/${encodeURIComponent(apps[0]!.url)}/down`;
    const up = `/backends/${encodeURIComponent(apps[0]!.url)}/up`;
    const host = `127.0.0.1:${gateway.port}`;
    const refused: Record<string, string>[] = [
      { origin: 'http://evil.example' },
      { origin: `http://evil.example:${gateway.port}` },
      { origin: 'null' },
      { origin: 'not a url' },
      { origin: `http://${host}`, 'sec-fetch-site': 'cross-site' },
      { origin: `http://${host}`, 'sec-fetch-site': 'same-site' },
    ];
    for (const headers of refused) {
      const answer = await post(gateway, down, {}, headers);
      expect([headers, answer.status]).toEqual([headers, 403]);
    }
    expect(gateway.sticky.router.pool.get(apps[0]!.url)!.state).toBe('healthy');
    const page = await post(gateway, down, {}, { origin: `http://${host}`, 'sec-fetch-site': 'same-origin' });
    expect(page.status).toBe(200);
    expect(gateway.sticky.router.pool.get(apps[0]!.url)!.state).toBe('down');
    const curl = await post(gateway, up, {});
    expect(curl.status).toBe(200);
    // reading carries no Origin check: a cross-site page cannot read the answer anyway (no CORS)
    expect(
      (await send(`${gateway.url}/__sticky?format=json`, { headers: { origin: 'http://evil.example' } }))
        .status,
    ).toBe(200);
  });

  describe('backend URLs', () => {
    const add = (gateway: Gateway, url: string) => post(gateway, '/backends', { url });
    const resolveHost = async (name: string) =>
      ({ 'rebound.example': ['169.254.169.254'], 'app.internal': ['10.1.2.3'], localhost: ['127.0.0.1'] })[
        name
      ] ?? Promise.reject(new Error('ENOTFOUND'));

    test.each([
      'http://169.254.169.254/',
      'http://169.254.169.254:80',
      'http://0xa9fea9fe/',
      'http://[::ffff:169.254.169.254]/',
      'http://169.254.10.1:8080',
      'http://[fe80::1]:8080',
      'http://[fd00:ec2::254]/',
      'http://100.100.100.200/',
      'http://metadata.google.internal/',
      'http://0.0.0.0:8080',
      'http://rebound.example:8080',
      'http://nowhere.example',
      'ftp://127.0.0.1/',
      'file:///etc/passwd',
      'not a url',
    ])('refuses %s by default', async (url) => {
      const gateway = await startGateway({ resolveHost });
      const answer = await add(gateway, url);
      expect(answer.status).toBe(400);
      expect(answer.json<{ error: string }>().error).toMatch(/^refused: /);
      expect(gateway.sticky.router.pool.list()).toHaveLength(2);
    });

    test('accepts ordinary addresses and names by default', async () => {
      const gateway = await startGateway({ resolveHost });
      for (const url of [
        'http://127.0.0.1:9',
        'http://10.0.0.7:8080',
        'https://app.internal',
        'http://[fd00::7]:8080',
      ])
        expect([url, (await add(gateway, url)).status]).toEqual([url, 200]);
    });

    test('a list allows only the names and subnets it holds; any allows everything http(s)', async () => {
      const listed = await startGateway({
        resolveHost,
        allowBackends: ['10.0.0.0/8', 'backend.local', '.svc.cluster.local'],
      });
      const statusOf = async (g: Gateway, url: string) => (await add(g, url)).status;
      expect(await statusOf(listed, 'http://10.9.9.9:8080')).toBe(200);
      expect(await statusOf(listed, 'http://app.internal:8080')).toBe(200); // resolves into 10.0.0.0/8
      expect(await statusOf(listed, 'http://backend.local')).toBe(200);
      expect(await statusOf(listed, 'http://api.ns.svc.cluster.local')).toBe(200);
      expect(await statusOf(listed, 'http://127.0.0.1:9')).toBe(400);
      expect(await statusOf(listed, 'http://localhost:9')).toBe(400);
      const any = await startGateway({ resolveHost, allowBackends: 'any' });
      expect(await statusOf(any, 'http://169.254.169.254')).toBe(200);
      expect(await statusOf(any, 'ftp://127.0.0.1')).toBe(400);
      const decided = await startGateway({ allowBackends: (url) => url.port === '8080' });
      expect(await statusOf(decided, 'http://10.0.0.1:8080')).toBe(200);
      expect(await statusOf(decided, 'http://10.0.0.1:8081')).toBe(400);
      expect(() =>
        createStatusHandler({ router: any.sticky.router, allowBackends: ['10.0.0.0/40'] }),
      ).toThrow(/allowBackends/);
    });

    test("addInstance's backends are the operator's own, not checked", async () => {
      const gateway = await startGateway({
        addInstance: async () => ({ url: 'http://169.254.1.1:8080', id: 'vm' }),
      });
      expect((await post(gateway, '/backends', {})).json()).toMatchObject({ ok: true, added: 'vm' });
    });
  });

  describe('the warning about a page without a token beyond loopback', () => {
    const startWatched = async (options: Omit<StatusHandlerOptions, 'router'>, host: string) => {
      const warnings: string[] = [];
      const gateway = await startGateway({ ...options, logger: { warn: (m) => warnings.push(m) } }, { host });
      await send(`${gateway.url}/__sticky?format=json`);
      await send(`${gateway.url}/__sticky?format=json&token=${TOKEN}`);
      return warnings;
    };

    test('is given once, at the first request, when the server listens beyond loopback', async () => {
      const warnings = await startWatched({}, '0.0.0.0');
      expect(warnings).toEqual([expect.stringMatching(/no `token`.*0\.0\.0\.0.*beyond loopback/)]);
    });

    test('is not given on loopback, nor with a token', async () => {
      expect(await startWatched({}, '127.0.0.1')).toEqual([]);
      expect(await startWatched({ token: TOKEN }, '0.0.0.0')).toEqual([]);
    });
  });
});

test('a request to the page changes no counter the router shows', async () => {
  const gateway = await startGateway();
  const before = gateway.sticky.router.stats().requests.total;
  const answers: HttpResult[] = [];
  for (const path of ['', '?format=json', '/metrics'])
    answers.push(await send(`${gateway.url}/__sticky${path}`));
  expect(answers.map((a) => a.status)).toEqual([200, 200, 200]);
  expect(gateway.sticky.router.stats().requests.total).toBe(before);
});
