// Builds the workspace packages an example imports (their dist/, with tsup) when dist is missing or older
// than the package's sources, so `pnpm demo` works on a fresh clone and starts at once the second time.
// Examples run plain Node and import the BUILT packages (`@stickyroute/express` → packages/express/dist).
// They need the JavaScript only, so the package's build script runs without `--dts`: the type declarations
// take tsup seven times longer than the code (`pnpm build` makes everything, declarations included).
//
//   node examples/demo/build-packages.js [--types] [core express koa fastify redis node status]   (no names: all)

const { spawn } = require('node:child_process');
const { createHash } = require('node:crypto');
const {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} = require('node:fs');
const { tmpdir } = require('node:os');
const { delimiter, join, resolve } = require('node:path');
const { setTimeout: sleep } = require('node:timers/promises');

const ROOT = resolve(__dirname, '..', '..');
const ALL = ['core', 'express', 'koa', 'fastify', 'redis', 'node', 'status'];
/** A build holding the lock longer than this is taken for dead (a killed process) and its lock broken. */
const STALE_LOCK_MS = 180_000;

/** The newest modification time under `path`, tests aside (they are not part of a build). */
function newestMtime(path) {
  const stat = statSync(path);
  if (!stat.isDirectory()) return path.endsWith('.test.ts') ? 0 : stat.mtimeMs;
  let newest = 0;
  for (const entry of readdirSync(path)) newest = Math.max(newest, newestMtime(join(path, entry)));
  return newest;
}

/** The package needs a build: its dist is missing, or a source file or its manifest changed since. */
function isStale(name, types) {
  const dir = join(ROOT, 'packages', name);
  // An ESM build only where the manifest names one (the core is published as CommonJS alone).
  const manifest = readFileSync(join(dir, 'package.json'), 'utf8');
  const outputs = [
    'index.js',
    ...(manifest.includes('index.mjs') ? ['index.mjs'] : []),
    ...(types ? ['index.d.ts'] : []),
  ].map((file) => join(dir, 'dist', file));
  if (!outputs.every((file) => existsSync(file))) return true;
  const built = Math.min(...outputs.map((file) => statSync(file).mtimeMs));
  // Private workspace packages (the shared proxy engines) are bundled in: their sources count as this one's.
  const bundled = Object.entries(JSON.parse(manifest).devDependencies ?? {})
    .filter(([dep, range]) => range.startsWith('workspace:') && dep.startsWith('@stickyroute/'))
    .map(([dep]) => join(ROOT, 'packages', dep.slice('@stickyroute/'.length), 'src'))
    .filter((src) => existsSync(src));
  const sources = [join(dir, 'src'), ...bundled];
  return Math.max(...sources.map(newestMtime)) > built || statSync(join(dir, 'package.json')).mtimeMs > built;
}

/** Runs the package's own `build` script as `pnpm run build` would: in its folder, the workspace's bins on PATH. */
function runBuildScript(name, types, log) {
  const dir = join(ROOT, 'packages', name);
  let script = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')).scripts?.build;
  if (!script) return Promise.resolve();
  if (!types && script.startsWith('tsup ')) script = script.replace(/ --dts\b/, '');
  log(`building @stickyroute/${name} (${script.split(' ')[0]})…`);
  const bins = [join(dir, 'node_modules', '.bin'), join(ROOT, 'node_modules', '.bin')];
  const child = spawn(script, {
    cwd: dir,
    shell: true,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, PATH: [...bins, process.env.PATH].join(delimiter) },
  });
  let output = '';
  child.stdout.on('data', (chunk) => {
    output += chunk;
  });
  child.stderr.on('data', (chunk) => {
    output += chunk;
  });
  return new Promise((done, fail) => {
    child.on('error', fail);
    child.on('exit', (code) =>
      code === 0 ? done() : fail(new Error(`building @stickyroute/${name} failed:\n${output}`)),
    );
  });
}

/** The lock's holder is gone (killed mid-build) or has held it for too long. */
function lockIsDead(lock) {
  const stat = statSync(lock, { throwIfNoEntry: false });
  if (stat === undefined) return false;
  if (Date.now() - stat.mtimeMs > STALE_LOCK_MS) return true;
  let pid;
  try {
    pid = Number(readFileSync(join(lock, 'pid'), 'utf8'));
  } catch {
    return false; // just made, its pid not written yet
  }
  try {
    process.kill(pid, 0);
    return false;
  } catch (error) {
    return error.code === 'ESRCH';
  }
}

/**
 * Builds one package unless it is fresh, holding a lock (a directory: mkdir is atomic) so that two examples
 * or two tests starting at once never run tsup --clean on the same dist side by side.
 */
async function buildLocked(name, types, log) {
  const key = createHash('sha256').update(ROOT).digest('hex').slice(0, 12);
  const lock = join(tmpdir(), `stickyroute-build-${key}-${name}`);
  for (;;) {
    try {
      mkdirSync(lock);
      writeFileSync(join(lock, 'pid'), String(process.pid));
      break;
    } catch (error) {
      if (error.code !== 'EEXIST') throw error;
      if (lockIsDead(lock)) rmSync(lock, { recursive: true, force: true });
      else await sleep(200);
    }
  }
  try {
    if (isStale(name, types)) await runBuildScript(name, types, log);
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}

/**
 * Builds the named packages that are stale: the core first (with `types`, the adapters' declarations read
 * its own), then the others side by side. Resolves to the names it built.
 */
async function buildPackages(names = ALL, { types = false, log = (line) => console.error(line) } = {}) {
  const wanted = ALL.filter((name) => names.includes(name));
  const stale = wanted.filter(
    (name) => existsSync(join(ROOT, 'packages', name, 'src')) && isStale(name, types),
  );
  if (stale.includes('core')) await buildLocked('core', types, log);
  await Promise.all(stale.filter((name) => name !== 'core').map((name) => buildLocked(name, types, log)));
  return stale;
}

if (require.main === module) {
  const args = process.argv.slice(2);
  const names = args.filter((arg) => arg !== '--types');
  buildPackages(names.length > 0 ? names : ALL, { types: args.includes('--types') }).catch((error) => {
    console.error(error.message);
    process.exit(1);
  });
}

module.exports = { buildPackages };
