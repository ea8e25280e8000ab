// What the Redis store adds to a request, against the in-memory store, in one run of one process: two Express
// gateways with `header` stickiness over the same three backends — one with the default in-memory store, one
// with createRedisStore() on a real redis-server over loopback — and a client that sends the same stream of
// keyed requests to both, one request at a time, alternating, so both see the same machine at the same moment.
// Reports each side's median and p99 latency and the extra the Redis store costs (difference of the
// medians and p99s, and the median and p99 of the per-pair differences). Runs on the BUILT packages.
//
//   node test/bench/redis-latency.js           (REQUESTS=2000 CLIENTS=200 WARMUP=400; REDIS_URL=… to use
//                                               a running Redis instead of starting redis-server)
//
// The result also goes to test/bench/results/redis-latency.json.

const { spawn } = require('node:child_process');
const { mkdirSync, mkdtempSync, rmSync, writeFileSync } = require('node:fs');
const http = require('node:http');
const net = require('node:net');
const os = require('node:os');
const { join } = require('node:path');

const { ensureBuilt, ROOT } = require('./build-packages');

const REQUESTS = Number(process.env.REQUESTS || 2000);
const CLIENTS = Number(process.env.CLIENTS || 200);
const WARMUP = Number(process.env.WARMUP || 400);
const SECRET = 'bench-redis-secret-0123456789abcdef';

function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/** A throwaway redis-server on a free loopback port (no persistence), or REDIS_URL when given. */
async function startRedis() {
  if (process.env.REDIS_URL) return { url: process.env.REDIS_URL, stop: async () => {} };
  const port = await freePort();
  const dir = mkdtempSync(join(os.tmpdir(), 'stickyroute-bench-redis-'));
  const args = [
    '--port',
    String(port),
    '--bind',
    '127.0.0.1',
    '--save',
    '',
    '--appendonly',
    'no',
    '--dir',
    dir,
  ];
  const child = spawn('redis-server', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  await new Promise((resolve, reject) => {
    let output = '';
    const timer = setTimeout(() => reject(new Error(`redis-server did not start:\n${output}`)), 10_000);
    child.once('error', (error) => {
      clearTimeout(timer);
      reject(
        error.code === 'ENOENT'
          ? new Error('redis-server is not installed: `bash test/setup/system-deps.sh` installs it')
          : error,
      );
    });
    child.stdout.on('data', (chunk) => {
      output += chunk;
      if (output.includes('Ready to accept connections')) {
        clearTimeout(timer);
        child.stdout.resume();
        child.stderr.resume();
        resolve();
      }
    });
  });
  return {
    url: `redis://127.0.0.1:${port}`,
    stop: () =>
      new Promise((resolve) => {
        child.once('exit', () => {
          rmSync(dir, { recursive: true, force: true });
          resolve();
        });
        child.kill('SIGTERM');
      }),
  };
}

function listen(server) {
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => resolve(`http://127.0.0.1:${server.address().port}`)),
  );
}

function startBackend(name) {
  const server = http.createServer((req, res) => {
    req.resume();
    res.setHeader('content-type', 'application/json');
    res.end(`{"instance":"${name}"}`);
  });
  return listen(server).then((url) => ({ url, server }));
}

async function startGateway(express, sticky, options) {
  const middleware = sticky(options);
  const app = express();
  app.use(middleware);
  const server = http.createServer(app);
  const url = await listen(server);
  return { url, server, middleware };
}

/** One GET with the client's key, over a keep-alive connection; resolves to its latency in ms. */
function timedRequest(agent, url, key) {
  return new Promise((resolve, reject) => {
    const started = process.hrtime.bigint();
    const req = http.get(`${url}/`, { agent, headers: { 'x-api-key': key } }, (res) => {
      res.resume();
      res.on('end', () => {
        if (res.statusCode !== 200) return reject(new Error(`${url} answered ${res.statusCode}`));
        resolve(Number(process.hrtime.bigint() - started) / 1e6);
      });
    });
    req.on('error', reject);
  });
}

function quantile(sorted, q) {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

function summary(values) {
  const sorted = [...values].sort((a, b) => a - b);
  return {
    median: quantile(sorted, 0.5),
    p99: quantile(sorted, 0.99),
    mean: sorted.reduce((s, v) => s + v, 0) / sorted.length,
  };
}

const round3 = (x) => Math.round(x * 1000) / 1000;

async function main() {
  const built = ensureBuilt(['core', 'express', 'redis']);
  if (built.ready.length < 3) {
    console.error(`the packages do not build:\n${JSON.stringify(built.failed, null, 2)}`);
    process.exit(1);
  }
  const { sticky } = require(join(ROOT, 'packages', 'express'));
  const { createRedisStore } = require(join(ROOT, 'packages', 'redis'));
  const express = require('express');

  const redis = await startRedis();
  const backends = await Promise.all(['a', 'b', 'c'].map(startBackend));
  const store = createRedisStore({ url: redis.url, prefix: 'bench:' });
  await store.ready();
  await store.client.flushdb();
  const common = {
    backends: backends.map((b, i) => ({ url: b.url, id: 'abc'[i] })),
    stickiness: { type: 'header', header: 'x-api-key', duration: '10m' },
    secret: SECRET,
    logger: { warn: (m) => console.error(m) },
  };
  const memory = await startGateway(express, sticky, common);
  const shared = await startGateway(express, sticky, { ...common, store });
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const keyOf = (i) => `client-${i % CLIENTS}`;

  // Warm-up: JIT, connections, and every client key placed in both stores (the run measures returning
  // clients: a sliding read per request, as in steady state).
  for (let i = 0; i < Math.max(WARMUP, CLIENTS); i++) {
    await timedRequest(agent, memory.url, keyOf(i));
    await timedRequest(agent, shared.url, keyOf(i));
  }
  const memoryMs = [];
  const redisMs = [];
  const pairDiffMs = [];
  for (let i = 0; i < REQUESTS; i++) {
    // Alternate which goes first, so neither side always follows the other.
    const first = i % 2 === 0 ? memory : shared;
    const a = await timedRequest(agent, first.url, keyOf(i));
    const b = await timedRequest(agent, first === memory ? shared.url : memory.url, keyOf(i));
    const [m, r] = first === memory ? [a, b] : [b, a];
    memoryMs.push(m);
    redisMs.push(r);
    pairDiffMs.push(r - m);
  }
  const storeErrors = shared.middleware.router.stats().requests.storeErrors;
  const sticky_ = shared.middleware.router.stats().requests.sticky;

  const mem = summary(memoryMs);
  const red = summary(redisMs);
  const diff = summary(pairDiffMs);
  const result = {
    date: new Date().toISOString(),
    node: process.version,
    cpus: os.cpus().length,
    loadavg: os.loadavg().map(round3),
    requests: REQUESTS,
    clients: CLIENTS,
    memoryStoreMs: { median: round3(mem.median), p99: round3(mem.p99) },
    redisStoreMs: { median: round3(red.median), p99: round3(red.p99) },
    extraMs: {
      median: round3(red.median - mem.median),
      p99: round3(red.p99 - mem.p99),
      pairedMedian: round3(diff.median),
      pairedP99: round3(diff.p99),
    },
    redisStoreErrors: storeErrors,
    redisStickyRequests: sticky_,
  };
  console.log(
    `Redis store vs in-memory store: ${REQUESTS} header-keyed requests each, ${CLIENTS} returning clients, one at a time`,
  );
  console.log(`  in-memory   median ${result.memoryStoreMs.median} ms   p99 ${result.memoryStoreMs.p99} ms`);
  console.log(`  redis       median ${result.redisStoreMs.median} ms   p99 ${result.redisStoreMs.p99} ms`);
  console.log(
    `  extra       median ${result.extraMs.median} ms   p99 ${result.extraMs.p99} ms   (per pair: median ${result.extraMs.pairedMedian} ms, p99 ${result.extraMs.pairedP99} ms)`,
  );
  console.log(
    `  (store errors during the run: ${storeErrors}; load average ${result.loadavg.join(' ')} on ${result.cpus} CPUs)`,
  );
  mkdirSync(join(__dirname, 'results'), { recursive: true });
  writeFileSync(join(__dirname, 'results', 'redis-latency.json'), `${JSON.stringify(result, null, 2)}\n`);

  agent.destroy();
  for (const g of [memory, shared]) {
    g.server.closeAllConnections();
    await new Promise((resolve) => g.server.close(resolve));
    await g.middleware.close();
  }
  await store.close();
  for (const b of backends) {
    b.server.closeAllConnections();
    await new Promise((resolve) => b.server.close(resolve));
  }
  await redis.stop();
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
