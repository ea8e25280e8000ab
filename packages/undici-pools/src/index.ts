// One undici Pool per backend, shared by @stickyroute/node and @stickyroute/fastify (a private workspace
// package, bundled into each at build time).

export { type UpstreamPoolOptions, UpstreamPools } from './upstream-pools';
