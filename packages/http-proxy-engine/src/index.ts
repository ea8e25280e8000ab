// The http-proxy-middleware engine that @stickyroute/express and @stickyroute/koa share (a private workspace
// package, bundled into each at build time): it sends an exchange's attempts with HPM (keep-alive agents,
// TLS verified), and reports the upstream's answer and failures to the exchange. Express and Koa differ only
// in how they read the client from their request; everything after that is here or in the core.

export { HttpProxyEngine } from './http-proxy-engine';
export { bodyOf } from './request-body';
