// pnpm bench:core — what a stickiness decision costs inside the core, in ns per operation, on the BUILT core
// (packages/core/dist, what users install): the returning client (parse cookie, verify, look up backend:
// routeNow + responseCookies, as an exchange takes them), the new client (pick, sign, serialize), source-ip hashing; how each
// scales from 3 to 10,000 backends; the hash-ring rebuild at 10,000 backends; heap bytes per client.
//
//   node test/bench/core.js            (BATCHES=15 BATCH=10000 to change the sample)
//
// Each figure is the median over BATCHES batches of BATCH operations (process CPU time), awaited as an
// adapter awaits router.route(). Results also go to test/bench/results/core.json for docs/benchmarks.md.

const { spawnSync } = require('node:child_process');
const { existsSync, mkdirSync, readFileSync, writeFileSync } = require('node:fs');
const { join } = require('node:path');

if (typeof global.gc !== 'function') {
  // Heap figures need a collector we can run: re-run this file with --expose-gc.
  const run = spawnSync(process.execPath, ['--expose-gc', __filename, ...process.argv.slice(2)], {
    stdio: 'inherit',
  });
  process.exit(run.status ?? 1);
}

const { ensureBuilt, ROOT } = require('./build-packages');
const isChild = process.argv[2] === '--scenario' || process.argv[2] === '--memory';
const built = isChild ? { ready: ['core'] } : ensureBuilt(['core']);
if (built.ready.length === 0) {
  console.error(`@stickyroute/core does not build:\n${built.failed.core}`);
  process.exit(1);
}
const core = require(join(ROOT, 'packages', 'core'));
// The exchange's per-request steps (route, the response's cookies, release), as the gateways take them.
const { BalancerCookieCodec, HashRing, routingOf, withTestHooks } = require(
  join(ROOT, 'packages', 'core', 'dist', 'testing.js'),
);
const { createStickyRouter, MemoryStore } = core;

const BATCHES = Number(process.env.BATCHES || 15);
const BATCH = Number(process.env.BATCH || 10000);
const SECRET = 'bench-core-secret-0123456789abcdef';
const SIZES = [3, 100, 1000, 10000];

const silent = { warn() {} };
const backendsOf = (n) =>
  Array.from({ length: n }, (_, i) => `http://10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}:8080`);

/** A clock whose seconds tick once per call of `tick()`, so that the per-second caches miss every time. */
function tickingClock() {
  let now = Date.now();
  return {
    now: () => now,
    tick: () => {
      now += 1000;
    },
    setTimeout: () => 0,
    clearTimeout() {},
  };
}

/**
 * A clock that reads the system time (so each call costs what Date.now() costs) but stays in one second,
 * so that a run of many operations measures the per-request path and not how often a second begins.
 */
function frozenClock() {
  const start = Date.now();
  return {
    now: () => (Date.now() > 0 ? start : 0),
    setTimeout: () => 0,
    clearTimeout() {},
  };
}

/** `hooks`: test hooks (a clock) for the router, through the core's testing entry. */
function routerOf(n, stickiness, hooks = {}) {
  return createStickyRouter(
    withTestHooks({ backends: backendsOf(n), stickiness, secret: SECRET, logger: silent }, hooks),
  );
}

function request(headers = {}, ip = '203.0.113.7') {
  return { method: 'GET', url: '/', headers: { host: 'gw.example', ...headers }, ip, secure: false };
}

/**
 * Median and spread of ns/op over batches; `op(i)` may return a promise (awaited, as adapters do).
 * Time is this process's CPU time, not wall time: on a machine shared with other work, the time slices
 * other processes take would otherwise land in our figures.
 */
async function measure({ router, requestFor, after }, batch = BATCH) {
  const routing = routingOf(router);
  // The decision path of one request, inline as an adapter drives it: route, cookies, release.
  const decide = async (i) => {
    const route = await routing.routeNow(requestFor(i));
    const cookies = routing.responseCookies(route, undefined);
    if (after !== undefined) after(cookies);
    routing.release(route);
  };
  const warmUp = Math.max(batch, 30_000 / Math.max(1, BATCH / batch)); // JIT tiers up after some thousands
  let i = 0;
  for (; i < warmUp; i++) await decide(i);
  const perOp = [];
  for (let b = 0; b < BATCHES; b++) {
    const start = process.cpuUsage();
    for (let k = 0; k < batch; k++, i++) {
      const route = await routing.routeNow(requestFor(i));
      const cookies = routing.responseCookies(route, undefined);
      if (after !== undefined) after(cookies);
      routing.release(route);
    }
    const used = process.cpuUsage(start);
    perOp.push(((used.user + used.system) * 1000) / batch);
  }
  perOp.sort((x, y) => x - y);
  return {
    median: perOp[Math.floor(perOp.length / 2)],
    p10: perOp[Math.floor(perOp.length * 0.1)],
    p90: perOp[Math.floor(perOp.length * 0.9)],
  };
}

/** One decision outside the measured loops (set-up, heap figures). */
async function decide(router, req) {
  const routing = routingOf(router);
  const route = await routing.routeNow(req);
  routing.responseCookies(route, undefined);
  routing.release(route);
  return route;
}

function mintCookie(router, backendIndex, nowSec, born = nowSec) {
  const codec = new BalancerCookieCodec([SECRET]);
  const id = router.pool.members[backendIndex].id;
  return `STICKY=${codec.encode(codec.backendToken(id), nowSec + 1200, born)}`;
}

/** Set-Cookie line → the value a browser sends back. */
function cookieValueOf(setCookie) {
  return setCookie.slice(setCookie.indexOf('=') + 1, setCookie.indexOf(';'));
}

/**
 * One scenario per child process, with one router, as in a gateway: call sites stay monomorphic, and no
 * scenario's garbage or JIT state leaks into the next. `setup(n)` answers the operation to time; `heavy`
 * scenarios (an HMAC per operation) run smaller batches.
 */
const SCENARIOS = {
  off: {
    label: 'stickiness off (pick only)',
    setup(n) {
      const router = routerOf(n, false, { clock: frozenClock() });
      const req = request();
      return { router, requestFor: () => req };
    },
  },
  returning: {
    label: 'returning client (lb-cookie): parse, verify, look up, re-issue',
    setup(n) {
      const clock = frozenClock();
      const router = routerOf(n, { type: 'lb-cookie' }, { clock });
      const nowSec = Math.floor(clock.now() / 1000);
      const req = request({ cookie: `theme=dark; ${mintCookie(router, n >> 1, nowSec)}; lang=en` });
      return { router, requestFor: () => req };
    },
  },
  returningNewSecond: {
    label: 'returning client, first request in a new second (re-sign)',
    heavy: true,
    // Sends back the value issued to it the second before: the verify cache knows it (this gateway signed
    // it), but the re-issued cookie slides to a new date, which takes one HMAC.
    setup(n) {
      const clock = tickingClock();
      const router = routerOf(n, { type: 'lb-cookie' }, { clock });
      const req = request({ cookie: mintCookie(router, n >> 1, Math.floor(clock.now() / 1000)) });
      return {
        router,
        requestFor: () => {
          clock.tick();
          return req;
        },
        after: (cookies) => {
          req.headers.cookie = `STICKY=${cookieValueOf(cookies[0])}`;
        },
      };
    },
  },
  returningForeign: {
    label: 'returning, cookie this gateway never issued (verify + sign)',
    heavy: true,
    setup(n) {
      const router = routerOf(n, { type: 'lb-cookie' });
      const nowSec = Math.floor(Date.now() / 1000);
      const reqs = Array.from({ length: 8192 }, (_, k) =>
        request({ cookie: mintCookie(router, k % n, nowSec, nowSec - k) }),
      );
      return { router, requestFor: (i) => reqs[i & 8191] };
    },
  },
  newClient: {
    label: 'new client (lb-cookie): pick, sign, serialize',
    setup(n) {
      const router = routerOf(n, { type: 'lb-cookie' }, { clock: frozenClock() });
      const req = request();
      return { router, requestFor: () => req };
    },
  },
  newClientNewSecond: {
    label: 'new client, first on its backend in this second',
    heavy: true,
    setup(n) {
      const clock = tickingClock();
      const router = routerOf(n, { type: 'lb-cookie' }, { clock });
      const req = request();
      return {
        router,
        requestFor: () => {
          clock.tick(); // a new second: the value for this backend is signed and serialized anew
          return req;
        },
      };
    },
  },
  sourceIpReturning: {
    label: 'source-ip, known client (store hit)',
    async setup(n) {
      const router = routerOf(n, { type: 'source-ip' }, { storeSize: 1_000_000, clock: frozenClock() });
      const reqs = Array.from({ length: 1 << 16 }, (_, k) => request({}, `198.51.${k >> 8}.${k & 255}`));
      for (const req of reqs) await decide(router, req);
      return { router, requestFor: (i) => reqs[i & 0xffff] };
    },
  },
  sourceIpNew: {
    label: 'source-ip, new client (hash ring + store)',
    setup(n) {
      const router = routerOf(n, { type: 'source-ip' }, { storeSize: 1_000_000, clock: frozenClock() });
      let next = 0;
      return {
        router,
        requestFor: () => request({}, `10.${(next >> 16) & 255}.${(next >> 8) & 255}.${next++ & 255}`),
      };
    },
  },
};

async function runScenario(name, n) {
  const scenario = SCENARIOS[name];
  const setup = await scenario.setup(n);
  const result = await measure(setup, scenario.heavy ? Math.max(100, BATCH / 20) : BATCH);
  await setup.router.close();
  return result;
}

function decisionPath() {
  const rows = SIZES.map((n) => ({ backends: n }));
  for (const name of Object.keys(SCENARIOS)) {
    for (const row of rows) {
      const args = ['--expose-gc', __filename, '--scenario', name, String(row.backends)];
      const child = spawnSync(process.execPath, args, {
        encoding: 'utf8',
        env: { ...process.env, BATCHES: String(BATCHES), BATCH: String(BATCH) },
      });
      if (child.status !== 0) throw new Error(`scenario ${name} at ${row.backends} failed:\n${child.stderr}`);
      row[name] = JSON.parse(child.stdout);
    }
    console.error(`  ${name}: ${rows.map((r) => fmt(r[name].median)).join(', ')}`);
  }
  return rows;
}

function ringRebuild() {
  const router = routerOf(10000, { type: 'source-ip' });
  const members = router.pool.members;
  const ring = new HashRing({ active: 0, acceptingWeight: members.length });
  const times = [];
  for (let k = 0; k < 5; k++) {
    const t0 = process.hrtime.bigint();
    ring.rebuild(members);
    times.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  times.sort((x, y) => x - y);
  // Everything one scale-up recomputes at 10,000 backends: ring, tokens, balancer schedule.
  const t0 = process.hrtime.bigint();
  router.pool.add('http://10.99.99.99:8080');
  const addMs = Number(process.hrtime.bigint() - t0) / 1e6;
  void router.close();
  return { ringRebuildMs: times[2], poolAddMs: addMs, points: members.length * 100 };
}

function heapUsed() {
  global.gc();
  global.gc();
  return process.memoryUsage().heapUsed;
}

const HEAP_CLIENTS = 400_000;
const HEAP_SAMPLES = 9;
const ipOf = (k) => request({}, `10.${(k >> 16) & 255}.${(k >> 8) & 255}.${k & 255}`);

/** The least-squares slope of y over x. */
function slope(xs, ys) {
  const mx = xs.reduce((a, b) => a + b, 0) / xs.length;
  const my = ys.reduce((a, b) => a + b, 0) / ys.length;
  let num = 0;
  let den = 0;
  for (let i = 0; i < xs.length; i++) {
    num += (xs[i] - mx) * (ys[i] - my);
    den += (xs[i] - mx) ** 2;
  }
  return num / den;
}

/**
 * Heap bytes per client through a router: the slope of the heap over HEAP_CLIENTS clients, sampled
 * HEAP_SAMPLES times after a warm-up. Bounded caches (emptied when full) make the heap a sawtooth of at most
 * a few MB whatever the number of clients; the slope over many clients is what grows per client.
 */
async function perClient(stickiness, requestOf, extra) {
  const router = routerOf(3, stickiness, extra);
  for (let k = 0; k < 20_000; k++) await decide(router, requestOf(k + HEAP_CLIENTS * 2));
  const xs = [];
  const ys = [];
  const step = HEAP_CLIENTS / (HEAP_SAMPLES - 1);
  for (let k = 0; k <= HEAP_CLIENTS; k++) {
    if (k % step === 0) {
      xs.push(k);
      ys.push(heapUsed());
    }
    if (k < HEAP_CLIENTS) await decide(router, requestOf(k));
  }
  await router.close();
  return slope(xs, ys);
}

/** Each heap figure is taken in a process of its own, so no other measurement's garbage lands in it. */
const MEMORY = {
  // The in-memory store on its own: one entry per source-ip client (key "ip:<address>", value a backend id).
  async memoryStoreEntry() {
    const store = new MemoryStore({ maxEntries: 1_000_000 });
    const before = heapUsed();
    for (let k = 0; k < 100_000; k++)
      await store.setIfAbsent(
        `ip:10.${(k >> 16) & 255}.${(k >> 8) & 255}.${k & 255}`,
        'http://10.0.0.1:8080',
        1200_000,
      );
    const bytes = (heapUsed() - before) / 100_000;
    if (store.size() !== 100_000) throw new Error('store lost entries');
    return bytes;
  },
  sourceIpPerClient: () => perClient({ type: 'source-ip' }, ipOf, { storeSize: 1_000_000 }),
  lbCookieNewPerClient: () => perClient({ type: 'lb-cookie' }, ipOf),
  // Every returning client with its own cookie value (distinct birth dates): the verify cache stays bounded.
  lbCookieReturningPerClient() {
    const nowSec = Math.floor(Date.now() / 1000);
    const codec = new BalancerCookieCodec([SECRET]);
    const token = codec.backendToken(backendsOf(3)[0]);
    return perClient({ type: 'lb-cookie' }, (k) =>
      request({ cookie: `STICKY=${codec.encode(token, nowSec + 1200, nowSec - (k % 1_000_000))}` }),
    );
  },
  appCookiePerClient: () => perClient({ type: 'app-cookie', appCookie: 'SID' }, ipOf),
};

function memory() {
  const out = {};
  for (const name of Object.keys(MEMORY)) {
    const child = spawnSync(process.execPath, ['--expose-gc', __filename, '--memory', name], {
      encoding: 'utf8',
    });
    if (child.status !== 0) throw new Error(`heap figure ${name} failed:\n${child.stderr}`);
    out[name] = Number(child.stdout);
  }
  return out;
}

function fmt(ns) {
  return ns >= 10000 ? `${(ns / 1000).toFixed(1)} µs` : `${Math.round(ns)} ns`;
}

async function main() {
  console.error(`bench:core — node ${process.version}, ${BATCHES} batches × ${BATCH} ops per figure`);
  const mem = memory();
  const rows = decisionPath();
  const ring = ringRebuild();

  const cols = Object.entries(SCENARIOS).map(([key, scenario]) => [key, scenario.label]);
  const lines = [];
  lines.push(
    `| decision (median ns/op) | ${SIZES.map((n) => `${n.toLocaleString('en-US')} backends`).join(' | ')} | 10,000 ÷ 3 |`,
  );
  lines.push(`|:--|${SIZES.map(() => '--:').join('|')}|--:|`);
  for (const [key, label] of cols) {
    const first = rows[0][key].median;
    const last = rows[rows.length - 1][key].median;
    lines.push(
      `| ${label} | ${rows.map((r) => fmt(r[key].median)).join(' | ')} | ${(last / first).toFixed(2)}× |`,
    );
  }
  lines.push('');
  lines.push(
    `Hash ring rebuild, 10,000 backends (${ring.points.toLocaleString('en-US')} points): ${ring.ringRebuildMs.toFixed(1)} ms; ` +
      `router.pool.add() at 10,000 backends (ring, tokens, schedule): ${ring.poolAddMs.toFixed(1)} ms.`,
  );
  lines.push('');
  lines.push(
    '| heap per client (slope over 400,000 clients after a warm-up; the store alone: 100,000 entries) | bytes |',
  );
  lines.push('|:--|--:|');
  lines.push(
    `| in-memory store, one source-ip entry (MemoryStore alone) | ${mem.memoryStoreEntry.toFixed(0)} |`,
  );
  lines.push(
    `| source-ip through the router (store entry + everything else) | ${mem.sourceIpPerClient.toFixed(0)} |`,
  );
  lines.push(`| lb-cookie, new clients | ${mem.lbCookieNewPerClient.toFixed(1)} |`);
  lines.push(
    `| lb-cookie, returning clients, each with its own cookie value | ${mem.lbCookieReturningPerClient.toFixed(1)} |`,
  );
  lines.push(`| app-cookie (follow), new clients | ${mem.appCookiePerClient.toFixed(1)} |`);
  const table = lines.join('\n');
  console.log(table);

  const r3 = rows[0];
  const r10k = rows[rows.length - 1];
  const worst = cols
    .map(([key, label]) => ({ label, ratio: r10k[key].median / r3[key].median }))
    .sort((a, b) => b.ratio - a.ratio)[0];
  const cookieBytes = Math.max(
    mem.lbCookieNewPerClient,
    mem.lbCookieReturningPerClient,
    mem.appCookiePerClient,
  );
  const targets = [
    {
      target: '3. returning client (lb-cookie), median ≤ 1 µs',
      figure: fmt(r3.returning.median),
      met: r3.returning.median <= 1000,
    },
    {
      target: '3. new client (lb-cookie), median ≤ 3 µs',
      figure: fmt(r3.newClient.median),
      met: r3.newClient.median <= 3000,
    },
    {
      target: '3. at most 2× slower at 10,000 backends than at 3 (worst decision)',
      figure: `${worst.ratio.toFixed(2)}× (${worst.label})`,
      met: worst.ratio <= 2,
    },
    {
      target: '5. in-memory store ≤ 200 bytes per entry',
      figure: `${mem.memoryStoreEntry.toFixed(0)} B (${mem.sourceIpPerClient.toFixed(0)} B through the router)`,
      met: mem.memoryStoreEntry <= 200,
    },
    // Heap figures move by a few bytes either way with the collector; anything kept per client would be tens.
    {
      target: '5. zero bytes per client in cookie modes',
      figure: `${cookieBytes.toFixed(1)} B`,
      met: cookieBytes < 2,
    },
  ];
  const targetTable = [
    '| target (issue 7) | figure | |',
    '|:--|--:|:--|',
    ...targets.map((t) => `| ${t.target} | ${t.figure} | ${t.met ? 'met' : '**missed**'} |`),
  ].join('\n');
  console.log(`\n${targetTable}`);

  const command = `BATCHES=${BATCHES} BATCH=${BATCH} node test/bench/core.js`;
  const docs = join(ROOT, 'docs', 'benchmarks.md');
  const begin = '<!-- bench:core:start -->';
  const finish = '<!-- bench:core:end -->';
  if (existsSync(docs)) {
    const text = readFileSync(docs, 'utf8');
    if (text.includes(begin) && text.includes(finish)) {
      const section = [
        begin,
        `Measured ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC with \`${command}\` (node ${process.version}): ` +
          `each figure is the median of ${BATCHES} batches of ${BATCH.toLocaleString('en-US')} awaited decisions ` +
          '(process CPU time per operation), each scenario in a process of its own with one router.',
        '',
        table,
        '',
        targetTable,
        finish,
      ].join('\n');
      writeFileSync(
        docs,
        text.slice(0, text.indexOf(begin)) + section + text.slice(text.indexOf(finish) + finish.length),
      );
      console.error('wrote the bench:core section of docs/benchmarks.md');
    }
  }

  const out = join(__dirname, 'results');
  mkdirSync(out, { recursive: true });
  writeFileSync(
    join(out, 'core.json'),
    JSON.stringify(
      {
        date: new Date().toISOString(),
        node: process.version,
        batches: BATCHES,
        batch: BATCH,
        rows,
        ring,
        memory: mem,
        targets,
        table,
      },
      null,
      2,
    ),
  );
}

if (process.argv[2] === '--memory') {
  MEMORY[process.argv[3]]().then(
    (bytes) => process.stdout.write(String(bytes)),
    (error) => {
      console.error(error);
      process.exit(1);
    },
  );
} else if (process.argv[2] === '--scenario') {
  runScenario(process.argv[3], Number(process.argv[4])).then(
    (result) => process.stdout.write(JSON.stringify(result)),
    (error) => {
      console.error(error);
      process.exit(1);
    },
  );
} else {
  main().catch((error) => {
    console.error(error);
    process.exit(1);
  });
}
