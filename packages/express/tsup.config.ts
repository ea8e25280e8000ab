// The shared http-proxy-middleware engine is a private workspace package: bundled in, never a dependency.
import { defineConfig } from 'tsup';

export default defineConfig({
  entry: ['src/index.ts'],
  format: ['cjs', 'esm'],
  dts: true,
  clean: true,
  noExternal: ['@stickyroute/http-proxy-engine'],
});
