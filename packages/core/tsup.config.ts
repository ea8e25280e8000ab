// Three entries (the user's, the adapters', the tests'), split so that they share one copy of every class.
// CommonJS only: an ESM `import` of the package loads this same build through Node's CommonJS interop (the
// named exports are detected), so `import` and `require` in one process meet one StickyRouter and one
// StickyConfigError, never a copy from a second build (docs/decisions.md, "Packages"). No source maps: the
// output is readable JavaScript, and maps without the sources they point to were half of the tarball.
import { defineConfig } from 'tsup';

export default defineConfig({
  entry: ['src/index.ts', 'src/adapter.ts', 'src/testing.ts'],
  format: ['cjs'],
  dts: true,
  clean: true,
  splitting: true,
});
