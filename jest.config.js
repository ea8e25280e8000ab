// One jest run for the whole workspace: unit tests beside the code, cross-package suites in test/.
// @swc/jest only strips types (fast); `pnpm typecheck` is what checks them.
// Two suites run apart, each with a config of its own in test/setup: the million-client session flood
// (jest.flood.config.js: it keeps a core fully busy, which would skew the timing of the suites beside it)
// and the mutation run's unit tests of the core (jest.stryker.config.js).
const transform = { '^.+\\.(t|j)sx?$': ['@swc/jest', { jsc: { target: 'es2022' } }] };
const moduleNameMapper = {
  '^@stickyroute/(core|express|koa|fastify|redis|node|status|http-proxy-engine|undici-pools)$':
    '<rootDir>/packages/$1/src/index.ts',
  '^@stickyroute/core/(adapter|testing)$': '<rootDir>/packages/core/src/$1.ts',
};
// A mutation run in progress keeps a copy of the workspace in .stryker-tmp: never test or resolve from it.
const sandbox = '<rootDir>/.stryker-tmp/';
const common = {
  transform,
  moduleNameMapper,
  testEnvironment: 'node',
  rootDir: __dirname,
  modulePathIgnorePatterns: [sandbox],
};
const ignored = ['/node_modules/', sandbox];

module.exports = {
  projects: [
    {
      ...common,
      displayName: 'unit',
      testMatch: ['<rootDir>/packages/*/src/**/*.test.ts'],
      testPathIgnorePatterns: ignored,
    },
    {
      ...common,
      displayName: 'integration',
      testMatch: ['<rootDir>/test/**/*.test.ts'],
      testPathIgnorePatterns: [...ignored, '/test/fuzz/', '/test/reliability/session-flood\\.test\\.ts$'],
    },
    {
      ...common,
      displayName: 'fuzz',
      testMatch: ['<rootDir>/test/fuzz/**/*.test.ts'],
      testPathIgnorePatterns: ignored,
    },
  ],
  // Two workers on the project's 2-core machines: most suites wait on sockets and timers, not CPU.
  maxWorkers: 2,
  // The slowest test without a timeout of its own (the contract's 5 MB upload and 3 MB stream through a
  // gateway, about 2 s on a busy 2-core machine) with room to spare; suites that are slow on purpose
  // (load scenarios, 1,000-client races, the browser) set their own.
  testTimeout: 30_000,
  coverageProvider: 'v8',
  // types.ts files hold types only (no code to run, so v8 would count them as uncovered lines); testing/ is
  // the core's test scaffolding (fake clock, seeded random), not code the product runs.
  collectCoverageFrom: [
    'packages/*/src/**/*.ts',
    '!packages/*/src/**/*.test.ts',
    '!packages/*/src/**/types.ts',
    '!packages/core/src/testing/**',
  ],
  coverageReporters: ['text-summary', 'text'],
  // `pnpm test` (jest --coverage over every project) fails when the core's lines drop under 90 %, counted
  // over the core as a whole: unit, conformance and reliability suites all run its code.
  coverageThreshold: { './packages/core/src/': { lines: 90 } },
};
