// Scenario 2, scale-up under load, through every adapter: 50 clients stuck to two backends; two more
// backends join mid-run (router.pool.add), then 20 new clients arrive. Target: no stuck client moves; the
// new backends take new clients.

import type { StartedGateway } from '../conformance/harness';
import { type LegacyApp, startLegacyApps } from '../support/legacy-app';
import { waitFor } from '../support/wait-for';
import { recordFigures } from './figures';
import { allHarnesses } from './gateways';
import { failures, homes, Load, latencyPercentile, requestCount } from './load-clients';

const CLIENTS = 50;
const LATE_CLIENTS = 20;
const PHASE_MS = Number(process.env.RELIABILITY_PHASE_MS ?? 1500) / 3;
const SECRET = 'reliability-scale-secret-0123456789';
const quiet = { warn() {} };

describe.each(allHarnesses().map((h) => [h.name, h] as const))('scale-up under load: %s', (name, harness) => {
  let apps: LegacyApp[];
  let gateway: StartedGateway;

  beforeAll(async () => {
    apps = await startLegacyApps(4);
    gateway = await harness.start({
      backends: apps.slice(0, 2).map((app) => ({ url: app.url, id: app.instance })),
      stickiness: { type: 'lb-cookie' },
      secret: SECRET,
      logger: quiet,
    });
  });
  afterAll(async () => {
    await gateway.close();
    await Promise.all(apps.map((app) => app.close()));
  });

  test(`two backends added while ${CLIENTS} clients are stuck: none of them moves`, async () => {
    const load = new Load(gateway.url, { postEvery: 10 });
    const clients = load.spawn(CLIENTS);
    const phase = async (what: string, since: number, who = clients) =>
      waitFor(
        () =>
          load.now() >= since + PHASE_MS &&
          who.every((c) => c.answers.filter((a) => a.sentAt >= since).length >= 2),
        PHASE_MS + 20_000,
        what,
      );
    await phase('warm-up', 0);
    const firstAddAt = load.now();
    gateway.router.pool.add({ url: apps[2]!.url, id: apps[2]!.instance });
    await phase('after the first add', firstAddAt);
    const secondAddAt = load.now();
    gateway.router.pool.add({ url: apps[3]!.url, id: apps[3]!.instance });
    await phase('after the second add', secondAddAt);
    const lateAt = load.now();
    const late = load.spawn(LATE_CLIENTS);
    await phase('late clients', lateAt, [...clients, ...late]);
    const records = await load.stop();

    const added = new Set([apps[2]!.instance, apps[3]!.instance]);
    const moved = clients.filter((r) => homes(r).length > 1);
    const lateOnNew = late.filter((r) => added.has(homes(r)[0] ?? ''));
    const figures = {
      adapter: name,
      clients: CLIENTS,
      lateClients: LATE_CLIENTS,
      seconds: Math.round(load.now() / 100) / 10,
      requests: requestCount(records),
      failed: failures(records).length,
      stuckClientsMoved: moved.length,
      stuckClientRequestsToNewBackends: clients.reduce(
        (n, r) => n + r.answers.filter((a) => a.instance !== null && added.has(a.instance)).length,
        0,
      ),
      lateClientsOnNewBackends: lateOnNew.length,
      rerouted: gateway.router.stats().requests.rerouted,
      latencyP99Ms: latencyPercentile(records, 99),
    };
    recordFigures(`scale-up-${name}`, figures);

    expect(figures.failed).toBe(0);
    expect(figures.stuckClientsMoved).toBe(0);
    expect(figures.stuckClientRequestsToNewBackends).toBe(0);
    expect(figures.rerouted).toBe(0);
    // Round robin over four backends: about half of the late clients land on the two new ones.
    expect(figures.lateClientsOnNewBackends).toBeGreaterThanOrEqual(LATE_CLIENTS / 4);
  }, 120_000);
});
