// Scenario 6, session flood: a million distinct new clients must not grow the heap without bound, nor
// slow the router down once its store is full. The flood drives the core router directly (route →
// succeeded → responseCookies → release, the calls an adapter makes per request): through HTTP on a
// 2-core machine a million requests take minutes, and the HTTP layer keeps no per-client state of ours.
// gateway-flood.test.ts sends a smaller flood through real gateways.
//
// lb-cookie mode runs the full million in CI. Learn mode runs 200,000 in CI (twice the store's
// bound, enough to see the plateau) and the million with FLOOD_CLIENTS=1000000.

import { createStickyRouter, type StickyOptions } from '@stickyroute/core';
import { steps } from '../../packages/core/src/testing/router-steps';
import { recordFigures } from './figures';
import { mib, retainedHeap } from './heap';

const MILLION = 1_000_000;
const LEARN_CLIENTS = Number(process.env.FLOOD_CLIENTS ?? 200_000);
const STORE_SIZE = 100_000;
const CHECKPOINTS = 10;
const BATCH = 10_000;
const BACKENDS = ['http://127.0.0.1:9101', 'http://127.0.0.1:9102', 'http://127.0.0.1:9103'];
const SECRET = 'reliability-flood-secret-0123456789';

interface FloodResult {
  clients: number;
  newClients: number;
  storeEntries: number;
  /** Retained heap (after GC) before the flood, its highest value at a checkpoint, and at the end (MiB). */
  heapBaselineMiB: number;
  heapPeakMiB: number;
  heapFinalMiB: number;
  /** The highest raw heapUsed sampled every 10,000 clients, garbage included (MiB). */
  heapPeakRawMiB: number;
  /** Retained heap growth from the first checkpoint with a full store (or the second) to the end: ~0 is bounded. */
  heapLateGrowthMiB: number;
  /** CPU µs per client while the store fills, and once it is full and evicting. */
  cpuPerClientFillingUs: number;
  cpuPerClientEvictingUs: number;
  seconds: number;
  clientsPerSecond: number;
}

/**
 * `clients` distinct new clients, one request each, against `options`; the app's answer carries
 * `setCookieOf(i)` (learn mode learns the app cookie from it).
 */
async function flood(
  clients: number,
  options: StickyOptions,
  setCookieOf: (i: number) => string | undefined,
): Promise<FloodResult> {
  const router = createStickyRouter(options);
  const expectedCookies = options.stickiness !== false && options.stickiness?.type === 'lb-cookie' ? 1 : 0;
  // Cookie modes keep nothing per client; learn mode grows until its store is full.
  const plateauAfter = expectedCookies === 1 ? 0 : STORE_SIZE;
  const baseline = retainedHeap();
  const retained: number[] = [];
  let plateauFrom: number | undefined;
  const filling: number[] = [];
  const evicting: number[] = [];
  let peakRaw = 0;
  let cpu = process.cpuUsage().user;
  const started = process.hrtime.bigint();
  const checkpoint = Math.max(BATCH, Math.floor(clients / CHECKPOINTS / BATCH) * BATCH);
  for (let i = 0; i < clients; i++) {
    const route = await router.route({
      method: 'GET',
      url: '/',
      headers: { host: 'gateway', cookie: i % 2 === 0 ? `theme=dark; n=${i}` : undefined },
      ip: `10.${(i >>> 16) & 255}.${(i >>> 8) & 255}.${i & 255}`,
      secure: false,
    });
    steps(router).succeeded(route);
    const cookies = steps(router).responseCookies(route, setCookieOf(i));
    if (cookies.length !== expectedCookies) throw new Error(`client ${i} got ${cookies.length} cookies`);
    steps(router).release(route);
    if ((i + 1) % BATCH === 0) {
      const now = process.cpuUsage().user;
      // The first batch warms the JIT up; later ones are sorted by whether the store was full.
      if (i + 1 > BATCH)
        ((router.stats().storeEntries ?? 0) < STORE_SIZE ? filling : evicting).push(now - cpu);
      peakRaw = Math.max(peakRaw, process.memoryUsage().heapUsed);
      if ((i + 1) % checkpoint === 0) {
        retained.push(retainedHeap());
        if (retained.length >= 2 && i + 1 >= plateauAfter) plateauFrom ??= retained.at(-1);
      }
      cpu = process.cpuUsage().user;
    }
  }
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const stats = router.stats();
  await router.close();
  const perClient = (batches: number[]) =>
    batches.length === 0
      ? 0
      : Math.round((batches.reduce((a, b) => a + b, 0) / batches.length / BATCH) * 100) / 100;
  return {
    clients,
    newClients: stats.requests.new,
    storeEntries: stats.storeEntries ?? 0,
    heapBaselineMiB: mib(baseline),
    heapPeakMiB: mib(Math.max(...retained)),
    heapFinalMiB: mib(retained.at(-1)!),
    heapPeakRawMiB: mib(peakRaw),
    heapLateGrowthMiB: mib(retained.at(-1)! - (plateauFrom ?? retained.at(-1)!)),
    cpuPerClientFillingUs: perClient(filling),
    cpuPerClientEvictingUs: perClient(evicting),
    seconds: Math.round(seconds * 10) / 10,
    clientsPerSecond: Math.round(clients / seconds),
  };
}

describe('session flood: distinct new clients through the core router', () => {
  test('lb-cookie mode keeps no state per client: a million clients leave the heap flat', async () => {
    const result = await flood(
      MILLION,
      { backends: BACKENDS, stickiness: { type: 'lb-cookie' }, secret: SECRET },
      () => undefined,
    );
    recordFigures('session-flood-lb-cookie', { ...result });
    expect(result.newClients).toBe(MILLION);
    expect(result.storeEntries).toBe(0);
    // Zero memory per client: what is left is the bounded caches (4,096 verified values at most).
    expect(result.heapFinalMiB - result.heapBaselineMiB).toBeLessThan(8);
    expect(result.heapLateGrowthMiB).toBeLessThan(4);
  }, 600_000);

  test('app-cookie learn mode: the store stops at its bound, the heap plateaus, eviction stays cheap', async () => {
    const result = await flood(
      LEARN_CLIENTS,
      {
        backends: BACKENDS,
        stickiness: { type: 'app-cookie', appCookie: 'JSESSIONID', mode: 'learn' },
        secret: SECRET,
        storeSize: STORE_SIZE,
      },
      (i) => `JSESSIONID=s${i.toString(36)}x${'0'.repeat(24)}; Path=/; HttpOnly; Max-Age=1800`,
    );
    recordFigures('session-flood-learn', { ...result, storeSize: STORE_SIZE });
    expect(result.newClients).toBe(LEARN_CLIENTS);
    expect(result.storeEntries).toBe(STORE_SIZE);
    // Past the bound the oldest sessions are evicted: 100,000 entries of ~300 bytes, then no growth.
    expect(result.heapPeakMiB - result.heapBaselineMiB).toBeLessThan(64);
    expect(result.heapLateGrowthMiB).toBeLessThan(4);
    // Evicting must cost about what inserting costs (a quadratic eviction was 20× slower here).
    expect(result.cpuPerClientEvictingUs).toBeLessThan(3 * result.cpuPerClientFillingUs);
  }, 600_000);
});
