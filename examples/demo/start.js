// `pnpm demo`: three instances of a legacy app that keeps sessions in memory (app.js, child processes) behind
// a sticky gateway on http://localhost:3000, with the status page at /__sticky. Runs until Ctrl-C or
// SIGTERM, then stops every process it started. Options: `node examples/demo/start.js --help`.

const { fork } = require('node:child_process');
const { randomBytes } = require('node:crypto');
const { join } = require('node:path');
const { parseArgs } = require('node:util');
const { buildPackages } = require('./build-packages');

const STICKINESS_TYPES = ['off', 'lb-cookie', 'app-cookie', 'source-ip'];
const FRAMEWORKS = ['express', 'koa', 'fastify'];
const STOP_DEADLINE_MS = 3000;

const HELP = `Usage: pnpm demo [express|koa|fastify] [off|lb-cookie|app-cookie|source-ip] [options]

  --framework <name>     express (default), koa or fastify                      env FRAMEWORK
  --stickiness <type>    off, lb-cookie (default), app-cookie or source-ip      env STICKINESS
  --duration <time>      lb-cookie / source-ip duration, e.g. 90s, 15m (20m)    env DURATION
  --port <n>             gateway port (3000; 0 picks a free one)                env PORT
  --host <addr>          gateway address (127.0.0.1)                            env HOST
  --instances <n>        app instances to start (3)                             env INSTANCES
  --session-cookie <n>   the app's session cookie (PHPSESSID)                   env SESSION_COOKIE
  --session-ttl <s>      the app session's lifetime in seconds (1800)           env SESSION_TTL
  --status-token <t>     require this token on the status page                  env STATUS_TOKEN
  --status-port <n>      serve the status page on its own port instead          env STATUS_PORT
  --no-status            no status page
  --build-only           build the packages the demo needs, then exit
`;

function readOptions(argv, env) {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      framework: { type: 'string' },
      stickiness: { type: 'string' },
      duration: { type: 'string' },
      port: { type: 'string' },
      host: { type: 'string' },
      instances: { type: 'string' },
      'session-cookie': { type: 'string' },
      'session-ttl': { type: 'string' },
      'status-token': { type: 'string' },
      'status-port': { type: 'string' },
      'no-status': { type: 'boolean' },
      'build-only': { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  const framework =
    values.framework ?? positionals.find((p) => FRAMEWORKS.includes(p)) ?? env.FRAMEWORK ?? 'express';
  const stickiness =
    values.stickiness ??
    positionals.find((p) => STICKINESS_TYPES.includes(p)) ??
    env.STICKINESS ??
    'lb-cookie';
  const unknown = positionals.find((p) => !FRAMEWORKS.includes(p) && !STICKINESS_TYPES.includes(p));
  if (unknown !== undefined) throw new Error(`unknown argument ${JSON.stringify(unknown)}`);
  if (!FRAMEWORKS.includes(framework)) throw new Error(`--framework must be one of ${FRAMEWORKS.join(', ')}`);
  if (!STICKINESS_TYPES.includes(stickiness))
    throw new Error(`--stickiness must be one of ${STICKINESS_TYPES.join(', ')}`);
  const number = (name, value, min) => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < min)
      throw new Error(`--${name} must be an integer ≥ ${min} (got ${value})`);
    return n;
  };
  const statusPort = values['status-port'] ?? env.STATUS_PORT;
  return {
    help: values.help === true,
    buildOnly: values['build-only'] === true,
    framework,
    stickiness,
    duration: values.duration ?? env.DURATION ?? '20m',
    port: number('port', values.port ?? env.PORT ?? '3000', 0),
    host: values.host ?? env.HOST ?? '127.0.0.1',
    instances: number('instances', values.instances ?? env.INSTANCES ?? '3', 1),
    sessionCookie: values['session-cookie'] ?? env.SESSION_COOKIE ?? 'PHPSESSID',
    sessionTtl: number('session-ttl', values['session-ttl'] ?? env.SESSION_TTL ?? '1800', 1),
    status:
      values['no-status'] === true
        ? false
        : {
            token: values['status-token'] ?? env.STATUS_TOKEN ?? undefined,
            port: statusPort === undefined ? undefined : number('status-port', statusPort, 0),
          },
  };
}

function stickinessOption({ stickiness, duration, sessionCookie }) {
  switch (stickiness) {
    case 'off':
      return false;
    case 'app-cookie':
      return { type: 'app-cookie', appCookie: sessionCookie };
    default:
      return { type: stickiness, duration };
  }
}

/** The app instances, as child processes that report their URL over IPC. */
class Instances {
  constructor({ sessionCookie, sessionTtl }) {
    this.args = ['--session-cookie', sessionCookie, '--session-ttl', String(sessionTtl)];
    this.children = new Map();
    this.stopping = false;
    this.count = 0;
  }

  /** Starts the next instance; resolves to `{ id, url, pid }` once it listens. */
  start() {
    const number = ++this.count;
    const id = `instance-${number}`;
    const child = fork(
      join(__dirname, 'app.js'),
      ['--instance', String(number), '--port', '0', ...this.args],
      {
        stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
        execArgv: [],
      },
    );
    this.children.set(id, child);
    child.on('exit', (code, signal) => {
      this.children.delete(id);
      if (!this.stopping) console.log(`${id} (pid ${child.pid}) exited (${signal ?? `code ${code}`})`);
    });
    return new Promise((resolve, reject) => {
      child.once('message', (message) => resolve({ id, url: message.url, pid: child.pid }));
      child.once('exit', () => reject(new Error(`${id} exited before it listened`)));
      child.once('error', reject);
    });
  }

  /** SIGTERM to every instance, SIGKILL to those still running after the deadline. */
  async stop() {
    this.stopping = true;
    const children = [...this.children.values()];
    await Promise.all(
      children.map(
        (child) =>
          new Promise((done) => {
            if (child.exitCode !== null || child.signalCode !== null) return done();
            const timer = setTimeout(() => child.kill('SIGKILL'), STOP_DEADLINE_MS);
            child.once('exit', () => {
              clearTimeout(timer);
              done();
            });
            child.kill('SIGTERM');
          }),
      ),
    );
  }
}

function describe(options) {
  if (options.stickiness === 'off') return 'stickiness off';
  if (options.stickiness === 'app-cookie') return `app-cookie following ${options.sessionCookie}`;
  return `${options.stickiness} (${options.duration})`;
}

async function main() {
  const options = readOptions(process.argv.slice(2), process.env);
  if (options.help) return void process.stdout.write(HELP);
  await buildPackages(['core', options.framework]);
  if (options.buildOnly) return;
  // Required only now: the adapters are the freshly built packages.
  const { startGateway } = require('./gateway');

  const instances = new Instances(options);
  let gateway = null;
  let stopping = false;
  const stop = async (code) => {
    if (stopping) return;
    stopping = true;
    console.log('\nstopping the gateway and the instances…');
    await Promise.race([gateway?.close(), new Promise((done) => setTimeout(done, STOP_DEADLINE_MS).unref())]);
    await instances.stop();
    console.log('stopped.');
    process.exit(code);
  };
  process.on('SIGINT', () => stop(0));
  process.on('SIGTERM', () => stop(0));

  try {
    const started = await Promise.all(Array.from({ length: options.instances }, () => instances.start()));
    gateway = await startGateway({
      framework: options.framework,
      port: options.port,
      host: options.host,
      appCookie: options.sessionCookie,
      status: options.status,
      stickyOptions: {
        backends: started.map(({ id, url }) => ({ id, url })),
        stickiness: stickinessOption(options),
        secret: process.env.STICKY_SECRET ?? randomBytes(32).toString('base64url'),
      },
      addInstance: async () => {
        const added = await instances.start();
        console.log(`${added.id}   ${added.url}   pid ${added.pid}   (added from the status page)`);
        return added;
      },
    });
    for (const event of ['add', 'remove', 'drain', 'down', 'up'])
      gateway.router.on(event, ({ id }) => console.log(`gateway: ${event} ${id}`));
    gateway.router.on('stickiness', (s) => console.log(`gateway: stickiness is now ${s.type}`));

    console.log(`stickyroute demo — ${options.framework} gateway, ${describe(options)}`);
    for (const { id, url, pid } of started) console.log(`  ${id.padEnd(12)} ${url.padEnd(24)} pid ${pid}`);
    console.log(`  ${'gateway'.padEnd(12)} ${gateway.url}`);
    if (gateway.statusUrl !== null) {
      const tokenQuery = options.status.token ? `?token=${encodeURIComponent(options.status.token)}` : '';
      console.log(
        `  ${'status page'.padEnd(12)} ${gateway.statusUrl}${tokenQuery}   (JSON: ?format=json, Prometheus: /metrics)`,
      );
    }
    console.log(`Ready: open ${gateway.url} in a browser and log in. Ctrl-C stops everything.`);
  } catch (error) {
    console.error(`demo: ${error.message}`);
    await stop(1);
  }
}

main().catch((error) => {
  console.error(`demo: ${error.message}`);
  process.exit(1);
});
