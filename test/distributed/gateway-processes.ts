// Starts gateway-process.ts as separate Node processes (one OS process per gateway, as in production) and
// talks to them: their URL, their router's stats, run-time stickiness switches, and a clean shutdown.
// The children run the TypeScript sources through register-typescript.js, so nothing needs building first.

import { type ChildProcess, fork } from 'node:child_process';
import path from 'node:path';
import type { RouterStats, StickinessOptions } from '@stickyroute/core';
import type { RedisStoreStats } from '@stickyroute/redis';
import { send } from '../support/http-client';
import type { GatewayMessage, GatewayProcessConfig } from './gateway-process';

const SCRIPT = path.join(__dirname, 'gateway-process.ts');
const REGISTER = path.join(__dirname, 'register-typescript.js');
const START_TIMEOUT_MS = 20_000;

export interface GatewayProcess {
  readonly name: string;
  /** e.g. http://127.0.0.1:40123 */
  readonly url: string;
  readonly pid: number;
  stats(): Promise<{
    stats: RouterStats;
    store: RedisStoreStats & { status: string; readyAfterMs: number | null };
    warnings: string[];
  }>;
  setStickiness(stickiness: StickinessOptions): Promise<void>;
  /** Where this gateway's hash ring alone (no store, no load) would place each key. */
  ringOwners(keys: readonly string[]): Promise<(string | null)[]>;
  close(): Promise<void>;
  /** kill -9: the process dies at once, its connections with it. */
  kill(): Promise<void>;
}

export function startGatewayProcess(config: GatewayProcessConfig): Promise<GatewayProcess> {
  const child = fork(SCRIPT, [], {
    execArgv: ['-r', REGISTER],
    env: { ...process.env, STICKY_GATEWAY: JSON.stringify(config), NODE_OPTIONS: '' },
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  });
  let output = '';
  const keep = (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-8_000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);

  return new Promise((resolve, reject) => {
    const fail = (why: string) => {
      clearTimeout(timer);
      child.kill('SIGKILL');
      reject(new Error(`gateway ${config.name} ${why}:\n${output}`));
    };
    const timer = setTimeout(() => fail(`did not listen within ${START_TIMEOUT_MS} ms`), START_TIMEOUT_MS);
    const onExit = (code: number | null) => fail(`exited (${code}) before listening`);
    child.once('exit', onExit);
    child.on('message', (message: GatewayMessage) => {
      if (message.type !== 'listening') return;
      clearTimeout(timer);
      child.off('exit', onExit);
      resolve(handle(config.name, child, `http://127.0.0.1:${message.port}`, () => output));
    });
  });
}

function handle(name: string, child: ChildProcess, url: string, output: () => string): GatewayProcess {
  const control = async (method: string, route: string, body?: unknown) => {
    const result = await send(`${url}/__gateway/${route}`, {
      method,
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    if (result.status !== 200) throw new Error(`gateway ${name}: ${method} ${route} → ${result.status}`);
    return result.json();
  };
  return {
    name,
    url,
    pid: child.pid ?? 0,
    stats: async () => {
      const body = await control('GET', 'stats');
      return {
        stats: body.stats as RouterStats,
        store: body.store as RedisStoreStats & { status: string; readyAfterMs: number | null },
        warnings: body.warnings as string[],
      };
    },
    setStickiness: async (stickiness) => {
      await control('PUT', 'stickiness', stickiness);
    },
    ringOwners: async (keys) => (await control('POST', 'ring-owners', keys)) as unknown as (string | null)[],
    kill: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGKILL');
      }),
    close: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        // A gateway that does not shut down cleanly in time is killed; its output helps to see why.
        const timer = setTimeout(() => {
          process.stderr.write(`gateway ${name} did not exit in time:\n${output()}\n`);
          child.kill('SIGKILL');
        }, 5_000);
        child.once('exit', () => {
          clearTimeout(timer);
          resolve();
        });
        if (child.connected) child.send({ type: 'close' });
        else child.kill('SIGTERM');
      }),
  };
}
