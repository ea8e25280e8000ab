// Lets a child process (a gateway under test, a benchmark) run the workspace's TypeScript sources directly,
// exactly as jest does: @swc/core strips the types, and `@stickyroute/*` resolves to packages/*/src as in
// jest's moduleNameMapper. Nothing is built, so a child always runs the same code as the test that spawned it,
// from a fresh clone after `pnpm install`. Use: `node -r ./test/distributed/register-typescript.js file.ts`.

const fs = require('node:fs');
const Module = require('node:module');
const path = require('node:path');
const { transformSync } = require('@swc/core');

const root = path.resolve(__dirname, '../..');
const WORKSPACE_PACKAGE =
  /^@stickyroute\/(core|express|koa|fastify|redis|node|http-proxy-engine|undici-pools)$/;
const CORE_ENTRY = /^@stickyroute\/core\/(adapter|testing)$/;

const resolveFilename = Module._resolveFilename;
Module._resolveFilename = function resolveWorkspaceSource(request, ...rest) {
  const match = WORKSPACE_PACKAGE.exec(request);
  if (match) return path.join(root, 'packages', match[1], 'src', 'index.ts');
  const entry = CORE_ENTRY.exec(request);
  if (entry) return path.join(root, 'packages', 'core', 'src', `${entry[1]}.ts`);
  return resolveFilename.call(this, request, ...rest);
};

Module._extensions['.ts'] = function compileTypeScript(module, filename) {
  const { code } = transformSync(fs.readFileSync(filename, 'utf8'), {
    filename,
    jsc: { target: 'es2022', parser: { syntax: 'typescript' } },
    module: { type: 'commonjs' },
    sourceMaps: 'inline',
  });
  module._compile(code, filename);
};
