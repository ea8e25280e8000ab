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
import type { Browser, BrowserContext, Cookie } from 'playwright-core';
import { launchChromium } from '../support/chromium';
import { makeSelfSignedCert } from '../support/self-signed-cert';
import { SOURCES, type WptCookieCase, wptCookieCases } from './wpt-cookie-cases';

// Every host name is loopback: example.org and its subdomains are reached without leaving the machine.
const LOOPBACK_HOSTS = '--host-resolver-rules=MAP * 127.0.0.1';
const BALANCER = 'STICKY';
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what it finds
const CONTROL = /[\u0000-\u0008\u000a-\u001f\u007f]/;
const RESULTS = path.join(__dirname, 'results');

jest.setTimeout(180_000);

interface Run {
  testCase: Pick<WptCookieCase, 'name' | 'lines' | 'host' | 'https'> & { source: string };
  appCookie: string;
}

interface Failure {
  source: string;
  name: string;
  appCookie: string;
  phase: string;
  problems: string[];
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

/** Set-Cookie lines that delete what the jar holds of `name`, identity by identity (partitioned ones too). */
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
        c.partitionKey !== undefined ? '; Partitioned' : '',
      ].join(''),
    );
}

describe('follow mode mirrors the app cookie as chromium keeps it (web-platform-tests cookie corpus)', () => {
  const answers = new Map<string, string[]>();
  let serial = 0;
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
    browser = await launchChromium([LOOPBACK_HOSTS]);
  });

  afterAll(async () => {
    await browser?.close();
    await handler?.close();
    for (const server of [gateway, secureGateway, backend])
      await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  });

  /** Runs each case's three checks in chromium; answers what did not mirror. */
  async function mirrorRuns(runs: Run[]): Promise<Failure[]> {
    const port = (gateway.address() as AddressInfo).port;
    const securePort = (secureGateway.address() as AddressInfo).port;
    const failures: Failure[] = [];
    let context: BrowserContext | undefined;
    let contextSource: string | undefined;
    for (const { testCase, appCookie } of runs) {
      // One browser context per source file; the jar is emptied between runs.
      if (contextSource !== testCase.source) {
        await context?.close();
        context = await browser.newContext({ ignoreHTTPSErrors: true });
        contextSource = testCase.source;
      }
      const jar = context!;
      const page = jar.pages()[0] ?? (await jar.newPage());
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
        return jar.cookies();
      };
      const fail = (phase: string, problems: string[]) => {
        if (problems.length > 0)
          failures.push({ source: testCase.source, name: testCase.name, appCookie, phase, problems });
      };

      await jar.clearCookies();
      const stored = await respond(testCase.lines);
      fail('on an empty jar', mismatches(stored, appCookie));
      const toDelete = deletionLines(stored, appCookie);
      if (toDelete.length > 0) {
        const after = await respond(toDelete);
        const left = after.filter((c) => c.name === appCookie || c.name === BALANCER);
        fail(
          'deleted',
          left.map((c) => `${c.name} on ${c.domain} outlived its deletion`),
        );
      }
      await jar.clearCookies();
      await respond([`${appCookie}=seed; Path=/; Max-Age=3600${testCase.https ? '; Secure' : ''}`]);
      fail('over a stored app cookie', mismatches(await respond(testCase.lines), appCookie));
    }
    await context?.close();
    return failures;
  }

  test('every counted case mirrors', async () => {
    const cases = wptCookieCases((gateway.address() as AddressInfo).port);
    const runs: Run[] = [];
    const uncounted: { source: string; name: string; reason: string }[] = [];
    for (const testCase of cases) {
      const found = runsOf(testCase);
      if (typeof found === 'string')
        uncounted.push({ source: testCase.source, name: testCase.name, reason: found });
      else runs.push(...found);
    }

    const failures = await mirrorRuns(runs);

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

  test('the edge cases the core was calibrated on mirror too (the project’s own, not the corpus)', async () => {
    // A date 30 days ahead, in the spellings chromium reads differently from the RFC or from Date.parse.
    const at = new Date(Math.floor(Date.now() / 1000) * 1000 + 30 * 86_400_000);
    // Seconds of two digits, so the spelling with a digit appended ("…:373") is the same case on every run.
    // With one digit ("…:013") Chromium reads 13 s where RFC 6265bis (1*2DIGIT), and the core, read no date:
    // a known divergence (docs/security.md), left out of this calibration set.
    at.setUTCSeconds(37);
    const [, dd, mon, yyyy, hms] = /^\w+, (\d+) (\w+) (\d+) ([\d:]+) GMT$/.exec(at.toUTCString())!;
    const [h, m, sec] = hms!.split(':');
    const own = (host: string, https: boolean, lines: string[]): Run[] =>
      lines.map((line) => ({
        testCase: {
          source: 'own',
          name: `${https ? 'https' : 'http'}://${host} ${line}`,
          lines: [line],
          host,
          https,
        },
        appCookie: cookieName(line),
      }));
    const runs = [
      ...own('localhost', false, ['own=1; Secure']),
      ...own('app.localhost', false, ['own=1; Secure; Domain=app.localhost', 'own=1; Domain=localhost']),
      ...own('127.0.0.1', false, ['own=1; Secure; Domain=127.0.0.1', 'own=1; Domain=.127.0.0.1']),
      ...own('app.github.io', false, ['own=1; Domain=github.io', 'own=1; Domain=app.github.io']),
      ...own('a.b.example.co.uk', false, ['own=1; Domain=example.co.uk', 'own=1; Domain=co.uk']),
      ...own('home.example.org', false, [
        'own=1; Max-Age=+5',
        'own=1; Max-Age=08',
        'own=1; Max-Age=60; Max-Age=abc',
        `own=1; Max-Age=abc; Expires=${dd} ${mon} ${yyyy} ${hms}`,
        `own=1; Max-Age=60; Max-Age=${'0'.repeat(1030)}5`,
        `own=1; Expires=${mon} ${dd} ${hms} ${yyyy} 1st`,
        `own=1; Expires=1st ${mon} ${dd} ${hms} ${yyyy}`,
        `own=1; Expires="${dd} ${mon} ${yyyy} ${hms}"`,
        `own=1; Expires=${dd}-${mon}-${yyyy!.slice(2)} ${Number(h)}:${Number(m)}:${Number(sec)} PST`,
        `own=1; Expires=${dd} ${mon} 0${yyyy} ${hms}`,
        `own=1; Expires=${dd} ${mon} ${yyyy} ${hms}:13`,
        `own=1; Expires=${dd} ${mon} ${yyyy} ${h}:${m}:${sec}3`,
        `own=1; Expires=${dd}a ${mon} ${yyyy} ${hms}`,
        `own=1; Expires=${dd} ${mon} ${yyyy}a ${hms}`,
        `own=1; Expires=5 ${mon} 15 ${yyyy} ${hms}`,
        `own=1; Expires=${dd} ${mon} 999 ${hms}`,
        'own=1; Expires=31 Feb 2027 00:00:00',
        'own=1; Expires=1 Jan 2027 23:59:60',
        'own=1; SameSite=None',
        'own=1; SameSite=None; SameSite=Lax',
        'own=1; Secure=no',
      ]),
      ...own('home.example.org', true, [
        'own=1; SameSite=NONE',
        'own=1; SameSite=Lax; SameSite=None; Secure',
        'own=1; Partitioned',
        'own=1; Partitioned; Secure',
        '__Http-own=1; Secure; HttpOnly',
        '__http-own=1; Secure',
        '__Host-Http-own=1; Secure; Path=/',
        '__Host-Http-own=1; Secure; Path=/; HttpOnly',
        '__host-own=1; Secure; Path=/',
        '__Host-own=1; Secure; Path=/; Domain=',
        '__Host-own=1; Secure; Path=/; Domain=.',
        '__Host-own=1; Secure; Path=/x; Path=/',
        '__SECURE-own=1; Secure; Domain=example.org',
      ]),
      // Two cookies of one name in one response: another domain, another partition, each kept apart.
      {
        testCase: {
          source: 'own',
          name: 'a domain cookie survives the deletion of a host-only one',
          lines: ['own=1; Domain=example.org; Max-Age=60', 'own=; Max-Age=0'],
          host: 'home.example.org',
          https: false,
        },
        appCookie: 'own',
      },
      {
        testCase: {
          source: 'own',
          name: 'a partitioned cookie survives the deletion of an unpartitioned one',
          lines: ['own=1; Secure; Partitioned; Path=/', 'own=; Max-Age=0; Secure; Path=/'],
          host: 'home.example.org',
          https: true,
        },
        appCookie: 'own',
      },
    ];
    expect(await mirrorRuns(runs)).toEqual([]);
  });
});
