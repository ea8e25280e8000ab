// Scenario 4, backend flapping, through every adapter: under load, one backend's process goes down and up
// again and again (the issue says every second; CI flaps every FLAP_MS = 250 ms, 2 × 3 times), while
// another backend leaves and rejoins the pool. Active checks run every 200 ms (down after 2 failures, up
// after 1 pass) beside the passive checks, so nearly every flap is a state change. Targets: no crash; no
// failed GET that the gateway could have served; and no growth of anything from one window of flapping to
// the next (retained heap, timers, sockets, router state).
// "Could have served": the probes share one event loop with the load, so on a loaded machine a probe of
// the stable backend can time out twice in a row and take it down. A failed GET is therefore checked
// against what the gateway had at that moment: a 503 is right only while no backend was healthy, a 502
// only while the flapper (the one backend still marked healthy) was stopped and the other two were not
// there to retry on. Any other failure fails the test, and so does every failure in a run where the
// stable backend never went down.
// A second test churns the pool by hand 10,000 times with fresh backend ids, as an autoscaler would.

import { monitorEventLoopDelay } from 'node:perf_hooks';
import { createStickyRouter } from '@stickyroute/core';
import type { StartedGateway } from '../conformance/harness';
import { send } from '../support/http-client';
import { type LegacyApp, startLegacyApps } from '../support/legacy-app';
import { waitFor } from '../support/wait-for';
import { recordFigures } from './figures';
import { allHarnesses } from './gateways';
import { mib, retainedHeap } from './heap';
import { type Answer, type ClientRecord, failures, Load, requestCount } from './load-clients';

const FLAP_MS = Number(process.env.RELIABILITY_FLAP_MS ?? 250);
const CYCLES_PER_WINDOW = Number(process.env.RELIABILITY_FLAP_CYCLES ?? 3);
const CLIENTS = 20;
const CHURN = 10_000;
const SECRET = 'reliability-flapping-secret-0123456789';
const quiet = { warn() {} };

// The flapping schedule itself: how long the backend stays down or up (not a wait for some event).
const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Handles and requests the process holds, by type (sockets, timers, …). */
function resources(): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const type of process.getActiveResourcesInfo()) counts[type] = (counts[type] ?? 0) + 1;
  return counts;
}

function total(counts: Record<string, number>): number {
  return Object.values(counts).reduce((a, b) => a + b, 0);
}

/** What the gateway had at one moment: which backends the router held healthy, and the flapper's process. */
interface Moment {
  healthy: Set<string>;
  flapperStopped: boolean;
}

/**
 * The periods (Date.now() ms) in which `holds` was true, from the changes recorded as they happened: each
 * change is the moment as it was from `at` on. A period still open at the end runs to Infinity.
 */
function periods(changes: readonly { at: number; moment: Moment }[], holds: (m: Moment) => boolean) {
  const found: { from: number; to: number }[] = [];
  let from: number | null = null;
  for (const { at, moment } of changes) {
    if (holds(moment)) from ??= at;
    else if (from !== null) {
      found.push({ from, to: at });
      from = null;
    }
  }
  if (from !== null) found.push({ from, to: Number.POSITIVE_INFINITY });
  return found;
}

describe.each(allHarnesses().map((h) => [h.name, h] as const))('backend flapping: %s', (name, harness) => {
  let apps: LegacyApp[];
  let gateway: StartedGateway;

  beforeAll(async () => {
    apps = await startLegacyApps(3);
    gateway = await harness.start({
      backends: apps.map((app) => ({ url: app.url, id: app.instance })),
      stickiness: { type: 'lb-cookie' },
      secret: SECRET,
      healthCheck: {
        path: '/health',
        interval: '200ms',
        timeout: '200ms',
        healthyThreshold: 1,
        unhealthyThreshold: 2,
      },
      logger: quiet,
    });
  });
  afterAll(async () => {
    await gateway.close();
    await Promise.all(apps.map((app) => app.close()));
  });

  test('a backend flapping under load: no crash, no failed GET, nothing grows from one window to the next', async () => {
    const router = gateway.router;
    const [stable, flapper, member] = apps as [LegacyApp, LegacyApp, LegacyApp];
    const stateChanges: string[] = [];
    // The gateway's situation over time, recorded at each change (router states and the flapper's process).
    const now: Moment = { healthy: new Set(apps.map((app) => app.instance)), flapperStopped: false };
    const situation = [{ at: Date.now(), moment: { ...now, healthy: new Set(now.healthy) } }];
    const changed = () =>
      situation.push({ at: Date.now(), moment: { ...now, healthy: new Set(now.healthy) } });
    router.on('state', (e: { id: string; to: string }) => {
      stateChanges.push(`${e.id}:${e.to}`);
      if (e.to === 'healthy') now.healthy.add(e.id);
      else now.healthy.delete(e.id);
      changed();
    });

    /** One window: CYCLES_PER_WINDOW times down and up, with the third backend removed and re-added. */
    const flapWindow = async () => {
      for (let cycle = 0; cycle < CYCLES_PER_WINDOW; cycle++) {
        // Stopping begins when stop() is called: connections are refused from then on.
        now.flapperStopped = true;
        changed();
        await flapper.stop();
        router.pool.remove(member.instance);
        await pause(FLAP_MS);
        await flapper.restart();
        now.flapperStopped = false;
        changed();
        router.pool.add({ url: member.url, id: member.instance });
        await pause(FLAP_MS);
      }
      await waitFor(
        () => router.stats().backends.every((b) => b.state === 'healthy'),
        5000,
        'all healthy again',
      );
    };
    /** The gateway at rest: no load, every route released, idle sockets given time to close. */
    const atRest = async () => {
      await waitFor(() => router.stats().backends.every((b) => b.active === 0), 5000, 'routes released');
      return { heap: retainedHeap(), resources: resources(), backends: router.stats().backends.length };
    };

    // Gateway, backends and clients share this process: its event-loop delay is what a probe waits extra.
    const loopDelay = monitorEventLoopDelay({ resolution: 10 });
    loopDelay.enable();
    const load = new Load(gateway.url);
    load.spawn(CLIENTS);
    await waitFor(() => load.clients.every((c) => c.answers.length >= 2), 10_000, 'warm-up');
    await flapWindow();
    const firstRecords = await load.stop();
    const afterFirst = await atRest();

    const second = new Load(gateway.url);
    second.spawn(CLIENTS);
    await waitFor(() => second.clients.every((c) => c.answers.length >= 2), 10_000, 'second warm-up');
    await flapWindow();
    const secondRecords = await second.stop();
    const afterSecond = await atRest();
    loopDelay.disable();

    const alive = await send(`${gateway.url}/own-route`);
    const records = [...firstRecords, ...secondRecords];
    const stats = router.stats();
    const failed = failures(records);
    // When a failure was the gateway's right answer (see the file's head).
    const noBackend = periods(situation, (m) => m.healthy.size === 0);
    const noneLeftToRetry = periods(
      situation,
      (m) => m.flapperStopped && !m.healthy.has(stable.instance) && !m.healthy.has(member.instance),
    );
    const during = (p: { from: number; to: number }[], a: Answer, startedAt: number) =>
      p.some(({ from, to }) => startedAt + a.sentAt <= to && startedAt + a.doneAt >= from);
    const unexplained = (load: Load, from: readonly ClientRecord[]) =>
      failures(from).filter(
        (a) =>
          !(a.status === 503 && during(noBackend, a, load.startedAt)) &&
          !(a.status === 502 && during(noneLeftToRetry, a, load.startedAt)),
      );
    const unservedWhenServable = [...unexplained(load, firstRecords), ...unexplained(second, secondRecords)];
    const figures = {
      adapter: name,
      flapEveryMs: FLAP_MS,
      cycles: 2 * CYCLES_PER_WINDOW,
      clients: CLIENTS,
      requests: requestCount(records),
      failedIdempotent: failed.length,
      failedWithNoHealthyBackend: failed.filter((a) => a.status === 503).length,
      failedThatCouldHaveBeenServed: unservedWhenServable.length,
      msWithNoHealthyBackend: noBackend.reduce((ms, p) => ms + Math.min(p.to, Date.now()) - p.from, 0),
      noBackendAnswers: stats.requests.noBackend,
      stateChanges: stateChanges.length,
      downsOfStableBackend: stateChanges.filter((c) => c === `${apps[0]!.instance}:down`).length,
      eventLoopDelayP99Ms: Math.round(loopDelay.percentile(99) / 1e6),
      eventLoopDelayMaxMs: Math.round(loopDelay.max / 1e6),
      retried: stats.requests.retried,
      gatewayAnswersAfter: alive.status,
      heapAfterFirstWindowMiB: mib(afterFirst.heap),
      heapAfterSecondWindowMiB: mib(afterSecond.heap),
      heapGrowthMiB: mib(afterSecond.heap - afterFirst.heap),
      activeResourcesAfterFirstWindow: total(afterFirst.resources),
      activeResourcesAfterSecondWindow: total(afterSecond.resources),
      socketsAfterFirstWindow: afterFirst.resources.TCPSocketWrap ?? 0,
      socketsAfterSecondWindow: afterSecond.resources.TCPSocketWrap ?? 0,
      timersAfterFirstWindow: afterFirst.resources.Timeout ?? 0,
      timersAfterSecondWindow: afterSecond.resources.Timeout ?? 0,
      backendsInStats: afterSecond.backends,
    };
    recordFigures(`flapping-${name}`, figures);

    expect(alive.status).toBe(200);
    // Every failed GET came while the gateway had nothing to serve it with (never while the stable backend
    // was up: then both periods are empty and every failure counts).
    expect(unservedWhenServable).toEqual([]);
    // Each cycle changes states: the member leaves and joins, and the flapper goes down and up.
    expect(figures.stateChanges).toBeGreaterThanOrEqual(2 * CYCLES_PER_WINDOW * 2);
    expect(figures.heapGrowthMiB).toBeLessThan(3);
    // Idle keep-alive sockets come and go with the load's bursts (undici pools open up to one per in-flight
    // request, within their bound); the other handles and the timers must not pile up from window to window.
    const nonSockets = (n: number, sockets: number) => n - sockets;
    expect(
      nonSockets(figures.activeResourcesAfterSecondWindow, figures.socketsAfterSecondWindow),
    ).toBeLessThanOrEqual(
      nonSockets(figures.activeResourcesAfterFirstWindow, figures.socketsAfterFirstWindow) + 10,
    );
    // 20 clients' connections plus a keep-alive pool per backend: a bound, not a trend.
    expect(figures.socketsAfterSecondWindow).toBeLessThanOrEqual(figures.socketsAfterFirstWindow + 40);
    expect(figures.timersAfterSecondWindow).toBeLessThanOrEqual(figures.timersAfterFirstWindow + 3);
    expect(figures.backendsInStats).toBe(3);
  }, 120_000);
});

describe('pool churn through the core router', () => {
  test(`${CHURN.toLocaleString('en')} backends added and removed with fresh ids leave nothing behind`, () => {
    const router = createStickyRouter({
      backends: ['http://127.0.0.1:9201', 'http://127.0.0.1:9202'],
      stickiness: { type: 'lb-cookie' },
      secret: SECRET,
      logger: quiet,
    });
    let next = 0;
    /** An autoscaler's churn: each backend joins, half of them drain first, then each leaves. */
    const churn = (count: number) => {
      for (const end = next + count; next < end; next++) {
        const id = `autoscaled-${next}`;
        router.pool.add({ url: `http://10.${(next >>> 8) & 255}.${next & 255}.1:8080`, id });
        if (next % 2 === 0) router.pool.drain(id, { timeout: '1s' });
        router.pool.remove(id);
      }
    };
    churn(CHURN / 5);
    const before = retainedHeap();
    churn(CHURN);
    const growth = retainedHeap() - before;
    const stats = router.stats();
    void router.close();
    recordFigures('pool-churn', {
      backendsAddedAndRemoved: CHURN,
      heapGrowthMiB: mib(growth),
      bytesPerChurnedBackend: Math.round(growth / CHURN),
      backendsLeft: stats.backends.length,
    });
    expect(stats.backends.length).toBe(2);
    // A leak of the per-backend token cache was ~215 bytes per backend.
    expect(growth / CHURN).toBeLessThan(40);
  }, 60_000);
});
