// Runs the real demo (`examples/demo/start.js`, what `pnpm demo` runs) as a child process for the browser
// suite: on free ports, read back from what it prints, and stopped with SIGTERM as Ctrl-C would, checking
// that every process it started is gone afterwards.

import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { waitFor } from '../support/wait-for';

const ROOT = join(__dirname, '..', '..');
const START = join(ROOT, 'examples', 'demo', 'start.js');
const BUILD = join(ROOT, 'examples', 'demo', 'build-packages.js');

export interface RunningDemo {
  /** The gateway, e.g. http://127.0.0.1:40123 */
  url: string;
  /** The status page, e.g. http://127.0.0.1:40123/__sticky */
  statusUrl: string;
  /** The demo's own pid and its app instances'. */
  pids: number[];
  output(): string;
  /** SIGTERM, then waits until the demo and every instance it started have exited. */
  stop(): Promise<void>;
}

function exited(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve) => child.once('exit', (code) => resolve(code)));
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Builds the packages the demo imports (skipped when their dist is fresh), as `pnpm demo` does on start. */
export async function buildDemoPackages(): Promise<void> {
  const child = spawn(process.execPath, [BUILD, 'core', 'express', 'koa', 'fastify', 'status'], {
    stdio: ['ignore', 'inherit', 'pipe'],
  });
  let errors = '';
  child.stderr?.on('data', (chunk) => {
    errors += chunk;
  });
  const code = await exited(child);
  if (code !== 0) throw new Error(`building the packages failed:\n${errors}`);
}

/** Starts the demo with `args` (plus a free gateway port) and resolves once it printed that it is ready. */
export async function startDemo(args: string[], timeoutMs = 20_000): Promise<RunningDemo> {
  const child = spawn(process.execPath, [START, '--port', '0', ...args], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, PORT: undefined, STICKINESS: undefined, FRAMEWORK: undefined },
  });
  let output = '';
  child.stdout?.on('data', (chunk) => {
    output += chunk;
  });
  child.stderr?.on('data', (chunk) => {
    output += chunk;
  });
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    const deadline = new Promise<'late'>((resolve) => setTimeout(() => resolve('late'), 10_000).unref());
    if ((await Promise.race([exited(child), deadline])) === 'late') {
      child.kill('SIGKILL');
      throw new Error(`the demo did not stop within 10 s on SIGTERM:\n${output}`);
    }
  };
  try {
    await waitFor(
      () => output.includes('Ready:') || child.exitCode !== null,
      timeoutMs,
      'the demo printing "Ready:"',
    );
    if (child.exitCode !== null) throw new Error(`the demo exited with ${child.exitCode}:\n${output}`);
  } catch (error) {
    await stop().catch(() => {});
    throw error;
  }
  const local = (url: string) => url.replace('//localhost:', '//127.0.0.1:');
  const url = local(/^ {2}gateway\s+(http\S+)/m.exec(output)![1]!);
  const statusUrl = local(/^ {2}status page\s+(http\S+)/m.exec(output)![1]!);
  const pids = [child.pid!, ...[...output.matchAll(/ pid (\d+)/g)].map((m) => Number(m[1]))];
  return {
    url,
    statusUrl,
    pids,
    output: () => output,
    stop: async () => {
      await stop();
      await waitFor(() => pids.every((pid) => !isRunning(pid)), 5000, 'every demo process to exit');
    },
  };
}
