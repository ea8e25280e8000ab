// The browser the browser suite drives: Debian's `chromium`, found the way test/setup/system-deps.sh checks
// for it (by name on the PATH), or wherever $CHROMIUM says (another build, another name). Launched headless
// without the sandbox or a GPU, as CI and the project's machines need.

import { existsSync } from 'node:fs';
import path from 'node:path';
import { type Browser, chromium } from 'playwright-core';

const ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** $CHROMIUM, else `chromium` on the PATH. Fails with how to install it. */
export function findChromium(): string {
  const fromEnv = process.env.CHROMIUM;
  if (fromEnv) return fromEnv;
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    const candidate = path.join(dir, 'chromium');
    if (dir !== '' && existsSync(candidate)) return candidate;
  }
  throw new Error(
    'chromium is not installed, and the browser suite needs a real one: run `bash test/setup/system-deps.sh` (installs the Debian package chromium), or set CHROMIUM to its path.',
  );
}

export function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: findChromium(), args: ARGS });
}
