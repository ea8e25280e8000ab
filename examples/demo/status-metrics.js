// Prometheus metrics for the status page (`/__sticky/metrics`), read from router.stats() at scrape time.
// The router's counters only grow, so they are exposed as counters: on each scrape a counter is reset and
// set to the router's value (prom-client has no "set" for counters). One registry per status page, so two
// gateways in one process never share series.

const { Counter, Gauge, Registry } = require('prom-client');

const STATES = ['healthy', 'down', 'draining'];
const ROUTE_REASONS = ['new', 'sticky', 'rerouted', 'hashed', 'learned'];

/**
 * @param {() => import('@stickyroute/core').StickyRouter} getRouter
 * @param {() => Map<string, number>} stuckClients
 */
function createStatusMetrics(getRouter, stuckClients) {
  const registry = new Registry();
  const registers = [registry];
  const stats = () => getRouter().stats();

  new Gauge({
    name: 'stickyroute_backend_state',
    help: 'Backend state: 1 for the current one of healthy, down, draining',
    labelNames: ['backend', 'state'],
    registers,
    collect() {
      this.reset();
      for (const b of stats().backends)
        for (const state of STATES) this.set({ backend: b.id, state }, b.state === state ? 1 : 0);
    },
  });
  new Gauge({
    name: 'stickyroute_backend_weight',
    help: 'Backend weight',
    labelNames: ['backend'],
    registers,
    collect() {
      this.reset();
      for (const b of stats().backends) this.set({ backend: b.id }, b.weight);
    },
  });
  new Gauge({
    name: 'stickyroute_backend_active_requests',
    help: 'Requests in flight to the backend',
    labelNames: ['backend'],
    registers,
    collect() {
      this.reset();
      for (const b of stats().backends) this.set({ backend: b.id }, b.active);
    },
  });
  new Gauge({
    name: 'stickyroute_backend_stuck_clients',
    help: 'Clients whose stickiness assignment names the backend',
    labelNames: ['backend'],
    registers,
    collect() {
      this.reset();
      const counts = stuckClients();
      for (const b of stats().backends) this.set({ backend: b.id }, counts.get(b.id) ?? 0);
    },
  });
  new Counter({
    name: 'stickyroute_backend_requests_total',
    help: 'Requests sent to the backend, by why it was chosen (new, sticky, rerouted)',
    labelNames: ['backend', 'reason'],
    registers,
    collect() {
      this.reset();
      for (const b of stats().backends)
        for (const reason of ['new', 'sticky', 'rerouted']) this.inc({ backend: b.id, reason }, b[reason]);
    },
  });
  new Counter({
    name: 'stickyroute_backend_failures_total',
    help: 'Upstream failures (refused, reset, timed out) of the backend',
    labelNames: ['backend'],
    registers,
    collect() {
      this.reset();
      for (const b of stats().backends) this.inc({ backend: b.id }, b.failed);
    },
  });
  new Counter({
    name: 'stickyroute_requests_total',
    help: 'Requests routed by the gateway, by why the backend was chosen',
    labelNames: ['reason'],
    registers,
    collect() {
      this.reset();
      const requests = stats().requests;
      for (const reason of ROUTE_REASONS) this.inc({ reason }, requests[reason]);
    },
  });
  const totals = [
    [
      'stickyroute_retries_total',
      'Requests retried on another backend after a connection failure',
      'retried',
    ],
    ['stickyroute_upstream_failures_total', 'Upstream failures answered 502/504 or retried', 'failed'],
    ['stickyroute_no_backend_total', 'Requests answered 503 because no backend could take them', 'noBackend'],
    ['stickyroute_forged_cookies_total', 'Balancer cookies rejected as forged or malformed', 'forgedCookies'],
    ['stickyroute_expired_cookies_total', 'Balancer cookies rejected as expired', 'expiredCookies'],
    ['stickyroute_store_errors_total', 'Sticky store operations that failed', 'storeErrors'],
  ];
  for (const [name, help, field] of totals) {
    new Counter({
      name,
      help,
      registers,
      collect() {
        this.reset();
        this.inc(stats().requests[field]);
      },
    });
  }
  new Gauge({
    name: 'stickyroute_stickiness_info',
    help: 'The stickiness in force: 1 for its type',
    labelNames: ['type'],
    registers,
    collect() {
      this.reset();
      this.set({ type: getRouter().getStickiness().type }, 1);
    },
  });
  return registry;
}

module.exports = { createStatusMetrics };
