// @ts-check
// `pnpm test:mutation`: StrykerJS over the core's source, killed (or not) by the core's unit tests.
// Not part of `pnpm test` or CI (it takes the better part of an hour on two shared cores); run it after any
// change to the core's decision path. The score and the surviving mutants known to be equivalent are in
// docs/testing.md.
/** A part's reports are named after it (`MUTATE=packages/core/src/routing/**` → `mutation-routing.json`). */
const part = process.env.MUTATE
  ? `-${process.env.MUTATE.replace(/packages\/core\/src\/|\*\*?\/?|\.ts/g, '')
      .replace(/[^\w]+/g, '-')
      .replace(/^-|-$/g, '')
      .slice(0, 60)}`
  : '';
/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
const config = {
  testRunner: 'jest',
  // Named by path: under pnpm, Stryker's own search (the folder it is installed in) does not see the runner.
  plugins: [import.meta.resolve('@stryker-mutator/jest-runner')],
  jest: {
    projectType: 'custom',
    configFile: 'test/setup/jest.stryker.config.js',
    // Jest loads only the test files that import the mutated file (then Stryker picks the tests by name).
    enableFindRelatedTests: true,
  },
  // Each mutant runs only the tests that executed its code.
  coverageAnalysis: 'perTest',
  // A static mutant (in code that runs when a module loads: constants, tables, option lists) has no test
  // of its own, so it runs every test: 750 of them took 94 % of the time (hours on two shared cores). They
  // are left out of the score; docs/testing.md says so.
  ignoreStatic: true,
  // MUTATE=<glob,glob…> mutates part of the core (a directory or a file after a change to it), with the
  // same exclusions; each part's report is complete, so a long run can be taken a part at a time.
  mutate: [
    ...(process.env.MUTATE ? process.env.MUTATE.split(',') : ['packages/core/src/**/*.ts']),
    '!packages/core/src/**/*.test.ts',
    // Type tests: compiled by tsc, never run; their constants are assertions about types.
    '!packages/core/src/**/*.type-test.ts',
    // Test scaffolding (fake clock, seeded random), types and re-exports: nothing the product decides with.
    '!packages/core/src/testing/**',
    '!packages/core/src/testing.ts',
    '!packages/core/src/**/types.ts',
    '!packages/core/src/index.ts',
  ],
  // What the sandbox needs: the core, the root configs and node_modules (linked, not copied).
  ignorePatterns: [
    '/examples',
    '/docs',
    '/coverage',
    '/test/*',
    '!/test/setup',
    '/packages/*',
    '!/packages/core',
  ],
  // Two cores shared with other work: two test processes at most.
  concurrency: 2,
  // A mutant that loops forever costs this much (plus 1.5× the tests' own time) before it counts as killed.
  timeoutMS: 5_000,
  // event-recorder: every verdict as it comes (reports/mutation/events), so a run cut short keeps what it found.
  reporters: ['clear-text', 'progress', 'json', 'html', 'event-recorder'],
  eventReporter: { baseDir: `reports/mutation/events${part}` },
  jsonReporter: { fileName: `reports/mutation/mutation${part}.json` },
  htmlReporter: { fileName: `reports/mutation/mutation${part}.html` },
  thresholds: { high: 90, low: 80, break: null },
  cleanTempDir: 'always',
};
export default config;
