// @stickyroute/core/testing: for tests of the core, the adapters and the tools built on them. Time,
// randomness and health probes are injected with `withTestHooks(options, { clock })` (they are not options a
// user meets); `routingOf` reaches the per-request decisions a gateway's exchanges make, to drive them
// without a network. The cookie codec and the hash ring are here for benchmarks and tools that mint valid
// cookies ahead of a run or predict a placement.

export { HashRing } from './balancers/consistent-hash';
export { BalancerCookieCodec } from './cookie/balancer-cookie-codec';
export { routingOf } from './router';
export type { Routing } from './routing/routing';
export { FakeClock, flushPromises } from './testing/fake-clock';
export { type TestHooks, withTestHooks } from './testing-hooks';
