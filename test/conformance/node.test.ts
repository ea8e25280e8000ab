// The sticky-session contract, held by @stickyroute/node (a plain node:http gateway).

import { runStickyContract } from './contract';
import { nodeHarness } from './harness-node';

runStickyContract(nodeHarness);
runStickyContract(nodeHarness, { transport: 'h2' });
