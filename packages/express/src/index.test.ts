// What the conformance suite does not cover for the Express adapter: that it leaves Express's req and res as
// it found them. Express gives each of them a V8 map of its own (it swaps their prototype, then adds
// properties), so every property an adapter added would copy that map on every request and make every later
// read of them slow (docs/benchmarks.md, "Where the adapters spend their time").

import http from 'node:http';
import type { AddressInfo } from 'node:net';
import express, { type Request, type Response } from 'express';
import { sticky } from './index';

function listen(server: http.Server, host = '127.0.0.1'): Promise<string> {
  const name = host.includes(':') ? `[${host}]` : host;
  return new Promise((resolve) =>
    server.listen(0, host, () => resolve(`http://${name}:${(server.address() as AddressInfo).port}`)),
  );
}

function get(url: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    http
      .get(url, { agent: false }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          body += chunk;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      })
      .on('error', reject);
  });
}

/** Own keys an adapter may have added: symbols and names that mention stickyroute. */
function stickyKeys(target: object): string[] {
  return Reflect.ownKeys(target)
    .map((key) => (typeof key === 'symbol' ? (key.description ?? '') : key))
    .filter((name) => /stick/i.test(name));
}

describe('@stickyroute/express on Express objects', () => {
  const servers: http.Server[] = [];
  afterEach(async () => {
    await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))));
  });

  it('proxies without adding a property to req or res, and releases the route', async () => {
    const backend = http.createServer((_req, res) => res.end('from backend'));
    servers.push(backend);
    const origin = await listen(backend);
    const middleware = sticky({
      backends: [origin],
      stickiness: { type: 'lb-cookie' },
      secret: 'test-secret-0123456789',
    });
    const seen: Array<{ req: Request; res: Response; closed: Promise<void> }> = [];
    const app = express();
    app.use((req, res, next) => {
      seen.push({ req, res, closed: new Promise((resolve) => res.on('close', resolve)) });
      next();
    });
    app.use(middleware);
    const gateway = http.createServer(app);
    servers.push(gateway);
    const url = await listen(gateway);
    try {
      const answers = [await get(url), await get(`${url}/second?x=1`)];
      expect(answers).toEqual([
        { status: 200, body: 'from backend' },
        { status: 200, body: 'from backend' },
      ]);
      await Promise.all(seen.map((s) => s.closed));
      expect(seen).toHaveLength(2);
      for (const { req, res } of seen) {
        expect(stickyKeys(req)).toEqual([]);
        expect(stickyKeys(res)).toEqual([]);
      }
      expect(middleware.router.stats().backends.map((b) => b.active)).toEqual([0]);
    } finally {
      await middleware.close();
    }
  });

  it('reaches a backend at an IPv6 address (the upstream target is built from the backend URL)', async () => {
    const backend = http.createServer((req, res) => res.end(`v6 ${req.url}`));
    servers.push(backend);
    const origin = await listen(backend, '::1');
    const middleware = sticky({ backends: [origin], secret: 'test-secret-0123456789' });
    const gateway = http.createServer(express().use(middleware));
    servers.push(gateway);
    try {
      expect(await get(`${await listen(gateway)}/path?q=1`)).toEqual({ status: 200, body: 'v6 /path?q=1' });
    } finally {
      await middleware.close();
    }
  });
});
