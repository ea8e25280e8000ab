// After tsup: writes dist/index.js, adapter.js and testing.js, each the part of dist/bundle.js its entry
// exports, as `exports.name = …` lines that Node's CommonJS interop reads for ESM named imports.
// See tsup.config.ts for why the core is built this way.

const { writeFileSync } = require('node:fs');
const { join } = require('node:path');

const dist = join(__dirname, 'dist');
const bundle = require(join(dist, 'bundle.js'));
for (const entry of ['index', 'adapter', 'testing']) {
  const names = Object.keys(bundle[entry]).sort();
  const lines = [
    `// @stickyroute/core${entry === 'index' ? '' : `/${entry}`}: its part of bundle.js (see the package's tsup.config.ts).`,
    "'use strict';",
    "Object.defineProperty(exports, '__esModule', { value: true });",
    `const core = require('./bundle.js').${entry};`,
    ...names.map((name) => `exports.${name} = core.${name};`),
    '',
  ];
  writeFileSync(join(dist, `${entry}.js`), lines.join('\n'));
}
