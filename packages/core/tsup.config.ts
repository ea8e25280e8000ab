// The core's three entries (the user's, the adapters', the tests') must share one copy of every class: a
// router made through one entry is the router the others know. CommonJS only: an ESM `import` of the package
// loads this same build through Node's CommonJS interop, so `import` and `require` in one process meet one
// StickyRouter and one StickyConfigError (docs/decisions.md, "Packages"). No source maps.
//
// tsup's own CommonJS code splitting would share the classes, but it goes through sucrase, which rewrites
// every `?.` and `??` into helper calls that allocate on the request path. So esbuild bundles everything once
// (dist/bundle.js), build-entries.js then writes each entry's file as its part of the bundle, and the
// declarations are tsup's, per entry.
import { defineConfig } from 'tsup';

const ENTRIES = ['index', 'adapter', 'testing'];

export default defineConfig([
  {
    entry: { bundle: 'src/bundle.ts' },
    format: ['cjs'],
    target: 'node20',
    clean: true,
    splitting: false,
  },
  {
    entry: ENTRIES.map((entry) => `src/${entry}.ts`),
    format: ['cjs'],
    dts: { only: true },
    splitting: true,
  },
]);
