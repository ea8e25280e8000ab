// A clock for the core's `clock` option whose time moves only when a test says so, starting at the real
// time so that cookie dates and a client's cookie jar agree. Expiry, sliding and drain timeouts are then
// tested by advancing time instead of sleeping. It is the core's own test clock, started now.

import { FakeClock } from '../../packages/core/src/testing/fake-clock';

export class ManualClock extends FakeClock {
  constructor() {
    super(Date.now());
  }
}
