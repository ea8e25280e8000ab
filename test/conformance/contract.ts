// The sticky-session contract every adapter must keep, written once and run per framework through a
// GatewayHarness (see harness.ts). Real legacy backends on 127.0.0.1, a real gateway, a real HTTP client:
// the numbered groups are the scenarios of issue 3. Time-dependent cases drive the core's `clock` option.

import { createHash, randomBytes } from 'node:crypto';
import { StickyConfigError, type StickyOptions } from '@stickyroute/core';
import { withTestHooks } from '@stickyroute/core/testing';
import {
  HttpClient as BaseHttpClient,
  send as baseSend,
  cookiesNamed,
  type HttpResult,
  type SendOptions,
} from '../support/http-client';
import {
  APP_EXTRA_COOKIES,
  type LegacyApp,
  STREAM_BYTES,
  startLegacyApp,
  startLegacyApps,
  streamSha256,
  type WhoAmI,
} from '../support/legacy-app';
import { ManualClock } from '../support/manual-clock';
import { makeSelfSignedCert } from '../support/self-signed-cert';
import { waitFor } from '../support/wait-for';
import { openWebSocket as baseOpenWebSocket, type WsConnectOptions } from '../support/ws-client';
import type { GatewayExtras, GatewayHarness, StartedGateway } from './harness';

const SECRET = 'conformance-secret-0123456789abcdef';
const MINUTE = 60_000;
const quiet = { warn() {} };

/** Which backend answered: every legacy response names itself in `x-instance`. */
function instanceOf(res: HttpResult): string {
  const instance = res.headers['x-instance'];
  if (typeof instance !== 'string') throw new Error(`no x-instance in a ${res.status} answer: ${res.text}`);
  return instance;
}

function sticky(res: HttpResult) {
  return cookiesNamed(res, 'STICKY');
}

/** The gateway's own answers: the status text alone, no detail. */
const ERROR_BODIES = { 502: 'Bad Gateway\n', 503: 'Service Unavailable\n', 504: 'Gateway Timeout\n' };

/** An error answer is exactly the core's reply: right status, no detail, no stack trace. */
function expectCleanError(res: HttpResult, status: 502 | 503 | 504) {
  expect(res.status).toBe(status);
  expect(res.text).toBe(ERROR_BODIES[status]);
  expect(res.text).not.toMatch(/Error|at .+:\d+|ECONN|node:/);
}

export interface ContractOptions {
  /**
   * `h2`: every gateway serves HTTP/2 over TLS (ALPN, with the HTTP/1.1 fallback WebSockets use) and every
   * request of the contract is an HTTP/2 request; the upstream stays HTTP/1.1.
   */
  transport?: 'http1' | 'h2';
}

export function runStickyContract(
  harness: GatewayHarness,
  { transport = 'http1' }: ContractOptions = {},
): void {
  const h2 = transport === 'h2';
  describe(`${harness.name}: sticky-session contract${h2 ? ' over HTTP/2' : ''}`, () => {
    let apps: LegacyApp[];
    const gateways: StartedGateway[] = [];
    const extraApps: LegacyApp[] = [];
    /** Over HTTP/2: the gateways' certificate, which every client trusts. */
    let tls: { key: string; cert: string } | undefined;
    const over = <T extends object>(options: T): T =>
      tls === undefined ? options : { http2: true, ca: tls.cert, ...options };
    const send = (url: string, options: SendOptions = {}) => baseSend(url, over(options));
    class HttpClient extends BaseHttpClient {
      constructor(baseUrl: string, defaults: Pick<SendOptions, 'ca' | 'timeoutMs'> = {}, now?: () => number) {
        super(baseUrl, over(defaults), now);
      }
    }
    const openWebSocket = (url: string, options: WsConnectOptions = {}) =>
      baseOpenWebSocket(url, tls === undefined ? options : { ca: tls.cert, ...options });
    /** The harness's extras over the transport: over HTTP/2, TLS with the contract's own certificate. */
    const served = (extras: GatewayExtras = {}): GatewayExtras => {
      if (!h2) return extras;
      const { https, ...rest } = extras;
      return { ...rest, http2: https ?? tls };
    };

    beforeAll(async () => {
      apps = await startLegacyApps(3);
      if (h2) tls = await makeSelfSignedCert();
    });
    afterEach(async () => {
      const open = gateways.splice(0);
      try {
        // Every route is released exactly once, whatever happened to its request (errors, retries, sockets).
        for (const g of open) {
          const inFlight = () => g.router.stats().backends.reduce((sum, b) => sum + b.active, 0);
          await waitFor(() => inFlight() === 0, 2000, `${harness.name}: every route released`);
          expect(g.router.stats().backends.every((b) => b.active === 0)).toBe(true);
        }
      } finally {
        await Promise.all(open.map((g) => g.close()));
      }
      await Promise.all(extraApps.splice(0).map((a) => a.close()));
      await Promise.all(apps.map((a) => a.restart()));
    });
    afterAll(() => Promise.all(apps.map((a) => a.close())));

    const app = (name: string) => apps.find((a) => a.instance === name)!;
    const backends = () => apps.map((a) => ({ url: a.url, id: a.instance }));
    const gateway = async (options: Partial<StickyOptions>, extras?: GatewayExtras) => {
      const started = await harness.start(
        { backends: backends(), secret: SECRET, logger: quiet, ...options },
        served(extras),
      );
      gateways.push(started);
      return started;
    };
    const extraApp = async (instance: string) => {
      const started = await startLegacyApp({ instance });
      extraApps.push(started);
      return started;
    };
    /** A backend URL that refuses connections. */
    const deadApp = async () => {
      const dead = await extraApp('dead');
      await dead.stop();
      return dead;
    };
    const lastSeen = (instance: string) => app(instance).seen.at(-1)!;

    describe('1. no stickiness', () => {
      test('30 requests without cookies reach all three backends in round-robin order, no cookie', async () => {
        const gw = await gateway({ stickiness: false });
        const order: string[] = [];
        for (let i = 0; i < 30; i++) {
          const res = await send(`${gw.url}/`);
          expect(res.status).toBe(200);
          expect(res.setCookies).toEqual([]);
          order.push(instanceOf(res));
        }
        expect(new Set(order.slice(0, 3))).toEqual(new Set(['a', 'b', 'c']));
        expect(order).toEqual(Array.from({ length: 30 }, (_, i) => order[i % 3]));
      });

      test('weighted round robin is smooth: weight 2 takes half of every period, spread apart', async () => {
        const gw = await gateway({
          backends: [{ url: app('a').url, id: 'a', weight: 2 }, ...backends().slice(1)],
        });
        const order: string[] = [];
        for (let i = 0; i < 40; i++) order.push(instanceOf(await send(`${gw.url}/`)));
        // One period of four, a twice and spread apart (nginx's smooth order: a b c a).
        const period = order.slice(0, 4);
        expect(period.filter((x) => x === 'a')).toHaveLength(2);
        expect(new Set(period)).toEqual(new Set(['a', 'b', 'c']));
        expect(period.join('')).not.toContain('aa');
        expect(order).toEqual(Array.from({ length: 40 }, (_, i) => period[i % 4]));
      });
    });

    describe('2. lb-cookie', () => {
      test('the balancer cookie has the default attributes and holds a logged-in client on one instance', async () => {
        const gw = await gateway({ stickiness: { type: 'lb-cookie' } });
        const client = new HttpClient(gw.url);
        const first = await client.get('/');
        const [cookie] = sticky(first);
        expect(cookie?.attributes).toEqual({
          'max-age': '1200',
          path: '/',
          httponly: '',
          samesite: 'Lax',
          ...(h2 ? { secure: '' } : {}),
        });
        const home = instanceOf(first);
        expect(instanceOf(await client.post('/login?user=carol'))).toBe(home);
        for (let i = 0; i < 20; i++) {
          const res = await client.get('/');
          expect(instanceOf(res)).toBe(home);
          expect(res.json<WhoAmI>()).toMatchObject({ loggedIn: true, user: 'carol' });
          expect(sticky(res)).toHaveLength(1); // re-issued on every response
        }
        // Without the cookie, requests spread again.
        const strangers = new Set<string>();
        for (let i = 0; i < 3; i++) strangers.add(instanceOf(await send(`${gw.url}/`)));
        expect(strangers.size).toBe(3);
      });

      test('the idle timeout slides: re-issued cookies keep a client past the first cookie’s expiry', async () => {
        const clock = new ManualClock();
        const gw = await gateway(
          withTestHooks({ stickiness: { type: 'lb-cookie', duration: '20m' } }, { clock }),
        );
        const client = new HttpClient(gw.url, {}, clock.now);
        const first = await client.get('/');
        const home = instanceOf(first);
        let previous = sticky(first)[0]!.value;
        for (let step = 0; step < 3; step++) {
          clock.advance(15 * MINUTE); // 45 minutes in all, never 20 idle
          const res = await client.get('/');
          expect(instanceOf(res)).toBe(home);
          const [reissued] = sticky(res);
          expect(reissued?.attributes['max-age']).toBe('1200');
          expect(reissued?.value).not.toBe(previous);
          previous = reissued!.value;
        }
        expect(gw.router.stats().requests.sticky).toBe(3);
      });
    });

    describe('3. app-cookie follow', () => {
      test('the balancer cookie lives as long as the app session; the app’s cookies pass unchanged', async () => {
        const gw = await gateway({ stickiness: { type: 'app-cookie', appCookie: 'PHPSESSID' } });
        const client = new HttpClient(gw.url);
        expect(sticky(await client.get('/'))).toEqual([]);

        const login = await client.post('/login?user=dave');
        const home = instanceOf(login);
        const sid = client.jar.get('PHPSESSID');
        expect(login.setCookies.filter((line) => !line.startsWith('STICKY='))).toEqual([
          `PHPSESSID=${sid}; Max-Age=600; Path=/; HttpOnly`,
          ...APP_EXTRA_COOKIES,
        ]);
        const [cookie] = sticky(login);
        expect(cookie?.attributes).toMatchObject({
          'max-age': '600',
          path: '/',
          httponly: '',
          samesite: 'Lax',
        });

        for (let i = 0; i < 10; i++) {
          const res = await client.get('/');
          expect(instanceOf(res)).toBe(home);
          expect(res.json<WhoAmI>().loggedIn).toBe(true);
          expect(sticky(res)).toEqual([]); // the app did not touch its cookie
        }

        const logout = await client.post('/logout');
        expect(instanceOf(logout)).toBe(home);
        expect(logout.setCookies).toContain('PHPSESSID=; Max-Age=0; Path=/; HttpOnly');
        const [deleted] = sticky(logout);
        expect(deleted).toBeDefined();
        const gone =
          deleted!.attributes['max-age'] === '0' ||
          Date.parse(deleted!.attributes.expires ?? '') <= Date.now();
        expect(gone).toBe(true);
        expect(client.jar.get('STICKY')).toBeUndefined();
      });

      test('a session-only app cookie brings a session-only balancer cookie', async () => {
        const gw = await gateway({ stickiness: { type: 'app-cookie', appCookie: 'PHPSESSID' } });
        const client = new HttpClient(gw.url);
        const login = await client.post('/login?maxAge=session');
        const [cookie] = sticky(login);
        expect(cookie).toBeDefined();
        expect(cookie?.attributes['max-age']).toBeUndefined();
        expect(cookie?.attributes.expires).toBeUndefined();
        for (let i = 0; i < 5; i++) expect(instanceOf(await client.get('/'))).toBe(instanceOf(login));
      });

      test('no session cookie is valid forever on the server, and lb-cookie holds it to its own idle minute', async () => {
        const clock = new ManualClock();
        const follow = await gateway(
          withTestHooks({ stickiness: { type: 'app-cookie', appCookie: 'PHPSESSID' } }, { clock }),
        );
        // Another gateway with the same secret, in lb-cookie mode with a one-minute idle timeout.
        const lb = await gateway(
          withTestHooks({ stickiness: { type: 'lb-cookie', duration: '1m' } }, { clock }),
        );
        const client = new HttpClient(follow.url, {}, clock.now);
        const login = await client.post('/login?maxAge=session');
        const home = instanceOf(login);
        const [cookie] = sticky(login);
        expect(cookie?.attributes['max-age']).toBeUndefined(); // a browser-session cookie
        const headers = { cookie: `STICKY=${cookie!.value}; PHPSESSID=${client.jar.get('PHPSESSID')}` };

        clock.advance(30_000);
        const within = await send(`${lb.url}/`, { headers });
        expect(instanceOf(within)).toBe(home);
        expect(sticky(within)[0]?.attributes['max-age']).toBe('60'); // replaced by lb-cookie's own
        clock.advance(35_000); // 65 s after it was issued
        await send(`${lb.url}/`, { headers });
        expect(lb.router.stats().requests).toMatchObject({ sticky: 1, new: 1, expiredCookies: 1 });

        // The follow gateway honours it while the client comes back, not after a day without a visit.
        expect(instanceOf(await send(`${follow.url}/`, { headers }))).toBe(home);
        clock.advance(24 * 60 * MINUTE);
        await send(`${follow.url}/`, { headers });
        expect(follow.router.stats().requests.expiredCookies).toBe(1);
      });
    });

    describe('4. app-cookie learn', () => {
      test('no balancer cookie is set, yet the app cookie leads back to the instance that issued it', async () => {
        const gw = await gateway({
          stickiness: { type: 'app-cookie', appCookie: 'PHPSESSID', mode: 'learn' },
        });
        const homes = new Set<string>();
        for (let c = 0; c < 3; c++) {
          const client = new HttpClient(gw.url);
          const login = await client.post(`/login?user=u${c}`);
          expect(sticky(login)).toEqual([]);
          const home = instanceOf(login);
          homes.add(home);
          for (let i = 0; i < 5; i++) {
            const res = await client.get('/');
            expect(sticky(res)).toEqual([]);
            expect(instanceOf(res)).toBe(home);
            expect(res.json<WhoAmI>()).toMatchObject({ loggedIn: true, user: `u${c}` });
          }
        }
        expect(homes.size).toBe(3);
        expect(gw.router.stats().requests.learned).toBe(15);
        // Values the app never issued are placed by hashing and take no store entry (only the 3 logins do).
        for (let i = 0; i < 5; i++) {
          const res = await send(`${gw.url}/`, { headers: { cookie: `PHPSESSID=made-up-${i}` } });
          expect(res.status).toBe(200);
          expect(res.json<WhoAmI>().loggedIn).toBe(false);
        }
        expect(gw.router.stats().storeEntries).toBe(3);
        expect(gw.router.stats().requests.hashed).toBe(5);
      });
    });

    describe('4b. app-cookie route (jvmRoute)', () => {
      // Tomcat-like instances: JSESSIONID=<hex>.<instance>, the session also accepted as ;jsessionid= in the path.
      let tomcats: LegacyApp[];
      beforeAll(async () => {
        tomcats = await Promise.all(
          ['node1', 'node2', 'node3'].map((instance) => startLegacyApp({ instance, jvmRoute: true })),
        );
      });
      afterAll(() => Promise.all(tomcats.map((t) => t.close())));
      const route = { type: 'app-cookie', appCookie: 'JSESSIONID', mode: 'route' } as const;
      const routeGateway = (options: Partial<StickyOptions> = {}) =>
        gateway({
          backends: tomcats.map((t) => ({ url: t.url, id: t.instance })),
          stickiness: route,
          ...options,
        });
      /** A session opened on some instance: its JSESSIONID value and the instance. */
      const login = async (gw: StartedGateway, user: string) => {
        const res = await send(`${gw.url}/login?user=${user}`, { method: 'POST' });
        const [session] = cookiesNamed(res, 'JSESSIONID');
        expect(res.setCookies.filter((line) => !line.startsWith('JSESSIONID='))).toEqual(APP_EXTRA_COOKIES);
        return { sid: session!.value, home: instanceOf(res) };
      };
      const rerouted = (res: HttpResult) => res.json<WhoAmI>().headers['x-sticky-rerouted'];

      test('the route in the JSESSIONID cookie leads back to its instance; no balancer cookie, no store', async () => {
        const gw = await routeGateway();
        const clients = [0, 1, 2].map(() => new HttpClient(gw.url));
        const homes: string[] = [];
        for (const [c, client] of clients.entries()) {
          const res = await client.post(`/login?user=t${c}`);
          expect(sticky(res)).toEqual([]);
          homes.push(instanceOf(res));
          expect(client.jar.get('JSESSIONID')).toMatch(new RegExp(`^[0-9a-f]{24}\\.${homes[c]}$`));
        }
        expect(new Set(homes).size).toBe(3);
        for (let i = 0; i < 5; i++) {
          await send(`${gw.url}/`); // a newcomer moves the round robin on
          for (const [c, client] of clients.entries()) {
            const again = await client.get('/');
            expect(instanceOf(again)).toBe(homes[c]);
            expect(again.json<WhoAmI>()).toMatchObject({ loggedIn: true, user: `t${c}` });
            expect(again.setCookies).toEqual([]);
            expect(rerouted(again)).toBeUndefined();
          }
        }
        const stats = gw.router.stats();
        expect(stats.requests).toMatchObject({ sticky: 15, rerouted: 0 });
        expect(stats.storeEntries).toBe(0);
      });

      test('the ;jsessionid= path parameter leads to its instance and reaches the app untouched', async () => {
        const gw = await routeGateway();
        const sessions = [await login(gw, 'p0'), await login(gw, 'p1'), await login(gw, 'p2')];
        expect(new Set(sessions.map((s) => s.home)).size).toBe(3);
        for (let i = 0; i < 3; i++) {
          for (const [n, { sid, home }] of sessions.entries()) {
            const path = `/cart;jsessionid=${sid};v=${i}?x=1&y=a%2Fb`;
            const res = await send(`${gw.url}${path}`);
            expect(instanceOf(res)).toBe(home);
            expect(res.json<WhoAmI>()).toMatchObject({ loggedIn: true, user: `p${n}`, path });
            expect(res.setCookies).toEqual([]);
          }
        }
        // A ;jsessionid= in the query is not a path parameter: balanced as new.
        const spread = new Set<string>();
        for (let i = 0; i < 3; i++)
          spread.add(instanceOf(await send(`${gw.url}/cart?x=1;jsessionid=${sessions[0]!.sid}`)));
        expect(spread.size).toBe(3);
        expect(gw.router.stats().storeEntries).toBe(0);
      });

      test('no route is balanced as new; an unknown route or a down instance is moved, with x-sticky-rerouted', async () => {
        const gw = await routeGateway();
        const spread = new Set<string>();
        for (let i = 0; i < 3; i++) {
          const res = await send(`${gw.url}/`, { headers: { cookie: 'JSESSIONID=4f2a9c' } });
          spread.add(instanceOf(res));
          expect(rerouted(res)).toBeUndefined();
        }
        expect(spread.size).toBe(3);
        const unknown = await send(`${gw.url}/`, { headers: { cookie: 'JSESSIONID=4f2a9c.node9' } });
        expect(unknown.status).toBe(200);
        expect(rerouted(unknown)).toBe('1');
        expect(unknown.setCookies).toEqual([]);

        const { sid, home } = await login(gw, 'gone');
        gw.router.pool.markDown(home);
        for (const res of [
          await send(`${gw.url}/`, { headers: { cookie: `JSESSIONID=${sid}` } }),
          await send(`${gw.url}/cart;jsessionid=${sid}`),
        ]) {
          expect(instanceOf(res)).not.toBe(home);
          expect(rerouted(res)).toBe('1');
          expect(res.json<WhoAmI>().loggedIn).toBe(false);
          expect(res.setCookies).toEqual([]);
        }
        expect(gw.router.stats().requests.rerouted).toBe(3);
      });

      test('strict: an unknown route or a down instance is a 503, other sessions are served', async () => {
        const gw = await routeGateway({ strict: true });
        const mine = await login(gw, 'mine');
        const other = await login(gw, 'other');
        expectCleanError(await send(`${gw.url}/`, { headers: { cookie: 'JSESSIONID=4f2a9c.node9' } }), 503);
        gw.router.pool.markDown(mine.home);
        expectCleanError(await send(`${gw.url}/`, { headers: { cookie: `JSESSIONID=${mine.sid}` } }), 503);
        expectCleanError(await send(`${gw.url}/cart;jsessionid=${mine.sid}`), 503);
        const served = await send(`${gw.url}/cart;jsessionid=${other.sid}`);
        expect(instanceOf(served)).toBe(other.home);
        expect(served.json<WhoAmI>().loggedIn).toBe(true);
      });
    });

    describe('5. source-ip and header stickiness', () => {
      test('source-ip: a spoofed X-Forwarded-For is ignored unless the proxy is trusted', async () => {
        const gw = await gateway({ stickiness: { type: 'source-ip' } });
        const seen = new Set<string>();
        for (let i = 1; i <= 12; i++) {
          const res = await send(`${gw.url}/`, { headers: { 'x-forwarded-for': `10.0.0.${i}` } });
          seen.add(instanceOf(res));
          expect(res.json<WhoAmI>().headers['x-forwarded-for']).toBe('127.0.0.1');
        }
        expect(seen.size).toBe(1);
      });

      test('source-ip behind a trusted proxy: each forwarded client keeps its instance, clients spread', async () => {
        const gw = await gateway({ stickiness: { type: 'source-ip' } }, { trustProxy: true });
        const homes = new Map<string, string>();
        for (let round = 0; round < 2; round++) {
          for (let i = 1; i <= 15; i++) {
            const ip = `10.0.${i}.${i * 7}`;
            const res = await send(`${gw.url}/`, { headers: { 'x-forwarded-for': ip } });
            const instance = instanceOf(res);
            if (round === 0) homes.set(ip, instance);
            else expect(instance).toBe(homes.get(ip));
            expect(res.json<WhoAmI>().headers['x-forwarded-for']).toBe(`${ip}, 127.0.0.1`);
          }
        }
        expect(new Set(homes.values()).size).toBeGreaterThan(1);
      });

      test('header: the same API key reaches the same instance; keys spread; no key is balanced', async () => {
        const gw = await gateway({ stickiness: { type: 'header', header: 'x-api-key' } });
        const homes = new Map<string, string>();
        for (let round = 0; round < 2; round++) {
          for (let k = 0; k < 15; k++) {
            const res = await send(`${gw.url}/`, { headers: { 'x-api-key': `key-${k}` } });
            if (round === 0) homes.set(`key-${k}`, instanceOf(res));
            else expect(instanceOf(res)).toBe(homes.get(`key-${k}`));
          }
        }
        expect(new Set(homes.values()).size).toBeGreaterThan(1);
        const keyless = new Set<string>();
        for (let i = 0; i < 3; i++) keyless.add(instanceOf(await send(`${gw.url}/`)));
        expect(keyless.size).toBe(3);
      });
    });

    describe('6. bad cookies', () => {
      test('tampered, expired, truncated, oversized or garbage: 200 and a fresh valid cookie', async () => {
        const clock = new ManualClock();
        const gw = await gateway(withTestHooks({ stickiness: { type: 'lb-cookie' } }, { clock }));
        const valid = sticky(await send(`${gw.url}/`))[0]!.value;
        const [token, expires, born, signature] = valid.split('.');
        const flip = (s: string) => s.slice(0, -1) + (s.endsWith('A') ? 'B' : 'A');
        const bad: Record<string, string> = {
          'tampered signature': `${token}.${expires}.${born}.${flip(signature!)}`,
          'extended expiry': `${token}.${(Number.parseInt(expires!, 36) + 86_400).toString(36)}.${born}.${signature}`,
          'forged token': `${flip(token!)}.${expires}.${born}.${signature}`,
          truncated: valid.slice(0, Math.floor(valid.length / 2)),
          oversized: 'A'.repeat(8 * 1024),
          garbage: '%00%ff"\\;==;;',
          latin1: 'ÿþý.é.ü.ñ',
          empty: '',
        };
        // Each bad value is counted once, as forged (or, the last one, as expired), and answered as new.
        const check = async (name: string, value: string, counted: 'forgedCookies' | 'expiredCookies') => {
          const before = gw.router.stats().requests[counted];
          const client = new HttpClient(gw.url, {}, clock.now);
          const res = await client.get('/', { headers: { cookie: `STICKY=${value}; other=1` } });
          expect({ name, status: res.status }).toEqual({ name, status: 200 });
          expect({ name, counted: gw.router.stats().requests[counted] - before }).toEqual({
            name,
            counted: 1,
          });
          const [fresh] = sticky(res);
          expect(fresh?.value).toBeTruthy();
          expect(fresh?.value).not.toBe(value);
          // The fresh cookie is valid: it holds the client where it landed.
          for (let i = 0; i < 3; i++) expect(instanceOf(await client.get('/'))).toBe(instanceOf(res));
        };
        for (const [name, value] of Object.entries(bad)) await check(name, value, 'forgedCookies');
        expect(gw.router.stats().requests.forgedCookies).toBe(Object.keys(bad).length);

        clock.advance(21 * MINUTE);
        await check('expired', valid, 'expiredCookies');
        expect(gw.router.stats().requests.forgedCookies).toBe(Object.keys(bad).length);
      });

      test('malformed Set-Cookie lines from the app do not break app-cookie following', async () => {
        const gw = await gateway({ stickiness: { type: 'app-cookie', appCookie: 'PHPSESSID' } });
        const res = await send(`${gw.url}/bad-cookie`);
        expect(res.status).toBe(200);
        expect(res.setCookies.filter((line) => !line.startsWith('STICKY='))).toHaveLength(5);
        expect((await send(`${gw.url}/`)).status).toBe(200);
      });
    });

    describe('7. failover', () => {
      test('the instance a client is stuck to stops: another serves it, told so, with a new cookie', async () => {
        const gw = await gateway({ stickiness: { type: 'lb-cookie' } });
        const reroutes: unknown[] = [];
        gw.router.on('reroute', (event) => reroutes.push(event));
        const client = new HttpClient(gw.url);
        const first = await client.get('/');
        const home = instanceOf(first);
        const oldCookie = client.jar.get('STICKY');
        await app(home).stop();

        const moved = await client.get('/who?after=stop');
        expect(moved.status).toBe(200);
        const next = instanceOf(moved);
        expect(next).not.toBe(home);
        expect(lastSeen(next).headers['x-sticky-rerouted']).toBe('1');
        expect(client.jar.get('STICKY')).toBeDefined();
        expect(client.jar.get('STICKY')).not.toBe(oldCookie);
        expect(reroutes).toEqual([expect.objectContaining({ from: home, to: next })]);

        for (let i = 0; i < 5; i++) {
          const res = await client.get('/who?settled');
          expect(instanceOf(res)).toBe(next);
          expect(lastSeen(next).headers['x-sticky-rerouted']).toBeUndefined();
        }
      });

      test('strict: a stuck client whose instance stopped gets 503, not another instance', async () => {
        const gw = await gateway({ stickiness: { type: 'lb-cookie' }, strict: true });
        const client = new HttpClient(gw.url);
        const home = instanceOf(await client.get('/'));
        await app(home).stop();
        const res = await client.get('/');
        expectCleanError(res, 503);
        expect(res.headers['retry-after']).toBe('5');
        // Marked down (as a health check would), the answer stays 503 without trying it.
        gw.router.pool.markDown(home);
        expectCleanError(await client.get('/'), 503);
      });
    });

    describe('8. scale up and drain', () => {
      test('pool.add moves no stuck client; new clients reach the new backend', async () => {
        const gw = await gateway({ stickiness: { type: 'lb-cookie' } });
        const clients = Array.from({ length: 20 }, () => new HttpClient(gw.url));
        const homes: string[] = [];
        for (const client of clients) homes.push(instanceOf(await client.get('/')));
        const d = await extraApp('d');
        gw.router.pool.add({ url: d.url, id: 'd' });
        for (const [i, client] of clients.entries()) expect(instanceOf(await client.get('/'))).toBe(homes[i]);
        expect(d.requests).toBe(0);
        const newcomers: string[] = [];
        for (let i = 0; i < 8; i++) newcomers.push(instanceOf(await send(`${gw.url}/`)));
        expect(newcomers.filter((x) => x === 'd')).toHaveLength(2);
      });

      test('pool.drain: stuck clients stay until the timeout, no new client arrives, then they move', async () => {
        const clock = new ManualClock();
        const gw = await gateway(withTestHooks({ stickiness: { type: 'lb-cookie' } }, { clock }));
        const clients = Array.from({ length: 9 }, () => new HttpClient(gw.url, {}, clock.now));
        const homes: string[] = [];
        for (const client of clients) homes.push(instanceOf(await client.get('/')));
        const onA = clients.filter((_, i) => homes[i] === 'a');
        expect(onA).toHaveLength(3);

        gw.router.pool.drain('a', { timeout: '2m' });
        for (const client of onA) expect(instanceOf(await client.get('/'))).toBe('a');
        for (let i = 0; i < 9; i++) expect(instanceOf(await send(`${gw.url}/`))).not.toBe('a');

        clock.advance(2 * MINUTE + 1000);
        expect(gw.router.pool.list().map((b) => b.id)).toEqual(['b', 'c']);
        for (const client of onA) {
          const old = client.jar.get('STICKY');
          const res = await client.get('/');
          expect(instanceOf(res)).not.toBe('a');
          expect(client.jar.get('STICKY')).not.toBe(old);
        }
      });

      /** A drain of 'a' on a manual clock, with three clients stuck to it among nine. */
      const drainingA = async () => {
        const clock = new ManualClock();
        const gw = await gateway(withTestHooks({ stickiness: { type: 'lb-cookie' } }, { clock }));
        const clients = Array.from({ length: 9 }, () => new HttpClient(gw.url, {}, clock.now));
        const homes: string[] = [];
        for (const client of clients) homes.push(instanceOf(await client.get('/')));
        const onA = clients.filter((_, i) => homes[i] === 'a');
        expect(onA).toHaveLength(3);
        const removals: unknown[] = [];
        gw.router.on('remove', (event) => removals.push(event));
        const statsOfA = () => gw.router.stats().backends.find((b) => b.id === 'a');
        /** Its clients come back once each; so do three newcomers, who must go elsewhere. */
        const round = async () => {
          for (const client of onA) expect(instanceOf(await client.get('/'))).toBe('a');
          for (let i = 0; i < 3; i++) expect(instanceOf(await send(`${gw.url}/`))).not.toBe('a');
        };
        return { clock, gw, onA, removals, statsOfA, round };
      };

      test('pool.drain until idle: its clients keep it while they come; removed idle after the last one', async () => {
        const { clock, gw, onA, removals, statsOfA, round } = await drainingA();
        const since = clock.now();
        gw.router.pool.drain('a', { idle: '2m', timeout: '1h' });
        expect(statsOfA()).toMatchObject({
          state: 'draining',
          quietMs: 0,
          drain: { since, idleMs: 2 * MINUTE, timeoutMs: 60 * MINUTE, removesAt: since + 2 * MINUTE },
        });
        // Eight minutes of its clients returning every 90 s: four times `idle`, never idle.
        for (let i = 0; i < 6; i++) {
          clock.advance(90_000);
          expect(statsOfA()?.quietMs).toBe(90_000);
          await round();
          expect(statsOfA()?.quietMs).toBe(0);
        }
        clock.advance(2 * MINUTE - 1);
        expect(statsOfA()?.quietMs).toBe(2 * MINUTE - 1);
        expect(removals).toEqual([]);
        clock.advance(1);
        expect(removals).toEqual([{ id: 'a', url: app('a').url, reason: 'drain-idle' }]);
        expect(gw.router.pool.list().map((b) => b.id)).toEqual(['b', 'c']);
        for (const client of onA) {
          const res = await client.get('/');
          expect(instanceOf(res)).not.toBe('a');
          expect(res.json<WhoAmI>().headers['x-sticky-rerouted']).toBe('1');
        }
      });

      test('pool.drain until idle: a WebSocket held open keeps it; the quiet counts from its close', async () => {
        const { clock, gw, onA, removals, statsOfA } = await drainingA();
        const ws = await openWebSocket(`${gw.url.replace(/^http/, 'ws')}/socket`, {
          headers: { cookie: onA[0]!.jar.header()! },
        });
        expect(await ws.ask('open')).toBe('a:open');
        gw.router.pool.drain('a', { idle: '2m', timeout: '1h' });
        clock.advance(10 * MINUTE);
        expect(removals).toEqual([]);
        expect(statsOfA()).toMatchObject({ state: 'draining', active: 1, quietMs: 0 });
        await ws.close();
        await waitFor(() => statsOfA()?.active === 0, 2000, 'the upgrade released');
        clock.advance(2 * MINUTE - 1);
        expect(removals).toEqual([]);
        clock.advance(1);
        expect(removals).toEqual([{ id: 'a', url: app('a').url, reason: 'drain-idle' }]);
      });

      test('pool.drain until idle: the timeout removes it when its clients never go quiet', async () => {
        const { clock, gw, removals, round } = await drainingA();
        gw.router.pool.drain('a', { idle: '2m', timeout: '5m' });
        for (let i = 0; i < 4; i++) {
          clock.advance(MINUTE);
          await round();
        }
        clock.advance(MINUTE - 1);
        expect(removals).toEqual([]);
        clock.advance(1);
        expect(removals).toEqual([{ id: 'a', url: app('a').url, reason: 'drain-timeout' }]);
      });
    });

    describe('9. errors', () => {
      test('no healthy backend: 503 with Retry-After', async () => {
        const gw = await gateway({ stickiness: { type: 'lb-cookie' } });
        for (const id of ['a', 'b', 'c']) gw.router.pool.markDown(id);
        const res = await send(`${gw.url}/`);
        expectCleanError(res, 503);
        expect(res.headers['retry-after']).toBe('5');
        expect(res.setCookies).toEqual([]);
      });

      test('connection refused: any request is sent to another backend, its body intact', async () => {
        const dead = await deadApp();
        const gw = await gateway({
          backends: [
            { url: dead.url, id: 'dead' },
            { url: app('a').url, id: 'a' },
          ],
          healthCheck: { maxFailures: 0 }, // keep the dead backend in rotation
        });
        for (let i = 0; i < 4; i++) {
          const res = await send(`${gw.url}/`);
          expect(res.status).toBe(200);
          expect(instanceOf(res)).toBe('a');
        }
        const beforeUploads = gw.router.stats().requests.retried;
        expect(beforeUploads).toBeGreaterThanOrEqual(1);
        // Nothing reached the refusing backend, so the method does not matter (nginx, HAProxy retry too);
        // 2 MB is past the 1 MiB retry buffer, but a refused connection took less than that of it.
        for (const size of [64 * 1024, 64 * 1024, 2 * 1024 * 1024, 2 * 1024 * 1024]) {
          const body = randomBytes(size);
          const res = await send(`${gw.url}/echo`, { method: 'POST', body, timeoutMs: 20_000 });
          expect(res.status).toBe(200);
          expect(instanceOf(res)).toBe('a');
          expect(res.headers['x-echo-sha256']).toBe(createHash('sha256').update(body).digest('hex'));
        }
        // Every retry was a refusal of the dead backend, recorded against it (passive checks read this).
        const refused = gw.router.stats();
        expect(refused.requests.retried).toBeGreaterThanOrEqual(beforeUploads + 2);
        expect(refused.backends.find((b) => b.id === 'dead')?.failed).toBe(refused.requests.retried);
      });

      test('a reset after the body reached the app: a POST is never replayed, a PUT is while its body was kept', async () => {
        const gw = await gateway({ stickiness: false, healthCheck: { maxFailures: 0 } });
        // Round robin has a period of three: the request after three GETs goes where the first of them went.
        // Each upload is aimed at that instance, which resets once it has read the body.
        let first = '';
        const toA = async (method: string, size: number) => {
          const order: string[] = [];
          for (let i = 0; i < 3; i++) order.push(instanceOf(await send(`${gw.url}/`)));
          first = order[0]!;
          const body = randomBytes(size);
          const res = await send(`${gw.url}/echo?reset=${first}`, { method, body, timeoutMs: 20_000 });
          return { res, sha: createHash('sha256').update(body).digest('hex') };
        };
        const post = await toA('POST', 64 * 1024);
        expectCleanError(post.res, 502);
        const put = await toA('PUT', 64 * 1024);
        expect(put.res.status).toBe(200);
        expect(instanceOf(put.res)).not.toBe(first);
        expect(put.res.headers['x-echo-sha256']).toBe(put.sha);
        // Past the 1 MiB retry buffer the body is gone once sent: even an idempotent request is a 502.
        const large = await toA('PUT', 2 * 1024 * 1024);
        expectCleanError(large.res, 502);
        // The PUT may first have been sent again on its kept-alive connection (the stale-connection retry).
        const { retried, failed } = gw.router.stats().requests;
        expect(failed).toBe(3);
        expect([1, 2]).toContain(retried);
      });

      test('a kept-alive upstream connection closed as it is reused: served by the same backend, nobody moves', async () => {
        const gw = await gateway({ stickiness: { type: 'lb-cookie' } });
        const client = new HttpClient(gw.url);
        const stuckTo = instanceOf(await client.get('/'));
        app(stuckTo).dropReusedConnections(true);
        try {
          for (const method of ['GET', 'POST']) {
            const res = method === 'GET' ? await client.get('/') : await client.post('/login?user=dora');
            expect(res.status).toBe(200);
            expect(instanceOf(res)).toBe(stuckTo);
            expect(lastSeen(stuckTo).headers['x-sticky-rerouted']).toBeUndefined();
          }
        } finally {
          app(stuckTo).dropReusedConnections(false);
        }
        expect(gw.router.stats().requests).toMatchObject({ rerouted: 0, failed: 0 });
        expect(gw.router.stats().backends.find((b) => b.id === stuckTo)?.state).toBe('healthy');
      });

      test('an upstream slower than the timeout: 504', async () => {
        const gw = await gateway({ timeout: '300ms' });
        const started = Date.now();
        const res = await send(`${gw.url}/slow?ms=5000`);
        expectCleanError(res, 504);
        expect(Date.now() - started).toBeLessThan(3000);
        expect((await send(`${gw.url}/slow?ms=10`)).status).toBe(200);
      });

      test('an upstream that drops the connection mid-body does not hang or crash the gateway', async () => {
        const gw = await gateway({});
        const outcome = await send(`${gw.url}/close-mid-body`, { timeoutMs: 5000 }).then(
          (res) => res.body.length,
          (error: Error) => error.message,
        );
        expect(outcome).not.toBe(100_000);
        expect(String(outcome)).not.toMatch(/timed out/);
        expect((await send(`${gw.url}/`)).status).toBe(200);
      });
    });

    describe('10. forwarding', () => {
      test('X-Forwarded-For, -Proto and -Host reach the upstream; client claims do not', async () => {
        const gw = await gateway({ stickiness: { type: 'lb-cookie' } });
        const res = await send(`${gw.url}/`, {
          headers: {
            'x-forwarded-proto': 'https',
            'x-forwarded-host': 'evil.example',
            'x-sticky-rerouted': '1',
          },
        });
        const { headers } = res.json<WhoAmI>();
        expect(headers['x-forwarded-for']).toBe('127.0.0.1');
        expect(headers['x-forwarded-proto']).toBe(h2 ? 'https' : 'http');
        expect(headers['x-forwarded-host']).toBe(new URL(gw.url).host);
        expect(headers['x-sticky-rerouted']).toBeUndefined();
      });

      test('a 5 MB upload and a streamed response pass intact', async () => {
        const gw = await gateway({ stickiness: { type: 'lb-cookie' } });
        const upload = randomBytes(5 * 1024 * 1024);
        const echo = await send(`${gw.url}/echo`, { method: 'POST', body: upload, timeoutMs: 20_000 });
        expect(echo.status).toBe(200);
        expect(echo.headers['x-echo-length']).toBe(String(upload.length));
        expect(echo.headers['x-echo-sha256']).toBe(createHash('sha256').update(upload).digest('hex'));
        expect(echo.body.equals(upload)).toBe(true);
        expect(sticky(echo)).toHaveLength(1);

        const stream = await send(`${gw.url}/stream`, { timeoutMs: 20_000 });
        expect(stream.status).toBe(200);
        expect(stream.body.length).toBe(STREAM_BYTES);
        expect(createHash('sha256').update(stream.body).digest('hex')).toBe(streamSha256());
      });

      // HTTP/2 clients cannot send connection-level headers at all: the request half is HTTP/1's.
      if (!h2)
        test('hop-by-hop request headers are not forwarded', async () => {
          const gw = await gateway({});
          const res = await send(`${gw.url}/`, {
            headers: {
              connection: 'keep-alive, x-client-hop',
              'x-client-hop': 'secret',
              'keep-alive': 'timeout=99',
              te: 'trailers',
              'x-end-to-end': 'kept',
            },
          });
          const { headers } = res.json<WhoAmI>();
          expect(headers['x-end-to-end']).toBe('kept');
          expect(headers['x-client-hop']).toBeUndefined();
          expect(headers['keep-alive']).toBeUndefined();
          expect(headers.te).toBeUndefined();
          expect(String(headers.connection ?? '')).not.toContain('x-client-hop');
        });

      test('hop-by-hop response headers do not reach the client', async () => {
        const gw = await gateway({});
        const hop = await send(`${gw.url}/hop`);
        expect(hop.status).toBe(200);
        expect(hop.headers['x-upstream-hop']).toBeUndefined();
        expect(hop.headers['keep-alive']).not.toBe('timeout=2');
        expect(String(hop.headers.connection ?? '')).not.toContain('x-upstream-hop');
      });

      if (h2)
        test('over HTTP/2 the app gets an HTTP/1.1 request: Host from :authority, no pseudo-headers', async () => {
          const gw = await gateway({ stickiness: { type: 'lb-cookie' } });
          const res = await send(`${gw.url}/who?h2=1`);
          const { headers, path } = res.json<WhoAmI & { path: string }>();
          expect(path).toBe('/who?h2=1');
          expect(headers.host).toBe(new URL(gw.url).host);
          expect(headers['x-forwarded-host']).toBe(new URL(gw.url).host);
          expect(headers['x-forwarded-proto']).toBe('https');
          expect(Object.keys(headers).filter((name) => name.startsWith(':'))).toEqual([]);
          expect(sticky(res)[0]?.attributes).toMatchObject({ secure: '', httponly: '' });
        });
    });

    describe('11. HTTPS termination', () => {
      test('cookies issued over HTTPS are Secure; cors adds the SameSite=None; Secure twin; wss follows them', async () => {
        const pems = await makeSelfSignedCert();
        const gw = await gateway(
          { stickiness: { type: 'lb-cookie' }, cookie: { cors: true } },
          { https: pems },
        );
        expect(gw.url.startsWith('https://')).toBe(true);
        const client = new HttpClient(gw.url, { ca: pems.cert });
        const first = await client.get('/');
        expect(first.json<WhoAmI>().headers['x-forwarded-proto']).toBe('https');
        const [cookie] = sticky(first);
        expect(cookie?.attributes).toMatchObject({ secure: '', samesite: 'Lax', httponly: '' });
        const [twin] = cookiesNamed(first, 'STICKYCORS');
        expect(twin?.attributes).toMatchObject({ secure: '', samesite: 'None' });
        expect(twin?.value).toBe(cookie?.value);
        // A cross-site request that only carries the twin is matched by it.
        const home = instanceOf(first);
        for (let i = 0; i < 3; i++) {
          const res = await send(`${gw.url}/`, {
            ca: pems.cert,
            headers: { cookie: `STICKYCORS=${twin!.value}` },
          });
          expect(instanceOf(res)).toBe(home);
        }
        // wss: the upgrade follows the same cookie.
        const ws = await openWebSocket(`${gw.url.replace(/^https/, 'wss')}/socket`, {
          ca: pems.cert,
          headers: { cookie: client.jar.header()! },
        });
        try {
          expect(await ws.ask('tls')).toBe(`${home}:tls`);
        } finally {
          await ws.close();
        }
      });

      test('an https backend is verified under its own name (`tls.ca`), whatever Host the client sent', async () => {
        const pems = await makeSelfSignedCert();
        const secureApp = await startLegacyApp({ instance: 'tls', https: pems });
        extraApps.push(secureApp);
        const gw = await gateway({
          backends: [{ url: secureApp.url, id: 'tls' }],
          stickiness: { type: 'lb-cookie' },
          tls: { ca: pems.cert },
        } as Partial<StickyOptions>);
        const res = await send(`${gw.url}/who`, { headers: { host: 'gateway.example' } });
        expect(res.status).toBe(200);
        expect(instanceOf(res)).toBe('tls');
        // The app sees its own name as Host (its certificate's), the client's as X-Forwarded-Host.
        const { headers } = res.json<WhoAmI>();
        expect(headers.host).toBe(new URL(secureApp.url).host);
        const ws = await openWebSocket(`${gw.url.replace(/^http/, 'ws')}/socket`, {
          headers: { host: 'gateway.example' },
        });
        try {
          expect(await ws.ask('tls')).toBe('tls:tls');
        } finally {
          await ws.close();
        }
      });

      test('plain HTTP gets no Secure flag; an untrusted https upstream is refused (TLS verified)', async () => {
        const plain = await gateway({ stickiness: { type: 'lb-cookie' } });
        // (Over HTTP/2 every gateway is HTTPS: the cookie is Secure.)
        expect(sticky(await send(`${plain.url}/`))[0]?.attributes.secure).toBe(h2 ? '' : undefined);

        const pems = await makeSelfSignedCert();
        const secureApp = await startLegacyApp({ instance: 'tls', https: pems });
        extraApps.push(secureApp);
        const gw = await gateway({ backends: [{ url: secureApp.url, id: 'tls' }] });
        expectCleanError(await send(`${gw.url}/`), 502);
        expect(secureApp.requests).toBe(0);
      });
    });

    describe('12. WebSocket', () => {
      test('an upgrade with a balancer cookie reaches the instance of the HTTP requests', async () => {
        const gw = await gateway({ stickiness: { type: 'lb-cookie' } });
        const wsUrl = `${gw.url.replace(/^http/, 'ws')}/socket`;
        const homes = new Set<string>();
        for (let c = 0; c < 3; c++) {
          const client = new HttpClient(gw.url);
          const home = instanceOf(await client.get('/'));
          homes.add(home);
          const ws = await openWebSocket(wsUrl, { headers: { cookie: client.jar.header()! } });
          try {
            expect(await ws.ask('hello')).toBe(`${home}:hello`);
            expect(await ws.ask('again')).toBe(`${home}:again`);
            const upgradeHeaders = JSON.parse((await ws.ask('?headers')).slice(home.length + 1));
            expect(upgradeHeaders['x-forwarded-for']).toBe('127.0.0.1');
          } finally {
            await ws.close();
          }
        }
        expect(homes.size).toBe(3);
      });

      test('an upgrade without a cookie gets the balancer cookie on its 101; its next upgrades and requests stay', async () => {
        const gw = await gateway({ stickiness: { type: 'lb-cookie' } });
        const wsUrl = `${gw.url.replace(/^http/, 'ws')}/socket`;
        const first = await openWebSocket(wsUrl);
        const home = (await first.ask('first')).split(':')[0]!;
        await first.close();
        const cookies = first.setCookies.filter((line) => line.startsWith('STICKY='));
        expect(cookies).toHaveLength(1);
        const cookie = cookies[0]!.split(';')[0]!;
        for (let i = 0; i < 3; i++) {
          const ws = await openWebSocket(wsUrl, { headers: { cookie } });
          try {
            expect(await ws.ask(`again${i}`)).toBe(`${home}:again${i}`);
          } finally {
            await ws.close();
          }
          expect(instanceOf(await send(`${gw.url}/`, { headers: { cookie } }))).toBe(home);
        }
        // app-cookie follow: a 101 that does not set the app cookie carries no balancer cookie either.
        const follow = await gateway({ stickiness: { type: 'app-cookie', appCookie: 'PHPSESSID' } });
        const plain = await openWebSocket(`${follow.url.replace(/^http/, 'ws')}/socket`);
        await plain.close();
        expect(plain.setCookies).toEqual([]);
      });

      test('an upgrade whose first pick refuses the connection is opened on another backend', async () => {
        const dead = await deadApp();
        const gw = await gateway({
          backends: [
            { url: dead.url, id: 'dead' },
            { url: app('a').url, id: 'a' },
          ],
          healthCheck: { maxFailures: 0 },
        });
        for (let i = 0; i < 4; i++) {
          const ws = await openWebSocket(`${gw.url.replace(/^http/, 'ws')}/socket`);
          try {
            expect(await ws.ask(`m${i}`)).toBe(`a:m${i}`);
          } finally {
            await ws.close();
          }
        }
        // Every retry was a refusal of the dead backend, recorded against it.
        const refused = gw.router.stats();
        expect(refused.requests.retried).toBeGreaterThanOrEqual(1);
        expect(refused.backends.find((b) => b.id === 'dead')?.failed).toBe(refused.requests.retried);
      });

      test('upgrades without a cookie are balanced', async () => {
        const gw = await gateway({ stickiness: { type: 'lb-cookie' } });
        const wsUrl = `${gw.url.replace(/^http/, 'ws')}/socket`;
        const reached = new Set<string>();
        for (let i = 0; i < 3; i++) {
          const ws = await openWebSocket(wsUrl);
          try {
            reached.add((await ws.ask(`m${i}`)).split(':')[0]!);
          } finally {
            await ws.close();
          }
        }
        expect(reached).toEqual(new Set(['a', 'b', 'c']));
        // Every upgrade is released once its socket closed.
        await waitFor(() => gw.router.stats().backends.every((b) => b.active === 0), 2000, 'release');
      });
    });

    describe('13. mounting and configuration', () => {
      test('under a prefix the full URL is forwarded and the rest of the app keeps working', async () => {
        const gw = await gateway({ stickiness: { type: 'lb-cookie' } }, { prefix: '/api' });
        const proxied = await send(`${gw.url}/api/orders?id=7`);
        expect(proxied.status).toBe(200);
        expect(proxied.json<WhoAmI & { path: string }>().path).toBe('/api/orders?id=7');
        expect(sticky(proxied)).toHaveLength(1);
        const own = await send(`${gw.url}/own-route`);
        expect(own.status).toBe(200);
        expect(own.headers['x-instance']).toBeUndefined();
        expect(sticky(own)).toEqual([]);
        const beside = await send(`${gw.url}/apiary`);
        expect(beside.headers['x-instance']).toBeUndefined();
      });

      test('closing the gateway resolves while a request and a WebSocket are in flight', async () => {
        const dead = await deadApp();
        const gw = await harness.start(
          {
            backends: [
              { url: dead.url, id: 'dead' },
              { url: app('a').url, id: 'a' },
            ],
            healthCheck: { maxFailures: 0 },
            logger: quiet,
          },
          served(),
        );
        // A refused POST first (its body replayed elsewhere), then a slow request and a WebSocket stay open.
        for (let i = 0; i < 2; i++)
          expect(
            (await send(`${gw.url}/echo`, { method: 'POST', body: randomBytes(64 * 1024) })).status,
          ).toBe(200);
        const slow = send(`${gw.url}/slow?ms=30000`, { timeoutMs: 30_000 }).then(
          (res) => res.status,
          () => 'cut',
        );
        const ws = await openWebSocket(`${gw.url.replace(/^http/, 'ws')}/socket`);
        expect(await ws.ask('open')).toBe('a:open');
        await waitFor(() => app('a').seen.some((r) => r.url.startsWith('/slow')), 2000, 'slow request sent');
        let timer: NodeJS.Timeout | undefined;
        const closed = await Promise.race([
          gw.close().then(() => 'closed'),
          new Promise<string>((resolve) => {
            timer = setTimeout(resolve, 10_000, 'still open after 10 s');
          }),
        ]);
        clearTimeout(timer);
        expect(closed).toBe('closed');
        expect(await slow).not.toBe(200);
        await ws.close();
      }, 20_000);

      test('a bad option is a StickyConfigError at start-up', async () => {
        const error = await harness.start({ backends: ['ftp://127.0.0.1:1'], logger: quiet }).then(
          () => undefined,
          (e: unknown) => e,
        );
        expect(error).toBeInstanceOf(StickyConfigError);
        expect((error as StickyConfigError).option).toBe('backends[0].url');
      });
    });
  });
}
