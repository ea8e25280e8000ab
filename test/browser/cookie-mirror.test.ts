// Follow mode in a real browser, against an independent corpus: the Set-Cookie cases of web-platform-tests'
// cookie tests (wpt-cookie-cases.ts, with their source and licence). For every case and every named cookie
// it sets, that cookie is the app cookie: a real backend answers with the case's Set-Cookie lines through a
// real gateway (@stickyroute/node, follow mode) to chromium, on a page it loaded through the gateway by the
// case's host name (all names resolve to 127.0.0.1), over HTTP or HTTPS as the case says, and fetched from
// there as the corpus itself sets its cookies. Then what chromium stored is
// read back (CDP, via context.cookies()) and must mirror: a balancer cookie exactly where an app cookie is
// (per domain: the balancer cookie shares the app cookie's Domain; one balancer cookie stands for the app
// cookies of one domain whatever their paths), the same session/persistent nature, the same expiry within
// a second. Three loads per run: the case on an empty jar; a deletion of what it stored (both must go);
// the case over a jar holding the app cookie already (a refused line must leave both alone).
//
// Not counted, with the reason: lines with a control character (node refuses to send or parse them, so they
// never cross a node gateway), cases that set nameless cookies only, and names that are not tokens (the
// `appCookie` option takes an RFC 7230 token, as a cookie name in a Set-Cookie an app sends should be).

import { mkdirSync, writeFileSync } from 'node:fs';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { createStickyHandler, type StickyHandler } from '@stickyroute/node';
import { type Browser, type BrowserContext, type Cookie, chromium } from 'playwright-core';
import { makeSelfSignedCert } from '../support/self-signed-cert';
import { SOURCES, type SourceFile, type WptCookieCase, wptCookieCases } from './wpt-cookie-cases';

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
  // Every host name is loopback: example.org and its subdomains are reached without leaving the machine.
  '--host-resolver-rules=MAP * 127.0.0.1',
];
const BALANCER = 'STICKY';
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what it finds
const CONTROL = /[\u0000-\u0008\u000a-\u001f\u007f]/;
const RESULTS = path.join(__dirname, 'results');

jest.setTimeout(180_000);

interface Run {
  testCase: WptCookieCase;
  appCookie: string;
}

/** The name a browser reads from a Set-Cookie line ('' for a nameless cookie). */
function cookieName(line: string): string {
  const pair = line.split(';', 1)[0]!;
  const eq = pair.indexOf('=');
  return eq === -1 ? '' : pair.slice(0, eq).trim();
}

/** The runs of a case, or why it is not counted. */
function runsOf(testCase: WptCookieCase): Run[] | string {
  if (testCase.lines.some((line) => CONTROL.test(line)))
    return 'a control character: node neither sends nor parses such a header, so no node gateway sees it';
  const names = [...new Set(testCase.lines.map(cookieName))].filter((name) => name !== '');
  if (names.length === 0) return 'nameless cookies only: an app cookie has a name';
  const tokens = names.filter((name) => TOKEN.test(name));
  if (tokens.length === 0) return 'a name that is not a token (the appCookie option takes RFC 7230 tokens)';
  return tokens.map((appCookie) => ({ testCase, appCookie }));
}

/** What differs between the app cookie and the balancer cookie in the jar (nothing, when they mirror). */
function mismatches(jar: Cookie[], appCookie: string): string[] {
  const byDomain = (name: string) => {
    const groups = new Map<string, Cookie[]>();
    for (const cookie of jar.filter((c) => c.name === name))
      groups.set(cookie.domain, [...(groups.get(cookie.domain) ?? []), cookie]);
    return groups;
  };
  const app = byDomain(appCookie);
  const balancer = byDomain(BALANCER);
  const problems: string[] = [];
  for (const domain of new Set([...app.keys(), ...balancer.keys()])) {
    const apps = app.get(domain) ?? [];
    const ours = balancer.get(domain) ?? [];
    if (ours.length === 0) problems.push(`app cookie on ${domain}, no balancer cookie`);
    else if (apps.length === 0) problems.push(`balancer cookie on ${domain}, no app cookie`);
    else if (!apps.some((a) => sameLifetime(a, ours[0]!)))
      problems.push(
        `${domain}: app cookie expires ${apps.map((a) => a.expires).join('/')}, balancer cookie ${ours[0]!.expires}`,
      );
  }
  return problems;
}

function sameLifetime(a: Cookie, b: Cookie): boolean {
  if (a.expires === -1 || b.expires === -1) return a.expires === b.expires;
  return Math.abs(a.expires - b.expires) <= 1;
}

/** Set-Cookie lines that delete what the jar holds of `name`, identity by identity. */
function deletionLines(jar: Cookie[], name: string): string[] {
  return jar
    .filter((c) => c.name === name)
    .map((c) =>
      [
        `${name}=; Max-Age=0; Path=${c.path}`,
        c.domain.startsWith('.') ? `; Domain=${c.domain.slice(1)}` : '',
        c.secure ? '; Secure' : '',
        c.httpOnly ? '; HttpOnly' : '',
        c.sameSite === 'None' ? '; SameSite=None' : '',
      ].join(''),
    );
}

describe('follow mode mirrors the app cookie as chromium keeps it (web-platform-tests cookie corpus)', () => {
  const answers = new Map<string, string[]>();
  let backend: http.Server;
  let handler: StickyHandler;
  let gateway: http.Server;
  let secureGateway: https.Server;
  let browser: Browser;

  beforeAll(async () => {
    backend = http.createServer((req: IncomingMessage, res: ServerResponse) => {
      const key = new URL(req.url ?? '/', 'http://backend').searchParams.get('r') ?? '';
      // Headers go out as bytes: a UTF-8 line is written byte for byte (node writes strings as latin1).
      const lines = (answers.get(key) ?? []).map((line) => Buffer.from(line, 'utf8').toString('latin1'));
      if (lines.length > 0) res.setHeader('set-cookie', lines);
      res.writeHead(200, { 'content-type': 'text/html', 'cache-control': 'no-store' }).end('<p>ok</p>');
    });
    await new Promise<void>((resolve) => backend.listen(0, '127.0.0.1', resolve));
    handler = createStickyHandler({
      backends: [`http://127.0.0.1:${(backend.address() as AddressInfo).port}`],
      stickiness: { type: 'app-cookie', appCookie: 'test' },
      secret: 'cookie-mirror-test-secret-0123456789',
    });
    const listener = (req: IncomingMessage, res: ServerResponse) =>
      handler(req, res, () => res.writeHead(404).end());
    gateway = http.createServer(listener);
    secureGateway = https.createServer(await makeSelfSignedCert(), listener);
    await new Promise<void>((resolve) => gateway.listen(0, '127.0.0.1', resolve));
    await new Promise<void>((resolve) => secureGateway.listen(0, '127.0.0.1', resolve));
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
  });

  afterAll(async () => {
    await browser?.close();
    await handler?.close();
    for (const server of [gateway, secureGateway, backend])
      await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  });

  test('every counted case mirrors', async () => {
    const port = (gateway.address() as AddressInfo).port;
    const securePort = (secureGateway.address() as AddressInfo).port;
    const cases = wptCookieCases(port);
    const runs: Run[] = [];
    const uncounted: { source: string; name: string; reason: string }[] = [];
    for (const testCase of cases) {
      const found = runsOf(testCase);
      if (typeof found === 'string')
        uncounted.push({ source: testCase.source, name: testCase.name, reason: found });
      else runs.push(...found);
    }

    const failures: { source: string; name: string; appCookie: string; phase: string; problems: string[] }[] =
      [];
    let serial = 0;
    let context: BrowserContext | undefined;
    let contextSource: SourceFile | undefined;
    for (const run of runs) {
      const { testCase, appCookie } = run;
      // One browser context per source file; the jar is emptied between runs.
      if (contextSource !== testCase.source) {
        await context?.close();
        context = await browser.newContext({ ignoreHTTPSErrors: true });
        contextSource = testCase.source;
      }
      const page = context!.pages()[0] ?? (await context!.newPage());
      handler.router.setStickiness({ type: 'app-cookie', appCookie });
      const origin = testCase.https
        ? `https://${testCase.host}:${securePort}`
        : `http://${testCase.host}:${port}`;
      // The page is on the case's origin (loaded through the gateway); each response then comes to a fetch
      // from it, as the corpus's own tests set their cookies (a same-origin fetch with credentials).
      if (!page.url().startsWith(`${origin}/`)) await page.goto(`${origin}/`, { waitUntil: 'commit' });
      const respond = async (lines: string[]) => {
        const key = String(serial++);
        answers.set(key, lines);
        const status = await page.evaluate(
          async (url) => (await fetch(url, { credentials: 'include' })).status,
          `${origin}/?r=${key}`,
        );
        answers.delete(key);
        if (status !== 200) throw new Error(`${origin}: ${status}`);
        return context!.cookies();
      };
      const check = (phase: string, jar: Cookie[]) => {
        const problems = mismatches(jar, appCookie);
        if (problems.length > 0)
          failures.push({ source: testCase.source, name: testCase.name, appCookie, phase, problems });
      };

      await context!.clearCookies();
      const stored = await respond(testCase.lines);
      check('on an empty jar', stored);
      const toDelete = deletionLines(stored, appCookie);
      if (toDelete.length > 0) {
        const after = await respond(toDelete);
        check('deleted', after);
        if (after.some((c) => c.name === appCookie || c.name === BALANCER))
          failures.push({
            source: testCase.source,
            name: testCase.name,
            appCookie,
            phase: 'deleted',
            problems: ['a cookie outlived its deletion'],
          });
      }
      await context!.clearCookies();
      await respond([`${appCookie}=seed; Path=/; Max-Age=3600${testCase.https ? '; Secure' : ''}`]);
      check('over a stored app cookie', await respond(testCase.lines));
    }
    await context?.close();

    const failed = new Set(failures.map((f) => `${f.source}\n${f.name}\n${f.appCookie}`));
    const casesCounted = new Set(runs.map((r) => r.testCase));
    const casesFailed = new Set(
      runs
        .filter((r) => failed.has(`${r.testCase.source}\n${r.testCase.name}\n${r.appCookie}`))
        .map((r) => r.testCase),
    );
    const figures = {
      corpus: 'web-platform-tests/wpt cookies/ (BSD-3-Clause)',
      sources: SOURCES,
      cases: cases.length,
      casesCounted: casesCounted.size,
      casesMirrored: casesCounted.size - casesFailed.size,
      runs: runs.length,
      runsMirrored: runs.length - failed.size,
      notCounted: uncounted,
    };
    mkdirSync(RESULTS, { recursive: true });
    writeFileSync(
      path.join(RESULTS, 'cookie-corpus.json'),
      `${JSON.stringify({ ...figures, failures }, null, 2)}\n`,
    );
    console.log(
      `[browser] cookie corpus: ${figures.casesMirrored} of ${figures.casesCounted} counted cases mirror ` +
        `(${figures.runsMirrored} of ${figures.runs} app-cookie runs); ${uncounted.length} of ${cases.length} not counted`,
    );
    expect(failures).toEqual([]);
    expect(runs.length).toBeGreaterThan(100);
  });
});
