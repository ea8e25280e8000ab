// The router's request counters: what `router.stats().requests` reports. They only grow; a scrape (the
// status package's metrics) reads them as counters.

export interface RequestCounts {
  total: number;
  /** Placed by the algorithm: no (valid) stickiness. */
  new: number;
  /** Back on the backend they were stuck to. */
  sticky: number;
  /** Moved off a backend that is gone, down, or failed their request. */
  rerouted: number;
  /** Keyed clients placed by consistent hashing. */
  hashed: number;
  /** app-cookie learn: found in the store. */
  learned: number;
  /** Sent again after an upstream failure (another backend, or a stale keep-alive connection). */
  retried: number;
  /** Upstream failures (refused, reset, timed out, other). */
  failed: number;
  /** Answered 503: no backend to send to. */
  noBackend: number;
  forgedCookies: number;
  expiredCookies: number;
  storeErrors: number;
}

export function newRequestCounts(): RequestCounts {
  return {
    total: 0,
    new: 0,
    sticky: 0,
    rerouted: 0,
    hashed: 0,
    learned: 0,
    retried: 0,
    failed: 0,
    noBackend: 0,
    forgedCookies: 0,
    expiredCookies: 0,
    storeErrors: 0,
  };
}
