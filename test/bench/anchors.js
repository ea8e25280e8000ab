// pnpm bench:anchors — the anchors' harness (../shared/bench-anchors/run.sh: HAProxy, nginx and the Node
// proxies in front of one nginx backend, wrk -t2 -c50) with this project's gateways as CUSTOM scenarios in
// every stickiness mode, each next to its own raw engine, so the whole table is one command and one run.
// Afterwards it prints (and writes to test/bench/results/anchors.md) each gateway's proxy CPU µs per request
// as a ratio to its raw engine's in the same run, and the node handler's returning clients against HAProxy's.
//
//   node test/bench/anchors.js                    every adapter, every mode, the anchors too (~20 min)
//   ADAPTERS=node,fastify MODES=lb-cookie,app-cookie node test/bench/anchors.js
//   PASSES=2 DURATION=8 WARMUP=2 ONLY=<regex> RUN_DIR=<dir>   passed to run.sh
//   ANCHORS=<path to bench-anchors>               default: ../shared/bench-anchors beside the project
//
// Rows, for each adapter A: `raw-A` and `raw-A-ret` (its raw engine, round robin, fed a new client's and a
// returning client's requests), then `A-<mode>-new` / `A-<mode>-ret` for lb-cookie and app-cookie (follow)
// and app-cookie-learn, and `A-source-ip`, `A-header` (every request carries the key). A returning client
// sends `STICKY=<valid cookie>; SID=<its app session>`, as a browser sends both back; a new client sends no
// cookie, so the backend sets SID on every response (what follow and learn mode react to).

const { spawnSync } = require('node:child_process');
const { existsSync, mkdirSync, readFileSync, writeFileSync } = require('node:fs');
const { join, resolve } = require('node:path');
const { ensureBuilt, ROOT } = require('./build-packages');

const ANCHORS = resolve(process.env.ANCHORS || join(ROOT, '..', 'shared', 'bench-anchors'));
const GATEWAY = join(__dirname, 'gateway.js');
const SID = 'SID=bench0123456789abcdef0123456789ab';
const ADAPTERS = (process.env.ADAPTERS || 'node,express,koa,fastify').split(',');
const MODES = (process.env.MODES || 'lb-cookie,app-cookie,app-cookie-learn,source-ip,header').split(',');
const RAW = { node: 'raw-undici', express: 'raw-express', koa: 'raw-koa', fastify: 'raw-fastify' };
/** Modes a new client and a returning client tell apart (the others key on what every request carries). */
const TWO_SIDED = new Set(['lb-cookie', 'app-cookie', 'app-cookie-learn']);

function main() {
  if (!existsSync(join(ANCHORS, 'run.sh'))) {
    console.error(`bench:anchors needs the anchors' harness at ${ANCHORS} (set ANCHORS=…)`);
    process.exit(1);
  }
  const built = ensureBuilt(['core', ...ADAPTERS]);
  if (built.failed && Object.keys(built.failed).length > 0) {
    console.error(`some packages do not build: ${Object.keys(built.failed).join(', ')}`);
    process.exit(1);
  }
  const minted = spawnSync(process.execPath, [GATEWAY, '--mint-cookie', '1'], {
    encoding: 'utf8',
    env: { ...process.env, BACKEND_PORTS: '9101,9102,9103' },
  });
  if (minted.status !== 0) throw new Error(`could not mint a cookie: ${minted.stderr}`);
  const returning = `${minted.stdout.trim()}; ${SID}`;
  const lines = [];
  const command = (adapter, stickiness) =>
    `env ADAPTER=${adapter}${stickiness ? ` STICKINESS=${stickiness}` : ''} ${process.execPath} ${GATEWAY}`;
  for (const adapter of ADAPTERS) {
    lines.push(
      `raw-${adapter}|${command(RAW[adapter])}|`,
      `raw-${adapter}-ret|${command(RAW[adapter])}|${returning}`,
    );
    for (const mode of MODES) {
      if (TWO_SIDED.has(mode)) {
        const sent = mode === 'app-cookie-learn' ? SID : returning;
        lines.push(
          `${adapter}-${mode}-new|${command(adapter, mode)}|`,
          `${adapter}-${mode}-ret|${command(adapter, mode)}|${sent}`,
        );
      } else lines.push(`${adapter}-${mode}|${command(adapter, mode)}|${SID}`);
    }
  }
  const runDir = resolve(process.env.RUN_DIR || join(__dirname, 'results', 'anchors-run'));
  mkdirSync(runDir, { recursive: true });
  const run = spawnSync('bash', [join(ANCHORS, 'run.sh')], {
    stdio: ['ignore', 'inherit', 'inherit'],
    env: { ...process.env, CUSTOM: lines.join('\n'), RUN_DIR: runDir },
  });
  if (run.status !== 0) process.exit(run.status ?? 1);
  const summary = summarize(runDir);
  const out = join(__dirname, 'results', 'anchors.md');
  writeFileSync(out, `${readFileSync(join(runDir, 'RESULTS.md'), 'utf8')}\n${summary}`);
  console.log(`\n${summary}\nwritten to ${out}`);
}

/** µs of proxy CPU per request, per scenario, the median over the passes. */
function cpuPerRequest(runDir) {
  const byScenario = new Map();
  for (const line of readFileSync(join(runDir, 'results.jsonl'), 'utf8').split('\n')) {
    if (line.trim() === '') continue;
    const r = JSON.parse(line);
    if (r.proxy_cpu_ticks == null || !r.wrk.requests) continue;
    const us = ((r.proxy_cpu_ticks / r.clk_tck) * 1e6) / r.wrk.requests;
    byScenario.set(r.scenario, [...(byScenario.get(r.scenario) ?? []), us]);
  }
  const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)];
  return new Map([...byScenario].map(([name, xs]) => [name, median(xs)]));
}

function summarize(runDir) {
  const cpu = cpuPerRequest(runDir);
  const rows = ['| gateway | µs/req | raw engine | vs raw (target ≤ 1.05×) |', '|:--|--:|:--|--:|'];
  for (const adapter of ADAPTERS) {
    for (const [name, us] of cpu) {
      if (!name.startsWith(`${adapter}-`)) continue;
      const raw = name.endsWith('-new') ? `raw-${adapter}` : `raw-${adapter}-ret`;
      const base = cpu.get(raw);
      rows.push(
        `| \`${name}\` | ${us.toFixed(1)} | \`${raw}\` ${base?.toFixed(1) ?? '–'} | ${base ? `${(us / base).toFixed(2)}×` : '–'} |`,
      );
    }
  }
  const haproxy = cpu.get('haproxy-sticky-cookie');
  const node = cpu.get('node-lb-cookie-ret');
  const versus =
    haproxy && node
      ? `\nThe node handler's returning clients: ${node.toFixed(1)} µs/req, ${(node / haproxy).toFixed(2)}× HAProxy's sticky returning clients (${haproxy.toFixed(1)} µs/req; target ≤ 3.0×).\n`
      : '';
  return `## Our gateways against their raw engines (proxy CPU µs per request, median of the passes; of two, the lower)\n\n${rows.join('\n')}\n${versus}`;
}

main();
