// Scale-down under load with drain until idle, through every adapter: 50 logged-in clients stuck to three
// backends; one backend is drained with a short `idle` (router.pool.drain(id, { idle, timeout })) while 20
// new clients arrive, and its own clients leave one by one over a phase, as users closing their tabs. Targets:
// no request fails, no session is lost (none of its clients is moved or logged out while it still comes), no
// new client is sent to it, and it is removed for being idle — not at the timeout. Measured, not asserted:
// the time from its last stuck request (as the router saw it) to its removal, which the rule puts at `idle`.
// The router runs on the real clock here: the point is real HTTP load; every wait is bounded.

import type { StartedGateway } from '../conformance/harness';
import { type LegacyApp, startLegacyApps } from '../support/legacy-app';
import { waitFor } from '../support/wait-for';
import { recordFigures } from './figures';
import { allHarnesses } from './gateways';
import { type ClientRecord, failures, homes, Load, latencyPercentile, requestCount } from './load-clients';

const CLIENTS = 50;
const LATE_CLIENTS = 20;
const PHASE_MS = Number(process.env.RELIABILITY_PHASE_MS ?? 1500);
const IDLE_MS = Number(process.env.RELIABILITY_DRAIN_IDLE_MS ?? 2000);
/** A safety net far behind the idle rule: reaching it would mean the rule failed. */
const TIMEOUT_MS = 60_000;
const SECRET = 'reliability-scale-down-secret-0123456789';
const quiet = { warn() {} };

describe.each(allHarnesses().map((h) => [h.name, h] as const))(
  'scale-down until idle: %s',
  (name, harness) => {
    let apps: LegacyApp[];
    let gateway: StartedGateway;

    beforeAll(async () => {
      apps = await startLegacyApps(3);
      gateway = await harness.start({
        backends: apps.map((app) => ({ url: app.url, id: app.instance })),
        stickiness: { type: 'lb-cookie' },
        secret: SECRET,
        logger: quiet,
      });
    });
    afterAll(async () => {
      await gateway.close();
      await Promise.all(apps.map((app) => app.close()));
    });

    test(`draining one of three backends under ${CLIENTS} clients: removed ${IDLE_MS} ms after its last client left`, async () => {
      const drained = apps[1]!.instance;
      const load = new Load(gateway.url, { postEvery: 10, login: true });
      let lastStuckAt = -1;
      let removed: { at: number; reason: string } | null = null;
      gateway.router.on('stuck', (e) => {
        if (e.backend === drained) lastStuckAt = load.now();
      });
      gateway.router.on('remove', (e) => {
        if (e.id === drained) removed = { at: load.now(), reason: e.reason };
      });
      const clients = load.spawn(CLIENTS);
      await waitFor(
        () => load.now() >= PHASE_MS / 2 && clients.every((c) => c.answers.length >= 3),
        PHASE_MS + 20_000,
        'warm-up: every client logged in and served',
      );

      const drainedAt = load.now();
      gateway.router.pool.drain(drained, { idle: `${IDLE_MS}ms`, timeout: `${TIMEOUT_MS}ms` });
      const late = load.spawn(LATE_CLIENTS);
      const itsClients = clients.filter((r) => homes(r)[0] === drained);
      // Its clients leave one by one, spread over one phase; the last one leaves at the phase's end.
      const leftAt = new Map<ClientRecord, number>();
      for (const [k, client] of itsClients.entries()) {
        const at = drainedAt + ((k + 1) * PHASE_MS) / itsClients.length;
        await waitFor(() => load.now() >= at, PHASE_MS + 5000, 'the next departure');
        load.leave([client]);
        leftAt.set(client, load.now());
      }
      await waitFor(() => removed !== null, TIMEOUT_MS + 5000, 'removal once its clients are quiet');
      const removal = removed! as { at: number; reason: string };
      const stayed = [...clients.filter((c) => !leftAt.has(c)), ...late];
      await waitFor(
        () =>
          load.now() >= removal.at + PHASE_MS / 2 &&
          stayed.every((c) => c.answers.filter((a) => a.sentAt >= removal.at).length >= 2),
        PHASE_MS + 20_000,
        'after removal',
      );
      const records = await load.stop();

      // A session is lost when one of its clients, before leaving, was answered by another backend or
      // found logged out.
      const lost = itsClients.filter((r) =>
        r.answers.some((a) => a.instance !== drained || a.loggedIn === false),
      );
      const figures = {
        adapter: name,
        clients: CLIENTS,
        lateClients: LATE_CLIENTS,
        idleMs: IDLE_MS,
        timeoutMs: TIMEOUT_MS,
        seconds: Math.round(load.now() / 100) / 10,
        requests: requestCount(records),
        failed: failures(records).length,
        stuckToDrained: itsClients.length,
        departureSpanMs: Math.max(...leftAt.values()) - drainedAt,
        sessionsLost: lost.length,
        newClientsSentToDrained: late.filter((r) => r.answers.some((a) => a.instance === drained)).length,
        otherClientsMoved: clients.filter((r) => !leftAt.has(r) && homes(r).length > 1).length,
        otherSessionsLost: stayed.filter((r) => r.answers.some((a) => a.loggedIn === false)).length,
        removalReason: removal.reason,
        lastStuckToRemovalMs: removal.at - lastStuckAt,
        drainToRemovalMs: removal.at - drainedAt,
        latencyP99Ms: latencyPercentile(records, 99),
      };
      recordFigures(`scale-down-idle-${name}`, figures);

      expect(figures.failed).toBe(0);
      expect(figures.stuckToDrained).toBeGreaterThan(0);
      expect(figures.sessionsLost).toBe(0);
      expect(figures.newClientsSentToDrained).toBe(0);
      expect(figures.otherClientsMoved).toBe(0);
      expect(figures.otherSessionsLost).toBe(0);
      expect(figures.removalReason).toBe('drain-idle');
      // Its last stuck request came before the removal (the times themselves are figures, not limits).
      expect(lastStuckAt).toBeGreaterThan(drainedAt);
      expect(removal.at).toBeGreaterThan(lastStuckAt);
    }, 120_000);
  },
);
