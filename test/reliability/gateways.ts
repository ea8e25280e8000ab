// Every adapter the project has, as conformance harnesses: "each through every adapter" loops over the
// harness-*.ts files in test/conformance, so a new framework's harness joins these suites by existing.

import { readdirSync } from 'node:fs';
import path from 'node:path';
import type { GatewayHarness } from '../conformance/harness';

const CONFORMANCE_DIR = path.join(__dirname, '..', 'conformance');

function isHarness(value: unknown): value is GatewayHarness {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as GatewayHarness).name === 'string' &&
    typeof (value as GatewayHarness).start === 'function'
  );
}

/** The harnesses found in test/conformance/harness-*.ts, sorted by file name. */
export function allHarnesses(): GatewayHarness[] {
  const files = readdirSync(CONFORMANCE_DIR)
    .filter((file) => /^harness-[\w-]+\.ts$/.test(file))
    .sort();
  const harnesses: GatewayHarness[] = [];
  for (const file of files) {
    const exports = require(path.join(CONFORMANCE_DIR, file)) as Record<string, unknown>;
    harnesses.push(...Object.values(exports).filter(isHarness));
  }
  if (harnesses.length === 0) throw new Error(`no harness-*.ts in ${CONFORMANCE_DIR}`);
  return harnesses;
}

/** The harness for `name` (scenarios that run through one gateway use the Express one). */
export function harnessNamed(name: string): GatewayHarness {
  const harness = allHarnesses().find((h) => h.name === name);
  if (harness === undefined) throw new Error(`no conformance harness named ${name}`);
  return harness;
}
