// The demo in a real browser: Debian's chromium driven by playwright-core against the real demo processes
// (examples/demo/start.js: three app instances that keep sessions in memory, a gateway, the status page).
// Each stickiness mode runs on a different framework, so all three adapters are seen end to end.
// Screenshots of the status page and the demo page go to docs/screenshots when UPDATE_SCREENSHOTS=1
// (to the temp dir otherwise, so a test run leaves the repository untouched).

import { existsSync, mkdirSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Browser, type BrowserContext, type Cookie, chromium, type Page } from 'playwright-core';
import { waitFor } from '../support/wait-for';
import { buildDemoPackages, type RunningDemo, startDemo } from './demo-process';

const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
const SCREENSHOTS = process.env.UPDATE_SCREENSHOTS
  ? join(__dirname, '..', '..', 'docs', 'screenshots')
  : join(tmpdir(), 'stickyroute-screenshots');

jest.setTimeout(30_000);

let browser: Browser;
const contexts: BrowserContext[] = [];

beforeAll(async () => {
  await buildDemoPackages();
  browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
}, 180_000);

afterEach(async () => {
  await Promise.all(contexts.splice(0).map((context) => context.close()));
});

afterAll(async () => {
  await browser?.close();
});

async function newPage(viewport = { width: 900, height: 520 }, userAgent?: string): Promise<Page> {
  const context = await browser.newContext({ viewport, ...(userAgent === undefined ? {} : { userAgent }) });
  contexts.push(context);
  return context.newPage();
}

async function instanceOf(page: Page): Promise<number> {
  const heading = await page.locator('#instance').textContent();
  const match = /Instance Number (\d+)/.exec(heading ?? '');
  if (match === null) throw new Error(`not a demo page: ${heading}`);
  return Number(match[1]);
}

async function isLoggedIn(page: Page): Promise<boolean> {
  return (await page.locator('.state.in').count()) === 1;
}

/** Submits a form on the page (login or logout) and waits for the page the redirect leads to. */
async function submit(page: Page, button: string): Promise<void> {
  await Promise.all([page.waitForNavigation(), page.getByRole('button', { name: button }).click()]);
}

async function logIn(page: Page, user: string): Promise<void> {
  await page.locator('input[name=user]').fill(user);
  await submit(page, 'Log in');
}

async function cookie(page: Page, name: string): Promise<Cookie | undefined> {
  return (await page.context().cookies()).find((c) => c.name === name);
}

const nowSeconds = () => Date.now() / 1000;

describe('stickiness off (koa)', () => {
  let demo: RunningDemo;
  beforeAll(async () => {
    demo = await startDemo(['--framework', 'koa', '--stickiness', 'off']);
  });
  afterAll(() => demo?.stop());

  test('reloads land on other instances and the login is lost', async () => {
    const page = await newPage();
    await page.goto(demo.url);
    await logIn(page, 'alice');
    const seen: number[] = [];
    let loggedIn = 0;
    for (let i = 0; i < 5; i++) {
      await page.reload();
      seen.push(await instanceOf(page));
      if (await isLoggedIn(page)) loggedIn++;
    }
    expect(new Set(seen).size).toBeGreaterThan(1);
    // Round robin over three instances: at most two of five reloads reach the one that knows the session.
    expect(loggedIn).toBeLessThanOrEqual(2);
    expect(await cookie(page, 'STICKY')).toBeUndefined();
  });
});

describe('lb-cookie (express) and the status page', () => {
  let demo: RunningDemo;
  beforeAll(async () => {
    demo = await startDemo(['--framework', 'express', '--stickiness', 'lb-cookie', '--duration', '20m']);
  });
  afterAll(() => demo?.stop());

  test('a logged-in client stays on its instance for ten reloads; the cookie is in the browser', async () => {
    const page = await newPage();
    await page.goto(demo.url);
    const first = await instanceOf(page);
    const sticky = await cookie(page, 'STICKY');
    expect(sticky).toBeDefined();
    expect(sticky!.httpOnly).toBe(true);
    // A persistent cookie for the 20 minutes of idle time (it slides on every response).
    expect(sticky!.expires).toBeGreaterThan(nowSeconds() + 20 * 60 - 30);
    expect(sticky!.expires).toBeLessThan(nowSeconds() + 20 * 60 + 30);

    await logIn(page, 'alice');
    expect(await instanceOf(page)).toBe(first);
    expect(await isLoggedIn(page)).toBe(true);
    for (let i = 0; i < 10; i++) {
      await page.reload();
      expect(await instanceOf(page)).toBe(first);
      expect(await isLoggedIn(page)).toBe(true);
    }
  });

  test('deleting the balancer cookie in the browser: the next reloads are distributed again', async () => {
    const page = await newPage();
    await page.goto(demo.url);
    await logIn(page, 'bob');
    const stuck = await instanceOf(page);
    const seen: number[] = [];
    for (let i = 0; i < 6; i++) {
      await page.context().clearCookies({ name: 'STICKY' });
      await page.reload();
      const instance = await instanceOf(page);
      seen.push(instance);
      // Another instance does not know bob's in-memory session.
      if (instance !== stuck) expect(await isLoggedIn(page)).toBe(false);
      // Balanced as a new client, it got a fresh cookie for wherever it landed.
      expect(await cookie(page, 'STICKY')).toBeDefined();
    }
    expect(new Set(seen).size).toBeGreaterThan(1);
  });

  test('the status page renders every backend with its share of traffic', async () => {
    // A few clients that come back with their cookie: the page counts them as stuck. Each is another user's
    // browser: the count tells clients apart by address, User-Agent and cookie date, and from one address, one
    // User-Agent and one second on one backend two browsers hold the very same cookie (it names no client).
    const clients = await Promise.all(
      [0, 1, 2, 3, 4].map((i) => newPage(undefined, `Mozilla/5.0 (X11; Linux x86_64) demo-client-${i}`)),
    );
    for (const client of clients) {
      await client.goto(demo.url);
      await client.reload();
    }
    await logIn(clients[0]!, 'carol');

    const page = await newPage({ width: 1200, height: 760 });
    await page.goto(demo.statusUrl);
    const rows = page.locator('#backends tr');
    await waitFor(async () => (await rows.count()) === 3, 5000, 'three backend rows');
    await waitFor(
      async () => (await page.locator('#backends .share').allTextContents()).some((s) => s !== '0%'),
      5000,
      'a non-zero share of traffic',
    );
    const stuckCounts = async () =>
      (await page.locator('#backends td:nth-child(6)').allTextContents()).map(Number);
    await waitFor(
      async () => (await stuckCounts()).reduce((a, b) => a + b, 0) >= 5,
      5000,
      'five stuck clients',
    );

    // The console's buttons act on the pool: drain one instance.
    await rows.filter({ hasText: 'instance-3' }).getByRole('button', { name: 'Drain' }).click();
    await rows.filter({ hasText: 'draining' }).waitFor();
    expect(await rows.filter({ hasText: 'instance-3' }).locator('.badge').textContent()).toBe('draining');

    const json = await (await page.request.get(`${demo.statusUrl}?format=json`)).json();
    expect(json.backends.map((b: { id: string }) => b.id)).toEqual([
      'instance-1',
      'instance-2',
      'instance-3',
    ]);
    const shareSum = json.backends.reduce((sum: number, b: { share: number }) => sum + b.share, 0);
    expect(shareSum).toBeCloseTo(1, 5);
    const metrics = await (await page.request.get(`${demo.statusUrl}/metrics`)).text();
    expect(metrics).toMatch(/^stickyroute_backend_state\{backend="instance-3",state="draining"\} 1$/m);

    mkdirSync(SCREENSHOTS, { recursive: true });
    const statusShot = join(SCREENSHOTS, 'status-page.png');
    await page.screenshot({ path: statusShot, fullPage: true });
    const demoShot = join(SCREENSHOTS, 'demo-page.png');
    await clients[0]!.screenshot({ path: demoShot });
    for (const file of [statusShot, demoShot]) {
      expect(existsSync(file)).toBe(true);
      expect(statSync(file).size).toBeGreaterThan(10_000);
    }
  });
});

describe('app-cookie following PHPSESSID (fastify)', () => {
  let demo: RunningDemo;
  beforeAll(async () => {
    demo = await startDemo(['--framework', 'fastify', '--stickiness', 'app-cookie', '--session-ttl', '600']);
  });
  afterAll(() => demo?.stop());

  test('no balancer cookie before login, one with the session cookie lifetime after, none after logout', async () => {
    const page = await newPage();
    await page.goto(demo.url);
    await page.reload();
    expect(await cookie(page, 'STICKY')).toBeUndefined();
    expect(await cookie(page, 'PHPSESSID')).toBeUndefined();

    await logIn(page, 'dave');
    const session = await cookie(page, 'PHPSESSID');
    const sticky = await cookie(page, 'STICKY');
    expect(session).toBeDefined();
    expect(sticky).toBeDefined();
    // The app's 600 s session, not the 20 minutes lb-cookie would give.
    expect(session!.expires).toBeGreaterThan(nowSeconds() + 600 - 30);
    expect(Math.abs(sticky!.expires - session!.expires)).toBeLessThanOrEqual(2);

    const instance = await instanceOf(page);
    expect(await isLoggedIn(page)).toBe(true);
    for (let i = 0; i < 5; i++) {
      await page.reload();
      expect(await instanceOf(page)).toBe(instance);
      expect(await isLoggedIn(page)).toBe(true);
    }

    await submit(page, 'Log out');
    expect(await isLoggedIn(page)).toBe(false);
    expect(await cookie(page, 'PHPSESSID')).toBeUndefined();
    expect(await cookie(page, 'STICKY')).toBeUndefined();
  });
});
