// The jest configuration of `pnpm test:mutation` (stryker.config.mjs): the core's unit tests only, with the
// main run's swc transform and module mapping. The conformance and reliability suites cover the core too,
// but through sockets and timers: per mutant they would cost minutes, and their verdicts would depend on
// the machine's load. The unit tests are where a mutant of the decision path must die.
const { projects } = require('../../jest.config');

const unit = projects.find((project) => project.displayName === 'unit');

module.exports = {
  ...unit,
  displayName: 'mutation',
  testMatch: ['<rootDir>/packages/core/src/**/*.test.ts'],
};
