// The shared undici pools are a private workspace package: bundled in, never a dependency.
import { defineConfig } from 'tsup';

export default defineConfig({
  entry: ['src/index.ts'],
  format: ['cjs', 'esm'],
  dts: true,
  clean: true,
  noExternal: ['@stickyroute/undici-pools'],
});
