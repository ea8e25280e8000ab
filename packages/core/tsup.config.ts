// Three entries (the user's, the adapters', the tests'), split so that they share one copy of every class:
// a router made through one entry is the router the others know, in CommonJS as in ESM.
import { defineConfig } from 'tsup';

export default defineConfig({
  entry: ['src/index.ts', 'src/adapter.ts', 'src/testing.ts'],
  format: ['cjs', 'esm'],
  dts: true,
  clean: true,
  sourcemap: true,
  splitting: true,
});
