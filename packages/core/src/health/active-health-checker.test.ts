// Active health checks on the injected clock with an injected probe: thresholds mark backends down and
// up, new members are checked and removed ones are not, close() stops everything. The real HTTP probe is
// checked against servers on 127.0.0.1.

import { once } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { StickyRouter } from '../router';
import { FakeClock, flushPromises } from '../testing/fake-clock';
import { request } from '../testing/requests';
import { steps } from '../testing/router-steps';
import { withTestHooks } from '../testing-hooks';
import { type HealthProbe, httpProbe } from './active-health-checker';

const BACKENDS = [
  { url: 'http://10.0.0.1:8080', id: 'a' },
  { url: 'http://10.0.0.2:8080', id: 'b' },
];

function setup(answer: (url: string) => number | Promise<number>) {
  const clock = new FakeClock();
  const probed: string[] = [];
  const probe: HealthProbe = async (url, timeoutMs) => {
    probed.push(`${url.href} ${timeoutMs}`);
    return answer(url.href);
  };
  const router = new StickyRouter(
    withTestHooks(
      {
        backends: BACKENDS,
        healthCheck: {
          path: '/health',
          interval: '10s',
          timeout: '2s',
          healthyThreshold: 3,
          unhealthyThreshold: 2,
        },
      },
      { clock },
    ),
    { probe },
  );
  const events: string[] = [];
  router.on('down', (e) => events.push(`down ${e.id} ${e.reason}`));
  router.on('up', (e) => events.push(`up ${e.id} ${e.reason}`));
  /** Runs the checks due in the next `ms` and lets their probes answer. */
  const tick = async (ms: number) => {
    clock.advance(ms);
    await flushPromises();
  };
  return { clock, router, probed, events, tick };
}

describe('ActiveHealthChecker', () => {
  it('probes every backend at once, then every interval, at the path with the timeout', async () => {
    const { router, probed, tick } = setup(() => 200);
    await tick(0);
    expect(probed.sort()).toEqual(['http://10.0.0.1:8080/health 2000', 'http://10.0.0.2:8080/health 2000']);
    await tick(9_999);
    expect(probed).toHaveLength(2);
    await tick(1);
    expect(probed).toHaveLength(4);
    await router.close();
  });

  it('marks a backend down after unhealthyThreshold failures and up after healthyThreshold passes', async () => {
    let status = 200;
    const { router, events, tick } = setup((url) => (url.includes('10.0.0.1') ? status : 200));
    await tick(0);
    status = 503;
    await tick(10_000);
    expect(router.pool.get('a')!.state).toBe('healthy');
    await tick(10_000);
    expect(router.pool.get('a')!.state).toBe('down');
    expect(events).toEqual(['down a health-check']);
    for (let i = 0; i < 5; i++) {
      const route = await router.route(request());
      expect(route.backend!.id).toBe('b');
      steps(router).release(route);
    }
    status = 200;
    await tick(10_000);
    await tick(10_000);
    expect(router.pool.get('a')!.state).toBe('down');
    await tick(10_000);
    expect(router.pool.get('a')!.state).toBe('healthy');
    expect(events).toEqual(['down a health-check', 'up a health-check']);
    await router.close();
  });

  it('counts a probe that fails to connect or times out as a failure; a pass in between resets the count', async () => {
    const answers = [
      Promise.reject(new Error('ECONNREFUSED')),
      Promise.resolve(200),
      Promise.reject(new Error('t')),
      Promise.resolve(404),
    ];
    for (const a of answers) a.catch(() => {});
    let n = 0;
    const { router, tick } = setup((url) =>
      url.includes('10.0.0.1') ? answers[n++ % answers.length]! : 200,
    );
    await tick(0); // fails
    await tick(10_000); // passes: the count starts over
    expect(router.pool.get('a')!.state).toBe('healthy');
    await tick(10_000); // fails
    await tick(10_000); // 404 fails (matcher 200-399)
    expect(router.pool.get('a')!.state).toBe('down');
    await router.close();
  });

  it('checks backends added later, stops checking removed ones, and close() stops every timer', async () => {
    let pending: ((status: number) => void) | undefined;
    const { clock, router, probed, events, tick } = setup((url) =>
      url.includes('10.0.0.9') ? new Promise<number>((resolve) => (pending = resolve)) : 200,
    );
    await tick(0);
    router.pool.add({ url: 'http://10.0.0.9:8080', id: 'late' });
    await tick(0);
    expect(probed.some((p) => p.startsWith('http://10.0.0.9:8080/health'))).toBe(true);
    // Removed while its probe is in flight: the late answer changes nothing and schedules nothing.
    router.pool.remove('late');
    pending!(500);
    await flushPromises();
    expect(events).toEqual([]);
    expect(clock.pending).toBe(2);
    await router.close();
    expect(clock.pending).toBe(0);
  });

  it('with active checks on, a passively failed backend waits for the checks (no cooldown timer)', async () => {
    const { clock, router, tick } = setup(() => 200);
    await tick(0);
    const refused = Object.assign(new Error('refused'), { code: 'ECONNREFUSED' });
    for (let i = 0; i < 6; i++) {
      const route = await router.route(request());
      await steps(router).failover(route, { error: refused, responseStarted: true });
    }
    expect(router.pool.get('a')!.state).toBe('down');
    expect(clock.pending).toBe(2); // the two check timers, no cooldown
    for (let i = 0; i < 5; i++) await tick(10_000);
    expect(router.pool.get('a')!.state).toBe('healthy');
    await router.close();
  });
});

describe('ActiveHealthChecker at its edges', () => {
  it('a backend whose very first probes fail is marked down after unhealthyThreshold of them', async () => {
    const { router, tick } = setup((url) => (url.includes('10.0.0.1') ? 503 : 200));
    await tick(0);
    expect(router.pool.get('a')!.state).toBe('healthy');
    await tick(10_000);
    expect(router.pool.get('a')!.state).toBe('down');
    await router.close();
  });

  it('a backend added later is probed at once, and the others are not probed again before their interval', async () => {
    const { router, probed, tick } = setup(() => 200);
    await tick(0);
    await tick(4_000);
    probed.length = 0;
    router.pool.add({ url: 'http://10.0.0.9:8080', id: 'late' });
    await tick(0);
    expect(probed).toEqual(['http://10.0.0.9:8080/health 2000']);
    await tick(6_000);
    expect(probed.sort()).toEqual([
      'http://10.0.0.1:8080/health 2000',
      'http://10.0.0.2:8080/health 2000',
      'http://10.0.0.9:8080/health 2000',
    ]);
    await router.close();
  });

  it('after close(), a backend added probes nothing', async () => {
    const { router, probed, tick, clock } = setup(() => 200);
    await tick(0);
    await router.close();
    probed.length = 0;
    router.pool.add({ url: 'http://10.0.0.9:8080', id: 'late' });
    await tick(60_000);
    expect(probed).toEqual([]);
    expect(clock.pending).toBe(0);
  });

  it('passes while a backend is healthy do not count towards its recovery once passive checks take it down', async () => {
    const { router, tick } = setup(() => 200);
    await tick(0);
    for (let i = 0; i < 4; i++) await tick(10_000);
    const refused = Object.assign(new Error('refused'), { code: 'ECONNREFUSED' });
    for (let i = 0; i < 6; i++) {
      const route = await router.route(request());
      await steps(router).failover(route, { error: refused, responseStarted: true });
    }
    expect(router.pool.get('a')!.state).toBe('down');
    await tick(10_000);
    await tick(10_000);
    expect(router.pool.get('a')!.state).toBe('down');
    await tick(10_000);
    expect(router.pool.get('a')!.state).toBe('healthy');
    await router.close();
  });
});

describe('httpProbe', () => {
  const servers: http.Server[] = [];
  afterAll(async () => {
    for (const s of servers) {
      s.closeAllConnections();
      await new Promise((resolve) => s.close(resolve));
    }
  });

  async function listen(handler: http.RequestListener): Promise<URL> {
    const server = http.createServer(handler);
    servers.push(server);
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    return new URL(`http://127.0.0.1:${(server.address() as AddressInfo).port}/health`);
  }

  it('resolves to the status the backend answers', async () => {
    const seen: string[] = [];
    const url = await listen((req, res) => {
      seen.push(`${req.method} ${req.url} ${req.headers['user-agent']}`);
      res.writeHead(req.url === '/health' ? 204 : 404).end();
    });
    expect(await httpProbe()(url, 1_000)).toBe(204);
    expect(seen).toEqual(['GET /health stickyroute-health-check']);
  });

  it('opens a connection per probe (Connection: close), and speaks TLS to an https URL', async () => {
    const connections: (string | undefined)[] = [];
    const url = await listen((req, res) => {
      connections.push(req.headers.connection);
      res.writeHead(200).end();
    });
    expect(await httpProbe()(url, 1_000)).toBe(200);
    expect(connections).toEqual(['close']);
    // The same plain-HTTP server named by https: the TLS handshake fails, so nothing is counted as a pass.
    const tlsUrl = new URL(url.href.replace('http:', 'https:'));
    await expect(httpProbe()(tlsUrl, 1_000)).rejects.toHaveProperty('code');
    expect(connections).toEqual(['close']);
  });

  it('rejects when the connection is refused', async () => {
    const url = await listen(() => {});
    const closed = servers.pop()!;
    await new Promise((resolve) => closed.close(resolve));
    await expect(httpProbe()(url, 1_000)).rejects.toMatchObject({ code: 'ECONNREFUSED' });
  });

  it('rejects with ETIMEDOUT when the backend does not answer within the timeout', async () => {
    const url = await listen(() => {
      // never answers
    });
    await expect(httpProbe()(url, 100)).rejects.toMatchObject({
      code: 'ETIMEDOUT',
      message: 'health check timed out',
    });
  });
});
