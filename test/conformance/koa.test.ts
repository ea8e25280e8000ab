// The sticky-session contract, held by @stickyroute/koa.

import { runStickyContract } from './contract';
import { koaHarness } from './harness-koa';

runStickyContract(koaHarness);
runStickyContract(koaHarness, { transport: 'h2' });
