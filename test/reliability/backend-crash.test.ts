// Scenario 1, backend crash under load, through every adapter: 50 clients, each stuck to a backend by the
// balancer cookie, ask in a loop (one request in ten a POST); half-way one backend's process stops (its
// port refuses connections, its open connections are dropped). Targets: no idempotent request fails, the
// clients that move are exactly those stuck to the dead backend (each moves once), detection is quick:
// counted in requests, not milliseconds: maxFailures failed requests take the dead backend down, and after
// that only requests already in flight (one per client at most) can still fail on it.
//
// The run lasts 10 s; CI runs two phases of 1.5 s per adapter (RELIABILITY_PHASE_MS=5000: 10 s).

import type { StartedGateway } from '../conformance/harness';
import { type LegacyApp, startLegacyApps } from '../support/legacy-app';
import { waitFor } from '../support/wait-for';
import { recordFigures } from './figures';
import { allHarnesses } from './gateways';
import { failures, homes, Load, latencyPercentile, requestCount } from './load-clients';

const CLIENTS = 50;
const PHASE_MS = Number(process.env.RELIABILITY_PHASE_MS ?? 1500);
const SECRET = 'reliability-crash-secret-0123456789';
/** Passive checks: consecutive failures that take a backend down (the core's default, stated here). */
const MAX_FAILURES = 3;
const quiet = { warn() {} };

describe.each(allHarnesses().map((h) => [h.name, h] as const))(
  'backend crash under load: %s',
  (name, harness) => {
    let apps: LegacyApp[];
    let gateway: StartedGateway;

    beforeAll(async () => {
      apps = await startLegacyApps(3);
      gateway = await harness.start({
        backends: apps.map((app) => ({ url: app.url, id: app.instance })),
        stickiness: { type: 'lb-cookie' },
        secret: SECRET,
        healthCheck: { maxFailures: MAX_FAILURES },
        logger: quiet,
      });
    });
    afterAll(async () => {
      await gateway.close();
      await Promise.all(apps.map((app) => app.close()));
    });

    test(`${CLIENTS} stuck clients, one backend killed mid-way: no GET fails, only its clients move`, async () => {
      const victim = apps[1]!;
      const load = new Load(gateway.url, { postEvery: 10 });
      let downAt: number | null = null;
      let downReason: string | null = null;
      const failedOnVictim = () =>
        gateway.router.stats().backends.find((b) => b.id === victim.instance)?.failed ?? 0;
      gateway.router.on('down', (e: { id: string; reason: string }) => {
        if (e.id === victim.instance && downAt === null) {
          downAt = load.now();
          downReason = e.reason;
        }
      });
      load.spawn(CLIENTS);
      const answeredSince = (since: number, n: number) =>
        load.clients.every((c) => c.answers.filter((a) => a.sentAt >= since).length >= n);
      await waitFor(() => load.now() >= PHASE_MS && answeredSince(0, 3), PHASE_MS + 20_000, 'first phase');

      const killedAt = load.now();
      const failedBeforeKill = failedOnVictim();
      await victim.stop();
      await waitFor(
        () => load.now() >= killedAt + PHASE_MS && answeredSince(killedAt, 3),
        PHASE_MS + 20_000,
        'second phase',
      );
      const records = await load.stop();
      const stats = gateway.router.stats();
      const failedOnDeadBackend = failedOnVictim() - failedBeforeKill;

      const stuckToDead = records.filter((r) => homes(r)[0] === victim.instance);
      const moved = records.filter((r) => homes(r).length > 1);
      const movedWrongly = moved.filter((r) => homes(r)[0] !== victim.instance);
      const failedGets = failures(records, 'GET');
      const failedPosts = failures(records, 'POST');
      const victimClientIds = new Set(stuckToDead.map((r) => r.id));
      const failedPostsElsewhere = records
        .filter((r) => !victimClientIds.has(r.id))
        .flatMap((r) => failures([r], 'POST'));
      const figures = {
        adapter: name,
        clients: CLIENTS,
        seconds: Math.round(load.now() / 100) / 10,
        requests: requestCount(records),
        failedIdempotent: failedGets.length,
        failedNonIdempotent: failedPosts.length,
        failedNonIdempotentOfOtherClients: failedPostsElsewhere.length,
        stuckToDeadBackend: stuckToDead.length,
        clientsMoved: moved.length,
        clientsMovedWrongly: movedWrongly.length,
        clientsMovedTwice: moved.filter((r) => homes(r).length > 2).length,
        detectionMs: downAt === null ? null : downAt - killedAt,
        requestsFailedOnDeadBackend: failedOnDeadBackend,
        detectedBy: downReason,
        retried: stats.requests.retried,
        rerouted: stats.requests.rerouted,
        latencyP50Ms: latencyPercentile(records, 50),
        latencyP99Ms: latencyPercentile(records, 99),
        latencyMaxMs: latencyPercentile(records, 100),
      };
      recordFigures(`backend-crash-${name}`, figures);

      expect(failedGets.map((a) => `${a.status} ${a.error ?? ''}`)).toEqual([]);
      // A refused POST goes elsewhere; one whose connection was cut after it went out is not replayed: only
      // clients of the dead backend may see that 502, before detection.
      expect(failedPostsElsewhere).toEqual([]);
      expect(failedPosts.every((a) => a.status === 502)).toBe(true);
      expect(stuckToDead.length).toBeGreaterThan(0);
      expect(moved.map((r) => r.id)).toEqual(stuckToDead.map((r) => r.id));
      expect(figures.clientsMovedTwice).toBe(0);
      expect(moved.every((r) => homes(r)[1] !== victim.instance)).toBe(true);
      expect(downAt).not.toBeNull();
      expect(downReason).toBe('passive');
      // maxFailures to take it down, then at most the requests its clients had in flight (one each).
      expect(failedOnDeadBackend).toBeGreaterThanOrEqual(MAX_FAILURES);
      expect(failedOnDeadBackend).toBeLessThanOrEqual(MAX_FAILURES + stuckToDead.length);
      expect(stats.backends.find((b) => b.id === victim.instance)?.state).toBe('down');
    }, 120_000);
  },
);
