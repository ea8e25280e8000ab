// Scenario 6 over HTTP, through every adapter: a flood of distinct new sessions (each a POST /login whose
// app cookie the gateway learns, app-cookie learn mode) against a store bounded at 500 entries. Targets:
// the store stops at its bound and the retained heap does not grow once it is full. The million-client
// flood drives the core router directly (session-flood.test.ts): over HTTP it would take minutes here.

import http from 'node:http';
import type { StartedGateway } from '../conformance/harness';
import { type LegacyApp, startLegacyApps } from '../support/legacy-app';
import { waitFor } from '../support/wait-for';
import { recordFigures } from './figures';
import { allHarnesses } from './gateways';
import { mib, retainedHeap } from './heap';

const STORE_SIZE = 500;
const FILL = 600;
const FLOOD = 600;
const CONCURRENCY = 20;
const SECRET = 'reliability-gateway-flood-secret-0123';
const quiet = { warn() {} };

describe.each(allHarnesses().map((h) => [h.name, h] as const))(
  'session flood over HTTP: %s',
  (name, harness) => {
    let apps: LegacyApp[];
    let gateway: StartedGateway;
    let agent: http.Agent;

    beforeAll(async () => {
      apps = await startLegacyApps(3);
      gateway = await harness.start({
        backends: apps.map((app) => ({ url: app.url, id: app.instance })),
        stickiness: { type: 'app-cookie', appCookie: 'PHPSESSID', mode: 'learn' },
        storeSize: STORE_SIZE,
        secret: SECRET,
        logger: quiet,
      });
      agent = new http.Agent({ keepAlive: true, maxSockets: CONCURRENCY });
    });
    afterAll(async () => {
      agent.destroy();
      await gateway.close();
      await Promise.all(apps.map((app) => app.close()));
    });

    /** `count` new sessions, CONCURRENCY at a time; answers the statuses that were not 200. */
    async function logins(count: number): Promise<number[]> {
      const bad: number[] = [];
      let next = 0;
      const worker = async () => {
        while (next < count) {
          next++;
          const status = await new Promise<number>((resolve) => {
            const req = http.request(`${gateway.url}/login`, { method: 'POST', agent }, (res) => {
              res.resume();
              res.on('end', () => resolve(res.statusCode ?? 0));
            });
            req.on('error', () => resolve(0));
            req.end();
          });
          if (status !== 200) bad.push(status);
        }
      };
      await Promise.all(Array.from({ length: CONCURRENCY }, worker));
      return bad;
    }

    test(`${FILL + FLOOD} new sessions against a store of ${STORE_SIZE}: the store and the heap stop growing`, async () => {
      const started = Date.now();
      const badFill = await logins(FILL);
      const filled = retainedHeap();
      const badFlood = await logins(FLOOD);
      await waitFor(
        () => gateway.router.stats().backends.every((b) => b.active === 0),
        3000,
        'routes released',
      );
      const flooded = retainedHeap();
      const stats = gateway.router.stats();
      const figures = {
        adapter: name,
        sessions: FILL + FLOOD,
        storeSize: STORE_SIZE,
        storeEntries: stats.storeEntries ?? 0,
        failed: badFill.length + badFlood.length,
        heapAfterFillMiB: mib(filled),
        heapAfterFloodMiB: mib(flooded),
        heapGrowthMiB: mib(flooded - filled),
        sessionsPerSecond: Math.round(((FILL + FLOOD) / (Date.now() - started)) * 1000),
      };
      recordFigures(`gateway-flood-${name}`, figures);

      expect(figures.failed).toBe(0);
      expect(figures.storeEntries).toBe(STORE_SIZE);
      expect(figures.heapGrowthMiB).toBeLessThan(3);
    }, 60_000);
  },
);
