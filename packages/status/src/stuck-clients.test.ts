// The stuck-client count from the router's events alone, on a real node:http gateway in front of real legacy
// apps, with one fake clock for the router and the counter so cookie expiry is exact: who counts (a client
// back with its cookie), who never does (cookieless clients), and what takes a client off (expiry, deletion
// by the app, a move to another backend, a stickiness switch), within a bound.

import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { type StickyOptions, StickyRouter } from '@stickyroute/core';
import { FakeClock, withTestHooks } from '@stickyroute/core/testing';
import { createStickyHandler, type StickyHandler } from '@stickyroute/node';
import { HttpClient, send } from '../../../test/support/http-client';
import { type LegacyApp, startLegacyApps } from '../../../test/support/legacy-app';
import { StuckClients } from './stuck-clients';

const SECRET = 'stuck-clients-test-secret-0123456789';

let apps: LegacyApp[];
let server: http.Server | undefined;
let sockets: Set<Socket>;
let handler: StickyHandler | undefined;
let stuck: StuckClients | undefined;

beforeAll(async () => {
  apps = await startLegacyApps(2);
});
afterEach(async () => {
  stuck?.close();
  if (server !== undefined) {
    const closed = new Promise((resolve) => server!.close(resolve));
    for (const socket of sockets) socket.destroy();
    await closed;
  }
  await handler?.close();
  server = handler = stuck = undefined;
});
afterAll(async () => {
  await Promise.all(apps.map((app) => app.close()));
});

async function start(options: Partial<StickyOptions> = {}, maxClients?: number) {
  const clock = new FakeClock(Date.now());
  handler = createStickyHandler(
    withTestHooks(
      {
        backends: apps.map((app) => ({ url: app.url, id: app.instance })),
        stickiness: { type: 'lb-cookie', duration: '20m' },
        secret: SECRET,
        ...options,
      },
      { clock },
    ),
  );
  stuck = new StuckClients(handler.router, { now: clock.now, maxClients });
  server = http.createServer(handler);
  sockets = new Set();
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const browser = (agent: string) => {
    const client = new HttpClient(url, {}, clock.now);
    return {
      client,
      get: (path = '/') => client.get(path, { headers: { 'user-agent': agent } }),
      post: (path: string) => client.post(path, '', { headers: { 'user-agent': agent } }),
    };
  };
  return { url, clock, browser, counts: () => Object.fromEntries(stuck!.counts()) };
}

const instanceOf = async (answer: Promise<{ json<T>(): T }>) =>
  (await answer).json<{ instance: string }>().instance;

test('a client counts once it comes back with its cookie, on its backend; cookieless clients never', async () => {
  const { url, browser, counts } = await start();
  const firefox = browser('Firefox');
  const home = await instanceOf(firefox.get());
  expect(counts()).toEqual({}); // a new client: it has a cookie, but may drop it
  for (let i = 0; i < 5; i++) await send(`${url}/`, { headers: { 'user-agent': 'Firefox' } });
  expect(counts()).toEqual({});
  await firefox.get();
  await firefox.get();
  expect(counts()).toEqual({ [home]: 1 });
  const chrome = browser('Chrome'); // same address, another browser: another client
  const chromeHome = await instanceOf(chrome.get());
  await chrome.get();
  expect(Object.values(counts()).reduce((a, b) => a + b, 0)).toBe(2);
  expect(counts()[chromeHome]).toBeGreaterThanOrEqual(1);
});

test("a client stops counting at its cookie's idle expiry, and counts again when it returns", async () => {
  const { browser, clock, counts } = await start({ stickiness: { type: 'lb-cookie', duration: '2m' } });
  const client = browser('Firefox');
  const home = await instanceOf(client.get());
  await client.get();
  clock.advance(90_000);
  expect(counts()).toEqual({ [home]: 1 });
  await client.get(); // slides the expiry
  clock.advance(90_000);
  expect(counts()).toEqual({ [home]: 1 });
  clock.advance(31_000);
  expect(counts()).toEqual({});
  await client.get(); // expired: balanced as new, not counted until it returns
  expect(counts()).toEqual({});
  await client.get();
  expect(Object.values(counts())).toEqual([1]);
});

test('a client moved off a down backend counts on its new backend only', async () => {
  const { browser, counts } = await start();
  const client = browser('Firefox');
  const home = await instanceOf(client.get());
  await client.get();
  expect(counts()).toEqual({ [home]: 1 });
  handler!.router.pool.markDown(home);
  const moved = await instanceOf(client.get());
  expect(moved).not.toBe(home);
  expect(counts()).toEqual({ [moved]: 1 });
  await client.get();
  expect(counts()).toEqual({ [moved]: 1 });
});

test('follow mode: the app deleting its session cookie takes the client off', async () => {
  const { browser, counts } = await start({ stickiness: { type: 'app-cookie', appCookie: 'PHPSESSID' } });
  const client = browser('Firefox');
  await client.get();
  const home = (await client.post('/login?user=alice')).json<{ instance: string }>().instance;
  expect(client.client.jar.get('STICKY')).toBeDefined();
  await client.get();
  expect(counts()).toEqual({ [home]: 1 });
  await client.post('/logout');
  expect(client.client.jar.get('STICKY')).toBeUndefined();
  expect(counts()).toEqual({});
});

test('a stickiness switch starts the count over; keyed modes count from the store', async () => {
  const { browser, counts } = await start();
  const client = browser('Firefox');
  await client.get();
  await client.get();
  expect(Object.values(counts())).toEqual([1]);
  handler!.router.setStickiness({ type: 'source-ip' });
  expect(counts()).toEqual({ a: 0, b: 0 });
  const home = await instanceOf(client.get());
  expect(counts()).toEqual({ a: home === 'a' ? 1 : 0, b: home === 'b' ? 1 : 0 });
  handler!.router.setStickiness(false);
  expect(counts()).toEqual({});
});

test('bounded: past maxClients the least recently seen are forgotten; close() stops listening', async () => {
  const { browser, counts } = await start({}, 2);
  const clients = ['A', 'B', 'C'].map((agent) => browser(agent));
  for (const client of clients) {
    await client.get();
    await client.get();
  }
  expect(Object.values(counts()).reduce((a, b) => a + b, 0)).toBe(2);
  await clients[0]!.get(); // A comes back: it counts again, and B, now the oldest, goes
  expect(Object.values(counts()).reduce((a, b) => a + b, 0)).toBe(2);
  stuck!.close();
  for (const event of ['stuck', 'placed', 'cookie', 'stickiness'] as const)
    expect(handler!.router.listenerCount(event)).toBe(0);
});

test('the counter only listens: a router nobody asks about keeps no per-request listeners', () => {
  const router = new StickyRouter({ backends: ['http://127.0.0.1:9'], stickiness: false });
  const counter = new StuckClients(router);
  expect(router.listenerCount('stuck')).toBe(1);
  counter.close();
  expect(router.listenerCount('stuck')).toBe(0);
  void router.close();
});
