// Scenario 3, drain under load, through every adapter: 50 clients stuck to three backends; one backend is
// drained with a timeout (router.pool.drain(id, { timeout })) while 20 new clients arrive. Targets: no
// request fails, no new client is sent to the draining backend, none of its clients moves before the
// timeout, and all of them move (once) after it, when the backend is removed.
// The drain's timeout runs on the router's injected clock: the load runs in real time for as long as it
// takes every client to be served during the drain, and then the test moves the clock to the timeout, so
// "before" and "after" it are exact and no wall-clock limit is needed.

import { withTestHooks } from '@stickyroute/core/testing';
import type { StartedGateway } from '../conformance/harness';
import { type LegacyApp, startLegacyApps } from '../support/legacy-app';
import { ManualClock } from '../support/manual-clock';
import { waitFor } from '../support/wait-for';
import { recordFigures } from './figures';
import { allHarnesses } from './gateways';
import { failures, homes, Load, latencyPercentile, requestCount } from './load-clients';

const CLIENTS = 50;
const LATE_CLIENTS = 20;
const PHASE_MS = Number(process.env.RELIABILITY_PHASE_MS ?? 1500);
const DRAIN_TIMEOUT_MS = PHASE_MS;
const SECRET = 'reliability-drain-secret-0123456789';
const quiet = { warn() {} };

describe.each(allHarnesses().map((h) => [h.name, h] as const))('drain under load: %s', (name, harness) => {
  let apps: LegacyApp[];
  let gateway: StartedGateway;
  let clock: ManualClock;

  beforeAll(async () => {
    apps = await startLegacyApps(3);
    clock = new ManualClock();
    gateway = await harness.start(
      withTestHooks(
        {
          backends: apps.map((app) => ({ url: app.url, id: app.instance })),
          stickiness: { type: 'lb-cookie' },
          secret: SECRET,
          logger: quiet,
        },
        { clock },
      ),
    );
  });
  afterAll(async () => {
    await gateway.close();
    await Promise.all(apps.map((app) => app.close()));
  });

  test(`draining one of three backends under ${CLIENTS} clients: its clients stay until the timeout`, async () => {
    const drained = apps[1]!.instance;
    const load = new Load(gateway.url, { postEvery: 10 });
    const reroutes: Array<{ at: number; from: string | null }> = [];
    let removedAt: number | null = null;
    gateway.router.on('reroute', (e: { from: string | null }) =>
      reroutes.push({ at: load.now(), from: e.from }),
    );
    gateway.router.on('remove', (e: { id: string }) => {
      if (e.id === drained) removedAt = load.now();
    });
    const clients = load.spawn(CLIENTS);
    await waitFor(
      () => load.now() >= PHASE_MS / 2 && clients.every((c) => c.answers.length >= 2),
      PHASE_MS + 20_000,
      'warm-up',
    );

    const drainedAt = load.now();
    gateway.router.pool.drain(drained, { timeout: `${DRAIN_TIMEOUT_MS}ms` });
    const late = load.spawn(LATE_CLIENTS);
    const all = [...clients, ...late];
    // The drain lasts (in real time) until every client, old and late, has been served twice during it.
    await waitFor(
      () =>
        load.now() >= drainedAt + PHASE_MS / 2 &&
        all.every((c) => c.answers.filter((a) => a.sentAt > drainedAt).length >= 2),
      PHASE_MS + 20_000,
      'served during the drain',
    );
    clock.advance(DRAIN_TIMEOUT_MS - 1);
    const removedBeforeTimeout = removedAt !== null;
    clock.advance(1);
    expect(removedBeforeTimeout).toBe(false);
    expect(removedAt).not.toBeNull();
    const removed = removedAt!;
    await waitFor(
      () =>
        load.now() >= removed + PHASE_MS / 2 &&
        all.every((c) => c.answers.filter((a) => a.sentAt >= removed).length >= 2),
      PHASE_MS + 20_000,
      'after removal',
    );
    const records = await load.stop();

    const itsClients = clients.filter((r) => homes(r)[0] === drained);
    const moved = clients.filter((r) => homes(r).length > 1);
    // A move is "before the timeout" if an answer from another backend came back before the removal.
    const movedEarly = itsClients.filter((r) =>
      r.answers.some((a) => a.doneAt < removed && a.instance !== null && a.instance !== drained),
    );
    const servedDuringDrain = itsClients.filter((r) =>
      r.answers.some((a) => a.sentAt > drainedAt && a.doneAt < removed && a.instance === drained),
    );
    const figures = {
      adapter: name,
      clients: CLIENTS,
      lateClients: LATE_CLIENTS,
      drainTimeoutMs: DRAIN_TIMEOUT_MS,
      seconds: Math.round(load.now() / 100) / 10,
      requests: requestCount(records),
      failed: failures(records).length,
      stuckToDrained: itsClients.length,
      stillServedWhileDraining: servedDuringDrain.length,
      newClientsSentToDrained: late.filter((r) => r.answers.some((a) => a.instance === drained)).length,
      movedBeforeTimeout: movedEarly.length + reroutes.filter((e) => e.at < removed).length,
      movedAfterTimeout: moved.length - movedEarly.length,
      otherClientsMoved: moved.filter((r) => homes(r)[0] !== drained).length,
      removedAtTimeoutOnClock: !removedBeforeTimeout,
      latencyP99Ms: latencyPercentile(records, 99),
    };
    recordFigures(`drain-${name}`, figures);

    expect(figures.failed).toBe(0);
    expect(figures.stuckToDrained).toBeGreaterThan(0);
    expect(figures.stillServedWhileDraining).toBe(figures.stuckToDrained);
    expect(figures.newClientsSentToDrained).toBe(0);
    expect(figures.movedBeforeTimeout).toBe(0);
    expect(figures.movedAfterTimeout).toBe(figures.stuckToDrained);
    expect(figures.otherClientsMoved).toBe(0);
    expect(moved.every((r) => homes(r).length === 2)).toBe(true);
  }, 120_000);
});
