// A real redis-server for the distributed suites: started on a free loopback port in a temp dir with no
// persistence, stoppable and restartable on the same port (to prove reconnection), pausable with SIGSTOP
// (a Redis that is up but does not answer), and removed with its directory at the end.

import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

export interface RedisServer {
  readonly port: number;
  /** redis://127.0.0.1:<port> */
  readonly url: string;
  /** Shuts the server down (its data is gone: no persistence). */
  stop(): Promise<void>;
  /** kill -9: the server dies at once, as in a crash (its data is gone). */
  kill(): Promise<void>;
  /** Starts it again on the same port, empty. */
  start(): Promise<void>;
  /** SIGSTOP: connections stay open but nothing is answered. */
  pause(): void;
  /** SIGCONT. */
  resume(): void;
  /** Stops it and removes its directory. Safe to call twice. */
  close(): Promise<void>;
}

const READY_LINE = 'Ready to accept connections';
const START_TIMEOUT_MS = 10_000;

/** Where redis-server is: $REDIS_SERVER, else the PATH. Fails with how to install it. */
export function findRedisServer(): string {
  const fromEnv = process.env.REDIS_SERVER;
  if (fromEnv) return fromEnv;
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    const candidate = path.join(dir, 'redis-server');
    if (dir !== '' && existsSync(candidate)) return candidate;
  }
  for (const candidate of ['/usr/bin/redis-server', '/usr/local/bin/redis-server'])
    if (existsSync(candidate)) return candidate;
  throw new Error(
    'redis-server is not installed, and the distributed suites need a real one: run `bash test/setup/system-deps.sh` (installs the Debian package redis-server), or set REDIS_SERVER to its path.',
  );
}

/** A loopback port nobody listens on right now. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** `extraArgs` go to redis-server as they are, e.g. `['--cluster-enabled', 'yes']`. */
export function startRedisServer(extraArgs: readonly string[] = []): Promise<RedisServer> {
  return startRedisProcess(
    (port, dir) => [
      ...['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
      ...['--dir', dir, '--daemonize', 'no', '--loglevel', 'notice'],
      ...extraArgs,
    ],
    READY_LINE,
  );
}

export interface SentinelOptions {
  /** Sentinels that must agree the master is down (default 1). */
  quorum?: number;
  /** No answer for this long: the master is subjectively down (Redis's default is 30 s). */
  downAfterMs?: number;
  /** Redis's default is 3 minutes. */
  failoverTimeoutMs?: number;
}

/** A Sentinel (redis-server --sentinel) watching `master` under the name `name`, with a quorum of one. */
export function startRedisSentinel(
  master: RedisServer,
  name = 'mymaster',
  options: SentinelOptions = {},
): Promise<RedisServer> {
  return startRedisProcess((port, dir) => {
    // Sentinel insists on a config file it can rewrite.
    const config = path.join(dir, 'sentinel.conf');
    const lines = [
      `port ${port}`,
      'bind 127.0.0.1',
      `sentinel monitor ${name} 127.0.0.1 ${master.port} ${options.quorum ?? 1}`,
    ];
    if (options.downAfterMs !== undefined)
      lines.push(`sentinel down-after-milliseconds ${name} ${options.downAfterMs}`);
    if (options.failoverTimeoutMs !== undefined)
      lines.push(`sentinel failover-timeout ${name} ${options.failoverTimeoutMs}`);
    writeFileSync(config, `${lines.join('\n')}\n`);
    return [config, '--sentinel', '--dir', dir];
  }, '+monitor master');
}

async function startRedisProcess(
  argsFor: (port: number, dir: string) => string[],
  readyLine: string,
): Promise<RedisServer> {
  const binary = findRedisServer();
  const dir = mkdtempSync(path.join(os.tmpdir(), 'stickyroute-redis-'));
  let child: ChildProcess | null = null;
  let port = 0;
  let closed = false;

  const launch = (onPort: number): Promise<ChildProcess> =>
    new Promise((resolve, reject) => {
      const proc = spawn(binary, argsFor(onPort, dir), { stdio: ['ignore', 'pipe', 'pipe'] });
      let output = '';
      const timer = setTimeout(() => {
        proc.kill('SIGKILL');
        reject(new Error(`redis-server did not start within ${START_TIMEOUT_MS} ms:\n${output}`));
      }, START_TIMEOUT_MS);
      const onData = (chunk: Buffer) => {
        output += chunk.toString();
        if (output.includes(readyLine)) {
          clearTimeout(timer);
          proc.stdout?.off('data', onData);
          proc.off('exit', onExit);
          // Keep draining its output so the pipe never fills up and blocks the server.
          proc.stdout?.resume();
          proc.stderr?.resume();
          resolve(proc);
        }
      };
      const onExit = (code: number | null) => {
        clearTimeout(timer);
        reject(new Error(`redis-server exited (${code}) before it was ready:\n${output}`));
      };
      proc.stdout?.on('data', onData);
      proc.stderr?.on('data', onData);
      proc.once('exit', onExit);
      proc.once('error', (error) => {
        clearTimeout(timer);
        reject(error);
      });
    });

  const start = async (): Promise<void> => {
    if (closed) throw new Error('redis-server helper is closed');
    if (child !== null) return;
    if (port !== 0) {
      child = await launch(port);
      return;
    }
    // Another process may take the free port between the probe and the bind: try a few.
    let lastError: unknown;
    for (let attempt = 0; attempt < 5; attempt++) {
      const candidate = await freePort();
      try {
        child = await launch(candidate);
        port = candidate;
        return;
      } catch (error) {
        lastError = error;
      }
    }
    throw lastError;
  };

  const stop = (signal: 'SIGTERM' | 'SIGKILL' = 'SIGTERM'): Promise<void> =>
    new Promise((resolve) => {
      const proc = child;
      child = null;
      if (proc === null || proc.exitCode !== null || proc.signalCode !== null) return resolve();
      proc.once('exit', () => resolve());
      proc.kill('SIGCONT');
      proc.kill(signal);
    });

  try {
    await start();
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }

  return {
    get port() {
      return port;
    },
    get url() {
      return `redis://127.0.0.1:${port}`;
    },
    stop: () => stop(),
    kill: () => stop('SIGKILL'),
    start,
    pause: () => child?.kill('SIGSTOP'),
    resume: () => child?.kill('SIGCONT'),
    close: async () => {
      if (closed) return;
      closed = true;
      await stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
