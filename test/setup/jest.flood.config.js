// The million-client session flood (test/reliability/session-flood.test.ts), run on its own after the
// main jest run (`pnpm test`, or `pnpm test:flood` alone): it keeps a core busy for a minute, and beside
// it the load scenarios' gateways, backends and clients would share one core for that long.
const { projects } = require('../../jest.config');

const integration = projects.find((project) => project.displayName === 'integration');

module.exports = {
  ...integration,
  displayName: 'flood',
  testMatch: ['<rootDir>/test/reliability/session-flood.test.ts'],
  testPathIgnorePatterns: ['/node_modules/'],
  maxWorkers: 1,
};
