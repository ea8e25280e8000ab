// Rotating the cookie secret across two gateways, over HTTP, the way a rolling deployment does it: one
// gateway at a time is replaced by one with the next `secret` list (the first key signs, every key
// verifies) while the other still runs the previous list, and browser-like clients keep asking both.
//   1. [old]       → [old, new]: the new key is accepted everywhere before anybody signs with it;
//   2. [old, new]  → [new, old]: the new key signs; cookies signed with the old one are still accepted and
//                                come back signed with the new one;
//   3. [new, old]  → [new]:      the old key is retired; a cookie signed only with it is a new client's.
// Nobody moves and no cookie is rejected during the rollout; the second test shows why step 1 comes first.

import { BalancerCookieCodec } from '@stickyroute/core/testing';
import type { StartedGateway } from '../conformance/harness';
import { expressHarness } from '../conformance/harness-express';
import { CookieJar, cookiesNamed, type HttpResult, send } from '../support/http-client';
import { type LegacyApp, startLegacyApps } from '../support/legacy-app';

const OLD = 'rotation-old-key-0123456789abcdef';
const NEW = 'rotation-new-key-fedcba9876543210';
const CLIENTS = 12;
const quiet = { warn() {} };

let apps: LegacyApp[];
const running = new Set<StartedGateway>();

beforeAll(async () => {
  apps = await startLegacyApps(3);
});
afterAll(async () => {
  await Promise.all([...running].map((g) => g.close()));
  await Promise.all(apps.map((app) => app.close()));
});

/** One gateway instance in front of the three apps, with the secret list it was deployed with. */
interface Deployed {
  gateway: StartedGateway;
  secret: string[];
}

async function deploy(secret: string[]): Promise<Deployed> {
  const gateway = await expressHarness.start({
    backends: apps.map((app) => ({ url: app.url, id: app.instance })),
    stickiness: { type: 'lb-cookie' },
    secret,
    logger: quiet,
  });
  running.add(gateway);
  return { gateway, secret };
}

/** Forged cookies counted by the gateways replaced so far (their counters go with them). */
let forgedByReplaced = 0;

/** Replaces instance `i` with one deployed with `secret`, as a rolling deployment does. */
async function roll(pair: Deployed[], i: number, secret: string[]): Promise<void> {
  const old = pair[i]!.gateway;
  forgedByReplaced += old.router.stats().requests.forgedCookies;
  await old.close();
  running.delete(old);
  pair[i] = await deploy(secret);
}

function forgedSoFar(pair: Deployed[]): number {
  return pair.reduce((n, d) => n + d.gateway.router.stats().requests.forgedCookies, forgedByReplaced);
}

/** One request as a browser with this jar. */
async function visit(jar: CookieJar, gateway: StartedGateway): Promise<HttpResult> {
  const cookie = jar.header();
  const result = await send(`${gateway.url}/`, { headers: cookie === undefined ? {} : { cookie } });
  jar.absorb(result.setCookies);
  return result;
}

const instanceOf = (result: HttpResult) => String(result.headers['x-instance']);
const signedWith = (key: string, value: string | undefined) =>
  value !== undefined && new BalancerCookieCodec([key]).decode(value) !== null;

test('a three-step rollout moves nobody; a cookie signed only with the retired key is a new client', async () => {
  const pair = [await deploy([OLD]), await deploy([OLD])];
  const jars = Array.from({ length: CLIENTS }, () => new CookieJar());
  const homes: string[] = [];
  for (const [i, jar] of jars.entries()) homes.push(instanceOf(await visit(jar, pair[i % 2]!.gateway)));
  expect(new Set(homes).size).toBeGreaterThan(1);
  const retired = jars[0]!.get('STICKY');
  expect(signedWith(OLD, retired)).toBe(true);

  // Old-key cookies that a gateway signing with the new key accepted and signed anew.
  let reSigned = 0;
  /** Every client asks both gateways: answered by its home, with a cookie signed by that gateway's key. */
  const everyoneAsksBoth = async () => {
    for (const [i, jar] of jars.entries()) {
      for (const { gateway, secret } of pair) {
        const sentOldOnly = signedWith(OLD, jar.get('STICKY')) && !signedWith(NEW, jar.get('STICKY'));
        const res = await visit(jar, gateway);
        const signer = secret[0]!;
        const signedBySigner = signedWith(signer, jar.get('STICKY'));
        expect({ client: i, status: res.status, home: instanceOf(res), signedBySigner }).toEqual({
          client: i,
          status: 200,
          home: homes[i],
          signedBySigner: true,
        });
        if (sentOldOnly && signer === NEW) reSigned++;
      }
    }
  };

  const rollout: [number, string[]][] = [
    [0, [OLD, NEW]],
    [1, [OLD, NEW]],
    [0, [NEW, OLD]],
    [1, [NEW, OLD]],
    [0, [NEW]],
    [1, [NEW]],
  ];
  for (const [i, secret] of rollout) {
    await roll(pair, i, secret);
    await everyoneAsksBoth();
  }
  expect(forgedSoFar(pair)).toBe(0);
  expect(reSigned).toBeGreaterThanOrEqual(CLIENTS);
  // After the rollout every client carries a cookie of the new key alone.
  expect(
    jars.filter((jar) => !signedWith(NEW, jar.get('STICKY')) || signedWith(OLD, jar.get('STICKY'))),
  ).toEqual([]);

  // A cookie from before the rollout, signed only with the retired key: counted as forged, placed as new,
  // and given a cookie of the new key.
  const gateway = pair[0]!.gateway;
  const before = gateway.router.stats().requests;
  const stale = await send(`${gateway.url}/`, { headers: { cookie: `STICKY=${retired}` } });
  const after = gateway.router.stats().requests;
  expect(stale.status).toBe(200);
  expect({
    forged: after.forgedCookies - before.forgedCookies,
    new: after.new - before.new,
    sticky: after.sticky - before.sticky,
  }).toEqual({ forged: 1, new: 1, sticky: 0 });
  expect(signedWith(NEW, cookiesNamed(stale, 'STICKY')[0]?.value)).toBe(true);
});

test('signing with a key the other gateway does not accept yet rejects every client it signs for there', async () => {
  // Step 1 skipped: one gateway signs with the new key while the other still knows the old one only.
  const pair = [await deploy([NEW, OLD]), await deploy([OLD])];
  const jars = Array.from({ length: CLIENTS }, () => new CookieJar());
  for (const jar of jars) await visit(jar, pair[0]!.gateway);
  const before = pair[1]!.gateway.router.stats().requests;
  for (const jar of jars) expect((await visit(jar, pair[1]!.gateway)).status).toBe(200);
  const after = pair[1]!.gateway.router.stats().requests;
  // Each client's cookie was rejected and the client placed anew: a lost session wherever it landed elsewhere.
  expect({ forged: after.forgedCookies - before.forgedCookies, new: after.new - before.new }).toEqual({
    forged: CLIENTS,
    new: CLIENTS,
  });
});
