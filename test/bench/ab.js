// pnpm bench:ab — a paired comparison of a few gateways, for the question "does this change cost anything?",
// which one full `pnpm bench` run cannot answer on a shared machine (its figures move ±15 % minute to minute).
//
//   node test/bench/ab.js raw-express express:lb-cookie:returning express:off
//   ROUNDS=5 DURATION=3 WARMUP=1 THREADS=2 CONNS=50 BASE_PORT=19200 PIN=1 (see run.js)
//
// Each argument is ADAPTER[:STICKINESS[:returning]] as test/bench/gateway.js takes them (`returning` sends the
// valid cookies of returning clients, one per backend in turn). Every gateway runs at once on its own port,
// idle but for its turn; each round loads each gateway in turn (the order rotates from round to round), and
// every figure is compared with the FIRST gateway's in the same round: the median of those paired ratios is
// the answer, and the spread of the rounds says how far to trust it.

const { join } = require('node:path');
const {
  startProcess,
  stopAllGracefully,
  waitForPort,
  cpuTicks,
  wrk,
  log,
  BACKEND_PORTS,
  CLK_TCK,
  onCpus,
  median,
  parseGatewaySpec,
  prepareRun,
} = require('./run');

const ROUNDS = Number(process.env.ROUNDS || 5);
const DURATION = Number(process.env.DURATION || 3);
const WARMUP = Number(process.env.WARMUP || 1);

async function main() {
  const specs = process.argv.slice(2);
  if (specs.length < 2) {
    console.error(
      'usage: node test/bench/ab.js <reference> <gateway> [<gateway> …]  (see the head of this file)',
    );
    process.exit(2);
  }
  const gateways = specs.map((spec, i) => ({ ...parseGatewaySpec(spec, i), rounds: [] }));
  const { ready, runDir, cookies } = await prepareRun(gateways, 'ab');
  log(`built: ${ready.join(', ')}`);
  try {
    for (const g of gateways) {
      g.child = startProcess(
        ...onCpus('1', process.execPath, [join(__dirname, 'gateway.js')]),
        join(runDir, `${g.port}.log`),
        {
          ...g.env,
          PROXY_PORT: String(g.port),
          BACKEND_PORTS: BACKEND_PORTS.join(','),
        },
      );
      await waitForPort(g.port, g.child, g.name);
    }
    for (let round = 0; round < ROUNDS; round++) {
      const order = gateways.map((_, i) => gateways[(i + round) % gateways.length]);
      for (const g of order) {
        const sent = g.returning ? cookies : undefined;
        wrk(g.port, WARMUP, sent);
        const before = cpuTicks([g.child.pid]);
        const { result } = wrk(g.port, DURATION, sent);
        const cpuUs = ((cpuTicks([g.child.pid]) - before) * 1e6) / CLK_TCK / Math.max(1, result.requests);
        g.rounds[round] = { rps: result.rps, cpuUs };
      }
      log(
        `round ${round + 1}: ${gateways.map((g) => `${g.name} ${g.rounds[round].cpuUs.toFixed(1)} µs`).join(', ')}`,
      );
    }
  } finally {
    await stopAllGracefully(); // not run.js's exit-time SIGKILL, which would orphan nginx's worker
  }

  const [reference] = gateways;
  console.log(
    `\n${ROUNDS} rounds of ${WARMUP} s warm-up + ${DURATION} s measured per gateway; ratios paired with ${reference.name} in the same round\n`,
  );
  console.log(
    '| gateway | req/s (median) | CPU µs/req (median) | × reference req/s | CPU − reference µs (median, min…max) |',
  );
  console.log('|:--|--:|--:|--:|--:|');
  for (const g of gateways) {
    const ratios = g.rounds.map((r, i) => r.rps / reference.rounds[i].rps);
    const deltas = g.rounds.map((r, i) => r.cpuUs - reference.rounds[i].cpuUs);
    console.log(
      `| \`${g.name}\` | ${Math.round(median(g.rounds.map((r) => r.rps)))} | ${median(g.rounds.map((r) => r.cpuUs)).toFixed(1)} | ` +
        `${median(ratios).toFixed(2)} | ${median(deltas).toFixed(1)} (${Math.min(...deltas).toFixed(1)}…${Math.max(...deltas).toFixed(1)}) |`,
    );
  }
  process.exit(0);
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
