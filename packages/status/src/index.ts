// @stickyroute/status: the gateway's status page, its JSON and Prometheus metrics, as one (req, res, next)
// handler over the core router; helpers mount it in Koa and Fastify.

export { StickyConfigError } from '@stickyroute/core';
export type { AllowBackends } from './backend-allowlist';
export { fastifyStatus, koaStatus } from './framework-mounts';
export {
  createStatusHandler,
  type MetricsRegistry,
  type StatusHandler,
  type StatusHandlerOptions,
} from './status-handler';
