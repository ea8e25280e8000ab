// pnpm bench:instructions — what each gateway costs per request, counted in CPU instructions, which do not move
// with the machine's load the way CPU time does: on this 2-core shared machine a gateway's CPU µs per request
// moves ±15 % from one 3-second window to the next, its instruction count a few per cent.
//
//   node test/bench/instructions.js                        every framework: raw, raw-xfwd, lb-new, raw + cookies, lb-returning
//   node test/bench/instructions.js raw-koa koa:lb-cookie  (ADAPTER[:STICKINESS[:returning]], as ab.js takes them;
//                                                          each of ours is compared with its framework's raw engine
//                                                          fed the same requests, else with the first named)
//   WARMUP=120 WINDOWS=6 MAX_WINDOWS=12 WINDOW=10 CONNS=10 PARALLEL=2 NATIVE=5 BASE_PORT=19400 V8FLAGS=
//   WARMUP_REQUESTS=60000   warm up by requests served instead of seconds: on a busy machine a timed warm-up
//                           serves fewer requests, so code may still be tiering up when the windows start
//
// Each gateway runs under `valgrind --tool=callgrind` (node with `--single-threaded`: V8's helper threads wait
// by spinning, which valgrind, running one thread at a time, would count by the second). wrk warms it up with
// instrumentation off, then for each of WINDOWS windows of WINDOW seconds instrumentation is on while wrk loads
// it, and the instructions the process executed (JavaScript, GC, node, libuv) are divided by the requests wrk
// completed. V8's compilers are left out (work a long-running gateway has behind it, which lands in whichever
// window a function happens to tier up in), and its major GC, which lands in one window in a few, is summed
// over the windows and spread over all their requests. What else moves a window only ever adds instructions
// (code not yet optimized, or deoptimized and running in a lower tier for a while), so the figure is the
// cheapest window plus that share of major GC; "next window" says how far the second-cheapest was above it.
// While the last window is still a new low by more than 1 %, more windows run (up to MAX_WINDOWS).
//
// Instructions are user space only: the kernel's side of a request (the socket syscalls, about half of a
// proxy's CPU time here) is not in them, and a change that adds syscalls must be checked otherwise (strace -c).
// To put a difference in µs, each reference (the raw engine) also runs natively, and its user CPU µs per
// request over its instructions per request gives its rate; the difference in instructions is divided by it.
// That rate is measured under the machine's noise, so the µs figure is an estimate; the instruction ratio is not.

process.env.THREADS ??= '1';
process.env.CONNS ??= '10';
process.env.BASE_PORT ??= '19400';

const { spawnSync } = require('node:child_process');
const { readFileSync, writeFileSync, mkdirSync } = require('node:fs');
const { join } = require('node:path');
const {
  startProcess,
  stopAllGracefully,
  waitForPort,
  wrk,
  wrkAsync,
  log,
  CLK_TCK,
  onCpus,
  median,
  parseGatewaySpec,
  prepareRun,
} = require('./run');

const WARMUP = Number(process.env.WARMUP || 120);
const WARMUP_REQUESTS = Number(process.env.WARMUP_REQUESTS || 0);
const WINDOWS = Number(process.env.WINDOWS || 6);
const MAX_WINDOWS = Number(process.env.MAX_WINDOWS || 12);
const WINDOW = Number(process.env.WINDOW || 10);
const PARALLEL = Number(process.env.PARALLEL || 2);
const NATIVE = Number(process.env.NATIVE || 5);

const FRAMEWORKS = [
  ['raw-undici', 'node'],
  ['raw-express', 'express'],
  ['raw-koa', 'koa'],
  ['raw-fastify', 'fastify'],
];
// The framework engines also run sending X-Forwarded-* (`-xfwd`), as our adapters must (the bare undici
// proxy has no such variant).
const DEFAULT = FRAMEWORKS.flatMap(([raw, ours]) => [
  raw,
  ...(ours === 'node' ? [] : [`${raw}-xfwd`]),
  `${ours}:lb-cookie`,
  `${raw}::returning`,
  `${ours}:lb-cookie:returning`,
]);

/** The gateway a row is compared with: the raw engine of its framework, fed the same requests. */
function referenceOf(gateway, gateways) {
  if (gateway.adapter.startsWith('raw-') || gateway.adapter === 'node-http-proxy') return undefined;
  const raw = FRAMEWORKS.find(([, ours]) => ours === gateway.adapter)?.[0];
  return gateways.find((g) => g.adapter === raw && g.returning === gateway.returning) ?? gateways[0];
}

function control(pid, ...args) {
  const run = spawnSync('callgrind_control', [...args, String(pid)], { encoding: 'utf8', timeout: 60_000 });
  if (run.status !== 0) throw new Error(`callgrind_control ${args.join(' ')} failed: ${run.stderr}`);
}

/**
 * V8's optimizing compilers (and its parser and bytecode generator) still run now and then under load: work
 * that a long-running gateway has behind it, and whose share of a window depends on when a function happened
 * to tier up. Their instructions are counted apart and left out of the per-request figure.
 */
const JIT =
  /v8::internal::(compiler::|maglev::|turboshaft::|baseline::|Compiler::|Parser|PreParser|BytecodeGenerator|interpreter::|OptimizingCompileDispatcher|Zone|Scanner|AstNode)/;

/**
 * V8's major GC (mark-compact) runs every few thousand requests of an engine that promotes (Express + HPM does):
 * a window holds one or none, which moves its count by ±10 %. It is counted apart and spread over all windows.
 */
const MAJOR_GC =
  /Marking|MarkCompact|Sweeper|Evacuat|RecordMigratedSlot|RememberedSetUpdating|LiveObjectRange/;

/** Self cost (instructions) of one callgrind dump: all of it, the part in V8's compilers, in its major GC. */
function readDump(file) {
  const names = new Map();
  let fn = '';
  let skip = false;
  let total = 0;
  let jit = 0;
  let majorGc = 0;
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    if (skip) {
      skip = false; // the inclusive cost of a call, already counted as self cost where it was spent
      continue;
    }
    const c = line.charCodeAt(0);
    if ((c >= 48 && c <= 57) || c === 43 || c === 45 || c === 42) {
      const cost = Number(line.slice(line.indexOf(' ') + 1));
      total += cost;
      if (JIT.test(fn)) jit += cost;
      else if (MAJOR_GC.test(fn)) majorGc += cost;
    } else if (line.startsWith('fn=') || line.startsWith('cfn=')) {
      const m = /^c?fn=\((\d+)\)(?: (.*))?$/.exec(line);
      if (m?.[2] !== undefined) names.set(m[1], m[2]);
      if (m && line[0] === 'f') fn = names.get(m[1]) ?? '';
    } else if (line.startsWith('calls=')) skip = true;
  }
  return { total, jit, majorGc };
}

async function countInstructions(gateway, cookies, runDir) {
  const dir = join(runDir, gateway.name.replace(/[^\w-]+/g, '_'));
  mkdirSync(dir, { recursive: true });
  const child = startProcess(
    ...onCpus('1', 'valgrind', [
      '--tool=callgrind',
      '--instr-atstart=no',
      `--callgrind-out-file=${join(dir, 'callgrind.%p')}`,
      process.execPath,
      // V8's background threads (concurrent compiler, GC helpers) spin while they wait, which valgrind, running
      // one thread at a time, counts by the second: with them the count follows time, not requests.
      '--single-threaded',
      ...(process.env.V8FLAGS ? process.env.V8FLAGS.split(' ') : []),
      join(__dirname, 'gateway.js'),
    ]),
    join(dir, 'gateway.log'),
    { ...gateway.env, PROXY_PORT: String(gateway.port) },
  );
  const windows = [];
  try {
    await waitForPort(gateway.port, child, gateway.name, 120_000);
    const send = gateway.returning ? cookies : undefined;
    if (WARMUP_REQUESTS > 0)
      for (let served = 0; served < WARMUP_REQUESTS; )
        served += (await wrkAsync(gateway.port, WINDOW, send)).result.requests;
    else await wrkAsync(gateway.port, WARMUP, send);
    // Past WINDOWS, windows go on (up to MAX_WINDOWS) while the last one still set a new low by more than 1 %:
    // on a busy machine the warm-up serves fewer requests and the code may still be tiering up.
    const falling = () => {
      const costs = windows.map((w) => w.instructions / w.requests);
      return costs.at(-1) < 0.99 * Math.min(...costs.slice(0, -1));
    };
    for (let w = 1; w <= WINDOWS || (w <= MAX_WINDOWS && falling()); w++) {
      control(child.pid, '-i', 'on');
      const { result } = await wrkAsync(gateway.port, WINDOW, send);
      control(child.pid, '-d');
      control(child.pid, '-i', 'off');
      const errors =
        result.err_connect + result.err_read + result.err_write + result.err_timeout + result.err_status;
      const { total, jit, majorGc } = readDump(join(dir, `callgrind.${child.pid}.${w}`));
      windows.push({ requests: result.requests, errors, instructions: total - jit - majorGc, jit, majorGc });
    }
  } finally {
    child.kill('SIGKILL');
  }
  // What makes a window cost more only ever adds instructions (code the JIT has yet to optimize, or has just
  // deoptimized and runs in a lower tier for a while): the steady state is the cheapest window.
  const perRequest = windows.map((w) => w.instructions / w.requests);
  const sum = (key) => windows.reduce((a, w) => a + w[key], 0);
  const majorGcPerRequest = sum('majorGc') / sum('requests');
  const mean = Math.min(...perRequest) + majorGcPerRequest;
  const sorted = [...perRequest].sort((a, b) => a - b);
  // How far the next-cheapest window is (0 with a single window).
  const spread = sorted.length > 1 ? (sorted[1] - sorted[0]) / sorted[0] : 0;
  log(
    `${gateway.name.padEnd(30)} ${Math.round(mean).toLocaleString('en-US').padStart(9)} instructions/request ` +
      `(windows without major GC ${windows.map((w) => Math.round(w.instructions / w.requests).toLocaleString('en-US')).join(', ')}; ` +
      `major GC ${Math.round(majorGcPerRequest).toLocaleString('en-US')}/request; ` +
      `${windows.reduce((a, w) => a + w.requests, 0)} requests, ${windows.reduce((a, w) => a + w.errors, 0)} errors)`,
  );
  return { perRequest: mean, majorGcPerRequest, spread, windows };
}

/** The engine's user CPU µs per request, run natively: converts a difference in instructions to µs. */
async function nativeUserCpu(gateway, cookies, runDir) {
  const child = startProcess(
    ...onCpus('1', process.execPath, [join(__dirname, 'gateway.js')]),
    join(runDir, `${gateway.name.replace(/[^\w-]+/g, '_')}-native.log`),
    { ...gateway.env, PROXY_PORT: String(gateway.port) },
  );
  await waitForPort(gateway.port, child, gateway.name);
  const send = gateway.returning ? cookies : undefined;
  wrk(gateway.port, 3, send);
  // Three runs, their median: one run of CPU time on this machine can be 2× off.
  const runs = [];
  for (let i = 0; i < 3; i++) {
    const before = userTicks(child.pid);
    const { result } = wrk(gateway.port, NATIVE, send);
    runs.push((((userTicks(child.pid) - before) / CLK_TCK) * 1e6) / result.requests);
  }
  child.kill('SIGKILL');
  return median(runs);
}

function userTicks(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[11]);
}

async function main() {
  if (spawnSync('valgrind', ['--version']).error !== undefined) {
    console.error('pnpm bench:instructions needs valgrind (apt-get install valgrind). Nothing was measured.');
    process.exit(1);
  }
  if (spawnSync('wrk', ['-v']).error !== undefined) {
    console.error('pnpm bench:instructions needs wrk (apt-get install wrk). Nothing was measured.');
    process.exit(1);
  }
  const specs = process.argv.slice(2).length > 0 ? process.argv.slice(2) : DEFAULT;
  const gateways = specs.map(parseGatewaySpec);
  const { ready, runDir, cookies } = await prepareRun(gateways, 'instructions');
  if (!ready.includes('core')) process.exit(1);
  const started = Date.now();

  const queue = [...gateways];
  const workers = Array.from({ length: Math.max(1, PARALLEL) }, async () => {
    for (let g = queue.shift(); g !== undefined; g = queue.shift()) {
      try {
        g.count = await countInstructions(g, cookies, runDir);
      } catch (error) {
        g.failed = error.message.split('\n')[0];
        log(`${g.name}: ${g.failed}`);
      }
    }
  });
  await Promise.all(workers);
  // The references' native rate, one at a time (CPU time is what it measures).
  for (const g of gateways)
    if (g.count && gateways.some((o) => o !== g && referenceOf(o, gateways) === g)) {
      g.nativeUserUs = await nativeUserCpu(g, cookies, runDir);
      log(`${g.name.padEnd(30)} native: ${g.nativeUserUs.toFixed(1)} µs user CPU/request`);
    }
  await stopAllGracefully();

  const fmt = (n, d = 0) => n.toLocaleString('en-US', { minimumFractionDigits: d, maximumFractionDigits: d });
  const lines = [
    '| gateway | instructions/request | next window | reference | × reference | Δ instructions | ≈ Δ µs user CPU |',
    '|:--|--:|--:|:--|--:|--:|--:|',
  ];
  for (const g of gateways) {
    if (!g.count) {
      lines.push(`| \`${g.name}\` | ${g.failed ?? 'not measured'} | | | | | |`);
      continue;
    }
    const ref = referenceOf(g, gateways);
    const row = [`\`${g.name}\``, fmt(g.count.perRequest), `${(g.count.spread * 100).toFixed(1)} %`];
    if (ref?.count && ref !== g) {
      const delta = g.count.perRequest - ref.count.perRequest;
      const rate = ref.nativeUserUs === undefined ? undefined : ref.nativeUserUs / ref.count.perRequest;
      row.push(
        `\`${ref.name}\``,
        (g.count.perRequest / ref.count.perRequest).toFixed(3),
        `${delta >= 0 ? '+' : ''}${fmt(delta)}`,
        rate === undefined ? '–' : `${delta >= 0 ? '+' : ''}${fmt(delta * rate, 1)}`,
      );
    } else
      row.push(
        '–',
        '–',
        '–',
        g.nativeUserUs === undefined ? '–' : `(native ${fmt(g.nativeUserUs, 1)} µs/request)`,
      );
    lines.push(`| ${row.join(' | ')} |`);
  }
  const command = `WARMUP=${WARMUP} WINDOWS=${WINDOWS} WINDOW=${WINDOW} CONNS=${process.env.CONNS} node test/bench/instructions.js${process.argv.length > 2 ? ` ${process.argv.slice(2).join(' ')}` : ''}`;
  const report = [
    `Measured ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC with \`${command}\` (${Math.round((Date.now() - started) / 1000)} s), ${spawnSync('valgrind', ['--version'], { encoding: 'utf8' }).stdout.trim()}, node ${process.version}.`,
    '',
    ...lines,
  ].join('\n');
  console.log(`\n${report}\n`);
  mkdirSync(join(__dirname, 'results'), { recursive: true });
  writeFileSync(
    join(__dirname, 'results', 'instructions.json'),
    JSON.stringify({ date: new Date().toISOString(), command, gateways }, null, 2),
  );
  log(`logs and callgrind dumps in ${runDir}`);
}

main().catch(async (error) => {
  console.error(error);
  await stopAllGracefully();
  process.exit(1);
});
