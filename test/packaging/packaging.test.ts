// The packages as a registry would serve them: every publishable package is built and packed with pnpm
// (workspace ranges become real ones), each tarball is checked (LICENSE, README, repository/homepage/bugs/
// keywords, engines, no source maps, dependencies exactly what the dist imports, no private package), and
// the tarballs are installed with npm into a fresh project next to express, koa, fastify, prom-client and an
// older ioredis 5 from the registry. There an ESM and a CommonJS gateway, each with the status page mounted,
// proxy to real backends on 127.0.0.1; the core loaded by import and by require is one module; prom-client
// removed, /metrics says so; and a strict TypeScript file compiles against the published types.
// About 1–2 minutes (building is most of it when dist is stale; npm's cache makes the install quick).

import { execFile } from 'node:child_process';
import {
  cpSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { builtinModules } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { gunzipSync } from 'node:zlib';

const run = promisify(execFile);
const ROOT = join(__dirname, '..', '..');
const FIXTURE = join(__dirname, 'fixture');
const BUILD = join(ROOT, 'examples', 'demo', 'build-packages.js');
/** From the registry, next to the tarballs: the frameworks, the optional peers, an ioredis 5 older than ours. */
const REGISTRY_PACKAGES = [
  'express@5',
  'koa@3',
  'fastify@5',
  'prom-client@15',
  'ioredis@5.6.1',
  'typescript@5.9',
  '@types/node@20',
  '@types/express@5',
  '@types/koa@3',
];
const BUILTINS = new Set(builtinModules.flatMap((name) => [name, `node:${name}`]));
/**
 * The environment of everything run in the project: without NODE_PATH, which pnpm points at the workspace's
 * hoisted packages, so that nothing missing from a tarball is found there instead.
 */
const PROJECT_ENV = Object.fromEntries(Object.entries(process.env).filter(([name]) => name !== 'NODE_PATH'));

jest.setTimeout(360_000);

interface Manifest {
  name: string;
  private?: boolean;
  license?: string;
  keywords?: string[];
  homepage?: string;
  repository?: { url?: string; directory?: string };
  bugs?: { url?: string };
  engines?: { node?: string };
  dependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  peerDependenciesMeta?: Record<string, { optional?: boolean }>;
}

interface Tarball {
  manifest: Manifest;
  path: string;
  packedBytes: number;
  files: Map<string, Buffer>;
}

/** The files of a .tgz (tar is 512-byte blocks: a header with name and octal size, then the content). */
function untar(path: string): Map<string, Buffer> {
  const data = gunzipSync(readFileSync(path));
  const files = new Map<string, Buffer>();
  for (let offset = 0; offset + 512 <= data.length; ) {
    const header = data.subarray(offset, offset + 512);
    const name = header.subarray(0, 100).toString('utf8').replace(/\0.*$/s, '');
    if (name === '') break;
    const prefix = header.subarray(345, 500).toString('utf8').replace(/\0.*$/s, '');
    const size = Number.parseInt(header.subarray(124, 136).toString('utf8').replace(/\0.*$/s, '').trim(), 8);
    const full = (prefix ? `${prefix}/${name}` : name).replace(/^package\//, '');
    files.set(full, data.subarray(offset + 512, offset + 512 + size));
    offset += 512 + Math.ceil(size / 512) * 512;
  }
  return files;
}

const BARE_SPECIFIER = /^(@[a-z0-9._-]+\/)?[a-z0-9_][a-z0-9._-]*(\/[\w./-]*)?$/i;

/** The package a bare specifier names (`@scope/name/sub` → `@scope/name`), or null for builtins and paths. */
function packageOf(specifier: string): string | null {
  if (!BARE_SPECIFIER.test(specifier) || BUILTINS.has(specifier)) return null;
  const parts = specifier.split('/');
  return specifier.startsWith('@') ? `${parts[0]}/${parts[1]}` : parts[0]!;
}

/** Every package the JavaScript (or the declarations) of a tarball imports or requires. */
function importsOf(files: Map<string, Buffer>, pattern: RegExp): Set<string> {
  const found = new Set<string>();
  for (const [name, content] of files) {
    if (!pattern.test(name)) continue;
    const text = content.toString('utf8');
    for (const match of text.matchAll(
      /(?:\brequire\(|\bfrom\s*|\bimport\(\s*|\bimport\s+)["']([^"']+)["']/g,
    )) {
      const pkg = packageOf(match[1]!);
      if (pkg !== null) found.add(pkg);
    }
  }
  return found;
}

async function pnpm(args: string[], cwd: string): Promise<string> {
  // Under `pnpm test`, pnpm is the npm_execpath; otherwise the pinned one through npx, as the README runs it.
  const execPath = process.env.npm_execpath;
  const viaPnpm = execPath !== undefined && /pnpm/.test(execPath);
  const { stdout } = viaPnpm
    ? await run(process.execPath, [execPath, ...args], { cwd })
    : await run('npx', ['-y', 'pnpm@10', ...args], { cwd });
  return stdout;
}

async function node(script: string, cwd: string): Promise<Record<string, unknown>> {
  const { stdout } = await run(process.execPath, [script], { cwd, timeout: 60_000, env: PROJECT_ENV });
  const last = stdout.trim().split('\n').at(-1)!;
  return JSON.parse(last) as Record<string, unknown>;
}

const timings: [string, number][] = [];
async function timed<T>(step: string, work: () => Promise<T>): Promise<T> {
  const start = Date.now();
  try {
    return await work();
  } finally {
    timings.push([step, Date.now() - start]);
  }
}

let project: string;
const tarballs: Tarball[] = [];

beforeAll(async () => {
  project = mkdtempSync(join(tmpdir(), 'stickyroute-packaging-'));
  const packed = join(project, 'tarballs');
  mkdirSync(packed);
  await timed('build (stale packages only)', () => run(process.execPath, [BUILD, '--types'], { cwd: ROOT }));
  await timed('pnpm pack', async () => {
    for (const dir of readdirSync(join(ROOT, 'packages'))) {
      const manifest = JSON.parse(
        readFileSync(join(ROOT, 'packages', dir, 'package.json'), 'utf8'),
      ) as Manifest;
      if (manifest.private) continue;
      const before = new Set(readdirSync(packed));
      await pnpm(['pack', '--pack-destination', packed], join(ROOT, 'packages', dir));
      const file = readdirSync(packed).find((f) => !before.has(f))!;
      const path = join(packed, file);
      const files = untar(path);
      tarballs.push({
        manifest: JSON.parse(files.get('package.json')!.toString('utf8')) as Manifest,
        path,
        packedBytes: statSync(path).size,
        files,
      });
    }
  });
  cpSync(FIXTURE, project, { recursive: true });
  writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'packaging-check', private: true }));
  await timed('npm install (tarballs + registry)', () =>
    run(
      'npm',
      [
        'install',
        '--no-audit',
        '--no-fund',
        '--loglevel=error',
        ...tarballs.map((t) => t.path),
        ...REGISTRY_PACKAGES,
      ],
      { cwd: project, timeout: 240_000, env: PROJECT_ENV },
    ),
  );
}, 360_000);

afterAll(() => {
  const sizes = tarballs
    .map((t) => {
      const unpacked = [...t.files.values()].reduce((sum, f) => sum + f.length, 0);
      return `  ${t.manifest.name.padEnd(22)} ${String(t.packedBytes).padStart(7)} B packed, ${String(unpacked).padStart(7)} B unpacked, ${t.files.size} files`;
    })
    .join('\n');
  const steps = timings.map(([step, ms]) => `  ${step.padEnd(34)} ${(ms / 1000).toFixed(1)} s`).join('\n');
  console.log(`packaging: tarballs\n${sizes}\npackaging: steps\n${steps}`);
  if (project !== undefined && !process.env.KEEP_PACKAGING_PROJECT)
    rmSync(project, { recursive: true, force: true });
  else console.log(`packaging: the project is kept in ${project}`);
});

describe('every tarball', () => {
  test('is one of the seven public packages, with LICENSE, README and the registry fields', () => {
    expect(tarballs.map((t) => t.manifest.name).sort()).toEqual(
      ['core', 'express', 'fastify', 'koa', 'node', 'redis', 'status'].map((n) => `@stickyroute/${n}`),
    );
    const license = readFileSync(join(ROOT, 'LICENSE'));
    for (const { manifest, files } of tarballs) {
      const where = manifest.name;
      expect([where, files.get('LICENSE')?.equals(license)]).toEqual([where, true]);
      expect([where, (files.get('README.md')?.length ?? 0) > 500]).toEqual([where, true]);
      expect([where, manifest.license]).toEqual([where, 'MIT']);
      expect([where, manifest.keywords?.includes('sticky-sessions')]).toEqual([where, true]);
      expect([where, manifest.homepage]).toEqual([where, expect.stringMatching(/^https:\/\//)]);
      expect([where, manifest.repository?.url, manifest.repository?.directory]).toEqual([
        where,
        expect.stringMatching(/^git\+https:\/\/.*\.git$/),
        `packages/${where.split('/')[1]}`,
      ]);
      expect([where, manifest.bugs?.url]).toEqual([where, expect.stringMatching(/^https:\/\//)]);
      expect([where, manifest.engines?.node]).toEqual([where, '>=20.18.1']);
    }
  });

  test('ships no source maps and no sources, only dist (and the status page its assets)', () => {
    for (const { manifest, files } of tarballs) {
      const stray = [...files.keys()].filter(
        (name) =>
          !/^(LICENSE|README\.md|package\.json|dist\/[^/]+\.(js|mjs|d\.ts|d\.mts)|assets\/[^/]+\.html)$/.test(
            name,
          ),
      );
      expect([manifest.name, stray]).toEqual([manifest.name, []]);
    }
  });

  test('depends on exactly what its dist imports, by caret ranges, on no private package', () => {
    for (const { manifest, files } of tarballs) {
      const where = manifest.name;
      const dependencies = manifest.dependencies ?? {};
      const peers = manifest.peerDependencies ?? {};
      const imported = importsOf(files, /^dist\/.*\.(js|mjs)$/);
      imported.delete(where);
      expect([where, Object.keys(dependencies).sort()]).toEqual([
        where,
        [...imported].filter((name) => !(name in peers)).sort(),
      ]);
      for (const [name, range] of Object.entries(dependencies))
        expect([where, name, range]).toEqual([where, name, expect.stringMatching(/^\^\d/)]);
      const declared = importsOf(files, /^dist\/.*\.d\.m?ts$/);
      declared.delete(where);
      for (const name of declared)
        expect([where, name, name in dependencies || name in peers]).toEqual([where, name, true]);
    }
  });

  test('names its peers: frameworks, their type packages as optional, ioredis, prom-client as optional', () => {
    const peers = Object.fromEntries(
      tarballs.map((t) => [t.manifest.name, t.manifest.peerDependencies ?? {}]),
    );
    const optional = Object.fromEntries(
      tarballs.map((t) => [
        t.manifest.name,
        Object.keys(t.manifest.peerDependenciesMeta ?? {}).filter(
          (n) => t.manifest.peerDependenciesMeta![n]!.optional,
        ),
      ]),
    );
    expect(Object.keys(peers['@stickyroute/express']!).sort()).toEqual(['@types/express', 'express']);
    expect(optional['@stickyroute/express']).toEqual(['@types/express']);
    expect(Object.keys(peers['@stickyroute/koa']!).sort()).toEqual(['@types/koa', 'koa']);
    expect(optional['@stickyroute/koa']).toEqual(['@types/koa']);
    expect(peers['@stickyroute/fastify']).toEqual({ fastify: '^5.0.0' });
    expect(peers['@stickyroute/redis']).toEqual({ ioredis: '^5.0.0' });
    expect(peers['@stickyroute/status']).toEqual({ 'prom-client': '^15.0.0' });
    expect(optional['@stickyroute/status']).toEqual(['prom-client']);
  });
});

describe('installed with npm into a new project', () => {
  test('an ESM gateway (Express, node:http) with the status page: proxied, status JSON, metrics, a control', async () => {
    const results = await timed('ESM gateways', () => node('gateway.mjs', project));
    const passed = { proxied: true, statusJson: true, metrics: true, control: true, page: true };
    expect(results).toMatchObject({ express: passed, node: passed });
    expect(results.dualPackage).toEqual({
      sameClass: true,
      sameRouterClass: true,
      esmErrorIsCjsInstance: true,
      option: 'backends[0].url',
      namedExports: [], // every export of the CommonJS build is importable by name from ESM
    });
  });

  test('a CommonJS gateway (Koa, Fastify) with the status page, and its StickyConfigError', async () => {
    const results = await timed('CommonJS gateways', () => node('gateway.cjs', project));
    const passed = { proxied: true, statusJson: true, metrics: true, control: true, page: true };
    expect(results).toMatchObject({ koa: passed, fastify: passed, configError: 'cookie.sameSite' });
  });

  const tsc = (config: string) =>
    run(process.execPath, [join(project, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', config], {
      cwd: project,
      env: PROJECT_ENV,
    }).then(
      () => '',
      (error: { stdout?: string }) => error.stdout ?? String(error),
    );

  test('strict TypeScript compiles against the published types (ESM and CommonJS resolution)', async () => {
    expect(await timed('tsc: a strict user project', () => tsc('tsconfig.json'))).toBe('');
  });

  test('the declarations themselves type-check (skipLibCheck off), and name only what is installed', async () => {
    expect(await timed('tsc: the declarations', () => tsc('tsconfig.declarations.json'))).toBe('');
  });

  test('without prom-client the status page loads and its /metrics answers 501, saying what to install', async () => {
    const installed = join(project, 'node_modules', 'prom-client');
    const aside = join(project, 'prom-client-aside');
    renameSync(installed, aside);
    try {
      const results = await node('no-prom-client.cjs', project);
      expect(results).toEqual({
        metrics: 501,
        says: expect.stringContaining('npm install prom-client'),
        json: 200,
      });
    } finally {
      renameSync(aside, installed);
    }
  });
});
