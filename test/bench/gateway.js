// One gateway for the benchmarks, chosen by environment, serving 127.0.0.1:PROXY_PORT in the foreground in
// front of BACKEND_PORTS (usable as a CUSTOM line of ../shared/bench-anchors/run.sh, and started by run.js):
//
//   ADAPTER     node | express | koa | fastify              our adapters (the BUILT packages, packages/*/dist)
//               raw-undici | node-http-proxy | raw-express | raw-koa | raw-fastify
//                                                          the same engines with round robin and no stickiness
//               raw-express-xfwd | raw-koa-xfwd | raw-fastify-xfwd
//                                                          …sending X-Forwarded-* as ours do (HPM's xfwd; for
//                                                          fastify, reply-from's rewriteRequestHeaders)
//   STICKINESS  off | lb-cookie | app-cookie | app-cookie-learn | source-ip | header
//                                                          (our adapters only; app-cookie follows or learns
//                                                          nginx's SID; header keys on Host)
//   SECRET      the balancer cookie's secret (default: a fixed bench secret, so cookies can be minted ahead)
//
//   node test/bench/gateway.js --mint-cookie [backend index]  prints `STICKY=<value>`: a valid returning-client
//   cookie for that backend (default 1, the second), signed with SECRET, valid for 24 hours.
//
// The raw proxies are the anchors' (../shared/bench-anchors/proxies/*.js), written out here so that the
// bench depends on nothing outside this repository: same engines, options and versions as our adapters use.

const http = require('node:http');
const { createRequire } = require('node:module');
const { join, resolve } = require('node:path');

// `ADAPTER=koa@/path/to/another/checkout` runs that checkout's built packages (a before/after comparison in
// one run: bench:ab and bench:instructions take such names too).
const [ADAPTER_NAME, OTHER_ROOT] = (process.env.ADAPTER || 'node').split('@');
const ROOT = OTHER_ROOT ? resolve(OTHER_ROOT) : resolve(__dirname, '..', '..');
const fromPackage = (name) => createRequire(join(ROOT, 'packages', name, 'package.json'));
const coreTesting = () => {
  try {
    return require(join(ROOT, 'packages', 'core', 'dist', 'testing.js'));
  } catch {
    return {};
  }
};
const coreMain = () => require(join(ROOT, 'packages', 'core'));

const SECRET = process.env.SECRET || 'stickyroute-bench-secret-0123456789';
const HOST = '127.0.0.1';
const PORT = Number(process.env.PROXY_PORT || 8080);
const TARGETS = (process.env.BACKEND_PORTS || '9101,9102,9103').split(',').map((p) => `http://${HOST}:${p}`);
// raw-*-xfwd: the raw engines sending X-Forwarded-For/-Proto/-Host (HPM's xfwd adds -Port too), which our
// adapters always send: what forwarding those headers costs the engine by itself.
const XFWD = /-xfwd$/.test(ADAPTER_NAME);
const STICKINESS = {
  off: false,
  // 24 h, the longest allowed, so a cookie minted before a run stays valid through it.
  'lb-cookie': { type: 'lb-cookie', duration: '24h' },
  'app-cookie': { type: 'app-cookie', appCookie: 'SID' },
  'app-cookie-learn': { type: 'app-cookie', appCookie: 'SID', mode: 'learn' },
  'source-ip': { type: 'source-ip' },
  // wrk sends no API key: the Host header every request carries stands in for one (one key, one backend).
  header: { type: 'header', header: 'host' },
};

function stickyOptions() {
  const name = process.env.STICKINESS || 'lb-cookie';
  if (!(name in STICKINESS))
    throw new Error(`STICKINESS must be one of ${Object.keys(STICKINESS).join(', ')}`);
  return { backends: TARGETS, stickiness: STICKINESS[name], secret: SECRET, logger: { warn() {} } };
}

function keepAliveAgent() {
  return new http.Agent({ keepAlive: true, maxSockets: 256, maxFreeSockets: 256 });
}

const GATEWAYS = {
  // ---- ours ----
  node() {
    const { createStickyHandler } = require(join(ROOT, 'packages', 'node'));
    http.createServer(createStickyHandler(stickyOptions())).listen(PORT, HOST);
  },
  express() {
    const express = fromPackage('express')('express');
    const { sticky } = require(join(ROOT, 'packages', 'express'));
    const app = express();
    app.use(sticky(stickyOptions()));
    app.listen(PORT, HOST);
  },
  koa() {
    const Koa = fromPackage('koa')('koa');
    const { sticky } = require(join(ROOT, 'packages', 'koa'));
    const app = new Koa();
    app.use(sticky(stickyOptions()));
    app.listen(PORT, HOST);
  },
  async fastify() {
    const fastify = fromPackage('fastify')('fastify');
    const { sticky } = require(join(ROOT, 'packages', 'fastify'));
    const app = fastify({ logger: false });
    await app.register(sticky, stickyOptions());
    await app.listen({ port: PORT, host: HOST });
  },

  // ---- the raw engines, no stickiness (anchors' proxies) ----
  'raw-undici'() {
    // node:http server + an undici Pool per backend, round robin, streaming both ways: the ceiling.
    const { Pool } = fromPackage('node')('undici');
    const pools = TARGETS.map((t) => new Pool(t, { connections: 64, pipelining: 1 }));
    let i = 0;
    const hop = new Set([
      'connection',
      'keep-alive',
      'transfer-encoding',
      'upgrade',
      'proxy-connection',
      'te',
      'trailer',
    ]);
    http
      .createServer((req, res) => {
        const pool = pools[i++ % pools.length];
        const headers = {};
        for (const k in req.headers) if (!hop.has(k)) headers[k] = req.headers[k];
        pool.stream(
          {
            path: req.url,
            method: req.method,
            headers,
            body: req.method === 'GET' || req.method === 'HEAD' ? null : req,
          },
          ({ statusCode, headers: h }) => {
            for (const k in h) if (hop.has(k)) delete h[k];
            res.writeHead(statusCode, h);
            return res;
          },
          (err) => {
            if (err && !res.headersSent) {
              res.statusCode = 502;
              res.end();
            }
          },
        );
      })
      .listen(PORT, HOST);
  },
  'node-http-proxy'() {
    const httpProxy = require('http-proxy');
    const proxy = httpProxy.createProxyServer({ agent: keepAliveAgent() });
    proxy.on('error', (_err, _req, res) => {
      if (res && !res.headersSent && res.writeHead) {
        res.writeHead(502);
        res.end('bad gateway\n');
      }
    });
    let i = 0;
    http
      .createServer((req, res) => proxy.web(req, res, { target: TARGETS[i++ % TARGETS.length] }))
      .listen(PORT, HOST);
  },
  'raw-express'() {
    const express = fromPackage('express')('express');
    const { createProxyMiddleware } = fromPackage('express')('http-proxy-middleware');
    let i = 0;
    const app = express();
    app.use(
      createProxyMiddleware({
        target: TARGETS[0],
        router: () => TARGETS[i++ % TARGETS.length],
        agent: keepAliveAgent(),
        xfwd: XFWD,
      }),
    );
    app.listen(PORT, HOST);
  },
  'raw-koa'() {
    // Koa has no proxy of its own: http-proxy-middleware under ctx.respond = false, as @stickyroute/koa does.
    const Koa = fromPackage('koa')('koa');
    const { createProxyMiddleware } = fromPackage('koa')('http-proxy-middleware');
    let i = 0;
    const proxy = createProxyMiddleware({
      target: TARGETS[0],
      router: () => TARGETS[i++ % TARGETS.length],
      agent: keepAliveAgent(),
      xfwd: XFWD,
    });
    const app = new Koa();
    app.use(async (ctx) => {
      ctx.respond = false;
      await proxy(ctx.req, ctx.res, (error) => {
        if (error) throw error;
      });
    });
    app.listen(PORT, HOST);
  },
  async 'raw-fastify'() {
    // @fastify/reply-from, as @stickyroute/fastify uses it: a catch-all route, getUpstream round robin, bodies
    // streamed through, reply-from's own retries off.
    const fastify = fromPackage('fastify')('fastify');
    const app = fastify({ logger: false });
    let i = 0;
    await app.register(fromPackage('fastify')('@fastify/reply-from'), {
      undici: { connections: 64, pipelining: 1 },
      disableRequestLogging: true,
    });
    app.removeAllContentTypeParsers();
    app.addContentTypeParser('*', (_request, payload, done) => done(null, payload));
    const options = {
      getUpstream: () => TARGETS[i++ % TARGETS.length],
      retryDelay: () => null,
      // raw-fastify-xfwd: X-Forwarded-* added as ours add them (a copy built name by name, not a spread).
      ...(XFWD && {
        rewriteRequestHeaders: (request, headers) => {
          const out = {};
          for (const name in headers) out[name] = headers[name];
          out['x-forwarded-for'] = request.ip;
          out['x-forwarded-proto'] = request.protocol;
          out['x-forwarded-host'] = request.headers.host;
          return out;
        },
      }),
    };
    const handler = (request, reply) => reply.from(request.url, options);
    for (const url of ['/', '/*']) app.all(url, handler);
    await app.listen({ port: PORT, host: HOST });
  },
};

GATEWAYS['raw-express-xfwd'] = GATEWAYS['raw-express'];
GATEWAYS['raw-koa-xfwd'] = GATEWAYS['raw-koa'];
GATEWAYS['raw-fastify-xfwd'] = GATEWAYS['raw-fastify'];

/** A returning client's cookie for backend `index`, signed as the gateway signs (lb-cookie, 24 h). */
function mintCookie(index = 1) {
  // Trees from before the core's testing entry exported the codec from the main one.
  const { BalancerCookieCodec } = coreTesting().BalancerCookieCodec ? coreTesting() : coreMain();
  const codec = new BalancerCookieCodec([SECRET]);
  const now = Math.floor(Date.now() / 1000);
  const id = TARGETS[index];
  if (id === undefined) throw new Error(`no backend ${index} in BACKEND_PORTS`);
  return `STICKY=${codec.encode(codec.backendToken(id), now + 24 * 3600, now)}`;
}

if (require.main === module) {
  if (process.argv[2] === '--mint-cookie') {
    process.stdout.write(`${mintCookie(Number(process.argv[3] ?? 1))}\n`);
  } else {
    const adapter = ADAPTER_NAME;
    const start = GATEWAYS[adapter];
    if (start === undefined) {
      console.error(`ADAPTER must be one of ${Object.keys(GATEWAYS).join(', ')}`);
      process.exit(2);
    }
    process.on('SIGTERM', () => process.exit(0));
    Promise.resolve(start()).catch((error) => {
      console.error(error);
      process.exit(1);
    });
  }
}

module.exports = { mintCookie, GATEWAYS, TARGETS };
