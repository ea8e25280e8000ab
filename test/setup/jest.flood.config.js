// The million-client session flood (test/reliability/session-flood.test.ts), run on its own after the
// main jest run (`pnpm test`, or `pnpm test:flood` alone): it keeps a core fully busy (15 s on the
// project's machine; minutes with FLOOD_CLIENTS=1000000), and beside it the load scenarios' gateways,
// backends and clients would share the other core, with probes and deadlines timing out for that reason.
const { projects } = require('../../jest.config');

const integration = projects.find((project) => project.displayName === 'integration');

module.exports = {
  ...integration,
  displayName: 'flood',
  testMatch: ['<rootDir>/test/reliability/session-flood.test.ts'],
  testPathIgnorePatterns: ['/node_modules/'],
  maxWorkers: 1,
};
