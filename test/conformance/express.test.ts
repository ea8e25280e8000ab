// The sticky-session contract, held by @stickyroute/express.

import { runStickyContract } from './contract';
import { expressHarness } from './harness-express';

runStickyContract(expressHarness);
