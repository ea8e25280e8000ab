// Builds the workspace packages the benchmarks load (their dist/, with each package's own `build` script)
// when dist is missing or older than the sources, so `pnpm bench` measures what users install and nothing
// compiles while it measures. A package that does not build is reported, and its gateways are skipped.

const { spawnSync } = require('node:child_process');
const { existsSync, readdirSync, statSync } = require('node:fs');
const { join, resolve } = require('node:path');

const ROOT = resolve(__dirname, '..', '..');

function newestMtime(path) {
  const stat = statSync(path);
  if (!stat.isDirectory()) return path.endsWith('.test.ts') ? 0 : stat.mtimeMs;
  let newest = 0;
  for (const entry of readdirSync(path)) newest = Math.max(newest, newestMtime(join(path, entry)));
  return newest;
}

function isStale(name) {
  const dir = join(ROOT, 'packages', name);
  const outputs = ['index.js', 'index.mjs'].map((file) => join(dir, 'dist', file));
  if (!outputs.every((file) => existsSync(file))) return true;
  const built = Math.min(...outputs.map((file) => statSync(file).mtimeMs));
  return newestMtime(join(dir, 'src')) > built || statSync(join(dir, 'package.json')).mtimeMs > built;
}

/**
 * Builds every stale package among `names` (core first: the others bundle against its types).
 * Returns the names that are usable (built now or already fresh) and the failures with their output.
 */
function ensureBuilt(names, log = (line) => process.stderr.write(`${line}\n`)) {
  const ready = [];
  const failed = {};
  for (const name of names) {
    if (!existsSync(join(ROOT, 'packages', name, 'src', 'index.ts'))) {
      failed[name] = `no packages/${name}/src/index.ts yet`;
      continue;
    }
    if (isStale(name)) {
      log(`building @stickyroute/${name} …`);
      const run = spawnSync('npx', ['-y', 'pnpm@10', '--filter', `@stickyroute/${name}`, 'run', 'build'], {
        cwd: ROOT,
        encoding: 'utf8',
      });
      if (run.status !== 0) {
        failed[name] = `${run.stdout}\n${run.stderr}`.trim().split('\n').slice(-15).join('\n');
        continue;
      }
    }
    ready.push(name);
  }
  return { ready, failed };
}

module.exports = { ensureBuilt, ROOT };
