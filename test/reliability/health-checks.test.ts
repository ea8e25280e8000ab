// The health-check part of issue 5's "Build" list, against real backends: active checks run on the clock
// (never on the request path), count ELB-style thresholds, are stopped by router.close() (a probe in
// flight included), and a backend that passive checks took down comes back only through fresh passing
// active checks. The core's own unit tests cover the rest of the list (retry rules, drain, slow start,
// events, stats) with a fake clock; the load scenarios next to this file measure them over HTTP.

import net, { type Socket } from 'node:net';
import { type StickyOptions, StickyRouter } from '@stickyroute/core';
import { withTestHooks } from '@stickyroute/core/testing';
import { type HealthProbe, httpProbe } from '../../packages/core/src/health/active-health-checker';
import { steps } from '../../packages/core/src/testing/router-steps';
import { type LegacyApp, startLegacyApps } from '../support/legacy-app';
import { ManualClock } from '../support/manual-clock';
import { waitFor } from '../support/wait-for';

const SECRET = 'reliability-health-secret-0123456789';
const INTERVAL_MS = 1000;
const quiet = { warn() {} };

/** The real HTTP probe, counted: how many were started and how many have settled. */
function countingProbe() {
  const counts = { started: 0, settled: 0 };
  const probe: HealthProbe = (url, timeoutMs, signal) => {
    counts.started++;
    return httpProbe()(url, timeoutMs, signal).finally(() => {
      counts.settled++;
    });
  };
  return { counts, probe };
}

describe('active and passive health checks against real backends', () => {
  let apps: LegacyApp[];
  let clock: ManualClock;
  let router: StickyRouter;
  let counts: { started: number; settled: number };

  /** Moves the clock one check interval on and waits until every probe started has settled. */
  async function checkRound(): Promise<void> {
    clock.advance(INTERVAL_MS);
    await waitFor(() => counts.settled === counts.started, 3000, 'probes settled');
  }

  beforeAll(async () => {
    apps = await startLegacyApps(2);
  });
  afterAll(async () => {
    await Promise.all(apps.map((app) => app.close()));
  });
  beforeEach(async () => {
    await Promise.all(apps.map((app) => app.restart()));
    clock = new ManualClock();
    const counting = countingProbe();
    counts = counting.counts;
    const options: StickyOptions = {
      backends: apps.map((app) => ({ url: app.url, id: app.instance })),
      stickiness: { type: 'lb-cookie' },
      secret: SECRET,
      healthCheck: {
        path: '/health',
        interval: INTERVAL_MS / 1000,
        timeout: 0.5,
        healthyThreshold: 2,
        unhealthyThreshold: 2,
        maxFailures: 3,
      },
      logger: quiet,
    };
    router = new StickyRouter(withTestHooks(options, { clock, probe: counting.probe }));
  });
  afterEach(async () => {
    await router.close();
  });

  const stateOf = (id: string) => router.stats().backends.find((b) => b.id === id)?.state;

  test('checks run on the clock, one per backend per interval, never because of a request', async () => {
    for (let i = 0; i < 50; i++)
      steps(router).release(
        await router.route({ method: 'GET', url: '/', headers: {}, ip: '127.0.0.1', secure: false }),
      );
    expect(counts.started).toBe(0);
    clock.advance(0);
    await waitFor(() => counts.settled === 2, 3000, 'first round');
    await checkRound();
    await checkRound();
    expect(counts.started).toBe(6);
    expect(apps.map((app) => app.seen.filter((r) => r.url === '/health').length)).toEqual([3, 3]);
  });

  test('unhealthyThreshold failures take a stopped backend down; healthyThreshold passes bring it back', async () => {
    const events: string[] = [];
    router.on('state', (e: { id: string; from: string; to: string }) =>
      events.push(`${e.id}:${e.from}->${e.to}`),
    );
    router.on('down', (e: { reason: string }) => events.push(`down:${e.reason}`));
    router.on('up', (e: { reason: string }) => events.push(`up:${e.reason}`));
    clock.advance(0);
    await waitFor(() => counts.settled === 2, 3000, 'first round');
    await apps[1]!.stop();
    await checkRound();
    expect(stateOf('b')).toBe('healthy');
    await checkRound();
    expect(stateOf('b')).toBe('down');
    await apps[1]!.restart();
    await checkRound();
    expect(stateOf('b')).toBe('down');
    await checkRound();
    expect(stateOf('b')).toBe('healthy');
    expect(events).toEqual(['down:health-check', 'b:healthy->down', 'up:health-check', 'b:down->healthy']);
  });

  test('a backend taken down by passive checks needs healthyThreshold fresh passes to come back', async () => {
    clock.advance(0);
    await waitFor(() => counts.settled === 2, 3000, 'first round');
    await checkRound();
    await checkRound(); // b has passed three checks in a row while healthy
    const refused = Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
    for (let i = 0; i < 3; i++) {
      const route = await router.route({
        method: 'POST',
        url: '/',
        headers: {},
        ip: '127.0.0.1',
        secure: false,
      });
      const b = router.pool.get('b')!;
      await steps(router).failover({ ...route, backend: b }, { error: refused });
    }
    expect(stateOf('b')).toBe('down');
    await checkRound();
    expect(stateOf('b')).toBe('down');
    await checkRound();
    expect(stateOf('b')).toBe('healthy');
  });

  test('router.close() stops the checks, and abandons a probe that is waiting for an answer', async () => {
    // A backend that accepts connections and never answers: its probe would wait for its 5 s timeout.
    const held = new Set<Socket>();
    const silent = net.createServer((socket) => {
      held.add(socket);
      socket.resume();
      socket.on('close', () => held.delete(socket));
    });
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const port = (silent.address() as net.AddressInfo).port;
    const own = countingProbe();
    const slowChecks = new StickyRouter(
      withTestHooks(
        {
          backends: [{ url: `http://127.0.0.1:${port}`, id: 'silent' }],
          healthCheck: { path: '/health', interval: 10, timeout: 5 },
          logger: quiet,
        },
        { clock, probe: own.probe },
      ),
    );
    try {
      clock.advance(0);
      await waitFor(() => held.size === 1, 3000, 'probe connected to the silent backend');
      const closedAt = Date.now();
      await slowChecks.close();
      await waitFor(() => held.size === 0, 4000, 'probe socket closed');
      expect(Date.now() - closedAt).toBeLessThan(1000);
      clock.advance(60_000);
      expect(own.counts.started).toBe(1);
    } finally {
      await slowChecks.close();
      for (const socket of held) socket.destroy();
      await new Promise<void>((resolve) => silent.close(() => resolve()));
    }
  });
});
