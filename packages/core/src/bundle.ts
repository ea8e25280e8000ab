// Every runtime value of the core's three entries, in one CommonJS bundle (dist/bundle.js): the entries'
// files (dist/index.js, adapter.js, testing.js) are made from it at build time (tsup.config.ts), so all three
// share one copy of every class. Not an entry of the package.

export * as adapter from './adapter';
export * as index from './index';
export * as testing from './testing';
