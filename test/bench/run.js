// pnpm bench — what stickiness costs on the request path, measured in one run on this machine.
//
// Starts three backends (one nginx worker on three ports, or three node:http processes without nginx), then,
// one at a time, every gateway on 127.0.0.1 — direct to a backend, the raw engines without stickiness (bare
// node:http + undici, node-http-proxy, express + http-proxy-middleware, koa + http-proxy-middleware, fastify +
// @fastify/http-proxy), and each of our adapters (node, express, koa, fastify) with stickiness off, lb-cookie
// for new clients (no cookie sent), lb-cookie for returning clients (a valid cookie sent), app-cookie and
// source-ip — loads each with wrk, and prints requests/s, p50, p99, proxy CPU µs per request (from
// /proc/PID/stat), the ratio to direct and to the same framework's raw proxy, and issue 7's targets.
//
//   node test/bench/run.js        PASSES=3 DURATION=4 WARMUP=3 THREADS=2 CONNS=50 BASE_PORT=19100 ONLY=<regex>
//                                 BACKEND=nginx|node (default: nginx when installed)
//                                 PROFILE=<regex>: run the matching gateways under --cpu-prof and print the
//                                 top self-time entries of each (also kept in results/bench.json)
//
// Writes test/bench/results/bench.json, docs/benchmarks.svg (the chart) and the results section of
// docs/benchmarks.md (between its bench:results markers). Every process it starts is stopped by its PID.

const { spawn, spawnSync } = require('node:child_process');
const {
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  readdirSync,
  writeFileSync,
} = require('node:fs');
const http = require('node:http');
const net = require('node:net');
const { tmpdir } = require('node:os');
const { join } = require('node:path');
const { ensureBuilt, ROOT } = require('./build-packages');

const DURATION = Number(process.env.DURATION || 4);
const WARMUP = Number(process.env.WARMUP || 3);
// The whole list is measured PASSES times over; each figure of the table is the median of its passes, and
// each ratio is taken within a pass first (against that pass's direct and raw runs), then its median.
const PASSES = Number(process.env.PASSES || 3);
const THREADS = Number(process.env.THREADS || 2);
const CONNS = Number(process.env.CONNS || 50);
const BASE_PORT = Number(process.env.BASE_PORT || 19100);
const ONLY = process.env.ONLY ? new RegExp(process.env.ONLY) : null;
const PROFILE = process.env.PROFILE ? new RegExp(process.env.PROFILE) : null;
// PIN=1: the gateway alone on CPU 1, wrk and the backends on CPU 0 (taskset), so the gateway's CPU time is
// not inflated by sharing its core's caches with the load generator. Both sides still compete for nothing else.
const PIN = process.env.PIN === '1';
/** [command, args] run on `cpus` when PIN=1 (taskset execs it: the PID stays the command's). */
function onCpus(cpus, command, args) {
  return PIN ? ['taskset', ['-c', cpus, command, ...args]] : [command, args];
}
const PROXY_PORT = BASE_PORT;
const BACKEND_PORTS = [BASE_PORT + 1, BASE_PORT + 2, BASE_PORT + 3];
/** The app's session cookie a returning client sends back (the anchors' run.sh sends the same). */
const SID_COOKIE = 'SID=bench0123456789abcdef0123456789ab';
const CLK_TCK = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim() || 100);
const RESULTS = join(__dirname, 'results');
const started = Date.now();

const log = (line) => process.stderr.write(`[${new Date().toISOString().slice(11, 19)}] ${line}\n`);

// ---------------------------------------------------------------- what runs
const FRAMEWORKS = [
  { name: 'node', raw: 'raw-undici', rawLabel: 'bare node:http + undici Pool (the ceiling)' },
  { name: 'express', raw: 'raw-express', rawLabel: 'express 5 + http-proxy-middleware 3' },
  { name: 'koa', raw: 'raw-koa', rawLabel: 'koa 3 + http-proxy-middleware 3' },
  { name: 'fastify', raw: 'raw-fastify', rawLabel: 'fastify 5 + @fastify/http-proxy (getUpstream)' },
].map((fw) =>
  // The framework engines send no X-Forwarded-* unless told to, and DESIGN.md has our adapters send three:
  // `raw-…-xfwd` is the raw engine sending them too, a second reference (× raw+xfwd) that leaves stickiness
  // alone in the difference. (raw-undici's ceiling has none; the node adapter is compared with it as it is.)
  fw.name === 'node' ? fw : { ...fw, xfwd: `${fw.raw}-xfwd` },
);
const VARIANTS = [
  { kind: 'off', stickiness: 'off', label: 'stickiness off' },
  { kind: 'lb-new', stickiness: 'lb-cookie', label: 'lb-cookie, new client (no cookie sent)' },
  {
    kind: 'lb-returning',
    stickiness: 'lb-cookie',
    cookie: true,
    label: "lb-cookie, returning clients (a valid STICKY for each backend in turn, and the app's SID)",
  },
  { kind: 'app-cookie', stickiness: 'app-cookie', label: 'app-cookie (follows SID; no cookie sent)' },
  { kind: 'source-ip', stickiness: 'source-ip', label: 'source-ip' },
];

/**
 * The run order. Each framework is a block: its raw engine, our five variants, and the raw engine again, so
 * that a drift of the machine during the block (other work starting or stopping) shows in both sides of the
 * ratio: the reference is the mean of the two raw runs, as direct is the mean of the first and last runs.
 */
function scenarios() {
  const list = [{ name: 'direct', framework: null, kind: 'direct', label: 'wrk → backend, no proxy' }];
  list.push({
    name: 'node-http-proxy',
    framework: null,
    kind: 'raw',
    env: { ADAPTER: 'node-http-proxy' },
    label: 'node:http + http-proxy 1 (keep-alive agent)',
  });
  for (const fw of FRAMEWORKS) {
    const raw = { framework: fw.name, kind: 'raw', env: { ADAPTER: fw.raw } };
    const xfwd = fw.xfwd && { framework: fw.name, kind: 'raw-xfwd', env: { ADAPTER: fw.xfwd } };
    const xfwdLabel = `${fw.rawLabel}, sending X-Forwarded-For/-Proto/-Host as ours do`;
    list.push({ ...raw, name: fw.raw, label: fw.rawLabel });
    if (xfwd) list.push({ ...xfwd, name: fw.xfwd, label: xfwdLabel });
    for (const v of VARIANTS) {
      // Returning clients send a cookie: their reference is the raw engine fed the very same requests.
      if (v.kind === 'lb-returning') {
        list.push({
          ...raw,
          name: `${fw.raw}-cookies`,
          cookie: true,
          label: `${fw.rawLabel}, sent the returning clients' requests (the reference of lb-returning)`,
        });
        if (xfwd)
          list.push({
            ...xfwd,
            name: `${fw.xfwd}-cookies`,
            cookie: true,
            label: `${xfwdLabel}, sent the returning clients' requests`,
          });
      }
      list.push({
        name: `${fw.name}-${v.kind}`,
        framework: fw.name,
        kind: v.kind,
        env: { ADAPTER: fw.name, STICKINESS: v.stickiness },
        cookie: v.cookie,
        label: `@stickyroute/${fw.name}, ${v.label}`,
      });
    }
    list.push({ ...raw, name: `${fw.raw}-end`, label: `${fw.rawLabel}, again after the block` });
  }
  list.push({ name: 'direct-end', framework: null, kind: 'direct', label: 'wrk → backend, no proxy (end)' });
  return list.filter((s) => s.kind === 'direct' || ONLY === null || ONLY.test(s.name));
}

// ---------------------------------------------------------------- processes
const live = new Map(); // pid -> child
function startProcess(command, args, logFile, env = {}) {
  const out = openSync(logFile, 'a');
  const child = spawn(command, args, { stdio: ['ignore', out, out], env: { ...process.env, ...env } });
  live.set(child.pid, child);
  child.on('exit', () => live.delete(child.pid));
  return child;
}
function stopProcess(child) {
  if (!live.has(child.pid)) return Promise.resolve();
  return new Promise((done) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
    child.once('exit', () => {
      clearTimeout(timer);
      done();
    });
    child.kill('SIGTERM');
  });
}
/** Every process still running, with SIGTERM (nginx's master then stops its worker too). */
async function stopAllGracefully() {
  for (const child of [...live.values()]) await stopProcess(child);
}
function stopAll() {
  for (const child of live.values()) child.kill('SIGKILL');
}
process.on('exit', stopAll);
for (const signal of ['SIGINT', 'SIGTERM'])
  process.on(signal, () => {
    stopAll();
    process.exit(130);
  });

function portOpen(port) {
  return new Promise((done) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      done(true);
    });
    socket.once('error', () => done(false));
  });
}
async function waitForPort(port, child, what, timeoutMs = 15_000) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await portOpen(port)) return;
    if (child !== undefined && !live.has(child.pid))
      throw new Error(`${what} exited before listening on ${port}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`${what} did not listen on ${port} within ${timeoutMs / 1000} s`);
}

/** utime + stime of `pids` and their direct children (nginx workers), in ticks. */
function cpuTicks(pids) {
  const all = new Set(pids);
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (pids.includes(Number(fields[1]))) all.add(Number(entry));
    } catch {}
  }
  let total = 0;
  for (const pid of all) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      total += Number(fields[11]) + Number(fields[12]);
    } catch {}
  }
  return total;
}
function machineTicks() {
  const [, ...values] = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/);
  const n = values.map(Number);
  const idle = n[3] + n[4];
  const total = n.slice(0, 8).reduce((a, b) => a + b, 0);
  return { busy: total - idle, total };
}

// ---------------------------------------------------------------- backends
async function startBackends(runDir) {
  const nginx = spawnSync('nginx', ['-v']).error === undefined;
  const useNginx = process.env.BACKEND ? process.env.BACKEND === 'nginx' : nginx;
  if (useNginx && !nginx)
    throw new Error('BACKEND=nginx, but nginx is not installed (apt-get install nginx)');
  if (useNginx) {
    const prefix = join(runDir, 'backend');
    mkdirSync(join(prefix, 'tmp'), { recursive: true });
    let conf = readFileSync(join(__dirname, 'conf', 'backend-nginx.conf'), 'utf8');
    BACKEND_PORTS.forEach((port, i) => {
      conf = conf.replace(`@PORT${i + 1}@`, String(port));
    });
    writeFileSync(join(prefix, 'nginx.conf'), conf);
    const args = [
      '-p',
      `${prefix}/`,
      '-c',
      join(prefix, 'nginx.conf'),
      '-e',
      join(prefix, 'error.log'),
      '-g',
      'daemon off;',
    ];
    const child = startProcess(...onCpus('0', 'nginx', args), join(runDir, 'backend.log'));
    for (const port of BACKEND_PORTS) await waitForPort(port, child, 'nginx backend');
    return {
      kind: 'nginx',
      version: spawnSync('nginx', ['-v'], { encoding: 'utf8' }).stderr.trim(),
      pids: [child.pid],
    };
  }
  log(
    'nginx is not installed: three node:http backends instead (BACKEND=node); each costs more CPU than nginx',
  );
  const pids = [];
  for (const [i, port] of BACKEND_PORTS.entries()) {
    const child = startProcess(
      process.execPath,
      [join(__dirname, 'backend.js'), String(port), String(i + 1)],
      join(runDir, `backend${i + 1}.log`),
    );
    await waitForPort(port, child, `node backend ${i + 1}`);
    pids.push(child.pid);
  }
  return { kind: 'node', version: `node ${process.version}`, pids };
}

// ---------------------------------------------------------------- load
/** `cookies`: one Cookie header per request in turn (returning clients spread over the backends), or none. */
function wrkArgs(port, seconds, cookies) {
  const script = join(__dirname, 'report.lua');
  const args = [`-t${THREADS}`, `-c${CONNS}`, `-d${seconds}s`, '--timeout', '5s', '-s', script];
  args.push(`http://127.0.0.1:${port}/`);
  if (cookies) args.push('--', ...cookies);
  return args;
}
function wrkResult(args, stdout, stderr) {
  const line = stdout.split('\n').find((l) => l.startsWith('WRKJSON '));
  if (line === undefined) throw new Error(`wrk failed: ${stdout}${stderr}`);
  const shown = args.map((a) =>
    a.startsWith('STICKY=') ? `'${a.slice(0, 20)}…'` : a.replace(`${__dirname}/`, ''),
  );
  return { result: JSON.parse(line.slice(8)), command: `wrk ${shown.join(' ')}` };
}
function wrk(port, seconds, cookies) {
  const args = wrkArgs(port, seconds, cookies);
  const run = spawnSync(...onCpus('0', 'wrk', args), { encoding: 'utf8' });
  return wrkResult(args, run.stdout, run.stderr);
}
/** wrk without blocking this process's event loop (for gateways that run beside each other). */
function wrkAsync(port, seconds, cookies) {
  const args = wrkArgs(port, seconds, cookies);
  return new Promise((resolve, reject) => {
    const child = spawn(...onCpus('0', 'wrk', args));
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => {
      stdout += chunk;
    });
    child.stderr.on('data', (chunk) => {
      stderr += chunk;
    });
    child.once('error', reject);
    child.once('close', () => {
      try {
        resolve(wrkResult(args, stdout, stderr));
      } catch (error) {
        reject(error);
      }
    });
  });
}

async function measure(port, cookies, proxyPids, backendPids) {
  wrk(port, WARMUP, cookies);
  const p0 = proxyPids.length ? cpuTicks(proxyPids) : 0;
  const b0 = cpuTicks(backendPids);
  const m0 = machineTicks();
  const { result, command } = wrk(port, DURATION, cookies);
  const m1 = machineTicks();
  const b1 = cpuTicks(backendPids);
  const p1 = proxyPids.length ? cpuTicks(proxyPids) : 0;
  const perRequest = (ticks) => (ticks * 1e6) / CLK_TCK / Math.max(1, result.requests);
  return {
    rps: result.rps,
    p50Ms: result.p50_us / 1000,
    p99Ms: result.p99_us / 1000,
    requests: result.requests,
    errors: result.err_connect + result.err_read + result.err_write + result.err_status + result.err_timeout,
    proxyCpuUs: proxyPids.length ? perRequest(p1 - p0) : null,
    backendCpuUs: perRequest(b1 - b0),
    busyPct: (100 * (m1.busy - m0.busy)) / Math.max(1, m1.total - m0.total),
    command,
  };
}

// ---------------------------------------------------------------- behaviour check
function get(port, cookie) {
  return new Promise((resolve, reject) => {
    const req = http.get(
      { host: '127.0.0.1', port, path: '/', agent: false, headers: cookie ? { cookie } : {} },
      (res) => {
        let body = '';
        res.on('data', (c) => {
          body += c;
        });
        res.on('end', () =>
          resolve({ status: res.statusCode, body: body.trim(), setCookie: res.headers['set-cookie'] ?? [] }),
        );
      },
    );
    req.setTimeout(5000, () => req.destroy(new Error('check timed out')));
    req.on('error', reject);
  });
}

/** Is the gateway doing what the scenario says? (A wrong cookie would measure the new-client path twice.) */
async function check(scenario, cookies) {
  const sets = (r, name) => r.setCookie.some((c) => c.startsWith(`${name}=`));
  const first = await get(PROXY_PORT);
  if (first.status !== 200) return `status ${first.status}`;
  switch (scenario.kind) {
    case 'lb-new':
      return sets(first, 'STICKY') ? null : 'no STICKY cookie for a new client';
    case 'lb-returning': {
      for (const [i, cookie] of cookies.entries())
        for (let k = 0; k < 2; k++) {
          const r = await get(PROXY_PORT, cookie);
          if (r.body !== `instance ${i + 1}` || !sets(r, 'STICKY'))
            return `cookie ${i + 1} did not pin instance ${i + 1} (${r.body})`;
        }
      return null;
    }
    case 'app-cookie':
      return sets(first, 'SID') && sets(first, 'STICKY') ? null : 'STICKY does not follow SID';
    case 'source-ip': {
      const again = await get(PROXY_PORT);
      return again.body === first.body ? null : 'source-ip moved the client';
    }
    case 'off':
    case 'raw':
    case 'raw-xfwd': {
      const bodies = new Set([first.body, (await get(PROXY_PORT)).body, (await get(PROXY_PORT)).body]);
      if (sets(first, 'STICKY')) return 'a STICKY cookie with stickiness off';
      return bodies.size === 3 ? null : `not round robin (${[...bodies].join(', ')})`;
    }
    default:
      return null;
  }
}

// ---------------------------------------------------------------- profiles
/** The top self-time entries of the newest .cpuprofile in `dir`, as "share  function  file:line" lines. */
function topOfProfile(dir, count) {
  if (!existsSync(dir)) return '(no profile written)';
  const files = readdirSync(dir).filter((f) => f.endsWith('.cpuprofile'));
  if (files.length === 0) return '(no profile written)';
  const profile = JSON.parse(readFileSync(join(dir, files.sort().at(-1)), 'utf8'));
  const nodes = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map();
  for (const id of profile.samples) {
    const { functionName, url, lineNumber } = nodes.get(id).callFrame;
    const file = url
      .replace(/^file:\/\//, '')
      .replace(`${ROOT}/`, '')
      .replace(/.*node_modules\/\.pnpm\/[^/]+\/node_modules\//, '');
    const key = `${functionName || '(anonymous)'}  ${file ? `${file}:${lineNumber + 1}` : ''}`.trim();
    self.set(key, (self.get(key) ?? 0) + 1);
  }
  const total = profile.samples.length;
  return [...self]
    .sort((a, b) => b[1] - a[1])
    .slice(0, count)
    .map(([key, n]) => `${((100 * n) / total).toFixed(1).padStart(5)}%  ${key}`)
    .join('\n');
}

// ---------------------------------------------------------------- report
const fmt = (n, digits = 0) =>
  n === null || n === undefined || Number.isNaN(n)
    ? '–'
    : n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });

/** Ratios within one pass: to direct, to the framework's raw engine, and (node) to node-http-proxy. */
function ratios(rows) {
  const by = new Map(rows.map((r) => [r.name, r]));
  const mean = (values) => values.reduce((a, b) => a + b, 0) / values.length;
  const directs = rows.filter((r) => r.kind === 'direct' && r.rps !== undefined).map((r) => r.rps);
  const direct = mean(directs.length ? directs : [Number.NaN]);
  /** A framework's raw engine: the mean of its runs before and after the block (no cookies sent). */
  const rawOf = (fw) => {
    const runs = [by.get(fw.raw), by.get(`${fw.raw}-end`)].filter((r) => r?.rps !== undefined);
    if (runs.length === 0) return undefined;
    return { rps: mean(runs.map((r) => r.rps)), proxyCpuUs: mean(runs.map((r) => r.proxyCpuUs)) };
  };
  const measured = (row) => (row?.rps === undefined ? undefined : row);
  const nhp = by.get('node-http-proxy');
  for (const r of rows) {
    if (r.rps === undefined) continue;
    r.xDirect = r.rps / direct;
    const fw = FRAMEWORKS.find((f) => f.name === r.framework);
    if (fw === undefined || r.kind === 'raw') continue;
    // A row sent the returning clients' cookies is compared with its reference sent the same.
    const cookies = r.cookie === true;
    const raw = (cookies && measured(by.get(`${fw.raw}-cookies`))) || rawOf(fw);
    if (raw !== undefined) {
      r.xRaw = r.rps / raw.rps;
      r.cpuOverRawUs = r.proxyCpuUs - raw.proxyCpuUs;
    }
    const xfwd =
      r.kind !== 'raw-xfwd' && fw.xfwd && measured(by.get(`${fw.xfwd}${cookies ? '-cookies' : ''}`));
    if (xfwd) {
      r.xXfwd = r.rps / xfwd.rps;
      r.cpuOverXfwdUs = r.proxyCpuUs - xfwd.proxyCpuUs;
    }
    if (r.framework === 'node' && r.kind !== 'raw' && nhp?.rps !== undefined) r.xNhp = r.rps / nhp.rps;
  }
  return direct;
}

const median = (values) => {
  const sorted = values.filter((v) => typeof v === 'number' && !Number.isNaN(v)).sort((a, b) => a - b);
  if (sorted.length === 0) return undefined;
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
};
const MEDIAN_FIELDS = [
  'rps',
  'p50Ms',
  'p99Ms',
  'proxyCpuUs',
  'backendCpuUs',
  'busyPct',
  'xDirect',
  'xRaw',
  'cpuOverRawUs',
  'xXfwd',
  'cpuOverXfwdUs',
  'xNhp',
];

/**
 * Each scenario's figures over the passes: ratios within each pass, then the median of every figure, and the
 * range of `× own raw` (the passes' lowest and highest) to show how far the median can be trusted.
 */
function analyse(rows) {
  const passes = Math.max(0, ...rows.map((r) => r.samples?.length ?? 0));
  const directs = [];
  const perPass = [];
  for (let p = 0; p < passes; p++) {
    const passRows = rows.map((r) => ({ ...r, ...(r.samples?.[p] ?? { rps: undefined }) }));
    directs.push(ratios(passRows));
    perPass.push(passRows);
  }
  rows.forEach((r, i) => {
    const measured = perPass.map((passRows) => passRows[i]).filter((x) => x.rps !== undefined);
    if (measured.length === 0) return;
    for (const field of MEDIAN_FIELDS) r[field] = median(measured.map((x) => x[field]));
    r.errors = measured.reduce((sum, x) => sum + (x.errors ?? 0), 0);
    const xRaws = measured.map((x) => x.xRaw).filter((v) => v !== undefined);
    if (xRaws.length > 1) r.xRawRange = [Math.min(...xRaws), Math.max(...xRaws)];
  });
  return { direct: median(directs), targets: targetsOf(rows), passes };
}

function targetsOf(rows) {
  const by = new Map(rows.map((r) => [r.name, r]));
  const signed = (us) => `${us >= 0 ? '+' : ''}${us.toFixed(1)} µs`;
  const targets = [];
  for (const fw of FRAMEWORKS) {
    const returning = by.get(`${fw.name}-lb-returning`);
    const fresh = by.get(`${fw.name}-lb-new`);
    if (returning?.xRaw !== undefined) {
      targets.push({
        target: `1. ${fw.name}, lb-cookie returning ≥ 0.95× its raw proxy`,
        figure: `${returning.xRaw.toFixed(2)}×`,
        met: returning.xRaw >= 0.95,
      });
      targets.push({
        target: `1. ${fw.name}, lb-cookie returning ≤ +3 µs CPU/request`,
        figure: signed(returning.cpuOverRawUs),
        met: returning.cpuOverRawUs <= 3,
      });
    }
    if (fresh?.cpuOverRawUs !== undefined)
      targets.push({
        target: `2. ${fw.name}, lb-cookie new client ≤ +5 µs CPU/request`,
        figure: signed(fresh.cpuOverRawUs),
        met: fresh.cpuOverRawUs <= 5,
      });
  }
  const nhp = by.get('node-http-proxy');
  for (const kind of ['lb-returning', 'lb-new']) {
    const fast = by.get(`node-${kind}`);
    if (fast?.rps === undefined) continue;
    if (fast.xNhp !== undefined)
      targets.push({
        target: `4. @stickyroute/node ${kind} beats node-http-proxy`,
        figure: `${fmt(fast.rps)} vs ${fmt(nhp.rps)} req/s (${fast.xNhp.toFixed(2)}×)`,
        met: fast.xNhp > 1,
      });
    if (fast.xRaw !== undefined)
      targets.push({
        target: `4. @stickyroute/node ${kind} within 10% of bare node:http + undici`,
        figure: `${fast.xRaw.toFixed(2)}×`,
        met: fast.xRaw >= 0.9,
      });
  }
  return targets;
}

function markdownTable(rows) {
  const lines = [
    '| gateway | scenario | req/s | p50 ms | p99 ms | proxy CPU µs/req | × direct | × own raw | CPU vs raw | × raw+xfwd | CPU vs raw+xfwd | errors |',
    '|:--|:--|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|',
  ];
  const signed = (us) => (us === undefined ? '–' : `${us >= 0 ? '+' : ''}${us.toFixed(1)}`);
  for (const r of rows) {
    if (r.rps === undefined) {
      lines.push(`| \`${r.name}\` | ${r.label} | ${r.skipped ?? 'failed'} | | | | | | | | | |`);
      continue;
    }
    lines.push(
      `| \`${r.name}\` | ${r.label}${r.checkProblem ? ` ⚠ ${r.checkProblem}` : ''} | ${fmt(r.rps)} | ${fmt(r.p50Ms, 2)} | ${fmt(r.p99Ms, 2)} | ${fmt(r.proxyCpuUs, 1)} | ${fmt(r.xDirect, 3)} | ${r.xRaw === undefined ? '–' : `${fmt(r.xRaw, 2)}${r.xRawRange ? ` (${fmt(r.xRawRange[0], 2)}–${fmt(r.xRawRange[1], 2)})` : ''}`} | ${signed(r.cpuOverRawUs)} | ${r.xXfwd === undefined ? '–' : fmt(r.xXfwd, 2)} | ${signed(r.cpuOverXfwdUs)} | ${r.errors} |`,
    );
  }
  return lines.join('\n');
}

function targetsTable(targets) {
  return [
    '| target (issue 7) | figure | |',
    '|:--|--:|:--|',
    ...targets.map((t) => `| ${t.target} | ${t.figure} | ${t.met ? 'met' : '**missed**'} |`),
  ].join('\n');
}

/**
 * Two horizontal bar charts side by side, one row per gateway: requests/s (higher is better) and proxy CPU
 * per request (lower is better). Raw engines in grey, our adapters in blue; direct is given in the caption.
 */
function svgChart(rows, meta, direct) {
  const data = rows.filter((r) => r.rps !== undefined && r.kind !== 'direct');
  const width = 1120;
  const label = 190;
  const panel = 400;
  const gap = 70;
  const rowH = 19;
  const top = 84;
  const height = top + data.length * rowH + 36;
  const maxRps = Math.max(...data.map((r) => r.rps));
  const maxCpu = Math.max(...data.map((r) => r.proxyCpuUs ?? 0));
  const esc = (text) => String(text).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
  const colour = (r) => (r.kind.startsWith('raw') ? '#9e9e9e' : '#1e63b8');
  const x1 = label;
  const x2 = label + panel + gap;
  const out = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="system-ui, -apple-system, Segoe UI, sans-serif" font-size="12">`,
    `<rect width="${width}" height="${height}" fill="#fff"/>`,
    `<text x="12" y="22" font-size="15" font-weight="600">stickyroute: each gateway under wrk -t${THREADS} -c${CONNS} (${DURATION} s measured), one run</text>`,
    `<text x="12" y="40" fill="#555">${esc(meta)}</text>`,
    `<text x="12" y="56" fill="#555">grey: raw engines, round robin, no stickiness · blue: @stickyroute adapters · direct to the backend: ${fmt(direct)} req/s</text>`,
    `<text x="${x1}" y="76" font-weight="600">requests/s (higher is better) · ratio to the framework's raw engine</text>`,
    `<text x="${x2}" y="76" font-weight="600">proxy CPU µs per request (lower is better) · vs raw</text>`,
  ];
  data.forEach((r, i) => {
    const y = top + i * rowH;
    const w1 = Math.max(1, (r.rps / maxRps) * (panel - 110));
    const w2 = Math.max(1, ((r.proxyCpuUs ?? 0) / maxCpu) * (panel - 90));
    const ratio = r.xRaw === undefined ? '' : ` · ${r.xRaw.toFixed(2)}×`;
    const delta =
      r.cpuOverRawUs === undefined ? '' : ` · ${r.cpuOverRawUs >= 0 ? '+' : ''}${r.cpuOverRawUs.toFixed(1)}`;
    out.push(`<text x="${label - 8}" y="${y + 13}" text-anchor="end">${esc(r.name)}</text>`);
    out.push(
      `<rect x="${x1}" y="${y + 3}" width="${w1.toFixed(1)}" height="${rowH - 6}" fill="${colour(r)}"/>`,
    );
    out.push(`<text x="${(x1 + w1 + 5).toFixed(1)}" y="${y + 13}" fill="#333">${fmt(r.rps)}${ratio}</text>`);
    out.push(
      `<rect x="${x2}" y="${y + 3}" width="${w2.toFixed(1)}" height="${rowH - 6}" fill="${colour(r)}"/>`,
    );
    out.push(
      `<text x="${(x2 + w2 + 5).toFixed(1)}" y="${y + 13}" fill="#333">${fmt(r.proxyCpuUs, 1)}${delta}</text>`,
    );
  });
  out.push(
    `<text x="12" y="${height - 12}" fill="#777">Made by test/bench/run.js (pnpm bench); the table with p50/p99 and the targets is in docs/benchmarks.md.</text>`,
  );
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}

function versions(backend) {
  const pkg = (dir, name) => {
    try {
      const p = require.resolve(`${name}/package.json`, { paths: [join(ROOT, 'packages', dir)] });
      return JSON.parse(readFileSync(p, 'utf8')).version;
    } catch {
      return '?';
    }
  };
  const wrkVersion = spawnSync('wrk', ['-v'], { encoding: 'utf8' });
  return {
    node: process.version,
    wrk: `${wrkVersion.stdout}${wrkVersion.stderr}`.split('\n')[0].trim(),
    backend: backend.version,
    express: pkg('express', 'express'),
    'http-proxy-middleware': pkg('express', 'http-proxy-middleware'),
    koa: pkg('koa', 'koa'),
    fastify: pkg('fastify', 'fastify'),
    '@fastify/http-proxy': pkg('fastify', '@fastify/http-proxy'),
    '@fastify/reply-from': pkg('fastify', '@fastify/reply-from'),
    undici: pkg('node', 'undici'),
    'http-proxy': (() => {
      try {
        return require('http-proxy/package.json').version;
      } catch {
        return '?';
      }
    })(),
  };
}

// ---------------------------------------------------------------- main
async function main() {
  if (spawnSync('wrk', ['-v']).error !== undefined) {
    console.error(
      'pnpm bench needs wrk (https://github.com/wg/wrk): apt-get install wrk, brew install wrk. Nothing was measured.',
    );
    process.exit(1);
  }
  for (const port of [PROXY_PORT, ...BACKEND_PORTS])
    if (await portOpen(port)) {
      console.error(`127.0.0.1:${port} is in use; stop whatever listens there or set BASE_PORT.`);
      process.exit(1);
    }
  const { ready, failed } = ensureBuilt(['core', 'node', 'express', 'koa', 'fastify']);
  for (const [name, why] of Object.entries(failed))
    log(`@stickyroute/${name} is not usable, its gateways are skipped:\n${why}`);
  if (!ready.includes('core')) process.exit(1);

  mkdirSync(RESULTS, { recursive: true });
  const runDir = mkdtempSync(join(tmpdir(), 'stickyroute-bench-'));
  const backend = await startBackends(runDir);
  log(`backends (${backend.kind}) on 127.0.0.1:${BACKEND_PORTS.join(', ')}; gateways on :${PROXY_PORT}`);
  const env = { PROXY_PORT: String(PROXY_PORT), BACKEND_PORTS: BACKEND_PORTS.join(',') };
  process.env.BACKEND_PORTS = env.BACKEND_PORTS; // before gateway.js reads it
  const cookies = returningCookies();

  const rows = scenarios();
  const profiles = [];
  let current = null; // { key, child }
  for (let pass = 0; pass < PASSES; pass++)
    for (const scenario of rows) {
      if (scenario.skipped) continue;
      if (scenario.framework && !ready.includes(scenario.framework)) {
        scenario.skipped = `skipped: @stickyroute/${scenario.framework} not built`;
        continue;
      }
      const key = scenario.env ? JSON.stringify(scenario.env) : null;
      if (current && current.key !== key) {
        await stopProcess(current.child);
        current = null;
      }
      try {
        if (key && !current) {
          // One process serves every scenario with its settings (lb-cookie new and returning): profile it if any matches.
          const profiled =
            pass === 0 && rows.some((r) => r.env && JSON.stringify(r.env) === key && PROFILE?.test(r.name));
          const profileDir = join(runDir, 'profiles', scenario.name);
          const args = profiled ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : [];
          const gatewayEnv = { ...env, ...scenario.env };
          const logFile = join(runDir, `${scenario.name}.log`);
          const child = startProcess(
            ...onCpus('1', process.execPath, [...args, join(__dirname, 'gateway.js')]),
            logFile,
            gatewayEnv,
          );
          const served = rows.filter((r) => r.env && JSON.stringify(r.env) === key).map((r) => r.name);
          if (profiled) profiles.push({ name: served.join(' + '), dir: profileDir });
          current = { key, child };
          await waitForPort(PROXY_PORT, child, scenario.name);
        }
        const sendCookies = scenario.cookie ? cookies : undefined;
        if (current && pass === 0) scenario.checkProblem = await check(scenario, sendCookies);
        const port = current ? PROXY_PORT : BACKEND_PORTS[0];
        const sample = await measure(port, sendCookies, current ? [current.child.pid] : [], backend.pids);
        scenario.samples ??= [];
        scenario.samples.push(sample);
        scenario.command = sample.command;
        log(
          `${`${pass + 1}/${PASSES}`} ${scenario.name.padEnd(22)} ${fmt(sample.rps).padStart(8)} req/s  p50 ${fmt(sample.p50Ms, 2)} ms  ` +
            `p99 ${fmt(sample.p99Ms, 2)} ms  proxy ${fmt(sample.proxyCpuUs, 1)} µs/req${scenario.checkProblem ? `  ⚠ ${scenario.checkProblem}` : ''}`,
        );
      } catch (error) {
        scenario.skipped = `failed: ${error.message.split('\n')[0]}`;
        log(`${scenario.name}: ${scenario.skipped} (log: ${join(runDir, `${scenario.name}.log`)})`);
      }
    }
  if (current) await stopProcess(current.child);
  await stopAllGracefully();

  for (const p of profiles) p.top = topOfProfile(p.dir, 15);
  const profileReport = profiles.map(({ name, top }) => `${name}:\n${top}`).join('\n\n');
  if (profileReport) console.log(`\nCPU profiles (self time, top entries):\n\n${profileReport}\n`);

  const { direct, targets, passes } = analyse(rows);
  const date = new Date().toISOString();
  const meta = `${date.slice(0, 16).replace('T', ' ')} UTC · node ${process.version} · ${backend.kind} backends · ${require('node:os').cpus().length} CPUs shared by wrk, proxy and backends`;
  const table = markdownTable(rows);
  const targetTable = targetsTable(targets);
  const command = `${PIN ? 'PIN=1 ' : ''}PASSES=${PASSES} DURATION=${DURATION} WARMUP=${WARMUP} THREADS=${THREADS} CONNS=${CONNS} node test/bench/run.js`;
  const report = [
    `Measured ${date.slice(0, 16).replace('T', ' ')} UTC with \`${command}\` (${Math.round((Date.now() - started) / 1000)} s in all).`,
    `Each scenario, in each of ${passes} passes over the whole list: ${WARMUP} s wrk warm-up, then ${DURATION} s measured, \`wrk -t${THREADS} -c${CONNS}\`, keep-alive, \`GET /\` (an 11-byte body). Every figure is the median of the passes; ratios are taken within each pass (direct = mean of its first and last direct runs, median ${fmt(direct)} req/s; own raw = mean of the raw engine's runs before and after the block; raw+xfwd = the raw engine sending the X-Forwarded-* our adapters send), and × own raw shows the passes' range in brackets. Rows sent the returning clients' cookies are compared with references sent the same.${PIN ? ' PIN=1: the gateway alone on CPU 1, wrk and the backends on CPU 0.' : ''}`,
    `Backends: ${backend.kind === 'nginx' ? `one nginx worker on three ports (${backend.version})` : 'three node:http processes (nginx not installed)'}. Machine: ${require('node:os').cpus().length} × ${require('node:os').cpus()[0]?.model ?? 'CPU'}, shared by wrk, the proxy and the backends (and anything else running), so absolute figures are noisy: compare ratios within one run.`,
    '',
    table,
    '',
    targetTable,
  ].join('\n');
  console.log(`\n${report}\n`);

  const versionsUsed = versions(backend);
  writeFileSync(
    join(RESULTS, 'bench.json'),
    JSON.stringify(
      {
        date,
        command,
        duration: DURATION,
        warmup: WARMUP,
        threads: THREADS,
        conns: CONNS,
        direct,
        backend,
        versions: versionsUsed,
        rows,
        targets,
        profiles: profiles.map(({ name, top }) => ({ name, top })),
      },
      null,
      2,
    ),
  );
  const docs = join(ROOT, 'docs');
  if (ONLY === null && existsSync(docs)) {
    writeFileSync(join(docs, 'benchmarks.svg'), svgChart(rows, meta, direct));
    const md = join(docs, 'benchmarks.md');
    if (existsSync(md)) {
      const text = readFileSync(md, 'utf8');
      const start = '<!-- bench:results:start -->';
      const end = '<!-- bench:results:end -->';
      if (text.includes(start) && text.includes(end)) {
        const versionsLine = Object.entries(versionsUsed)
          .map(([k, v]) => `${k} ${v}`)
          .join(', ');
        const section = `${start}\n${report}\n\nVersions: ${versionsLine}.\n${end}`;
        writeFileSync(
          md,
          text.slice(0, text.indexOf(start)) + section + text.slice(text.indexOf(end) + end.length),
        );
      }
    }
    log('wrote docs/benchmarks.svg and the results section of docs/benchmarks.md');
  }
  log(`results in ${join(RESULTS, 'bench.json')}; logs in ${runDir}`);
}

/**
 * A gateway named as ab.js and instructions.js take them, `ADAPTER[:STICKINESS[:returning]]` (gateway.js's
 * ADAPTER and STICKINESS; `returning` sends the returning clients' cookies), on its own port after the backends'.
 */
function parseGatewaySpec(spec, index) {
  const [adapter, stickiness, returning] = spec.split(':');
  if (returning !== undefined && returning !== 'returning')
    throw new Error(`${spec}: the third part can only be "returning"`);
  return {
    name: spec,
    adapter,
    port: BACKEND_PORTS[2] + 1 + index,
    env: { ADAPTER: adapter, ...(stickiness ? { STICKINESS: stickiness } : {}) },
    returning: returning === 'returning',
  };
}

/**
 * What ab.js and instructions.js do before measuring `gateways`: check their ports are free, build the
 * packages, start the backends in a new run directory, and mint one returning client's cookie per backend.
 */
async function prepareRun(gateways, name) {
  for (const port of [...BACKEND_PORTS, ...gateways.map((g) => g.port)])
    if (await portOpen(port)) throw new Error(`127.0.0.1:${port} is in use (set BASE_PORT)`);
  const { ready } = ensureBuilt(['core', 'node', 'express', 'koa', 'fastify']);
  const runDir = mkdtempSync(join(tmpdir(), `stickyroute-${name}-`));
  await startBackends(runDir);
  process.env.BACKEND_PORTS = BACKEND_PORTS.join(',');
  return { ready, runDir, cookies: returningCookies() };
}

/**
 * Returning clients: one Cookie header per backend, sent in turn (as many clients, each stuck to its own), each
 * with a valid STICKY and the app's session cookie, as a browser sends both and as the anchors' returning
 * clients do (`SRV=s2; SID=…` to HAProxy). Without SID the backend would open a new session on every
 * response: a new app client each time, which is not what returning means.
 */
function returningCookies() {
  const { mintCookie } = require('./gateway');
  return BACKEND_PORTS.map((_, i) => `${mintCookie(i)}; ${SID_COOKIE}`);
}

if (require.main === module) {
  main().catch((error) => {
    console.error(error);
    stopAll();
    process.exit(1);
  });
}

module.exports = {
  analyse,
  markdownTable,
  svgChart,
  // for ab.js (the paired comparison) and instructions.js
  parseGatewaySpec,
  prepareRun,
  startBackends,
  startProcess,
  stopAllGracefully,
  waitForPort,
  portOpen,
  cpuTicks,
  wrk,
  wrkAsync,
  log,
  BACKEND_PORTS,
  CLK_TCK,
  onCpus,
  median,
};
