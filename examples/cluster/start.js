// A sticky gateway as a Node cluster: one Express worker per core on one port, all sharing one Redis
// (redis://127.0.0.1:6379 by default) and one secret, in front of three instances of the demo's legacy app
// (sessions in memory), started here as child processes. The kernel hands each connection to any worker, so
// a client's requests reach different workers: the shared store and secret are what keep it on one backend.
//
//   node examples/cluster/start.js [--stickiness learn|header|source-ip|lb-cookie] [--workers n] [--port 3000]
//   REDIS_URL, STICKY_SECRET, PORT, HOST, WORKERS, STICKINESS work too. `--help` lists everything.

const cluster = require('node:cluster');
const { fork } = require('node:child_process');
const { randomBytes } = require('node:crypto');
const http = require('node:http');
const { availableParallelism } = require('node:os');
const { join } = require('node:path');
const { parseArgs } = require('node:util');

const STICKINESS = {
  // No balancer cookie: the store maps the app's PHPSESSID to the backend that issued it.
  learn: { type: 'app-cookie', appCookie: 'PHPSESSID', mode: 'learn' },
  // API clients without cookies: the x-api-key header's backend is remembered in the store for 30 minutes.
  header: { type: 'header', header: 'x-api-key', duration: '30m' },
  'source-ip': { type: 'source-ip', duration: '20m' },
  // The signed cookie carries the backend: needs only the shared secret, not the store.
  'lb-cookie': { type: 'lb-cookie', duration: '20m' },
};
const STOP_DEADLINE_MS = 3000;

const HELP = `Usage: node examples/cluster/start.js [options]

  --stickiness <mode>   learn (default), header, source-ip or lb-cookie   env STICKINESS
  --workers <n>         gateway workers (one per core: ${availableParallelism()})           env WORKERS
  --port <n>            the gateway's port (3000; 0 picks a free one)    env PORT
  --host <addr>         the gateway's address (127.0.0.1)                env HOST
  --redis <url>         the shared store (redis://127.0.0.1:6379)        env REDIS_URL
  --instances <n>       app instances to start (3)                       env INSTANCES
`;

function readOptions(argv, env) {
  const { values } = parseArgs({
    args: argv,
    options: {
      stickiness: { type: 'string' },
      workers: { type: 'string' },
      port: { type: 'string' },
      host: { type: 'string' },
      redis: { type: 'string' },
      instances: { type: 'string' },
      help: { type: 'boolean' },
    },
  });
  const options = {
    help: values.help === true,
    stickiness: values.stickiness ?? env.STICKINESS ?? 'learn',
    workers: Number(values.workers ?? env.WORKERS ?? availableParallelism()),
    port: Number(values.port ?? env.PORT ?? 3000),
    host: values.host ?? env.HOST ?? '127.0.0.1',
    redisUrl: values.redis ?? env.REDIS_URL ?? 'redis://127.0.0.1:6379',
    instances: Number(values.instances ?? env.INSTANCES ?? 3),
  };
  if (!(options.stickiness in STICKINESS))
    throw new Error(`--stickiness must be one of ${Object.keys(STICKINESS).join(', ')}`);
  for (const name of ['workers', 'instances'])
    if (!Number.isInteger(options[name]) || options[name] < 1)
      throw new Error(`--${name} must be at least 1`);
  if (!Number.isInteger(options.port) || options.port < 0 || options.port > 65535)
    throw new Error('--port must be a port number');
  return options;
}

// ---- primary: build, start the app instances, fork the workers, stop everything on Ctrl-C ----

function startInstance(number) {
  const child = fork(join(__dirname, '..', 'demo', 'app.js'), ['--instance', String(number), '--port', '0'], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    execArgv: [],
  });
  return new Promise((resolve, reject) => {
    child.once('message', (message) => resolve({ id: `instance-${number}`, url: message.url, child }));
    child.once('exit', () => reject(new Error(`instance ${number} exited before it listened`)));
    child.once('error', reject);
  });
}

/** Tells whether Redis answers PING at `url`, without keeping a connection. */
async function redisAnswers(url) {
  const { Redis } = require('ioredis');
  const probe = new Redis(url, { lazyConnect: true, enableOfflineQueue: false, retryStrategy: () => null });
  probe.on('error', () => {});
  try {
    await probe.connect();
    return (await probe.ping()) === 'PONG';
  } catch {
    return false;
  } finally {
    probe.disconnect();
  }
}

async function primary() {
  const options = readOptions(process.argv.slice(2), process.env);
  if (options.help) return void process.stdout.write(HELP);
  // Plain Node imports the BUILT packages: build them first when missing or stale (as the demo does).
  await require('../demo/build-packages').buildPackages(['core', 'express', 'redis']);

  const instances = [];
  let stopping = false;
  const stop = async (code) => {
    if (stopping) return;
    stopping = true;
    console.log('\nstopping the workers and the instances…');
    const exited = (child) =>
      new Promise((done) => {
        if (child.exitCode !== null || child.signalCode !== null) return done();
        const timer = setTimeout(() => child.kill('SIGKILL'), STOP_DEADLINE_MS);
        child.once('exit', () => {
          clearTimeout(timer);
          done();
        });
        child.kill('SIGTERM');
      });
    await Promise.all([
      ...Object.values(cluster.workers ?? {}).map((worker) => exited(worker.process)),
      ...instances.map(({ child }) => exited(child)),
    ]);
    console.log('stopped.');
    process.exit(code);
  };
  process.on('SIGINT', () => stop(0));
  process.on('SIGTERM', () => stop(0));

  try {
    instances.push(
      ...(await Promise.all(Array.from({ length: options.instances }, (_, i) => startInstance(i + 1)))),
    );
    if (!(await redisAnswers(options.redisUrl)))
      console.warn(
        `cluster: no Redis answers at ${options.redisUrl} (start one with \`redis-server\`, or pass --redis). ` +
          'Starting anyway: the workers fall back (hashing, fresh placements) and connect once it is up.',
      );
    const config = {
      backends: instances.map(({ id, url }) => ({ id, url })),
      stickiness: STICKINESS[options.stickiness],
      // Every worker must sign and verify with the same key.
      secret: process.env.STICKY_SECRET ?? randomBytes(32).toString('base64url'),
      redisUrl: options.redisUrl,
      port: options.port,
      host: options.host,
    };
    const env = { STICKY_CLUSTER_WORKER: JSON.stringify(config) };
    let listening = 0;
    let url = '';
    await new Promise((resolve, reject) => {
      cluster.on('message', (_worker, message) => {
        if (message?.listening === undefined) return;
        url = `http://${options.host}:${message.listening}`;
        if (++listening === options.workers) resolve();
      });
      cluster.on('exit', (worker, code, signal) => {
        if (stopping) return;
        if (listening < options.workers) return reject(new Error(`worker ${worker.id} exited at start-up`));
        console.log(`worker ${worker.id} exited (${signal ?? `code ${code}`}); starting another`);
        cluster.fork(env);
      });
      for (let i = 0; i < options.workers; i++) cluster.fork(env);
    });

    console.log(`stickyroute cluster — ${options.workers} Express workers, stickiness ${options.stickiness}`);
    for (const { id, url: at, child } of instances)
      console.log(`  ${id.padEnd(12)} ${at.padEnd(24)} pid ${child.pid}`);
    console.log(`  ${'gateway'.padEnd(12)} ${url}   (x-gateway-worker says which worker answered)`);
    console.log(`  ${'store'.padEnd(12)} ${options.redisUrl}, keys sticky:cluster:*`);
    console.log(`  ${'stats'.padEnd(12)} ${url}/__cluster   (the answering worker's router stats)`);
    console.log(`Ready: open ${url}, log in and reload. Ctrl-C stops everything.`);
  } catch (error) {
    console.error(`cluster: ${error.message}`);
    await stop(1);
  }
}

// ---- worker: one Express gateway on the shared port ----

function worker() {
  const express = require('express');
  const { sticky } = require('@stickyroute/express');
  const { createRedisStore } = require('@stickyroute/redis');
  const config = JSON.parse(process.env.STICKY_CLUSTER_WORKER);

  const store = createRedisStore({ url: config.redisUrl, prefix: 'sticky:cluster:' });
  const middleware = sticky({
    backends: config.backends,
    stickiness: config.stickiness,
    secret: config.secret,
    store,
  });
  const app = express();
  app.use((_req, res, next) => {
    res.setHeader('x-gateway-worker', String(cluster.worker.id));
    next();
  });
  app.get('/__cluster', (_req, res) => {
    res.json({
      worker: cluster.worker.id,
      pid: process.pid,
      stats: middleware.router.stats(),
      store: store.stats(),
    });
  });
  app.use(middleware);

  const server = http.createServer(app);
  server.on('upgrade', middleware.upgrade);
  // Listen once the store is connected (or after 2 s without it): a worker that answers before then cannot
  // read what the other workers learned, and places those sessions by hashing until it connects.
  store
    .ready(2_000)
    .catch(() => undefined)
    .then(() =>
      server.listen(config.port, config.host, () => process.send({ listening: server.address().port })),
    );

  const stop = () => {
    server.close();
    server.closeAllConnections();
    Promise.all([middleware.close(), store.close()]).finally(() => process.exit(0));
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', () => {}); // Ctrl-C reaches the whole group: the primary decides.
  process.on('disconnect', stop);
}

if (cluster.isPrimary) {
  primary().catch((error) => {
    console.error(`cluster: ${error.message}`);
    process.exit(1);
  });
} else {
  worker();
}
