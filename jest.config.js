// One jest run for the whole workspace: unit tests beside the code, cross-package suites in test/.
// @swc/jest only strips types (fast); `pnpm typecheck` is what checks them.
const transform = { '^.+\\.(t|j)sx?$': ['@swc/jest', { jsc: { target: 'es2022' } }] };
const moduleNameMapper = {
  '^@stickyroute/(core|express|koa|fastify|redis|node|status|http-proxy-engine|undici-pools)$':
    '<rootDir>/packages/$1/src/index.ts',
  '^@stickyroute/core/(adapter|testing)$': '<rootDir>/packages/core/src/$1.ts',
};
const common = { transform, moduleNameMapper, testEnvironment: 'node', rootDir: __dirname };

module.exports = {
  projects: [
    { ...common, displayName: 'unit', testMatch: ['<rootDir>/packages/*/src/**/*.test.ts'] },
    {
      ...common,
      displayName: 'integration',
      testMatch: ['<rootDir>/test/**/*.test.ts'],
      testPathIgnorePatterns: ['/node_modules/', '/test/fuzz/'],
    },
    { ...common, displayName: 'fuzz', testMatch: ['<rootDir>/test/fuzz/**/*.test.ts'] },
  ],
  // Two workers on the project's 2-core machines: most suites wait on sockets and timers, not CPU.
  maxWorkers: 2,
  coverageProvider: 'v8',
  collectCoverageFrom: ['packages/*/src/**/*.ts', '!packages/*/src/**/*.test.ts'],
  coverageReporters: ['text-summary', 'text'],
};
