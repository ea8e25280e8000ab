// HTTP/2 clients through each adapter that serves them (Koa, Fastify, the node handler): `curl --http2` and
// Chromium negotiate h2 over TLS (ALPN) with the gateway, and the balancer cookie keeps them on one instance
// as it keeps HTTP/1.1 clients; the upstream stays HTTP/1.1. Express cannot run on an HTTP/2 server (its
// request objects are HTTP/1's), so its middleware refuses one, with a clear error, when attached.

import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http2 from 'node:http2';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { StickyConfigError } from '@stickyroute/core';
import { sticky } from '@stickyroute/express';
import type { Browser } from 'playwright-core';
import type { GatewayHarness, StartedGateway } from '../conformance/harness';
import { fastifyHarness } from '../conformance/harness-fastify';
import { koaHarness } from '../conformance/harness-koa';
import { nodeHarness } from '../conformance/harness-node';
import { launchChromium } from '../support/chromium';
import { type LegacyApp, startLegacyApps } from '../support/legacy-app';
import { makeSelfSignedCert } from '../support/self-signed-cert';

const run = promisify(execFile);
jest.setTimeout(30_000);

let apps: LegacyApp[];
let tls: { key: string; cert: string };
let browser: Browser;
const jars = mkdtempSync(join(tmpdir(), 'stickyroute-h2-'));

beforeAll(async () => {
  apps = await startLegacyApps(3);
  tls = await makeSelfSignedCert();
  writeFileSync(join(jars, 'ca.pem'), tls.cert);
  browser = await launchChromium(['--ignore-certificate-errors']);
});
afterAll(async () => {
  await browser?.close();
  await Promise.all(apps.map((a) => a.close()));
  rmSync(jars, { recursive: true, force: true });
});

const start = (harness: GatewayHarness): Promise<StartedGateway> =>
  harness.start(
    {
      backends: apps.map((a) => ({ url: a.url, id: a.instance })),
      stickiness: { type: 'lb-cookie' },
      secret: 'http2-test-secret-0123456789',
      logger: { warn() {} },
    },
    { http2: tls },
  );

describe.each([koaHarness, fastifyHarness, nodeHarness].map((h) => [h.name, h] as const))(
  'HTTP/2 clients through %s',
  (name, harness) => {
    let gateway: StartedGateway;
    beforeAll(async () => {
      gateway = await start(harness);
    });
    afterAll(() => gateway.close());

    test('curl --http2 speaks h2 and stays on one instance with its cookie jar', async () => {
      const jar = join(jars, `${name}.txt`);
      const instances = new Set<string>();
      for (let i = 0; i < 4; i++) {
        const { stdout } = await run('curl', [
          '--http2',
          '--silent',
          '--cacert',
          join(jars, 'ca.pem'),
          '--cookie',
          jar,
          '--cookie-jar',
          jar,
          '--dump-header',
          '-',
          '--output',
          '/dev/null',
          '--write-out',
          'version=%{http_version}',
          `${gateway.url}/curl?i=${i}`,
        ]);
        expect(stdout).toMatch(/^HTTP\/2 200/);
        expect(stdout).toContain('version=2');
        instances.add(/x-instance: (\w+)/i.exec(stdout)?.[1] ?? 'none');
      }
      expect(instances.size).toBe(1);
      expect(gateway.router.stats().requests.sticky).toBeGreaterThanOrEqual(3);
    });

    test('Chromium loads pages over h2 and its balancer cookie holds it on one instance', async () => {
      // The gateway's certificate is self-signed: the browser is told to accept it.
      const context = await browser.newContext({ ignoreHTTPSErrors: true });
      try {
        const page = await context.newPage();
        const instances = new Set<string>();
        for (let i = 0; i < 3; i++) {
          const response = await page.goto(`${gateway.url}/page?i=${i}`);
          expect(response?.status()).toBe(200);
          instances.add((await response!.json()).instance);
          const protocol = await page.evaluate(
            "performance.getEntriesByType('navigation')[0].nextHopProtocol",
          );
          expect(protocol).toBe('h2');
        }
        expect(instances.size).toBe(1);
        const cookies = await context.cookies();
        expect(cookies.find((c) => c.name === 'STICKY')).toMatchObject({ secure: true, httpOnly: true });
      } finally {
        await context.close();
      }
    });
  },
);

test('Express refuses an HTTP/2 server when attached: a StickyConfigError that says what to use instead', () => {
  const middleware = sticky({ backends: [apps[0]!.url], logger: { warn() {} } });
  const server = http2.createSecureServer({ ...tls, allowHTTP1: true });
  try {
    expect(() => middleware.attach(server as never)).toThrow(StickyConfigError);
    expect(() => middleware.attach(server as never)).toThrow(/HTTP\/2.*Koa, Fastify or @stickyroute\/node/);
  } finally {
    server.close();
    void middleware.close();
  }
});
