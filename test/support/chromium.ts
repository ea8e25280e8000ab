// Debian's Chromium, driven by playwright-core: the one place that knows where it is and how it must start
// on these machines (as root, no GPU, no network of its own). It is found the way test/setup/system-deps.sh
// checks for it, by name on the PATH, unless CHROMIUM_PATH names another build.

import { existsSync } from 'node:fs';
import path from 'node:path';
import { type Browser, chromium } from 'playwright-core';

export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** $CHROMIUM_PATH, else `chromium` on the PATH. Fails with how to install it. */
export function findChromium(): string {
  const fromEnv = process.env.CHROMIUM_PATH;
  if (fromEnv) return fromEnv;
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    const candidate = path.join(dir, 'chromium');
    if (dir !== '' && existsSync(candidate)) return candidate;
  }
  throw new Error(
    'chromium is not installed, and the browser suite needs a real one: run `bash test/setup/system-deps.sh` (installs the Debian package chromium), or set CHROMIUM_PATH to its path.',
  );
}

/** A headless Chromium; `args` are added to the usual ones. */
export function launchChromium(args: readonly string[] = []): Promise<Browser> {
  return chromium.launch({ executablePath: findChromium(), args: [...CHROMIUM_ARGS, ...args] });
}
