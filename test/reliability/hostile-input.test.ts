// Scenario 5, hostile input, through every adapter: tampered and replayed cookies, an 8 KB cookie, 500
// cookies in one header, non-UTF-8 bytes, header injection and request smuggling attempts (raw bytes on a
// socket), X-Forwarded-For spoofing, slowloris clients, an upstream sending malformed Set-Cookie lines and
// one closing mid-body. Figures per adapter: crashes (the gateway stops answering), 5xx answers that should
// not be, and retained heap growth over repeated rounds of the attacks.

import net from 'node:net';
import { withTestHooks } from '@stickyroute/core/testing';
import type { StartedGateway } from '../conformance/harness';
import { HttpClient, type HttpResult, send } from '../support/http-client';
import { type LegacyApp, startLegacyApps, type WhoAmI } from '../support/legacy-app';
import { ManualClock } from '../support/manual-clock';
import { waitFor } from '../support/wait-for';
import { recordFigures } from './figures';
import { allHarnesses } from './gateways';
import { mib, retainedHeap } from './heap';
import { head, rawExchange } from './raw-http';

const SECRET = 'reliability-hostile-secret-0123456789';
const SLOW_CLIENTS = 50;
const ROUNDS = 3;
const quiet = { warn() {} };

/** What one attack produced. `status` null: the gateway closed the connection without an answer. */
interface Outcome {
  attack: string;
  status: number | null;
  /** A 5xx is acceptable only where the upstream itself failed. */
  upstreamFault?: boolean;
}

describe.each(allHarnesses().map((h) => [h.name, h] as const))('hostile input: %s', (name, harness) => {
  let apps: LegacyApp[];
  let gateway: StartedGateway;
  let clock: ManualClock;
  const outcomes: Outcome[] = [];
  let crashes = 0;

  beforeAll(async () => {
    apps = await startLegacyApps(2);
    clock = new ManualClock();
    gateway = await harness.start(
      withTestHooks(
        {
          backends: apps.map((app) => ({ url: app.url, id: app.instance })),
          stickiness: { type: 'app-cookie', appCookie: 'PHPSESSID' },
          secret: SECRET,
          timeout: '5s',
          logger: quiet,
        },
        { clock },
      ),
    );
  });
  afterAll(async () => {
    await gateway.close();
    await Promise.all(apps.map((app) => app.close()));
  });

  const requestsSeen = () => apps.reduce((n, app) => n + app.requests, 0);
  const seenHeaders = () => apps.flatMap((app) => app.seen.map((r) => r.headers));
  const seenUrls = () => apps.flatMap((app) => app.seen.map((r) => r.url));
  const counters = () => gateway.router.stats().requests;

  /** The gateway still answers its own route on a fresh connection; otherwise it counts as a crash. */
  async function alive(): Promise<void> {
    try {
      const res = await send(`${gateway.url}/own-route`, { timeoutMs: 3000 });
      if (res.status !== 200) crashes++;
    } catch {
      crashes++;
    }
  }

  async function note(attack: string, status: number | null, upstreamFault = false): Promise<void> {
    outcomes.push({ attack, status, upstreamFault });
    await alive();
  }

  /** A logged-in client: its jar holds PHPSESSID and the balancer cookie STICKY. */
  async function loggedIn(): Promise<{ client: HttpClient; home: string; sticky: string }> {
    const client = new HttpClient(gateway.url);
    const login = await client.post('/login?user=mallory');
    const sticky = client.jar.get('STICKY');
    if (login.status !== 200 || sticky === undefined) throw new Error(`login failed: ${login.status}`);
    return { client, home: login.headers['x-instance'] as string, sticky };
  }

  /** One round of every attack that finishes at once (all but slowloris). */
  async function attackRound(): Promise<void> {
    const { client, home, sticky } = await loggedIn();
    const session = client.jar.get('PHPSESSID')!;
    const who = (res: HttpResult) => res.json<WhoAmI>();

    // Tampered cookies: a flipped signature character, and a token from another value spliced in.
    const forgedBefore = counters().forgedCookies;
    const last = sticky.at(-1) === 'A' ? 'B' : 'A';
    const flipped = await send(`${gateway.url}/`, {
      headers: { cookie: `STICKY=${sticky.slice(0, -1)}${last}; PHPSESSID=${session}` },
    });
    await note('tampered signature', flipped.status);
    const parts = sticky.split('.');
    const spliced = await send(`${gateway.url}/`, {
      headers: { cookie: `STICKY=${['Zm9yZ2VkdG9rZW4', ...parts.slice(1)].join('.')}` },
    });
    await note('tampered backend token', spliced.status);
    expect(counters().forgedCookies - forgedBefore).toBe(2);

    // Replayed cookie: many strangers sending one client's cookie reach that cookie's backend and nothing
    // more (the value names a backend, not a person, and carries no session of the app).
    const replays = await Promise.all(
      Array.from({ length: 20 }, () => send(`${gateway.url}/`, { headers: { cookie: `STICKY=${sticky}` } })),
    );
    for (const res of replays) await note('replayed cookie', res.status);
    expect(new Set(replays.map((res) => res.headers['x-instance']))).toEqual(new Set([home]));
    expect(replays.every((res) => who(res).loggedIn === false)).toBe(true);

    // An 8 KB balancer cookie, and 8 KB of other cookies.
    const big = await send(`${gateway.url}/`, { headers: { cookie: `STICKY=${'A'.repeat(8192)}` } });
    await note('8 KB balancer cookie', big.status);
    const bigOther = await client.get('/', {
      headers: { cookie: `junk=${'j'.repeat(8192)}; ${client.jar.header()}` },
    });
    await note('8 KB other cookie', bigOther.status);
    expect(bigOther.headers['x-instance']).toBe(home);

    // 500 cookies in one header, the real ones last: stickiness and the app's session still hold.
    const many = Array.from({ length: 498 }, (_, i) => `c${i}=v${i}`).join('; ');
    const crowd = await send(`${gateway.url}/`, {
      headers: { cookie: `${many}; STICKY=${sticky}; PHPSESSID=${session}` },
    });
    await note('500 cookies', crowd.status);
    expect(crowd.headers['x-instance']).toBe(home);
    expect(who(crowd).loggedIn).toBe(true);

    // Non-UTF-8 and malformed percent-encoding in cookies and headers.
    const latin = await rawExchange(
      gateway.url,
      head([
        'GET / HTTP/1.1',
        'Host: 127.0.0.1',
        `Cookie: STICKY=\xff\xfe\x80\xc3(; PHPSESSID=\xe9t\xe9; x=%E0%A4%A`,
        'X-Name: \xff\xfe\xc0\xaf',
        'Connection: close',
      ]),
    );
    await note('non-UTF-8 header bytes', latin.status);
    const badPercent = await send(`${gateway.url}/`, {
      headers: { cookie: 'STICKY=%E0%A4%A; PHPSESSID=%ff' },
    });
    await note('malformed percent-encoding', badPercent.status);
    const rawPath = await rawExchange(
      gateway.url,
      head(['GET /caf\xe9/\xff HTTP/1.1', 'Host: 127.0.0.1', 'Connection: close']),
    );
    await note('non-UTF-8 path bytes', rawPath.status);

    // Header injection: bare CR, bare LF, obsolete folding, NUL, and an encoded CRLF in the query.
    const injections = [
      ['GET / HTTP/1.1', 'Host: 127.0.0.1', 'Cookie: a=1\rX-Injected: cr', 'Connection: close'],
      ['GET / HTTP/1.1', 'Host: 127.0.0.1', 'X-Test: a\nX-Injected: lf', 'Connection: close'],
      ['GET / HTTP/1.1', 'Host: 127.0.0.1', 'X-Test: a', ' X-Injected: fold', 'Connection: close'],
      ['GET / HTTP/1.1', 'Host: 127.0.0.1', 'X-Test: a\x00X-Injected: nul', 'Connection: close'],
      ['GET / HTTP/1.1', 'Host: 127.0.0.1\r\nX-Injected: host', 'Connection: close'],
    ];
    for (const lines of injections) {
      const res = await rawExchange(gateway.url, head(lines));
      await note('header injection', res.status);
      expect(res.head).not.toMatch(/\r\nx-injected:/i);
    }
    const encoded = await send(`${gateway.url}/?q=%0d%0aSet-Cookie:%20evil=1%0d%0aX-Injected:%20q`);
    await note('encoded CRLF in the query', encoded.status);
    expect(encoded.setCookies.some((c) => c.startsWith('evil'))).toBe(false);
    expect(encoded.headers['x-injected']).toBeUndefined();
    // What a backend saw as a header came from a header line, never from inside a value or the URL.
    expect(seenHeaders().filter((h) => /cr|nul|fold|q/.test(String(h['x-injected'] ?? '')))).toEqual([]);

    // Request smuggling: Content-Length and Transfer-Encoding together, a second request hidden in the body.
    const smuggle = await rawExchange(
      gateway.url,
      'POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n' +
        '0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n',
    );
    await note('request smuggling (CL + TE)', smuggle.status);
    expect(seenUrls()).not.toContain('/smuggled');

    // X-Forwarded-For spoofing: without trust proxy the backend sees the real peer only.
    const spoofed = await send(`${gateway.url}/`, {
      headers: {
        'x-forwarded-for': '6.6.6.6, 7.7.7.7',
        'x-forwarded-proto': 'https',
        forwarded: 'for=6.6.6.6',
      },
    });
    await note('X-Forwarded-For spoofing', spoofed.status);
    expect(String(who(spoofed).headers['x-forwarded-for'])).not.toMatch(/6\.6\.6\.6|7\.7\.7\.7/);
    expect(who(spoofed).headers['x-forwarded-proto']).toBe('http');

    // The upstream answers malformed Set-Cookie lines: passed on, no crash, the client keeps working.
    const bad = await client.get('/bad-cookie');
    await note('malformed Set-Cookie from upstream', bad.status);
    const after = await client.get('/');
    await note('request after malformed Set-Cookie', after.status);

    // The upstream closes mid-body: the client sees the answer cut short (never a complete 200).
    const cut = await send(`${gateway.url}/close-mid-body`).then(
      (res) => (res.body.length < 100_000 ? null : res.status),
      () => null,
    );
    await note('upstream closes mid-body', cut, true);
    expect(cut).toBeNull();
  }

  test('every attack gets a clean answer, the gateway never stops answering, the heap does not grow', async () => {
    await attackRound();
    // Replay after expiry: the app cookie lived 600 s, so the balancer cookie inside says so too.
    const { sticky } = await loggedIn();
    const expiredBefore = counters().expiredCookies;
    clock.advance(601_000);
    const stale = await send(`${gateway.url}/`, { headers: { cookie: `STICKY=${sticky}` } });
    await note('replayed expired cookie', stale.status);
    expect(counters().expiredCookies - expiredBefore).toBe(1);

    // Slowloris: clients dribbling a header byte every 20 ms hold connections; everybody else is served
    // and no partial request reaches a backend.
    const slow: net.Socket[] = [];
    const dribble = `GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ${'z'.repeat(200)}`;
    for (let i = 0; i < SLOW_CLIENTS; i++) {
      const socket = net.connect(Number(new URL(gateway.url).port), '127.0.0.1');
      socket.on('error', () => {});
      slow.push(socket);
    }
    let sent = 0;
    const drip = setInterval(() => {
      for (const socket of slow) if (!socket.destroyed) socket.write(dribble[sent % dribble.length]!);
      sent++;
    }, 20);
    const seenBefore = requestsSeen();
    const served: number[] = [];
    try {
      for (let i = 0; i < 20; i++) served.push((await send(`${gateway.url}/`, { timeoutMs: 5000 })).status);
      await waitFor(() => sent >= 20, 3000, 'slow clients dribbled');
    } finally {
      clearInterval(drip);
      for (const socket of slow) socket.destroy();
    }
    for (const status of served) await note('served during slowloris', status);
    expect(requestsSeen() - seenBefore).toBe(20);

    // One round more before measuring, so that the slow sockets just destroyed are gone from the heap.
    await attackRound();
    const heapBefore = retainedHeap();
    for (let round = 0; round < ROUNDS; round++) await attackRound();
    await waitFor(
      () => gateway.router.stats().backends.every((b) => b.active === 0),
      3000,
      'every route released',
    );
    const heapGrowth = retainedHeap() - heapBefore;

    const unexpected5xx = outcomes.filter((o) => o.status !== null && o.status >= 500 && !o.upstreamFault);
    // Per attack, the answers it got ("closed": the connection was cut without an answer).
    const answers: Record<string, string> = {};
    for (const o of outcomes) {
      const status = String(o.status ?? 'closed');
      const known = answers[o.attack]?.split(', ') ?? [];
      if (!known.includes(status)) answers[o.attack] = [...known, status].join(', ');
    }
    recordFigures(`hostile-input-${name}`, {
      adapter: name,
      attacks: outcomes.length,
      kinds: new Set(outcomes.map((o) => o.attack)).size,
      crashes,
      unexpected5xx: unexpected5xx.length,
      answers,
      forgedCookies: counters().forgedCookies,
      expiredCookies: counters().expiredCookies,
      slowClientsHeld: SLOW_CLIENTS,
      heapGrowthOver3RoundsMiB: mib(heapGrowth),
    });

    expect(crashes).toBe(0);
    expect(unexpected5xx).toEqual([]);
    expect(mib(heapGrowth)).toBeLessThan(8);
  }, 120_000);
});
